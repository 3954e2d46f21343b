"""``python -m chainrule charlm``: a character-level GPT learns to write Python.

The text is one that every machine has: the Python standard library's own source files
(a fixed list of modules, read from ``sysconfig``'s stdlib directory). The model is a small
GPT (token and position embeddings, pre-LayerNorm blocks of causal self-attention and a GELU
MLP, a final LayerNorm and a linear head), trained with AdamW, a cosine learning-rate
schedule and gradient clipping; it starts at ~ln(vocab) nats per character and then samples
text.

``build_gpt(lib, config)`` is written against the torch API only, so ``lib`` may be
``chainrule`` or ``torch``: ``examples/parity_charlm.py`` builds both from the same initial
weights and shows the same losses step by step.
"""

from __future__ import annotations

import argparse
import math
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Config", "load_text", "CharData", "build_gpt", "train", "sample", "plot_curve", "run"]

# modules present in every CPython >= 3.10; read in this order
STDLIB_FILES = [
    "argparse.py", "textwrap.py", "functools.py", "string.py", "shutil.py", "fractions.py",
    "dataclasses.py", "enum.py", "heapq.py", "bisect.py", "random.py", "statistics.py",
    "calendar.py", "configparser.py", "csv.py", "difflib.py", "pprint.py", "operator.py",
    "ast.py", "inspect.py", "typing.py", "pathlib.py", "contextlib.py", "copy.py",
    "tempfile.py", "glob.py", "fnmatch.py", "base64.py", "gettext.py", "locale.py",
]  # fmt: skip


def load_text(max_chars: int = 1_000_000) -> str:
    """Up to ``max_chars`` characters of standard-library source, ASCII only (other
    characters are dropped), from the files above that exist on this Python."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for name in STDLIB_FILES:
        path = root / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        text = "".join(ch for ch in text if ch == "\n" or 32 <= ord(ch) < 127)
        parts.append(text)
        total += len(text)
        if total >= max_chars:
            break
    if not parts:
        raise FileNotFoundError(f"no standard-library source files found under {root}")
    return "".join(parts)[:max_chars]


class CharData:
    """The text as integer codes, split 90/10 into training and validation, and random
    (input, next-character target) windows drawn from either."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        lut = np.zeros(128, dtype=np.int64)
        lut[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        data = lut[codes]
        n = int(0.9 * len(data))
        self.train, self.val = data[:n], data[n:]

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def batch(self, split: str, batch_size: int, block_size: int, rng: np.random.Generator):
        data = self.train if split == "train" else self.val
        ix = rng.integers(0, len(data) - block_size - 1, size=batch_size)
        x = np.stack([data[i : i + block_size] for i in ix])
        y = np.stack([data[i + 1 : i + 1 + block_size] for i in ix])
        return x, y

    def decode(self, codes: Any) -> str:
        return "".join(self.chars[int(i)] for i in codes)


@dataclass
class Config:
    vocab_size: int
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64


def build_gpt(lib: Any, cfg: Config) -> Any:
    """A GPT on the torch API of ``lib`` (``chainrule`` or ``torch``)."""
    nn, F = lib.nn, lib.nn.functional

    class NewGELU(nn.Module):
        """GPT-2's tanh form of GELU, composed of elementary ops (as in minGPT). Not
        nn.GELU: its NumPy forward is slow today (x**3 on float32, erf per element)."""

        def forward(self, x):
            return 0.5 * x * (1.0 + lib.tanh(0.7978845608028654 * (x + 0.044715 * (x * x * x))))

    class CausalSelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
            self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
            mask = lib.tril(lib.ones(cfg.block_size, cfg.block_size, dtype=lib.bool))
            self.register_buffer("mask", mask)

        def forward(self, x):
            B, T, C = x.shape
            H = cfg.n_head
            q, k, v = self.qkv(x).split(C, dim=2)
            q = q.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, head size)
            k = k.view(B, T, H, C // H).transpose(1, 2)
            v = v.view(B, T, H, C // H).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
            att = att.masked_fill(~self.mask[:T, :T], float("-inf"))  # no peeking ahead
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            return self.proj(y)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(cfg.n_embd)
            self.attn = CausalSelfAttention()
            self.ln2 = nn.LayerNorm(cfg.n_embd)
            self.mlp = nn.Sequential(
                nn.Linear(cfg.n_embd, 4 * cfg.n_embd),
                NewGELU(),
                nn.Linear(4 * cfg.n_embd, cfg.n_embd),
            )

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = cfg
            self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
            self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
            self.blocks = nn.Sequential(*[Block() for _ in range(cfg.n_layer)])
            self.ln_f = nn.LayerNorm(cfg.n_embd)
            self.head = nn.Linear(cfg.n_embd, cfg.vocab_size)

        def forward(self, idx, targets=None):
            T = idx.shape[1]
            pos = lib.arange(T)
            x = self.tok_emb(idx) + self.pos_emb(pos)
            logits = self.head(self.ln_f(self.blocks(x)))
            if targets is None:
                return logits, None
            V = logits.shape[-1]
            return logits, F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))

    return GPT()


def make_optimizer(lib: Any, model: Any, lr: float, steps: int):
    """AdamW (weight decay on matrices only) and a cosine schedule from lr to lr/10."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = lib.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=(0.9, 0.99),
    )
    sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 10)
    return opt, sched


def train_step(lib: Any, model: Any, opt: Any, sched: Any, x: Any, y: Any, clip: float = 1.0):
    """One step: forward, backward, clip the gradient norm, AdamW, schedule; the loss."""
    _, loss = model(x, y)
    opt.zero_grad()
    loss.backward()
    lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    sched.step()
    return loss.item()


def estimate_loss(lib: Any, model: Any, data: CharData, cfg: Config, batches: int = 8) -> float:
    """Mean validation loss over ``batches`` fixed batches (eval mode, no grad)."""
    rng = np.random.default_rng(1234)
    model.eval()
    total = 0.0
    with lib.no_grad():
        for _ in range(batches):
            x, y = data.batch("val", 32, cfg.block_size, rng)
            total += model(lib.from_numpy(x), lib.from_numpy(y))[1].item()
    model.train()
    return total / batches


def sample(lib: Any, model: Any, data: CharData, prompt: str, n: int, seed: int = 0) -> str:
    """``n`` characters after ``prompt``, each drawn from the model's softmax."""
    rng = np.random.default_rng(seed)
    cfg = model.config
    codes = [data.stoi.get(c, 0) for c in prompt] or [0]
    model.eval()
    with lib.no_grad():
        for _ in range(n):
            idx = lib.from_numpy(np.array([codes[-cfg.block_size :]], dtype=np.int64))
            logits = model(idx)[0][0, -1].detach().numpy().astype(np.float64)
            p = np.exp(logits - logits.max())
            codes.append(int(rng.choice(len(p), p=p / p.sum())))
    model.train()
    return data.decode(codes)


def train(args: argparse.Namespace, log=print) -> dict:
    """Train and sample; returns the loss curve and timings."""
    import chainrule as cr
    from chainrule.demos.common import beside, progress

    text = load_text(args.chars)
    data = CharData(text)
    cfg = Config(data.vocab_size, args.block_size, args.layers, args.heads, args.embd)
    cr.manual_seed(args.seed)
    model = build_gpt(cr, cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log(
        f"charlm: {len(text):,} characters of Python's standard library, vocabulary "
        f"{data.vocab_size} (ln {data.vocab_size} = {math.log(data.vocab_size):.2f} nats); "
        f"GPT with {cfg.n_layer} layers, {cfg.n_head} heads, width {cfg.n_embd}, "
        f"{n_params:,} parameters; {args.steps} steps of {args.batch_size} x {cfg.block_size}"
    )
    opt, sched = make_optimizer(cr, model, args.lr, args.steps)
    rng = np.random.default_rng(args.seed)
    curve: list[tuple[int, float, float, float]] = []  # (step, train loss, val loss, seconds)
    start = time.perf_counter()
    val = estimate_loss(cr, model, data, cfg)
    curve.append((0, float("nan"), val, 0.0))
    log(f"  step {0:4d}  val loss {val:.3f}")
    recent: list[float] = []
    every = max(1, args.eval_every)
    steps = progress(
        range(1, args.steps + 1), args.steps, "charlm", not args.no_progress, unit="steps"
    )
    say = beside(steps, log)  # the step lines print above the bar, not on its line
    for step in steps:
        x, y = data.batch("train", args.batch_size, cfg.block_size, rng)
        recent.append(train_step(cr, model, opt, sched, cr.from_numpy(x), cr.from_numpy(y)))
        if hasattr(steps, "set_postfix_str"):
            steps.set_postfix_str(f"train loss {recent[-1]:.3f}", refresh=False)
        if step % every == 0 or step == args.steps:
            val = estimate_loss(cr, model, data, cfg)
            tr = sum(recent) / len(recent)
            recent = []
            curve.append((step, tr, val, time.perf_counter() - start))
            say(
                f"  step {step:4d}  train loss {tr:.3f}  val loss {val:.3f}  ({curve[-1][3]:.0f} s)"
            )
    seconds = time.perf_counter() - start
    text_out = sample(cr, model, data, args.prompt, args.sample_chars, seed=args.seed)
    log("sample:\n" + text_out)
    return {"curve": curve, "seconds": seconds, "vocab": data.vocab_size, "sample": text_out}


def plot_curve(curve: list, vocab: int, path: Path) -> Path | None:
    """Training and validation loss against steps, with ln(vocab) marked (None without
    matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    steps = [c[0] for c in curve]
    ax.plot(steps[1:], [c[1] for c in curve[1:]], "o-", label="train (mean since last point)")
    ax.plot(steps, [c[2] for c in curve], "s--", label="validation")
    ax.axhline(math.log(vocab), color="gray", lw=0.8, label=f"ln {vocab} (uniform guess)")
    ax.set(xlabel="step", ylabel="nats per character", title="charlm on Python's stdlib source")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def run(args: argparse.Namespace) -> int:
    result = train(args)
    final = result["curve"][-1][2]
    print(f"final validation loss {final:.3f} nats/char after {result['seconds']:.0f} s")
    path = plot_curve(result["curve"], result["vocab"], Path(args.out) / "charlm.png")
    if path is not None:
        print(f"plot: {path}")
    return 0
