"""One way to write storage: outside the tensor core, a tensor's values change only through
``chainrule._tensor.mutate`` (which moves the version counter) or are rebound with
``.data = `` (torch's set_data). The layer rule is checked on the package's source; the
behaviour (which programs raise torch's in-place error, which versions move) against torch."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
import torch

import chainrule as cr

SRC = pathlib.Path(__file__).parents[1] / "src" / "chainrule"
# the tensor core: the Tensor itself, the backward engine (leaf accumulation), the op catalog
CORE = ("_tensor.py", "_engine.py", "ops/")
MODIFIED = "modified by an inplace operation"

# --------------------------------------------------------------------------- the layer rule

_MUTATING_METHODS = {"fill", "sort", "put", "resize", "itemset", "setfield", "partition"}
_VIEWS = {"real", "imag", "T", "mT", "flat"}
_MUTATING_FUNCTIONS = {"copyto", "put", "place", "putmask", "put_along_axis", "fill_diagonal"}


def _reaches_data(node: ast.AST, aliases: set[str]) -> bool:
    """``x._data``, ``x._data[i]``, ``x._data.real[...]``, or a name bound to one of those."""
    while isinstance(node, ast.Subscript | ast.Attribute):
        if isinstance(node, ast.Attribute):
            if node.attr == "_data":
                return True
            if node.attr not in _VIEWS:  # x._data.shape[0] is a number, not the memory
                return False
        node = node.value
    return isinstance(node, ast.Name) and node.id in aliases


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _own_nodes(scope: ast.AST):
    """The nodes of a module or function, not those of the functions defined inside it."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _FUNCTIONS):
            stack.extend(ast.iter_child_nodes(node))


def _targets(node: ast.AST):
    if isinstance(node, ast.Tuple | ast.List):
        for elt in node.elts:
            yield from _targets(elt)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)
    else:
        yield node


def storage_writes(source: str) -> list[tuple[int, str]]:
    """Where ``source`` writes a tensor's ``_data``: assigns it, assigns into it (``[...] =``,
    ``+=``), or updates it with a mutating NumPy call (``.fill``, ``out=``, ``np.copyto``),
    directly or through a local name bound to it (``a = t._data; a += 1``). A write through
    a name bound to a call's result (``a = as_real(t._data)``) is not seen."""
    found = []
    tree = ast.parse(source)
    for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, _FUNCTIONS))]:
        nodes = list(_own_nodes(scope))
        aliases: set[str] = set()
        for n in nodes:  # names bound to a tensor's array (or part of it) in this scope
            if isinstance(n, ast.Assign | ast.AnnAssign) and n.value is not None:
                if _reaches_data(n.value, set()):
                    targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                    aliases.update(t.id for t in targets if isinstance(t, ast.Name))
        for n in nodes:
            hit = None
            if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                for t in (x for target in targets for x in _targets(target)):
                    if isinstance(t, ast.Name):
                        if isinstance(n, ast.AugAssign) and t.id in aliases:
                            hit = n
                    elif _reaches_data(t, aliases):
                        hit = n
            elif isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if (
                    isinstance(f, ast.Attribute)
                    and name in _MUTATING_METHODS
                    and _reaches_data(f.value, aliases)
                ):
                    hit = n
                in_place = name in _MUTATING_FUNCTIONS or (  # or torch's naming: addcdiv_(x, ..)
                    isinstance(f, ast.Name) and name.endswith("_") and not name.startswith("_")
                )
                if in_place and n.args and _reaches_data(n.args[0], aliases):
                    hit = n
                for kw in n.keywords:
                    outs = kw.value.elts if isinstance(kw.value, ast.Tuple) else [kw.value]
                    if kw.arg == "out" and any(_reaches_data(o, aliases) for o in outs):
                        hit = n
            if hit is not None:
                found.append((hit.lineno, ast.unparse(hit).splitlines()[0]))
    return sorted(set(found))


def _outside_core():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if not rel.startswith(CORE):
            yield rel, path


def test_nothing_outside_the_core_writes_a_tensors_storage():
    offences = [
        f"{rel}:{line}: {code}"
        for rel, path in _outside_core()
        for line, code in storage_writes(path.read_text())
    ]
    assert not offences, "use chainrule._tensor.mutate (or .data = ):\n" + "\n".join(offences)


PLANTED = [
    "p._data = np.zeros(3)",
    "p._data -= lr * g",
    "p.grad._data *= 2",
    "p._data[...] = 0",
    "w._data[rows][0] = 1",
    "p._data.real[...] = 1",
    "a, p._data = 1, x",
    "p._data.fill(0)",
    "np.copyto(p._data, x)",
    "np.clip(g._data, -1, 1, out=g._data)",
    "np.divmod(a, b, out=(q._data, r))",
    "addcdiv_(p._data, g, d, -lr)",
    "def f(p):\n    a = p._data\n    a += 1",
    "def f(p):\n    a = p._data\n    a[0] = 1",
    "def f(p):\n    rm = p.running_mean._data\n    np.multiply(rm, 2, out=rm)",
    "class M:\n    def reset(self):\n        self.w._data[...] = 0",
]
CLEAN = [
    "y = p._data * 2",
    "n = p._data.shape[0]",
    "a = p._data[0] + 1",
    "def f(p):\n    a = p._data\n    a = a + 1",
    "def f(p):\n    n = p._data.shape[0]\n    n += 1",
    "def f(p):\n    a = p._data\n\ndef g(a):\n    a += 1",
    "mutate(p)[...] -= lr * g",
    "def f(p):\n    a = mutate(p)\n    a += 1",
    "p.data = _make(arr)",
    "np.clip(g._data, -1, 1)",
    "addcdiv_(mutate(p), g, d, -lr)",
    "x.add_(y._data)",
    "x = {}\nx['_data'] = 1",
]


@pytest.mark.parametrize("source", PLANTED)
def test_the_layer_check_catches_a_planted_write(source):
    assert storage_writes(source), source


@pytest.mark.parametrize("source", CLEAN)
def test_the_layer_check_passes_reads_and_the_entry_point(source):
    assert storage_writes(source) == [], source


# --------------------------------------------------------------------------- against torch


def outcome(fn) -> str:
    try:
        fn()
    except RuntimeError as e:
        assert MODIFIED in str(e), e
        return "modified"
    return "ok"


def net(lib, seed: int = 0):
    """Linear(3, 4), Tanh, Linear(4, 1) with the same float32 weights in both libraries."""
    rng = np.random.default_rng(seed)
    m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 1))
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    return m


def between_backwards(lib, write):
    """Backward through a retained graph, ``write(lib, module)``, backward again."""
    m = net(lib)
    loss = (m(lib.ones(2, 3)) ** 2).sum()
    loss.backward(retain_graph=True)
    write(lib, m)
    result = outcome(loss.backward)
    return result, [p.grad.numpy().copy() for p in m.parameters()]


def same_as_torch(write, compare_gradients: bool = True) -> str:
    ours, ours_grads = between_backwards(cr, write)
    theirs, their_grads = between_backwards(torch, write)
    assert ours == theirs
    if ours == "ok" and compare_gradients:  # the second backward accumulated the same
        for g, h in zip(ours_grads, their_grads):
            np.testing.assert_allclose(g, h, rtol=1e-5, atol=1e-6)
    return ours


INITS = {
    "uniform_": lambda I, w: I.uniform_(w),
    "normal_": lambda I, w: I.normal_(w),
    "trunc_normal_": lambda I, w: I.trunc_normal_(w),
    "constant_": lambda I, w: I.constant_(w, 0.3),
    "ones_": lambda I, w: I.ones_(w),
    "zeros_": lambda I, w: I.zeros_(w),
    "eye_": lambda I, w: I.eye_(w),
    "xavier_uniform_": lambda I, w: I.xavier_uniform_(w),
    "xavier_normal_": lambda I, w: I.xavier_normal_(w),
    "kaiming_uniform_": lambda I, w: I.kaiming_uniform_(w),
    "kaiming_normal_": lambda I, w: I.kaiming_normal_(w),
    "orthogonal_": lambda I, w: I.orthogonal_(w),
    "sparse_": lambda I, w: I.sparse_(w, 0.5),
}


@pytest.mark.parametrize("name", INITS)
def test_init_of_a_parameter_used_in_a_graph(name):
    assert same_as_torch(lambda lib, m: INITS[name](lib.nn.init, m[2].weight)) == "modified"


VERSIONED_INITS = {
    **{name: ((4, 6), fn) for name, fn in INITS.items()},
    "dirac_": ((4, 4, 3), lambda I, w: I.dirac_(w)),
    # trunc_normal_ counts a copy_ when it had to redraw a value: never within [-100, 100],
    # all but surely among 1200 values within [-2, 2] or within the tail [2, 3]
    "trunc_normal_ wide": ((4, 6), lambda I, w: I.trunc_normal_(w, a=-100.0, b=100.0)),
    "trunc_normal_ many": ((30, 40), lambda I, w: I.trunc_normal_(w)),
    "trunc_normal_ tail": ((30, 40), lambda I, w: I.trunc_normal_(w, a=2.0, b=3.0)),
}
del VERSIONED_INITS["trunc_normal_"]  # at 24 values within [-2, 2], a redraw is a coin flip


@pytest.mark.parametrize("name", VERSIONED_INITS)
def test_init_moves_the_version_as_torch(name):
    shape, fn = VERSIONED_INITS[name]
    ours, theirs = cr.empty(*shape), torch.empty(*shape)
    fn(cr.nn.init, ours)
    fn(torch.nn.init, theirs)
    assert ours._version == theirs._version


def test_load_state_dict_between_backwards():
    def load(lib, m):
        m.load_state_dict({k: v.detach().clone() * 2 for k, v in m.state_dict().items()})

    assert same_as_torch(load) == "modified"


def test_load_state_dict_moves_every_version_as_torch():
    ours, theirs = cr.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    before = {k: v._version for k, v in theirs.state_dict().items()}
    assert {k: v._version for k, v in ours.state_dict().items()} == before
    ours.load_state_dict({k: v.clone() for k, v in ours.state_dict().items()})
    theirs.load_state_dict({k: v.clone() for k, v in theirs.state_dict().items()})
    after = {k: v._version for k, v in theirs.state_dict().items()}
    assert {k: v._version for k, v in ours.state_dict().items()} == after != before


def test_module_dtype_conversion_rebinds_without_moving_the_version():
    for lib in (cr, torch):
        m = lib.nn.Linear(3, 2)
        v = m.weight._version
        w = m.weight
        m.double()
        assert m.weight is w and w.dtype == lib.float64 and w._version == v


def test_vector_to_parameters_rebinds_as_torch():
    """torch sets ``param.data``: no version moves, so backward runs. (On which values
    depends on what each op saved: torch's addmm saves ``weight.t()``, a view of the old
    memory, chainrule's linear the parameter itself, so the gradients differ.)"""

    def load_vector(lib, m):
        before = [p._version for p in m.parameters()]
        vec = lib.nn.utils.parameters_to_vector(m.parameters()).detach() * 2
        lib.nn.utils.vector_to_parameters(vec, m.parameters())
        assert [p._version for p in m.parameters()] == before
        with lib.no_grad():
            vec[0] = 7.0  # the parameters share the vector's memory
        assert m[0].weight[0, 0].item() == 7.0

    assert same_as_torch(load_vector, compare_gradients=False) == "ok"


def clip_saved_gradient(lib, clip):
    """A create_graph gradient as ``.grad``, used by a graph that saves it, then clipped."""
    w = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (g,) = lib.autograd.grad((w**3).sum(), w, create_graph=True)
    w.grad = g
    uses = (w.grad**2).sum()  # pow saves the gradient tensor
    plain = w.grad.sum()  # sum saves nothing
    clip(lib, w)
    return (
        w.grad._version,
        outcome(lambda: plain.backward(retain_graph=True)),
        outcome(uses.backward),
    )


@pytest.mark.parametrize("which", ["norm", "value"])
def test_clip_grad_on_a_create_graph_gradient(which):
    def clip(lib, w):
        if which == "norm":
            lib.nn.utils.clip_grad_norm_([w], 0.5)
        else:
            lib.nn.utils.clip_grad_value_([w], 0.5)

    ours, theirs = clip_saved_gradient(cr, clip), clip_saved_gradient(torch, clip)
    assert ours == theirs == ((1 if which == "norm" else 2), "ok", "modified")


def test_batchnorm_buffers_move_as_torch():
    ours, theirs = cr.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    x = np.arange(12.0, dtype=np.float32).reshape(4, 3)

    def buffer_versions(m):
        return {k: v._version for k, v in m.named_buffers()}

    assert buffer_versions(ours) == buffer_versions(theirs)  # reset at construction
    for _ in range(2):  # training updates the running statistics without counting it
        ours(cr.tensor(x))
        theirs(torch.tensor(x))
        assert buffer_versions(ours) == buffer_versions(theirs)
    ours.reset_running_stats()
    theirs.reset_running_stats()
    assert buffer_versions(ours) == buffer_versions(theirs)
    np.testing.assert_array_equal(ours.running_var.numpy(), theirs.running_var.numpy())
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 0


def test_batchnorm_running_stats_used_in_eval_then_updated_in_training():
    """torch's kernel updates the running statistics without a version bump: no error."""

    def program(lib):
        bn = lib.nn.BatchNorm1d(3)
        x = lib.ones(4, 3, requires_grad=True)
        bn.eval()
        y = (bn(x) ** 2).sum()
        bn.train()
        bn(lib.arange(12.0).reshape(4, 3))
        return outcome(y.backward)

    assert program(cr) == program(torch) == "ok"


def test_embedding_padding_and_max_norm_writes_count_as_torch():
    ours = cr.nn.Embedding(5, 3, padding_idx=1)
    theirs = torch.nn.Embedding(5, 3, padding_idx=1)
    assert ours.weight._version == theirs.weight._version == 2  # normal_, then fill_(0)
    assert not ours.weight[1].abs().sum().item()

    def renorm_after_use(lib):
        e = lib.nn.Embedding(5, 3, max_norm=0.1)
        v = e.weight._version
        saved = (e.weight**2).sum()
        e(lib.tensor([1, 2]))  # renormalises the rows looked up, in place
        return e.weight._version - v, outcome(saved.backward)

    assert renorm_after_use(cr) == renorm_after_use(torch) == (1, "modified")


def test_accumulating_into_grad_in_place_moves_its_version_as_torch():
    """The second backward adds into ``.grad`` in place: a graph that saved the gradient
    (here ``grad * w``, which saves it) then refuses to run, as in torch."""

    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        (x * x).sum().backward()
        saved = (x.grad * w).sum()
        v = x.grad._version  # (torch's first gradient may come from an in-place kernel)
        (x * x).sum().backward()
        return x.grad._version - v, outcome(saved.backward)

    assert program(cr) == program(torch) == (1, "modified")
