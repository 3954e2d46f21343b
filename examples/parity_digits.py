"""The digits CNN (and MLP) under chainrule and under PyTorch, from the same initial weights.

Same architecture, same minibatches, Adam with the cosine schedule, cross-entropy: the
training losses agree step by step to float32 rounding.

    python examples/parity_digits.py --steps 20 --model cnn
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import chainrule as cr
from chainrule.demos import digits


def torch_twin(model: cr.nn.Module) -> torch.nn.Module:
    """The same Sequential built from torch.nn layers, with the chainrule model's weights."""
    layers = []
    for m in model:
        kind = type(m).__name__
        if kind == "Linear":
            layers.append(torch.nn.Linear(m.in_features, m.out_features))
        elif kind == "Conv2d":
            layers.append(torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size,
                                          padding=m.padding))  # fmt: skip
        elif kind == "MaxPool2d":
            layers.append(torch.nn.MaxPool2d(m.kernel_size))
        else:
            layers.append(getattr(torch.nn, kind)())
    twin = torch.nn.Sequential(*layers)
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    return twin


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(argv)

    (X, y), _ = digits.load_split()
    cr.manual_seed(0)
    ours = digits.make_cnn() if args.model == "cnn" else digits.make_mlp()
    theirs = torch_twin(ours)
    opt_c = cr.optim.Adam(ours.parameters(), lr=args.lr)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=args.lr)
    sched_c = cr.optim.lr_scheduler.CosineAnnealingLR(opt_c, T_max=args.steps)
    sched_t = torch.optim.lr_scheduler.CosineAnnealingLR(opt_t, T_max=args.steps)
    rng = np.random.default_rng(0)
    worst = 0.0
    print(" step   chainrule       torch  |difference|")
    for step in range(1, args.steps + 1):
        idx = rng.choice(len(X), args.batch_size, replace=False)
        losses = []
        for lib, model, opt, sched in ((cr, ours, opt_c, sched_c), (torch, theirs, opt_t, sched_t)):
            loss = lib.nn.functional.cross_entropy(model(lib.from_numpy(X[idx])),
                                                   lib.from_numpy(y[idx]))  # fmt: skip
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        worst = max(worst, abs(losses[0] - losses[1]))
        print(f"{step:5d}  {losses[0]:10.6f}  {losses[1]:10.6f}  {abs(losses[0] - losses[1]):.2e}")
    print(f"largest difference over {args.steps} steps: {worst:.2e}")
    return worst


if __name__ == "__main__":
    main()
