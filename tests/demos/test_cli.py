"""The command line as a user meets it: exit codes and what is printed (run as a subprocess
where the exit status and the absence of a traceback are the point)."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule
from chainrule.cli import build_parser, main

SRC = Path(chainrule.__file__).resolve().parents[1]  # the chainrule these tests import


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *argv],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# --------------------------------------------------------------------------- missing data


def test_mnist_missing_folder_is_one_line_and_exit_status_2(tmp_path):
    r = run_cli("mnist", "--root", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert line.startswith("python -m chainrule mnist: error: train-images-idx3-ubyte")
    assert str(tmp_path / "nowhere") in line and str(tmp_path / "nowhere/MNIST/raw") in line
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in line  # where the files are
    assert "--root DIR" in line  # the flag that points at them


def test_mnist_missing_test_file_names_that_file(tmp_path):
    import numpy as np

    import chainrule as cr

    for prefix in ("train", "t10k"):
        cr.datasets.write_idx(
            tmp_path / f"{prefix}-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8)
        )
    cr.datasets.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    r = run_cli("mnist", "--root", str(tmp_path), "--dataset", "mnist")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "error: t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz) is in neither" in r.stderr


def test_fashion_missing_names_the_fashion_files_source(tmp_path, capsys):
    assert main(["mnist", "--root", str(tmp_path), "--dataset", "fashion"]) == 2
    err = capsys.readouterr().err
    assert "FashionMNIST IDX files from http://fashion-mnist.s3-website" in err
    assert str(tmp_path / "FashionMNIST" / "raw") in err


def test_the_library_error_says_where_the_files_come_from(tmp_path):
    import chainrule as cr

    with pytest.raises(RuntimeError, match="from https://ossci-datasets.s3.amazonaws.com/mnist/"):
        cr.datasets.MNIST(tmp_path)


# --------------------------------------------------------------------------- explain


def test_explain_code_without_tensor_is_a_usage_error():
    r = run_cli("explain", "--code")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("usage: python -m chainrule explain")
    assert "error: --code shows the tensor ops' backward code: use it with --tensor" in r.stderr


def test_explain_tensor_code_prints_code_and_the_exponent(capsys):
    assert main(["explain", "--tensor", "--code"]) == 0
    out = capsys.readouterr().out
    assert "code:  " in out and "def backward(self, g):" in out
    assert "rule:  d(a ** 2) = g * 2 * a**(2-1) = g * 2 * a**1" in out


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_option_has_help_with_its_default(command):
    p = subcommands()[command]
    for action in p._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        flag = action.option_strings[0]
        assert action.help, f"{command} {flag} has no help text"
        text = p.formatter_class(p.prog)._get_help_string(action)
        if action.required or isinstance(action, argparse._StoreTrueAction):
            continue
        assert "default" in text, f"{command} {flag}: help does not show its default"
        if "%(default)s" not in text and action.default is not None:
            assert str(action.default) in text or repr(action.default) in text, (command, flag)


def test_help_shows_defaults_and_no_restructuredtext(capsys):
    outputs = []
    for command in [None, *subcommands()]:
        with pytest.raises(SystemExit) as e:
            main(["--help"] if command is None else [command, "--help"])
        assert e.value.code == 0
        outputs.append(capsys.readouterr().out)
    text = "\n".join(outputs)
    assert "`" not in text  # no RST backticks in any help text
    assert "--seed SEED           seed of the weights and shuffling (default: 0)" in text
    assert "peak AdamW learning rate (default: 0.003)" in text
    assert "start of the sampled text (default: 'def ')" in text
    assert "MNIST or Fashion-MNIST (default: mnist)" in text
    assert "Find the point p in the plane" in text  # geometric-median's description


def test_every_default_is_shown_one_way(capsys):
    """ "(default: X)" at the end of each option's help: never "(default X)", never two
    parentheses in a row ("(0: all) (default: 0)")."""
    for command in subcommands():
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert not re.search(r"\(default [^:]", text), (command, text)
        assert not re.search(r"\)\s*\(default", text), (command, text)


def test_the_distributed_launcher_has_help_for_everything(capsys):
    from chainrule.distributed import run

    parser = run._parser()
    for action in parser._actions:
        assert action.help, action.dest
    with pytest.raises(SystemExit) as e:
        run.main(["--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "processes per machine; 1 runs the script directly, without MPI (default: 1)" in text
    with pytest.raises(SystemExit) as e:
        run.main(["--nproc-per-node", "0", "train.py"])
    assert e.value.code == 2
    assert "argument --nproc-per-node/--nproc_per_node: must be at least 1, got 0" in (
        capsys.readouterr().err
    )


# --------------------------------------------------------------------------- bad values

BAD_VALUES = [
    (["digits", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["digits", "--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["digits", "--lr", "-1"], "argument --lr: must be at least 0.0, got -1"),
    (["digits", "--lr", "nan"], "argument --lr: must be at least 0.0, got nan"),
    (["demo", "--epochs", "-2"], "argument --epochs: must be at least 1, got -2"),
    (["mnist", "--root", ".", "--limit", "-1"], "argument --limit: must be at least 0, got -1"),
    (["mnist", "--root", ".", "--epochs", "x"], "argument --epochs: invalid int value: 'x'"),
    (["charlm", "--eval-every", "0"], "argument --eval-every: must be at least 1, got 0"),
    (["charlm", "--block-size", "0"], "argument --block-size: must be at least 1, got 0"),
    (["charlm", "--heads", "3"], "--embd 64 must be a multiple of --heads 3"),
    (["charlm", "--chars", "50"], "--chars 50 leaves 5 characters for validation, fewer than "
     "--block-size + 2 = 66: use --chars 660 or more"),
    (["moons", "--steps", "0"], "argument --steps: must be at least 1, got 0"),
    (["moons", "--n", "1"], "argument --n: must be at least 2, got 1"),
    (["moons", "--print-every", "0"], "argument --print-every: must be at least 1, got 0"),
    (["geometric-median", "--lr", "-1"], "argument --lr: must be at least 0.0, got -1"),
    (["geometric-median", "--n", "0"], "argument --n: must be at least 1, got 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    "argv, message", BAD_VALUES, ids=[" ".join(argv) for argv, _ in BAD_VALUES]
)
def test_a_bad_value_is_a_usage_error(argv, message, capsys):
    """Found while parsing, before any work: usage, the message, exit status 2 (these used to
    end in a ZeroDivisionError, IndexError or RuntimeError traceback from deep inside)."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: python -m chainrule {argv[0]}")
    assert err.rstrip().endswith(f"error: {message}"), err


def test_a_bad_value_prints_no_traceback():
    r = run_cli("digits", "--batch-size", "0")
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert "error: argument --batch-size: must be at least 1, got 0" in r.stderr


def test_the_smallest_allowed_values_run(tmp_path, capsys):
    """The bounds are where the commands stop working, not tighter: the smallest values run."""
    assert main(["geometric-median", "--n", "1", "--steps", "0"]) == 0
    assert main(["moons", "--n", "2", "--steps", "1"]) == 0
    assert main(["charlm", "--steps", "0", "--chars", "660", "--layers", "0", "--embd", "8",
                 "--heads", "8", "--sample-chars", "0", "--no-progress",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    capsys.readouterr()


# --------------------------------------------------------------------------- moons


def test_moons_prints_a_short_summary_and_a_legend():
    r = run_cli("moons", "--steps", "2", "--n", "20", "--plot")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("MLP(2, [16, 16, 1]) with ReLU: 337 parameters; 20 points")
    assert max(len(line) for line in lines) < 100 and "ReLUNeuron" not in r.stdout
    assert lines[-2].startswith("legend: '.' the model says -1")
    assert "O or X: that point is misclassified" in lines[-1]


# --------------------------------------------------------------------------- charlm


def test_charlm_log_lines_do_not_share_the_progress_bars_line(monkeypatch):
    """The bar and the step lines go to one stream (as in a terminal): every step line starts
    its own line (the bar is cleared first and redrawn after it), and the rate is in steps/s."""
    pytest.importorskip("tqdm")
    from chainrule.demos import charlm

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    args = build_parser().parse_args(["charlm", "--steps", "4", "--eval-every", "2",
                                      "--chars", "20000", "--embd", "16", "--layers", "1",
                                      "--block-size", "16", "--batch-size", "4",
                                      "--sample-chars", "5"])  # fmt: skip
    charlm.train(args, log=lambda s: print(s, file=sys.stderr))
    text = stream.getvalue()
    assert "steps/s" in text and "batch/s" not in text
    step_lines = [piece for piece in text.split("\n") if "val loss" in piece]
    assert len(step_lines) == 3  # steps 0, 2, 4
    for piece in step_lines:  # what a terminal shows: the text after the last carriage return
        assert re.match(r"\s*step\s+\d+ ", piece.rsplit("\r", 1)[-1]), repr(piece)
