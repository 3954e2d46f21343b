"""chainrule.save writes atomically: a save killed at any moment, or failing (a full disk,
no permission), leaves the previous checkpoint whole, and the error names the path."""

import errno
import os
import random
import signal
import stat
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule import _atomic


def _state(i, n):
    # every tensor carries the save's number, so a mix of two saves is caught too
    return {
        "a": cr.full((n,), float(i)),
        "b": cr.full((n // 2, 2), float(i), dtype=cr.float64),
        "step": cr.tensor(i),
    }


def _check(path, n):
    sd = cr.load(path)
    assert list(sd) == ["a", "b", "step"]
    i = sd["step"].item()
    assert sd["a"].shape == (n,) and sd["b"].shape == (n // 2, 2)
    assert (sd["a"].numpy() == i).all() and (sd["b"].numpy() == i).all()
    return i


def test_sigkill_at_random_moments_never_leaves_a_damaged_checkpoint(tmp_path):
    # a forked child saves ~12 MB state dicts over one path as fast as it can; it is killed
    # with SIGKILL at a random moment (within about three saves' time), and the path must
    # then load, whole: the old checkpoint or the new one. (With open(path, "wb") most
    # kills leave a truncated file.)
    n = 1_000_000
    path = tmp_path / "ckpt.safetensors"
    cr.save(_state(0, n), path)
    # a kill lands within the first few saves of each child, however loaded the machine is
    t0 = time.perf_counter()
    cr.save(_state(0, n), path)
    one_save = time.perf_counter() - t0
    rng = random.Random(0)
    kills, last = 30, 0
    for _ in range(kills):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            try:
                os.close(r)
                os.write(w, b"go")
                i = last
                while True:
                    i += 1
                    cr.save(_state(i, n), path)
            finally:
                os._exit(0)
        os.close(w)
        os.read(r, 2)  # the child is running
        os.close(r)
        time.sleep(rng.uniform(0.0, 3 * one_save))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        i = _check(path, n)
        assert i >= last  # never an older checkpoint than one already seen
        last = i
    assert last > 0
    # a kill during a save leaves its temporary file (nothing can remove it after SIGKILL),
    # hidden, never a damaged target: most kills did land in the middle of a save
    leftovers = [p for p in os.listdir(tmp_path) if p != "ckpt.safetensors"]
    assert kills // 3 <= len(leftovers) <= kills
    assert all(p.startswith(".ckpt.safetensors.") for p in leftovers)


def test_a_failed_save_removes_its_temporary_file_and_names_the_path(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(3)}, path)
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_atomic.os, "fsync", full_disk)
    with pytest.raises(OSError) as e:
        cr.save({"w": cr.zeros(1000)}, path)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(path)
    assert "No space left on device" in str(e.value) and str(path) in str(e.value)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]

    # Ctrl-C in the middle of writing: same
    def interrupted(fh, *args):
        fh.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(cr.serialization._sf, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cr.save({"w": cr.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]
    assert np.array_equal(cr.load(path)["w"].numpy(), np.ones(3, np.float32))


def test_permission_and_missing_directory_errors_name_the_path(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "m.safetensors"
    with pytest.raises(FileNotFoundError) as e:
        cr.save({"w": cr.ones(1)}, missing)
    assert e.value.filename == str(missing)
    with pytest.raises(IsADirectoryError) as e:
        cr.save({"w": cr.ones(1)}, tmp_path)
    assert e.value.filename == str(tmp_path) and os.listdir(tmp_path) == []
    if os.geteuid() != 0:  # root writes into a read-only directory regardless
        ro = tmp_path / "ro"
        ro.mkdir()
        cr.save({"w": cr.ones(1)}, ro / "m.safetensors")
        ro.chmod(0o500)
        try:
            with pytest.raises(PermissionError) as e:
                cr.save({"w": cr.zeros(1)}, ro / "m.safetensors")
            assert e.value.filename == str(ro / "m.safetensors")
            assert cr.load(ro / "m.safetensors")["w"].item() == 1.0
        finally:
            ro.chmod(0o700)


def test_mode_symlinks_and_pickled_saves(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(1)}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # as open(path, "wb")
    path.chmod(0o640)
    cr.save({"w": cr.ones(2)}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # overwriting keeps the mode
    link = tmp_path / "latest.safetensors"
    link.symlink_to(path)
    cr.save({"w": cr.ones(3)}, link)  # written through the link, which stays a link
    assert link.is_symlink() and cr.load(path)["w"].shape == (3,)
    module = cr.nn.Linear(2, 2)
    cr.save(module, path)  # the pickled form goes through the same atomic write
    assert isinstance(cr.load(path, weights_only=False), cr.nn.Linear)
    assert sorted(os.listdir(tmp_path)) == ["latest.safetensors", "m.safetensors"]


def test_a_mapped_checkpoint_survives_a_save_over_its_path(tmp_path):
    # the rename gives the path a new file; the mapped old one stays readable (with the old
    # open(path, "wb") it was truncated under the mapping: SIGBUS on the next read)
    path = tmp_path / "m.safetensors"
    cr.save({"w": cr.arange(1000.0)}, path)
    old = cr.load(path, mmap=True)
    cr.save({"w": cr.zeros(10)}, path)
    assert np.array_equal(old["w"].numpy(), np.arange(1000.0, dtype=np.float32))
    assert cr.load(path)["w"].shape == (10,)
