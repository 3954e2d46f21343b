"""The typed API (issue 9, item 2): the committed stubs are what the generator makes from
the registry, and mypy and pyright read chainrule the way a user's checker would: a correct
program passes, tensors are ``Tensor`` (never ``Any``) through functions, methods,
operators and module calls, and mistakes are flagged. One checker run per test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule import _registry, _stubs

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SRC = ROOT / "src"


# ---------------------------------------------------------------------- staleness


def test_committed_stubs_are_current():
    diff = _stubs.check()
    assert not diff, f"stale stubs: run `python -m chainrule._stubs`\n{diff[:4000]}"


def test_generating_into_another_folder_gives_the_committed_files(tmp_path):
    for path in _stubs.write(tmp_path):
        rel = path.relative_to(tmp_path)
        assert path.read_text() == (_stubs.PACKAGE / rel).read_text(), rel
    assert _stubs.check(tmp_path) == ""


def _extra(input, other, *, scale: float = 1.0):  # an op "declared" only for this test
    return input


def _relu(input, inplace: bool = True):  # relu with a changed signature
    return input


def test_a_changed_declaration_makes_the_stubs_stale(monkeypatch):
    _stubs._load()  # every namespace declared (run alone, nn.functional may not be yet)
    monkeypatch.setitem(_registry.METHODS, "extra_op", _registry.Method(_extra))
    monkeypatch.setitem(_registry.METHODS, "extra_op_", _registry.Method(_extra, "inplace"))
    monkeypatch.setitem(_registry.FUNCTIONS["nn.functional"], "relu", _relu)
    diff = _stubs.check()
    # `float` is a Tensor method, so the class stub spells the builtin `builtins.float`
    kw = "*, scale: builtins.float = ..."
    assert f"+    def extra_op(self, other: Any, {kw}) -> Any: ..." in diff
    assert f"+    def extra_op_(self, other: Any, {kw}) -> Tensor: ..." in diff
    assert "+def relu(input: Any, inplace: bool = ...) -> Any: ..." in diff
    assert "-def relu(input: Tensor, inplace: bool = ...) -> Tensor: ..." in diff


def test_check_command_fails_on_a_stale_stub(tmp_path, capsys):
    _stubs.write(tmp_path)
    stub = tmp_path / "_tensor_methods.pyi"
    stub.write_text(stub.read_text().replace("    def relu(self) -> Tensor: ...\n", ""))
    assert "+    def relu(self) -> Tensor: ..." in _stubs.check(tmp_path)
    assert _stubs.main(["--check"]) == 0


# ---------------------------------------------------------------------- mypy


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mypy-cache")


STUBS = [_stubs.PACKAGE / path for path in _stubs.STUBS]


def _mypy(path: Path, cache: Path, *, everything: bool = False) -> list[str]:
    """mypy's report on ``path`` (with ``everything``, on every file it checked)."""
    api = pytest.importorskip("mypy.api")
    out, err, _ = api.run(
        [
            str(path),
            *(map(str, STUBS) if everything else ()),
            "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(cache),
            "--show-error-codes",
            "--no-error-summary",
            "--no-pretty",
        ]
    )  # fmt: skip
    assert not err, err
    lines = out.splitlines()
    return lines if everything else [x for x in lines if x.split(":")[0].endswith(path.name)]


def _expected(path: Path, marker: str) -> dict[int, str]:
    """Line number -> what the trailing ``# <marker>...`` comment says, for marked lines."""
    found = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        code, sep, comment = line.partition("  # ")
        if sep and code.strip() and comment.startswith(marker):
            found[n] = comment[len(marker) :].strip()
    return found


def test_mypy_accepts_the_sample_program_and_the_stubs(mypy_cache):
    assert _mypy(HERE / "sample.py", mypy_cache, everything=True) == []


def test_mypy_infers_tensor_through_the_api(mypy_cache):
    path = HERE / "reveal.py"
    revealed = {}
    for line in _mypy(path, mypy_cache):
        m = re.match(r".*:(\d+): note: Revealed type is \"(.*)\"$", line)
        assert m, line
        revealed[int(m[1])] = m[2]
    expected = {n: t for n, t in _expected(path, "").items() if "reveal_type(" in _line(path, n)}
    assert revealed == expected


def _line(path: Path, n: int) -> str:
    return path.read_text().splitlines()[n - 1]


def test_mypy_flags_mistakes(mypy_cache):
    path = HERE / "mistakes.py"
    flagged = {}
    for line in _mypy(path, mypy_cache):
        m = re.match(r".*:(\d+): error: .*\[([a-z-]+)\]$", line)
        if m:
            flagged[int(m[1])] = m[2]
    assert flagged == _expected(path, "error:")


# ---------------------------------------------------------------------- pyright


def _pyright(paths: list[Path], tmp_path: Path) -> dict:
    exe = shutil.which("basedpyright", path=os.path.dirname(sys.executable)) or shutil.which(
        "basedpyright"
    )
    if exe is None:
        pytest.skip("basedpyright is not installed (pip install -e '.[test]')")
    config = {
        "include": [str(p) for p in paths],
        "extraPaths": [str(SRC)],
        "typeCheckingMode": "standard",
        "pythonVersion": "3.10",
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    run = subprocess.run(
        [exe, "--project", str(tmp_path), "--pythonpath", sys.executable, "--outputjson"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(run.stdout)


def test_pyright_agrees(tmp_path):
    files = [HERE / "sample.py", HERE / "reveal.py", HERE / "mistakes.py"]
    report = _pyright(files + STUBS, tmp_path)
    assert report["summary"]["filesAnalyzed"] == 3 + len(STUBS)
    by_file: dict[str, dict[int, list[dict]]] = {}
    for d in report["generalDiagnostics"]:
        line = d["range"]["start"]["line"] + 1
        by_file.setdefault(Path(d["file"]).name, {}).setdefault(line, []).append(d)
    for clean in ["sample.py", *(p.name for p in STUBS)]:
        assert clean not in by_file, by_file.get(clean)

    revealed = {
        n: re.match(r'Type of ".*" is "(.*)"', ds[0]["message"])[1]  # type: ignore[index]
        for n, ds in by_file["reveal.py"].items()
    }
    expected = {
        n: re.sub(r"\b[a-z_.]+\.(?=[A-Za-z])", "", t)  # pyright names types unqualified
        for n, t in _expected(HERE / "reveal.py", "").items()
        if "reveal_type(" in _line(HERE / "reveal.py", n)
    }
    expected = {n: {"Any": "Any"}.get(t, t) for n, t in expected.items()}
    assert revealed == expected

    errors = {n for n, ds in by_file["mistakes.py"].items() if ds[0]["severity"] == "error"}
    assert errors == set(_expected(HERE / "mistakes.py", "error:"))


def test_the_sample_program_runs(capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("typed_sample", HERE / "sample.py")
    assert spec and spec.loader
    sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample)
    assert sample.train(steps=3) > 0
    assert "accuracy" in capsys.readouterr().out
