import pytest


@pytest.fixture(autouse=True, scope="session")
def _fused_cache(tmp_path_factory):
    """Generated C loops compile into a temporary cache, not the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CHAINRULE_CACHE_DIR", str(tmp_path_factory.mktemp("fused")))
    yield
    mp.undo()
