"""The workloads of issue 12, written once for any torch-like library (``lib`` is ``torch``
or ``chainrule``). Each builder returns ``(step, per)``: ``step()`` runs one unit of work
(a training step; W2: one chain, forward and backward) and ``per`` divides its time into
the unit printed (W2: microseconds per op). Weights are drawn once with NumPy and copied
into both libraries, so both run the same numbers.

- W1: MLP 784-512-512-10, ReLU, cross_entropy, SGD lr 0.01, batch 256.
- W2: x (16,) requires_grad; 1000 ops cycling ``y + a``, ``y * m``, ``tanh(y)``; sum().backward().
- W5: 64x1x28x28; conv3x3 1->16, ReLU, maxpool 2, conv3x3 16->32, ReLU, maxpool 2, linear
  to 10, cross_entropy, SGD.
- W6: char-level GPT (nanoGPT layout, no weight tying): vocab 65, 2 layers, width 128,
  4 heads, block 64, batch 32, GELU (tanh), attention as matmul + masked_fill + softmax,
  AdamW lr 1e-3 weight decay 0.01.
"""

from __future__ import annotations

import math

import numpy as np


def _load_same_weights(lib, model, rng) -> None:
    """Overwrite every parameter with the same seeded draws (order of named_parameters)."""
    with lib.no_grad():
        for _, p in model.named_parameters():
            fan_in = p.shape[-1] if p.dim() > 1 else p.shape[0]
            a = rng.uniform(-1, 1, tuple(p.shape)).astype(np.float32) / math.sqrt(fan_in)
            p.copy_(lib.tensor(a))


def _train_step(lib, model, opt, x, y, flat=False):
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        out = model(x)
        if flat:
            loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        else:
            loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()

    return step


def w1_mlp(lib):
    nn = lib.nn
    rng = np.random.default_rng(1)
    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    _load_same_weights(lib, model, rng)
    x = lib.tensor(rng.standard_normal((256, 784)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 256))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    return _train_step(lib, model, opt, x, y), 1


def w2_chain(lib, n_ops=1000):
    rng = np.random.default_rng(2)
    x = lib.tensor(rng.standard_normal(16).astype(np.float32), requires_grad=True)
    a = lib.tensor(rng.standard_normal(16).astype(np.float32) * 0.1)
    m = lib.tensor(1 + rng.standard_normal(16).astype(np.float32) * 0.01)
    tanh = lib.tanh

    def step():
        y = x
        for i in range(n_ops):
            k = i % 3
            if k == 0:
                y = y + a
            elif k == 1:
                y = y * m
            else:
                y = tanh(y)
        y.sum().backward()
        x.grad = None

    return step, n_ops


def w5_cnn(lib):
    nn = lib.nn
    rng = np.random.default_rng(5)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip
    _load_same_weights(lib, model, rng)
    x = lib.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 64))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    return _train_step(lib, model, opt, x, y), 1


def _gpt(lib, vocab=65, n_layer=2, width=128, n_head=4, block=64):
    nn = lib.nn
    F = nn.functional

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(width, 3 * width)
            self.c_proj = nn.Linear(width, width)
            self.register_buffer("mask", lib.tril(lib.ones(block, block)).view(1, 1, block, block))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(width, dim=2)
            hs = C // n_head
            q = q.view(B, T, n_head, hs).transpose(1, 2)
            k = k.view(B, T, n_head, hs).transpose(1, 2)
            v = v.view(B, T, n_head, hs).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(width, 4 * width)
            self.gelu = nn.GELU(approximate="tanh")
            self.c_proj = nn.Linear(4 * width, width)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(width)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(width)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, width)
            self.wpe = nn.Embedding(block, width)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(width)
            self.lm_head = nn.Linear(width, vocab, bias=False)

        def forward(self, idx):
            T = idx.shape[1]
            pos = lib.arange(T)
            x = self.wte(idx) + self.wpe(pos)
            for blk in self.h:
                x = blk(x)
            return self.lm_head(self.ln_f(x))

    return GPT()


def w6_gpt(lib, batch=32, block=64, vocab=65):
    rng = np.random.default_rng(6)
    model = _gpt(lib, vocab=vocab, block=block)
    _load_same_weights(lib, model, rng)
    idx = rng.integers(0, vocab, (batch, block + 1))
    x = lib.tensor(idx[:, :-1])
    y = lib.tensor(idx[:, 1:])
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    return _train_step(lib, model, opt, x, y, flat=True), 1


WORKLOADS = {"W1": w1_mlp, "W2": w2_chain, "W5": w5_cnn, "W6": w6_gpt}
UNITS = {"W1": "ms/step", "W2": "us/op", "W5": "ms/step", "W6": "ms/step"}
