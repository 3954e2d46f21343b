"""Which backend is active: native when built, NumPy with ``CHAINRULE_NATIVE=0`` or when
the extension is missing (chainrule then imports and runs on NumPy alone)."""

import os
import subprocess
import sys

import pytest

from chainrule import backend

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def _run(code, **env):
    e = {k: v for k, v in os.environ.items() if k != "CHAINRULE_NATIVE"}  # the default
    e.update(PYTHONPATH=SRC, **env)
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_native_is_the_default_when_built():
    assert backend.native_available()  # (this process may run with CHAINRULE_NATIVE=0)
    assert _run("from chainrule import backend; print(backend.active())") == "native"


def test_environment_forces_numpy():
    code = "from chainrule import backend; print(backend.active())"
    assert _run(code, CHAINRULE_NATIVE="0") == "numpy"


def test_without_the_extension_everything_runs_on_numpy():
    code = (
        "import sys; sys.modules['chainrule.backend._native'] = None\n"  # import fails
        "import chainrule as cr; from chainrule import backend\n"
        "x = cr.randn(4, 8, requires_grad=True)\n"
        "cr.nn.functional.gelu(x).softmax(-1).sum().backward()\n"
        "print(backend.active(), backend.native_available(), x.grad.shape == x.shape)"
    )
    assert _run(code) == "numpy False True"


def test_use_refuses_an_unknown_backend():
    with pytest.raises(ValueError, match="no kernel backend 'cuda'"):
        backend.use("cuda")
