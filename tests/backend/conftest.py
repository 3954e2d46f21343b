"""The kernel tests run once per backend: ``backend_name`` makes that backend the active
one (``chainrule.backend.use``) for the test and restores the previous one after, so every
test here checks the NumPy reference and the native kernels alike."""

import pytest

from chainrule import backend

BACKENDS = ["numpy", "native"]  # native must be built: `make test` builds it


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    before = backend.active()
    if request.param not in backend.TABLES:  # a failure, not a skip: `make test` builds it
        pytest.fail(
            "the native kernels are not built: `python setup.py build_ext --inplace` "
            "(or `pip install -e .`, as `make test` does)"
        )
    backend.use(request.param)
    yield request.param
    backend.use(before)
