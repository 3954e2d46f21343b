"""What the training demos share: a minibatch training loop with a progress bar, evaluation,
and the loss/accuracy plot (tqdm and matplotlib are optional: ``pip install chainrule[demo]``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F

__all__ = ["progress", "beside", "fit", "evaluate", "plot_history", "history_figure", "cpu_threads"]


def progress(
    iterable: Iterable, total: int, desc: str, enabled: bool = True, unit: str = "batches"
) -> Iterable:
    """``tqdm(iterable)`` when tqdm is installed and ``enabled``, else the iterable itself.
    The bar counts ``unit`` and says its rate as "12.3 batches/s" (never inverted)."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(
        iterable, total=total, desc=desc, leave=False, unit=" " + unit, dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, "
        "{rate_noinv_fmt}{postfix}]",
    )  # fmt: skip


def beside(bar: Iterable, log: Callable[[str], Any]) -> Callable[[str], Any]:
    """``log``, made to print above a live tqdm ``bar`` (which is cleared, then redrawn below
    the line) instead of on the bar's line; ``log`` itself when there is no bar."""
    write_mode = getattr(bar, "external_write_mode", None)
    if write_mode is None:
        return log

    def emit(line: str) -> Any:
        with write_mode():
            return log(line)

    return emit


def evaluate(model: cr.nn.Module, X: np.ndarray, y: np.ndarray, batch_size: int = 512):
    """(mean cross-entropy, accuracy) of ``model`` on arrays ``X``, ``y`` (eval mode, no grad)."""
    model.eval()
    total, correct = 0.0, 0
    with cr.no_grad():
        for i in range(0, len(X), batch_size):
            xb, yb = cr.from_numpy(X[i : i + batch_size]), cr.from_numpy(y[i : i + batch_size])
            logits = model(xb)
            total += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += int((logits.argmax(1) == yb).sum().item())
    model.train()
    return total / len(X), correct / len(X)


def fit(
    model: cr.nn.Module,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    seed: int = 0,
    name: str = "model",
    show_progress: bool = True,
    log: Callable[[str], Any] = print,
) -> dict[str, list[float]]:
    """Adam + cosine-annealed learning rate + cross-entropy, minibatches reshuffled each
    epoch; returns the history (train loss per epoch, test loss and accuracy per epoch)."""
    X, y = train
    rng = np.random.default_rng(seed)
    opt = cr.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = (len(X) + batch_size - 1) // batch_size
    sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    hist: dict[str, list[float]] = {"train_loss": [], "test_loss": [], "test_acc": [], "time": []}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X))
        running = 0.0
        batches = progress(
            range(steps_per_epoch), steps_per_epoch, f"{name} epoch {epoch}/{epochs}", show_progress
        )
        for b in batches:
            idx = order[b * batch_size : (b + 1) * batch_size]
            xb, yb = cr.from_numpy(X[idx]), cr.from_numpy(y[idx])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item() * len(idx)
        test_loss, test_acc = evaluate(model, *test)
        hist["train_loss"].append(running / len(X))
        hist["test_loss"].append(test_loss)
        hist["test_acc"].append(test_acc)
        hist["time"].append(time.perf_counter() - start)
        log(
            f"  {name} epoch {epoch:2d}/{epochs}  train loss {running / len(X):.4f}  "
            f"test loss {test_loss:.4f}  test accuracy {100 * test_acc:.2f}%  "
            f"({hist['time'][-1]:.1f} s)"
        )
    return hist


def plot_history(histories: dict[str, dict], path: Path, title: str) -> Path | None:
    """Loss and accuracy curves of each model side by side, saved as a PNG (None without
    matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig = history_figure(histories, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def history_figure(histories: dict[str, dict], title: str) -> Any:
    """The matplotlib figure of ``plot_history``: epochs on integer ticks, and the accuracy
    axis going a little past 100% so that a curve at 100% stays visible."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    for name, h in histories.items():
        ep = np.arange(1, len(h["train_loss"]) + 1)
        (line,) = ax1.plot(ep, h["train_loss"], "o-", ms=3, label=f"{name} train")
        ax1.plot(ep, h["test_loss"], "o--", ms=3, color=line.get_color(), label=f"{name} test")
        acc = [100 * a for a in h["test_acc"]]
        ax2.plot(ep, acc, "o-", ms=3, color=line.get_color(), label=name)
    ax1.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    ax2.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    low = max(0.0, min(100 * min(h["test_acc"]) for h in histories.values()) - 2)
    steps = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])  # steps that land on 100
    ax2.set_yticks([t for t in steps.tick_values(low, 100) if low - 1e-9 <= t <= 100 + 1e-9])
    ax2.set_ylim(low, 100 + max(1.0, 0.06 * (100 - low)))  # headroom above 100%
    ax2.axhline(100, color="gray", lw=0.6, ls=":")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def cpu_threads() -> int:
    """How many CPU cores this process may use."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
