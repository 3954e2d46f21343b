"""A program written against chainrule's typed API, as a PyTorch user would write it.

``make lint`` and tests/typed/test_typed_api.py run mypy (and pyright) on it: it must pass
with no error, every tensor typed ``Tensor``. It also runs (tests/typed/test_typed_api.py).
"""

from __future__ import annotations

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim


class MLP(nn.Module):
    def __init__(self, n_in: int, hidden: int, n_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        h = F.relu(self.norm(self.fc1(x)))
        return self.fc2(h)


def accuracy(logits: cr.Tensor, labels: cr.Tensor) -> float:
    return (logits.argmax(dim=1) == labels).float().mean().item()


def train(steps: int = 20) -> float:
    cr.manual_seed(0)
    x = cr.randn(64, 4)
    w_true = cr.tensor([[1.0], [-2.0], [0.5], [3.0]])
    y = (x @ w_true).squeeze(1).gt(0).long()

    model = MLP(4, 16, 2)
    head = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = optim.Adam(model.parameters(), lr=0.01)
    opt2 = optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
    loss = cr.zeros(())
    for _ in range(steps):
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y) + 1e-4 * sum(p.pow(2).sum() for p in model.parameters())
        loss.backward()
        opt.step()

        opt2.zero_grad()
        pred = head(x).squeeze(-1)
        mse = F.mse_loss(pred, y.float())
        mse.backward()
        opt2.step()

    with cr.no_grad():
        logits = model(x)
        probs = logits.softmax(dim=-1)
        z = (probs * 2 - 1).clamp(min=-0.5).exp() / probs.sum(dim=1, keepdim=True)
        z += 1
        _ = cr.linalg.norm(z) + z.T @ z
    print(f"loss {loss.item():.4f} accuracy {accuracy(logits, y):.2f}")
    return loss.item()


if __name__ == "__main__":
    train()
