"""The tutorials in docs/tutorials (and the README) run as written: every ```python block,
in order, in one namespace per page (their asserts are the checks): the docs never rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted((DOCS / "tutorials").glob("*.md")) + [DOCS.parent / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_there_are_tutorials():
    assert {p.name for p in PAGES} >= {
        "autograd-from-scratch.md", "tensors.md", "training.md", "README.md"
    }  # fmt: skip


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_tutorial_runs(page, capsys):
    blocks = BLOCK.findall(page.read_text())
    assert blocks, f"{page.name} has no python blocks"
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{page.name} block {i + 1}", "exec"), namespace)


def test_mkdocs_builds_the_site_without_warnings(tmp_path):
    """`make docs`: the API reference from the docstrings, in strict mode (warnings fail)."""
    pytest.importorskip("mkdocstrings")
    import subprocess
    import sys

    root = DOCS.parent
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=root, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "site" / "api" / "viz" / "index.html").exists()
