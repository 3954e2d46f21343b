"""The demos in a short mode: CLI, worked examples, graphs (with and without Graphviz's dot),
digits, charlm, MNIST from IDX files the test writes, and the torch parity scripts."""

from __future__ import annotations

import argparse
import gzip
import math
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import viz
from chainrule.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["demo", "examples", "graph", "explain", "digits", "charlm", "mnist",
            "geometric-median", "moons"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage: python -m chainrule " + command in capsys.readouterr().out


def test_training_commands_take_the_common_flags():
    parser = build_parser()
    for command in ("demo", "digits", "mnist"):
        extra = ["--root", "x"] if command == "mnist" else []
        args = parser.parse_args([command, "--epochs", "2", "--lr", "0.1", "--seed", "3",
                                  "--out", "o", *extra])  # fmt: skip
        assert (args.epochs, args.lr, args.seed, args.out) == (2, 0.1, 3, "o")
    args = parser.parse_args(["charlm", "--steps", "5", "--lr", "0.01", "--seed", "2",
                              "--out", "o"])  # fmt: skip
    assert (args.steps, args.lr, args.seed, args.out) == (5, 0.01, 2, "o")


def test_building_the_parser_loads_no_numpy():
    code = "import sys; from chainrule.cli import build_parser; build_parser(); " \
           "print('numpy' in sys.modules)"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert out.stdout.strip() == "False"


def test_examples_all_gradients_match_finite_differences(capsys):
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    assert "MISMATCH" not in out and "gradient checks: 9 passed, 0 failed" in out
    assert "de/da = 45.000000" in out and "de/db = 20.000000" in out
    assert "L = 0.443052824476" in out  # the brief's N=1000 value (float64)


def test_explain_command(capsys):
    assert main(["explain"]) == 0
    assert "de/da = 45  = 25 (via d) + 20 (via c)" in capsys.readouterr().out
    assert main(["explain", "--tensor", "--code"]) == 0
    assert "leaf y (2, 2): .grad += [[5, 8], [11, 14]]" in capsys.readouterr().out


@pytest.mark.parametrize("dot_installed", [True, False])
def test_graph_command_with_and_without_dot(tmp_path, capsys, monkeypatch, dot_installed):
    if dot_installed and not viz.has_dot():
        pytest.skip("Graphviz's dot is not installed here")  # the other case still runs
    monkeypatch.setattr(viz, "has_dot", lambda: dot_installed)
    assert main(["graph", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for stem in ("graph_scalar", "graph_tensor", "graph_mlp"):
        assert (tmp_path / f"{stem}.dot").exists()
        assert (tmp_path / f"{stem}.png").exists() == dot_installed
        assert (tmp_path / f"{stem}.svg").exists() == dot_installed
    if not dot_installed:
        assert "digraph chainrule {" in out and "apt-get install graphviz" in out
    mlp = (tmp_path / "graph_mlp.dot").read_text()  # deep: drawn top to bottom, modules
    assert "rankdir=TB" in mlp and "2 tensors, 40 values" in mlp  # collapsed, data drawn
    assert "inputs | data (16, 4) float32" in mlp and "target | data (16, 1) float32" in mlp
    assert "Pow\\n** 2" in (tmp_path / "graph_tensor.dot").read_text()


def test_digits_short_run_learns(tmp_path):
    from chainrule.demos import digits

    (Xtr, ytr), (Xte, yte) = digits.load_split()
    assert Xtr.shape == (1437, 1, 8, 8) and Xte.shape == (360, 1, 8, 8)
    assert Xtr.dtype == np.float32 and 0 <= Xtr.min() and Xtr.max() <= 1
    args = argparse.Namespace(epochs=2, lr=3e-3, batch_size=32, seed=0, out=str(tmp_path),
                              no_progress=True, model="mlp")  # fmt: skip
    summary = digits.run(args)
    assert summary["MLP"]["acc"] > 0.85  # 2 epochs; the full demo trains 12
    assert (tmp_path / "digits.png").exists()


def test_charlm_short_run_learns_and_samples(tmp_path):
    from chainrule.demos import charlm

    args = build_parser().parse_args(["charlm", "--steps", "30", "--eval-every", "30",
                                      "--chars", "100000", "--embd", "32", "--batch-size", "16",
                                      "--sample-chars", "40", "--no-progress"])  # fmt: skip
    result = charlm.train(args, log=lambda s: None)
    (_, _, first, _), (_, _, last, _) = result["curve"][0], result["curve"][-1]
    assert abs(first - math.log(result["vocab"])) < 0.5  # starts near ln(vocab)
    assert last < first - 1.0  # and visibly learns
    assert result["sample"].startswith("def ") and len(result["sample"]) == 44
    assert charlm.plot_curve(result["curve"], result["vocab"], tmp_path / "c.png").exists()


def write_mnist(folder: Path, n_train: int = 64, n_test: int = 32, gz: bool = True) -> None:
    """Small IDX files: class k is a bright horizontal bar at row 2k + 4, plus noise."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            images[i, 2 * k + 4, 4:24] = 255
        suffix = ".gz" if gz else ""
        cr.datasets.write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        cr.datasets.write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files(tmp_path, gz):
    write_mnist(tmp_path, gz=gz)
    ds = cr.datasets.MNIST(tmp_path)
    assert len(ds) == 64 and ds.data.shape == (64, 28, 28)
    assert ds.data.dtype == cr.uint8 and ds.targets.dtype == cr.int64
    img, label = ds[13]
    assert label == 3 and img.shape == (28, 28) and int(img[10, 10]) == 255
    test = cr.datasets.MNIST(tmp_path, train=False, transform=lambda t: t.float() / 255)
    assert len(test) == 32 and float(test[0][0].max()) == 1.0
    X, y = test.arrays()
    assert X.shape == (32, 1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int64


def test_fashion_mnist_in_torchvision_layout(tmp_path):
    write_mnist(tmp_path / "FashionMNIST" / "raw")
    ds = cr.datasets.FashionMNIST(tmp_path)
    assert len(ds) == 64 and ds.classes[9] == "Ankle boot"
    with pytest.raises(RuntimeError, match="Dataset not found: train-images-idx3-ubyte"):
        cr.datasets.MNIST(tmp_path)  # MNIST looks in root and root/MNIST/raw only


def test_mnist_errors(tmp_path):
    with pytest.raises(RuntimeError, match=r"put them in one of those folders") as e:
        cr.datasets.MNIST(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in str(e.value)
    with pytest.raises(RuntimeError, match="does not download datasets"):
        cr.datasets.MNIST(tmp_path, download=True)
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="is not an IDX file"):
        cr.datasets.read_idx(bad)
    short = tmp_path / "short.gz"
    with gzip.open(short, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="is truncated"):
        cr.datasets.read_idx(short)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    cr.datasets.write_idx(tmp_path / "a.idx", a)
    b = cr.datasets.read_idx(tmp_path / "a.idx")
    assert b.dtype == a.dtype and np.array_equal(a, b)


def test_mnist_command_short_run(tmp_path, capsys):
    write_mnist(tmp_path / "data", n_train=200, n_test=50)
    code = main(["mnist", "--root", str(tmp_path / "data"), "--epochs", "2", "--model", "mlp",
                 "--out", str(tmp_path), "--no-progress", "--limit", "150"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "MNIST: 150 training and 50 test images" in out
    acc = float(out.split("test accuracy")[-1].split("%")[0])
    assert acc >= 90.0  # the bars are easy
    assert (tmp_path / "mnist.png").exists()


@pytest.mark.parametrize("script,argv", [
    ("parity_charlm.py", ["--steps", "4", "--chars", "50000", "--batch-size", "4",
                          "--block-size", "16"]),
    ("parity_digits.py", ["--steps", "4", "--model", "cnn"]),
    ("parity_digits.py", ["--steps", "4", "--model", "mlp"]),
])  # fmt: skip
def test_parity_scripts_match_torch_step_by_step(script, argv, monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.setattr(sys, "argv", [script, *argv])
    namespace = runpy.run_path(str(ROOT / "examples" / script))
    worst = namespace["main"](argv)
    assert worst < 1e-4
    assert "largest difference over 4 steps" in capsys.readouterr().out


def test_demo_tour_short_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(viz, "has_dot", lambda: False)  # the tour must succeed without dot
    code = main(["demo", "--epochs", "1", "--model", "mlp", "--out", str(tmp_path),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    for part in ("Part 1 of 4", "Part 2 of 4", "Part 3 of 4", "Part 4 of 4"):
        assert part in out
    assert "every gradient matching finite differences" in out
    assert "DOT text" in out and "apt-get install graphviz" in out
    assert "de/da = 45  = 25 (via d) + 20 (via c)" in out
    assert "The MLP reached" in out and "Total:" in out
    assert (tmp_path / "digits.png").exists() and (tmp_path / "graph_mlp.dot").exists()
