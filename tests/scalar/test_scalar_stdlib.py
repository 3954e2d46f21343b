"""The scalar engine is standard library only: it imports (and runs) with NumPy blocked."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
SCALAR = SRC / "chainrule" / "scalar"


def run_blocked(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where ``import numpy`` fails."""
    env = dict(os.environ, PYTHONPATH=str(SRC))
    prelude = "import sys; sys.modules['numpy'] = None; sys.modules['torch'] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], env=env, capture_output=True, text=True
    )


def test_the_issue_command_line_works():
    env = dict(os.environ, PYTHONPATH=str(SRC))
    cmd = "import sys; sys.modules['numpy'] = None; import chainrule.scalar"
    proc = subprocess.run([sys.executable, "-c", cmd], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_engine_nn_and_demos_run_with_numpy_blocked():
    code = """
import chainrule.scalar as s
from chainrule.scalar import lecture, moons
a, b = s.Value(2.0), s.Value(3.0)
c = a + b
e = c * (c * a)
e.backward()
assert (e.data, a.grad, b.grad) == (50.0, 45.0, 20.0)
m = s.MLP(2, [4, 1], seed=0)
out = m([0.5, -0.5])
out.backward()
lecture.closed_form(lecture.make_points(3), 0.3, 0.3)
moons.make_moons(10)
assert 'numpy' not in [k for k, v in sys.modules.items() if v is not None]
print('ok')
"""
    proc = run_blocked(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_cli_commands_run_without_numpy():
    env = dict(os.environ, PYTHONPATH=str(SRC))
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from chainrule.scalar import lecture, moons\n"
        "import argparse\n"
        "p = argparse.ArgumentParser(); sub = p.add_subparsers()\n"
        "lecture.add_parser(sub); moons.add_parser(sub)\n"
        "a = p.parse_args(['moons', '--steps', '1', '--n', '10'])\n"
        "sys.exit(a.func(a))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_scalar_modules_import_only_stdlib_and_the_walk():
    # the walk, and the command-line helpers the parsers use (standard library only too)
    allowed_internal = {"chainrule", "chainrule.graph", "chainrule.cli"}
    for path in sorted(SCALAR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "chainrule":
                    ok = name in allowed_internal or name.startswith("chainrule.scalar")
                else:
                    ok = top in sys.stdlib_module_names or top == "__future__"
                assert ok, f"{path.name} imports {name}"
