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

    pytest.importorskip("mkdocs_jupyter")
    import os

    root = DOCS.parent
    # the notebooks are rendered without running them again (tests/test_notebooks.py runs them)
    env = dict(os.environ, CHAINRULE_DOCS_EXECUTE="false")
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=root, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    site = tmp_path / "site"
    assert (site / "api" / "viz" / "index.html").exists()
    for nb in sorted((DOCS / "notebooks").glob("*.ipynb")):
        assert (site / "notebooks" / nb.stem / "index.html").exists(), nb.name
    tensor_page = (site / "api" / "tensor" / "index.html").read_text()
    assert "chainrule.Tensor" in tensor_page and "chainrule._tensor" not in tensor_page
    for private in ("_vc", "_base", "_views", "_data"):
        assert f"<code>{private}</code>" not in tensor_page, private
    assert 'id="chainrule.Tensor.item"' in tensor_page
    dist_page = (site / "api" / "distributed" / "index.html").read_text()
    assert 'id="chainrule.distributed.all_reduce"' in dist_page
    assert 'id="chainrule.nn.parallel.DistributedDataParallel"' in dist_page
    runtime_page = (site / "api" / "runtime" / "index.html").read_text()
    assert 'id="chainrule.amp.autocast"' in runtime_page
    assert "chainrule.compiler.OptimizedModule</code> is what" in runtime_page  # (made lazily)
    # the names a module imports for itself are not its API
    assert 'id="chainrule.compiler.Tensor"' not in runtime_page
    assert (
        'id="chainrule.safetensors.Tensor"'
        not in (site / "api" / "data" / "index.html").read_text()
    )


def _nav_pages() -> list[str]:
    text = (DOCS.parent / "mkdocs.yml").read_text()
    return re.findall(r"^\s*- [^:\n]+: (\S+\.(?:md|ipynb))$", text, re.M)


def test_the_nav_lists_every_page():
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*") if p.suffix in (".md", ".ipynb")}
    assert pages - set(_nav_pages()) == set(), "pages missing from mkdocs.yml's nav"
    assert set(_nav_pages()) - pages == set(), "nav entries without a page"


def test_the_index_lists_every_tutorial_and_notebook():
    index = (DOCS / "index.md").read_text()
    for page in sorted((DOCS / "tutorials").glob("*.md")) + sorted(
        (DOCS / "notebooks").glob("*.ipynb")
    ):
        assert f"]({page.relative_to(DOCS)})" in index, f"docs/index.md does not link {page.name}"


API_BLOCK = re.compile(r"^::: (\S+)", re.M)


def test_every_public_name_is_in_the_api_reference():
    """Each name a public namespace exports is rendered on an API page: listed by its public
    path (`::: chainrule.zeros`), or its module is rendered whole (`::: chainrule.func`)."""
    import importlib
    import inspect

    from tests.test_docstrings import PUBLIC_MODULES

    def resolve(path: str):  # as the docs tool does: a submodule of that name first
        parts = path.split(".")
        obj = importlib.import_module(parts[0])
        for i, attr in enumerate(parts[1:], 2):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                obj = getattr(obj, attr)
        return obj

    documented = set()  # ids of the objects the pages render
    for page in (DOCS / "api").glob("*.md"):
        for path in API_BLOCK.findall(page.read_text()):
            obj = resolve(path)
            parent, _, last = path.rpartition(".")
            attr = getattr(resolve(parent), last, obj) if parent else obj
            assert attr is obj or not inspect.ismodule(obj), (
                f"{page.name}: `::: {path}` renders the submodule, not the {last} that "
                f"{parent}.{last} is: name it by its module ({attr.__module__}.{last})"
            )
            documented.add(id(obj))
            if inspect.ismodule(obj):  # rendered whole: every public member
                documented |= {id(getattr(obj, n)) for n in getattr(obj, "__all__", [])}
    missing = []
    # chainrule.compiler is on the pages too; it is left out of the docstring count until
    # its list_backends and InvalidBackend have one
    for modname in [*PUBLIC_MODULES, "chainrule.compiler"]:
        mod = importlib.import_module(modname)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue  # submodules (their own entries) and values (dtypes)
            if id(obj) not in documented:
                missing.append(f"{modname.replace('._api', '')}.{name}")
    assert not missing, f"not in docs/api/*.md: {missing}"
