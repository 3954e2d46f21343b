"""Recurrent layers against torch: torch's weights copied in through the state dict, then
outputs, final states and the gradients of the input, the initial states and every
parameter, over a grid of kinds, layers, directions, batch_first, projection and packing;
the cells; nn.utils.rnn; torch's checks and messages; an LSTM trained a few steps."""

import re
import warnings

import numpy as np
import pytest
import torch
from nn_twins import adapt, copy_weights, same_error

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import rnn as R

TR = torch.nn.utils.rnn
IN, HID, PROJ = 3, 4, 2
KINDS = {
    "tanh": ("RNN", {}),
    "relu": ("RNN", {"nonlinearity": "relu"}),
    "gru": ("GRU", {}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": PROJ}),
}


def twin(name, *args, dtype="float64", **kw):
    t = getattr(torch.nn, name)(*args, **kw).to(getattr(torch, dtype))
    c = getattr(nn, name)(*args, **kw).to(getattr(cr, dtype))
    copy_weights(c, t)
    return c, t


def pair(a, requires_grad=True):
    return (torch.tensor(a, requires_grad=requires_grad),
            cr.tensor(a, requires_grad=requires_grad))  # fmt: skip


def close(ours, theirs, what, tol=1e-10):
    assert tuple(ours.shape) == tuple(theirs.shape), what
    np.testing.assert_allclose(ours._data, theirs.detach().numpy(), rtol=tol, atol=tol,
                               err_msg=what)  # fmt: skip


def flat(out):
    """The tensors of a result: output (a tensor or a PackedSequence's data) and states."""
    o, h = out
    o = o.data if isinstance(o, (TR.PackedSequence, R.PackedSequence)) else o
    return [o, *(h if isinstance(h, tuple) else (h,))]


def backward_both(ot, oc, seed=0):
    """Contract each result with the same random weights and run backward in both."""
    rng = np.random.default_rng(seed)
    lt, lc = 0, 0
    for a, b in zip(ot, oc):
        u = rng.standard_normal(tuple(a.shape))
        lt = lt + (a * torch.tensor(u)).sum()
        lc = lc + (b * cr.tensor(u)).sum()
    lt.backward()
    lc.backward()


def check_params(c, t):
    tp, cp = dict(t.named_parameters()), dict(c.named_parameters())
    assert list(tp) == list(cp)
    for k in tp:
        assert cp[k].grad is not None, k
        close(cp[k].grad, tp[k].grad, f"grad of {k}")


LENGTHS = [5, 2, 4]  # unsorted: packing sorts them (enforce_sorted=False)


@pytest.mark.parametrize("packed", [None, "sorted", "unsorted"])
@pytest.mark.parametrize("given_state", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_sequence_modules_match_torch(kind, layers, bidirectional, batch_first, given_state,
                                      packed):  # fmt: skip
    name, kw = KINDS[kind]
    c, t = twin(name, IN, HID, layers, batch_first=batch_first, bidirectional=bidirectional,
                **kw)  # fmt: skip
    steps, batch = 5, 3
    rng = np.random.default_rng(layers + 2 * bidirectional)
    x = rng.standard_normal((batch, steps, IN) if batch_first else (steps, batch, IN))
    xt, xc = pair(x)
    it, ic = xt, xc
    if packed:
        lengths = sorted(LENGTHS, reverse=True) if packed == "sorted" else LENGTHS
        it = TR.pack_padded_sequence(xt, lengths, batch_first, enforce_sorted=packed == "sorted")
        ic = R.pack_padded_sequence(xc, lengths, batch_first, enforce_sorted=packed == "sorted")
    states_t, states_c = (), ()
    if given_state:
        directions = 2 if bidirectional else 1
        size = PROJ if kind == "lstm_proj" else HID
        states_t, states_c = pair(rng.standard_normal((layers * directions, batch, size)))
        states_t, states_c = [states_t], [states_c]
        if name == "LSTM":
            c0t, c0c = pair(rng.standard_normal((layers * directions, batch, HID)))
            states_t, states_c = [(states_t[0], c0t)], [(states_c[0], c0c)]
    rt, rc = t(it, *states_t), c(ic, *states_c)
    if packed:
        assert isinstance(rc[0], R.PackedSequence)
        for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
            a, b = getattr(rt[0], field), getattr(rc[0], field)
            assert (a is None) == (b is None), field
            if a is not None:
                assert b.tolist() == a.tolist() and b.dtype == cr.int64, field
    assert isinstance(rc[1], tuple) == (name == "LSTM")
    ot, oc = flat(rt), flat(rc)
    for i, (a, b) in enumerate(zip(ot, oc)):
        close(b, a, f"result {i}")
    backward_both(ot, oc)
    close(xc.grad, xt.grad, "grad of input")
    if given_state:
        for a, b in zip(torch.utils._pytree.tree_leaves(states_t),
                        torch.utils._pytree.tree_leaves(list(states_c))):  # fmt: skip
            close(b.grad, a.grad, "grad of initial state")
    check_params(c, t)


@pytest.mark.parametrize("given_state", [False, True])
@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_input_matches_torch(kind, given_state):
    name, kw = KINDS[kind]
    c, t = twin(name, IN, HID, 2, bidirectional=True, batch_first=True, **kw)
    rng = np.random.default_rng(3)
    xt, xc = pair(rng.standard_normal((5, IN)))
    args_t, args_c = [], []
    if given_state:
        size = PROJ if kind == "lstm_proj" else HID
        ht, hc = pair(rng.standard_normal((4, size)))
        if name == "LSTM":
            ct, cc = pair(rng.standard_normal((4, HID)))
            args_t, args_c = [(ht, ct)], [(hc, cc)]
        else:
            args_t, args_c = [ht], [hc]
    ot, oc = flat(t(xt, *args_t)), flat(c(xc, *args_c))
    for i, (a, b) in enumerate(zip(ot, oc)):
        close(b, a, f"result {i}")
    backward_both(ot, oc)
    close(xc.grad, xt.grad, "grad of input")
    for a, b in zip(
        torch.utils._pytree.tree_leaves(args_t), torch.utils._pytree.tree_leaves(args_c)
    ):
        close(b.grad, a.grad, "grad of initial state")
    check_params(c, t)


def test_reassigned_weight_is_used_like_torch():
    """A parameter set anew after construction is the one forward uses (torch keeps its
    flat weights in step with the attributes)."""
    c, t = twin("GRU", IN, HID)
    w = np.random.default_rng(5).standard_normal((3 * HID, HID))
    t.weight_hh_l0 = torch.nn.Parameter(torch.tensor(w))
    c.weight_hh_l0 = nn.Parameter(cr.tensor(w))
    assert c._flat_weights[1] is c.weight_hh_l0 and c.all_weights[0][1] is c.weight_hh_l0
    x = np.random.default_rng(6).standard_normal((4, 2, IN))
    close(c(cr.tensor(x))[0], t(torch.tensor(x))[0], "output")


@pytest.mark.parametrize("kind", list(KINDS))
def test_bias_false_and_float32(kind):
    name, kw = KINDS[kind]
    c, t = twin(name, IN, HID, 2, bias=False, dtype="float32", **kw)
    assert "bias_ih_l0" not in dict(c.named_parameters())
    x = np.random.default_rng(0).standard_normal((4, 2, IN)).astype(np.float32)
    xt, xc = pair(x)
    ot, oc = flat(t(xt)), flat(c(xc))
    for a, b in zip(ot, oc):
        assert b.dtype == cr.float32
        close(b, a, "float32 result", tol=1e-5)
    backward_both(ot, oc)
    close(xc.grad, xt.grad, "grad of input", tol=1e-5)


@pytest.mark.parametrize("kw", [{}, {"bidirectional": True, "num_layers": 2},
                                {"proj_size": 2, "num_layers": 3, "bias": False}])  # fmt: skip
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_parameters_names_shapes_and_init_like_torch(name, kw):
    if "proj_size" in kw and name != "LSTM":
        return
    t, c = getattr(torch.nn, name)(IN, 9, **kw), getattr(nn, name)(IN, 9, **kw)
    ts, cs = t.state_dict(), c.state_dict()
    assert list(ts) == list(cs)
    assert [tuple(v.shape) for v in ts.values()] == [tuple(v.shape) for v in cs.values()]
    assert c._all_weights == t._all_weights
    assert c._flat_weights_names == t._flat_weights_names
    assert [[tuple(p.shape) for p in ps] for ps in c.all_weights] == [
        [tuple(p.shape) for p in ps] for ps in t.all_weights
    ]
    assert all(p is getattr(c, n) for ps, ns in zip(c.all_weights, c._all_weights)
               for p, n in zip(ps, ns))  # fmt: skip
    assert repr(c) == repr(t)
    values = np.concatenate([p._data.ravel() for p in c.parameters()])
    assert values.min() >= -1 / 3 and values.max() <= 1 / 3  # uniform on ±1/sqrt(hidden)
    assert values.min() < -0.3 and values.max() > 0.3 and abs(values.mean()) < 0.05
    assert c.flatten_parameters() is None
    c.load_state_dict({k: cr.tensor(v.numpy()) for k, v in ts.items()})
    assert [id(p) for p in c._flat_weights] == [id(p) for ps in c.all_weights for p in ps]


@pytest.mark.parametrize(
    "name, args, kw",
    [("RNNCell", (IN, HID), {}), ("RNNCell", (IN, HID), {"nonlinearity": "relu"}),
     ("RNNCell", (IN, HID), {"bias": False}), ("GRUCell", (IN, HID), {}),
     ("GRUCell", (IN, HID), {"bias": False}), ("LSTMCell", (IN, HID), {}),
     ("LSTMCell", (IN, HID), {"bias": False})],
)  # fmt: skip
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
def test_cells_match_torch(name, args, kw, batched, given_state):
    c, t = twin(name, *args, **kw)
    assert list(c.state_dict()) == list(t.state_dict())
    assert repr(c) == repr(t)
    rng = np.random.default_rng(1)
    lead = (2,) if batched else ()
    xt, xc = pair(rng.standard_normal((*lead, IN)))
    st, sc = [], []
    if given_state:
        ht, hc = pair(rng.standard_normal((*lead, HID)))
        st, sc = [ht], [hc]
        if name == "LSTMCell":
            ct, cc = pair(rng.standard_normal((*lead, HID)))
            st, sc = [(ht, ct)], [(hc, cc)]
    rt, rc = t(xt, *st), c(xc, *sc)
    ot = list(rt) if isinstance(rt, tuple) else [rt]
    oc = list(rc) if isinstance(rc, tuple) else [rc]
    for a, b in zip(ot, oc):
        close(b, a, "cell result")
    backward_both(ot, oc)
    close(xc.grad, xt.grad, "grad of input")
    for a, b in zip(torch.utils._pytree.tree_leaves(st), torch.utils._pytree.tree_leaves(sc)):
        close(b.grad, a.grad, "grad of state")
    check_params(c, t)


def test_cell_steps_are_the_sequence_modules_steps():
    """An LSTM over a sequence is its LSTMCell applied step by step (same weights)."""
    lstm, cell = nn.LSTM(IN, HID).double(), nn.LSTMCell(IN, HID).double()
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 2, IN)))
    out, (h, c) = lstm(x)
    state = None
    for t in range(4):
        state = cell(x[t], state)
        close(state[0], torch.tensor(out[t]._data), f"step {t}")
    close(state[1], torch.tensor(c[0]._data), "cell state")


def test_lstm_training_steps_match_torch():
    c, t = twin("LSTM", IN, HID, 2, batch_first=True, proj_size=PROJ)
    ch, th = twin("Linear", PROJ, 1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 5, IN)), rng.standard_normal((3, 1))
    opt_t = torch.optim.Adam([*t.parameters(), *th.parameters()], lr=0.05)
    opt_c = cr.optim.Adam([*c.parameters(), *ch.parameters()], lr=0.05)
    for step in range(4):
        lt = ((th(t(torch.tensor(x))[0][:, -1]) - torch.tensor(y)) ** 2).mean()
        lc = ((ch(c(cr.tensor(x))[0][:, -1]) - cr.tensor(y)) ** 2).mean()
        np.testing.assert_allclose(lc.item(), lt.item(), rtol=1e-10, err_msg=f"step {step}")
        opt_t.zero_grad()
        opt_c.zero_grad()
        lt.backward()
        lc.backward()
        opt_t.step()
        opt_c.step()
    for k, v in t.state_dict().items():
        close(c.state_dict()[k], v, k, tol=1e-9)


def test_dropout_between_layers_only_while_training():
    c, t = twin("GRU", IN, HID, 3, dropout=0.5)
    x = np.random.default_rng(0).standard_normal((4, 2, IN))
    c.eval()
    t.eval()
    close(c(cr.tensor(x))[0], t(torch.tensor(x))[0], "eval: no dropout")
    c.train()
    a, b = c(cr.tensor(x))[0], c(cr.tensor(x))[0]
    assert not np.allclose(a._data, b._data)  # a new mask each call
    # dropout=1 zeroes the input of every layer but the first: the last layer sees zeros
    one, _ = twin("RNN", IN, HID, 2, dropout=1.0)
    out, h = one(cr.tensor(x))
    expect = nn.RNN(HID, HID).double()
    expect.load_state_dict({k[:-1] + "0": v for k, v in one.state_dict().items() if "l1" in k})
    close(out, torch.tensor(expect(cr.zeros(4, 2, HID, dtype=cr.float64))[0]._data), "p=1")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        nn.LSTM(IN, HID, dropout=0.3)
    with warnings.catch_warnings(record=True) as wt:
        warnings.simplefilter("always")
        torch.nn.LSTM(IN, HID, dropout=0.3)
    assert [str(m.message) for m in w] == [str(m.message) for m in wt]


def test_hidden_state_of_packed_sequences_is_each_last_valid_step():
    c, t = twin("LSTM", IN, HID, 1, bidirectional=True)
    seqs = [np.random.default_rng(i).standard_normal((n, IN)) for i, n in enumerate(LENGTHS)]
    packed = R.pack_sequence([cr.tensor(s) for s in seqs], enforce_sorted=False)
    _, (h, _) = c(packed)
    for i, s in enumerate(seqs):  # each sequence alone, unpadded
        _, (hi, _) = c(cr.tensor(s))
        close(h[:, i], torch.tensor(hi._data), f"sequence {i}")


ERRORS = [
    ("LSTM", (4, 5, 2), lambda m: m(m.x(3, 2, 3))),
    ("LSTM", (4, 5, 2), lambda m: m(m.x(3, 2, 4), (m.x(2, 3, 5), m.x(2, 2, 5)))),
    ("LSTM", (4, 5, 2), lambda m: m(m.x(3, 2, 4), (m.x(2, 2, 5), m.x(2, 2, 4)))),
    ("LSTM", (4, 5, 2), lambda m: m(m.x(3, 2, 4), (m.x(2, 5), m.x(2, 2, 4)))),
    ("LSTM", (4, 5, 2), lambda m: m(m.x(2, 4), (m.x(2, 2, 5), m.x(2, 2, 4)))),
    ("LSTM", (4, 5, 2), lambda m: m(m.x(1, 3, 2, 4))),
    ("LSTM", (4, 5), lambda m: m(m.x(3, 2, 4).float())),
    ("GRU", (4, 5), lambda m: m(m.x(3, 2, 4), m.x(1, 3, 5))),
    ("GRU", (4, 5), lambda m: m(m.x(3, 2, 4), m.x(3, 5))),
    ("GRU", (4, 5), lambda m: m(m.x(2, 4), m.x(1, 1, 5))),
    ("GRU", (4, 5), lambda m: m(m.x(0, 2, 4))),
    ("GRU", (4, 5), lambda m: m(m.x(5))),
    ("RNN", (4, 5), lambda m: m(m.x(5))),
    ("RNN", (4, 5), lambda m: m(m.x(3, 1, 3), m.x(1, 1, 5))),
    ("RNN", (4, 5), lambda m: m(m.pack([m.x(3, 3), m.x(2, 3)]))),
    ("RNN", (4, 5), lambda m: m(m.pack([m.x(3, 4), m.x(2, 4)]), m.x(1, 1, 5))),
    ("LSTMCell", (4, 5), lambda m: m(m.x(2, 3))),
    ("LSTMCell", (4, 5), lambda m: m(m.x(2, 4), (m.x(3, 5), m.x(3, 5)))),
    ("LSTMCell", (4, 5), lambda m: m(m.x(2, 4), (m.x(2, 4), m.x(2, 5)))),
    ("LSTMCell", (4, 5), lambda m: m(m.x(2, 4), (m.x(2, 5), m.x(2, 4)))),
    ("LSTMCell", (4, 5), lambda m: m(m.x(2, 2, 4))),
    ("LSTMCell", (4, 5), lambda m: m(m.x(4), (m.x(5), m.x(2, 2, 5)))),
    ("GRUCell", (4, 5), lambda m: m(m.x(2, 4), m.x(3, 5))),
    ("GRUCell", (4, 5), lambda m: m(m.x(2, 4), m.x(2, 2, 4))),
    ("RNNCell", (4, 5), lambda m: m(m.x(3, 2, 4))),
    ("RNNCell", (4, 5), lambda m: m(m.x(2, 4), m.x(2, 4))),
    ("GRUCell", (4, 5), lambda m: m(m.x(2, 4).float())),
    ("RNNCell", (4, 5), lambda m: m(m.x(4), m.x(2, 5))),
    ("GRUCell", (4, 5), lambda m: m(m.x(2, 4), m.x(5))),
    ("LSTMCell", (4, 5), lambda m: m(m.x(2, 4), (m.x(2, 5), m.x(5)))),
    ("LSTMCell", (4, 5), lambda m: m(m.x(4).float())),
    ("LSTM", (4, 5), lambda m: m(m.pack([m.x(3, 4), m.x(2, 4)]).float())),
    ("LSTM", (4, 5), lambda m: m(m.pack([m.x(3, 3), m.x(2, 3)]))),
]


class Lib:
    """The call's library: tensors, packing and the module, in torch or chainrule."""

    def __init__(self, lib, module):
        self.lib, self.module = lib, module

    def x(self, *shape):
        return self.lib.zeros(*shape, dtype=self.lib.float64)

    def pack(self, seqs):
        return (TR if self.lib is torch else R).pack_sequence(seqs)

    def __call__(self, *args):
        return self.module(*args)


@pytest.mark.parametrize("name, args, call", ERRORS)
def test_forward_errors_like_torch(name, args, call):
    c, t = twin(name, *args)
    same_error(lambda: call(Lib(torch, t)), lambda: call(Lib(cr, c)))


@pytest.mark.parametrize(
    "name, args, kw",
    [("RNN", (4, 5), {"nonlinearity": "foo"}), ("GRU", (4, 5), {"proj_size": 2}),
     ("RNN", (4, 5), {"proj_size": 0}), ("LSTM", (4, 5), {"proj_size": 5}),
     ("LSTM", (4, 5), {"proj_size": -1}), ("LSTM", (4, 5), {"dropout": 2}),
     ("LSTM", (4, 5), {"dropout": True}), ("LSTM", (4.0, 5), {}), ("LSTM", (4, 5.0), {}),
     ("LSTM", (0, 5), {}), ("LSTM", (4, 0), {}), ("LSTM", (4, 5, 0), {}),
     ("GRU", (4, 5), {"bias": 1}), ("GRU", (4, 5), {"batch_first": None}),
     ("RNNBase", ("FOO", 4, 5), {})],
)  # fmt: skip
def test_constructor_errors_like_torch(name, args, kw):
    same_error(lambda: getattr(torch.nn, name)(*args, **kw),
               lambda: getattr(nn, name)(*args, **kw))  # fmt: skip


@pytest.mark.parametrize("h, c", [((1, 3, 5), (1, 2, 5)), ((1, 1, 5), (1, 2, 5)),
                                  ((1, 2, 5), (1, 3, 5)), ((1, 2, 4), (1, 2, 5)),
                                  ((2, 2, 5), (2, 2, 5))])  # fmt: skip
def test_packed_lstm_refuses_a_wrong_state_shape(h, c):
    """torch checks nothing there (its kernel fails by accident, or crashes): we refuse the
    state with torch's message for an unpacked input's."""
    m = nn.LSTM(4, 5)
    packed = R.pack_sequence([cr.ones(3, 4), cr.ones(2, 4)])
    which, got = (0, h) if h != (1, 2, 5) else (1, c)
    want = (1, 2, 5)
    with pytest.raises(RuntimeError) as e:
        m(packed, (cr.zeros(*h), cr.zeros(*c)))
    assert str(e.value) == f"Expected hidden[{which}] size {want}, got {list(got)}"


def test_unknown_cell_nonlinearity_refused_at_call_like_torch():
    c, t = nn.RNNCell(4, 5, nonlinearity="foo"), torch.nn.RNNCell(4, 5, nonlinearity="foo")
    same_error(lambda: t(torch.zeros(2, 4)), lambda: c(cr.zeros(2, 4)))


# ---------------------------------------------------------------- nn.utils.rnn


def seqs_pair(lengths, feat=(2,), seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, *feat)) for n in lengths]
    return [torch.tensor(a, requires_grad=True) for a in arrays], [
        cr.tensor(a, requires_grad=True) for a in arrays
    ]


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    st, sc = seqs_pair([3, 5, 1], feat=(2, 2))
    pt = TR.pad_sequence(st, batch_first, -1.5, padding_side)
    pc = R.pad_sequence(sc, batch_first, -1.5, padding_side)
    close(pc, pt, "padded")
    backward_both([pt], [pc])
    for a, b in zip(st, sc):
        close(b.grad, a.grad, "grad")
    it = TR.pad_sequence(torch.arange(6).reshape(3, 2), padding_value=9)
    ic = R.pad_sequence(cr.arange(6).reshape(3, 2), padding_value=9)
    assert ic.tolist() == it.tolist() and ic.dtype == cr.int64


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("lengths_kind", ["list", "tensor"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip_match_torch(batch_first, lengths_kind, enforce_sorted):
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5, 2) if batch_first else (5, 4, 2))
    xt, xc = pair(x)
    lt = lengths if lengths_kind == "list" else torch.tensor(lengths, dtype=torch.int32)
    lc = lengths if lengths_kind == "list" else cr.tensor(lengths, dtype=cr.int32)
    pt = TR.pack_padded_sequence(xt, lt, batch_first, enforce_sorted)
    pc = R.pack_padded_sequence(xc, lc, batch_first, enforce_sorted)
    assert type(pc).__name__ == "PackedSequence" and isinstance(pc, tuple)
    close(pc.data, pt.data, "data")
    for f in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(pt, f), getattr(pc, f)
        assert (a is None and b is None) or (b.tolist() == a.tolist() and b.dtype == cr.int64)
    for total in (None, 7):
        ut, nt = TR.pad_packed_sequence(pt, batch_first, 0.5, total)
        uc, nc = R.pad_packed_sequence(pc, batch_first, 0.5, total)
        close(uc, ut, "padded")
        assert nc.tolist() == nt.tolist() and nc.dtype == cr.int64
    backward_both([ut, pt.data], [uc, pc.data])
    close(xc.grad, xt.grad, "grad of padded input")
    assert [tuple(s.shape) for s in R.unpack_sequence(pc)] == [
        tuple(s.shape) for s in TR.unpack_sequence(pt)
    ]
    for a, b in zip(TR.unpack_sequence(pt), R.unpack_sequence(pc)):
        close(b, a, "unpacked")


def test_pack_sequence_unpad_sequence_and_packed_sequence_like_torch():
    st, sc = seqs_pair([2, 4, 3])
    pt, pc = TR.pack_sequence(st, False), R.pack_sequence(sc, False)
    close(pc.data, pt.data, "data")
    assert repr(pc.batch_sizes) == repr(pt.batch_sizes)
    data, bs, si, ui = pc  # a 4-tuple, fields by name
    assert data is pc.data and bs is pc.batch_sizes and si is pc.sorted_indices
    assert pc._fields == pt._fields
    assert pc.is_cuda is False and pc.is_pinned() is False
    assert pc.to(cr.float64) is pc and pc.cpu() is pc
    assert pc.float().data.dtype == cr.float32 and pc.float().sorted_indices is si
    again = R.PackedSequence(data, bs, si)  # unsorted_indices derived
    assert again.unsorted_indices.tolist() == ui.tolist()
    assert R.PackedSequence((data, bs)).batch_sizes is bs
    assert R.invert_permutation(None) is None
    assert R.invert_permutation(cr.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    padded_t = TR.pad_sequence(st)
    padded_c = R.pad_sequence(sc)
    lens = [2, 4, 3]
    ut = TR.unpad_sequence(padded_t.clone(), torch.tensor(lens))
    uc = R.unpad_sequence(padded_c.clone(), cr.tensor(lens))
    for a, b in zip(ut, uc):
        close(b, a, "unpadded")
    backward_both(ut, uc)
    for a, b in zip(st, sc):
        close(b.grad, a.grad, "grad through pad/unpad")
    # without batch_first torch transposes the padded batch in place
    pt2, pc2 = TR.pad_sequence([s.detach() for s in st]), R.pad_sequence([s.detach() for s in sc])
    TR.unpad_sequence(pt2, torch.tensor(lens))
    R.unpad_sequence(pc2, cr.tensor(lens))
    assert tuple(pc2.shape) == tuple(pt2.shape)


UTIL_ERRORS = [
    lambda m: m.R.pack_padded_sequence(m.x(3, 2, 4), [2, 3]),
    lambda m: m.R.pack_padded_sequence(m.x(3, 2, 4), [3, 0]),
    lambda m: m.R.pack_padded_sequence(m.x(3, 2, 4), [3, 0], enforce_sorted=False),
    lambda m: m.R.pack_padded_sequence(m.x(3, 2, 4), [3, 2, 1]),
    lambda m: m.R.pack_padded_sequence(m.x(3, 2, 4), m.lib.tensor([[3, 2]])),
    lambda m: m.R.pack_padded_sequence(m.x(3, 0, 4), []),
    lambda m: m.R.pad_sequence([]),
    lambda m: m.R.pad_sequence([m.x(2, 3), m.x(3, 2)]),
    lambda m: m.R.pad_sequence([m.x(2, 3)], padding_side="up"),
    lambda m: m.R.pad_sequence(5),
    lambda m: m.R.pad_packed_sequence(m.R.pack_sequence([m.x(3, 2), m.x(2, 2)]), total_length=2),
    lambda m: m.R.pack_sequence([m.x(2, 2), m.x(3, 2)]),
]


class Utils(Lib):
    def __init__(self, lib):
        super().__init__(lib, None)
        self.R = TR if lib is torch else R


@pytest.mark.parametrize("call", UTIL_ERRORS)
def test_utils_errors_like_torch(call):
    same_error(lambda: call(Utils(torch)), lambda: call(Utils(cr)))


@pytest.mark.parametrize("shape", [(4,), (2, 4), (3, 2, 4)])
@pytest.mark.parametrize("dtypes", [("f8", "f4", "f4"), ("f8", "f4", "f8"), ("f4", "f4", "f8"),
                                    ("i4", "f4", "f4"), ("f8", "f4", None)])  # fmt: skip
def test_linear_dtype_mismatch_messages_like_torch(shape, dtypes):
    """The cells' projections report a dtype mismatch as torch's addmm/mm do."""
    x, w, b = dtypes
    args = [np.ones(shape, x), np.ones((5, 4), w)] + ([np.ones(5, b)] if b else [])
    same_error(lambda: torch.nn.functional.linear(*map(torch.tensor, args)),
               lambda: nn.functional.linear(*map(cr.tensor, args)))  # fmt: skip


def test_packed_output_dtype_message_and_adapt():
    # the dtype message names chainrule's dtypes as torch names its own
    c = nn.GRU(4, 5)
    with pytest.raises(ValueError, match=re.escape(adapt("(torch.float64)"))):
        c(cr.zeros(2, 1, 4, dtype=cr.float64))


def word_language_model(lib, rnn_type, ntoken=11, ninp=6, nhid=6, nlayers=2, tie=True):
    """pytorch/examples' word_language_model RNNModel, written against ``lib`` (no dropout,
    so both libraries compute the same thing)."""
    nn_, F = lib.nn, lib.nn.functional

    class RNNModel(nn_.Module):
        def __init__(self):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn_.Dropout(0.0)
            self.encoder = nn_.Embedding(ntoken, ninp)
            if rnn_type in ["LSTM", "GRU"]:
                self.rnn = getattr(nn_, rnn_type)(ninp, nhid, nlayers, dropout=0.0)
            else:
                nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
                self.rnn = nn_.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=0.0)
            self.decoder = nn_.Linear(nhid, ntoken)
            if tie:
                self.decoder.weight = self.encoder.weight
            nn_.init.zeros_(self.decoder.bias)
            self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output).view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if self.rnn_type == "LSTM":
                return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                        weight.new_zeros(self.nlayers, bsz, self.nhid))  # fmt: skip
            return weight.new_zeros(self.nlayers, bsz, self.nhid)

    return RNNModel()


@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_word_language_model_trains_like_torch(rnn_type):
    """The example's training loop: truncated BPTT with the hidden state carried over
    (detached), gradient clipping and a hand-written SGD step."""
    t = word_language_model(torch, rnn_type).double()
    c = word_language_model(cr, rnn_type).double()
    copy_weights(c, t)
    data = np.random.default_rng(0).integers(0, 11, (13, 3))

    def repackage(h):
        return h.detach() if not isinstance(h, tuple) else tuple(repackage(v) for v in h)

    losses = {}
    for lib, model in ((torch, t), (cr, c)):
        model.train()
        hidden, out = model.init_hidden(3), []
        for i in range(0, 12, 4):
            x = lib.tensor(data[i : i + 4])
            y = lib.tensor(data[i + 1 : i + 5]).reshape(-1)
            model.zero_grad()
            hidden = repackage(hidden)
            output, hidden = model(x, hidden)
            loss = lib.nn.NLLLoss()(output, y)
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-1.0)
            out.append(loss.item())
        losses[lib.__name__] = out
    np.testing.assert_allclose(losses["chainrule"], losses["torch"], rtol=1e-10)
    for k, v in t.state_dict().items():
        close(c.state_dict()[k], v, k, tol=1e-9)


@pytest.mark.parametrize("kind", ["gru", "lstm_proj"])
def test_forward_mode_and_double_backward_match_torch(kind):
    """Composed of differentiable ops, the layers have every derivative torch's have."""
    name, kw = KINDS[kind]
    c, t = twin(name, IN, HID, 1, bidirectional=True, **kw)
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal((5, 2, IN)), rng.standard_normal((5, 2, IN))
    _, jt = torch.func.jvp(lambda x: t(x)[0], (torch.tensor(x),), (torch.tensor(v),))
    _, jc = cr.func.jvp(lambda x: c(x)[0], (cr.tensor(x),), (cr.tensor(v),))
    close(jc, jt, "jvp")
    xt, xc = pair(x)
    (gt,) = torch.autograd.grad((t(xt)[0] ** 2).sum(), xt, create_graph=True)
    (gc,) = cr.autograd.grad((c(xc)[0] ** 2).sum(), xc, create_graph=True)
    close(gc, gt, "grad")
    (ggc,) = cr.autograd.grad((gc**2).sum(), c.weight_hh_l0_reverse)
    (ggt,) = torch.autograd.grad((gt**2).sum(), t.weight_hh_l0_reverse)
    close(ggc, ggt, "double backward")
