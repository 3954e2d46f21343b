"""The notebooks in docs/notebooks run top to bottom in a fresh Jupyter kernel (their asserts
are the checks), show what they promise inline (the graph picture, the plots), and are kept
in the repository without outputs.

The kernel is this test run's own interpreter (a kernelspec written into a temporary
directory), so a fresh clone needs nothing registered with Jupyter: `pip install -e
'.[test]'` brings nbclient and ipykernel."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.ipynb"))


def test_there_are_the_three_notebooks():
    assert [p.name for p in NOTEBOOKS] == [
        "01-scalar-value-to-mlp.ipynb",
        "02-tensors-broadcasting-vjp.ipynb",
        "03-training-with-a-dataloader.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    """What nbstripout would leave: no outputs, no execution counts, no run metadata."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        where = f"{path.name} cell {i + 1}"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{where} has outputs: clear them before committing"
            assert cell["execution_count"] is None, f"{where} has an execution count"
        assert set(cell.get("metadata", {})) <= {"tags"}, f"{where} has metadata"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_legend(path):
    """A cell that draws a figure says what its colors and lines are (a legend or a
    colorbar), as the README's plots do."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and "plt.subplots" in src:
            assert "legend(" in src or "colorbar(" in src, f"{path.name} cell {i + 1}"


def _kernel_manager(tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = tmp_path / "kernels" / "chainrule-tests"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "chainrule tests",
            "language": "python",
            # plots inline even when the test run chose another backend (MPLBACKEND=Agg)
            "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
        })
    )  # fmt: skip
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name="chainrule-tests", kernel_spec_manager=specs)


def run_notebook(path: Path, tmp_path: Path):
    """Execute a notebook as Jupyter would; raises CellExecutionError at the first failing
    cell (with its traceback). Returns the executed notebook."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, km=_kernel_manager(tmp_path), timeout=600,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    client.execute()
    return nb


def _outputs(nb, mime: str) -> list:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if mime == "stream" and out.get("output_type") == "stream":
                found.append(out["text"])
            elif mime in out.get("data", {}):
                found.append(out["data"][mime])
    return found


def _text(nb) -> str:
    return "".join(_outputs(nb, "stream")) + "".join(map(str, _outputs(nb, "text/plain")))


def test_scalar_notebook(tmp_path):
    nb = run_notebook(NOTEBOOKS[0], tmp_path)
    text = _text(nb)
    assert "de/da = 45.0   de/db = 20.0" in text
    assert "de/dc = 20  = 10 (via e) + 10 (via d)" in text  # the two paths, narrated
    from chainrule.viz import has_dot

    if has_dot():  # draw_graph's Digraph, shown inline by Jupyter
        assert len(_outputs(nb, "image/svg+xml")) >= 2
    else:
        assert "digraph chainrule" in text and "data 50.0000 | grad 1.0000" in text
    assert len(_outputs(nb, "image/png")) == 1  # the loss curve


def test_tensor_notebook(tmp_path):
    nb = run_notebook(NOTEBOOKS[1], tmp_path)
    text = _text(nb)
    assert "gradcheck: True" in text
    assert "bias.grad   (3,) [4.0, 8.0, 12.0]" in text


def test_training_notebook(tmp_path):
    nb = run_notebook(NOTEBOOKS[2], tmp_path)
    assert len(_outputs(nb, "image/png")) == 3  # data, curves, decision boundary
    assert "epoch 30: loss" in _text(nb)


def test_a_failing_cell_fails_the_test(tmp_path):
    """The runner reports a notebook's error (so a broken notebook cannot pass)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    bad = tmp_path / "bad.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import chainrule as cr\nassert cr.ones(2).sum() == 3")]
    nbformat.write(nb, bad)
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="AssertionError"):
        run_notebook(bad, tmp_path)
