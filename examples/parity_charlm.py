"""The character-level GPT under chainrule and under PyTorch, from the same initial weights.

Both libraries run the same model code (``chainrule.demos.charlm.build_gpt`` is written
against the torch API), the same batches, AdamW, cosine schedule and gradient clipping;
the losses agree step by step to float32 rounding.

    python examples/parity_charlm.py --steps 20
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import chainrule as cr
from chainrule.demos.charlm import (
    CharData,
    Config,
    build_gpt,
    load_text,
    make_optimizer,
    train_step,
)


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--chars", type=int, default=200_000)
    p.add_argument("--lr", type=float, default=3e-3)
    args = p.parse_args(argv)

    data = CharData(load_text(args.chars))
    cfg = Config(data.vocab_size, block_size=args.block_size, n_layer=2, n_head=4, n_embd=32)
    cr.manual_seed(0)
    ours = build_gpt(cr, cfg)
    theirs = build_gpt(torch, cfg)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    opt_c, sched_c = make_optimizer(cr, ours, args.lr, args.steps)
    opt_t, sched_t = make_optimizer(torch, theirs, args.lr, args.steps)
    rng = np.random.default_rng(0)
    worst = 0.0
    print(" step   chainrule       torch  |difference|")
    for step in range(1, args.steps + 1):
        x, y = data.batch("train", args.batch_size, cfg.block_size, rng)
        lc = train_step(cr, ours, opt_c, sched_c, cr.from_numpy(x), cr.from_numpy(y))
        lt = train_step(torch, theirs, opt_t, sched_t, torch.from_numpy(x), torch.from_numpy(y))
        worst = max(worst, abs(lc - lt))
        print(f"{step:5d}  {lc:10.6f}  {lt:10.6f}  {abs(lc - lt):.2e}")
    print(f"largest difference over {args.steps} steps: {worst:.2e}")
    return worst


if __name__ == "__main__":
    main()
