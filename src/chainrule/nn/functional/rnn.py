"""The recurrent layers' math, composed of tensor ops (so autograd needs nothing new).

One time step of each cell is written once, as torch's documentation writes it, from
``gi = x W_ihᵀ + b_ih`` (the input's projection) and the previous state. The cells
(``RNNCell``, ``LSTMCell``, ``GRUCell``) project their one input and take one step; the
sequence modules (``RNN``, ``LSTM``, ``GRU``) project a layer's whole input sequence with one
matmul, then step through time. A sequence is held as torch holds a packed one: time steps
stacked along dim 0 with ``batch_sizes[t]`` rows each (a padded batch is the case where every
step has all ``B`` rows), so packed and padded input take the same path.

These are chainrule's own helpers (torch's are the private ``_VF`` kernels), not declared
in ``nn.functional``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chainrule._tensor import Tensor
from chainrule.nn.functional.dropout import dropout as _dropout
from chainrule.nn.functional.linear import linear
from chainrule.ops.shape import cat, stack

State = tuple[Tensor, ...]  # (h,) or, for an LSTM, (h, c)


# ---------------------------------------------------------------- one time step


def rnn_tanh_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
                  w_hr: Tensor | None = None) -> State:  # fmt: skip
    """``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``."""
    (h,) = state
    return ((gi + linear(h, w_hh, b_hh)).tanh(),)


def rnn_relu_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
                  w_hr: Tensor | None = None) -> State:  # fmt: skip
    """``h' = relu(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``."""
    (h,) = state
    return ((gi + linear(h, w_hh, b_hh)).relu(),)


def lstm_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
              w_hr: Tensor | None = None) -> State:  # fmt: skip
    """The input, forget, cell and output gates (in that order along the gate dim), then
    ``c' = f * c + i * g``, ``h' = o * tanh(c')``, projected by ``W_hr`` when given."""
    h, c = state
    i, f, g, o = (gi + linear(h, w_hh, b_hh)).chunk(4, 1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    if w_hr is not None:
        h = linear(h, w_hr)
    return h, c


def gru_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
             w_hr: Tensor | None = None) -> State:  # fmt: skip
    """The reset and update gates ``r``, ``z``, the candidate ``n`` (the reset gate scales
    the hidden projection, bias included), then ``h' = (1 - z) * n + z * h``, computed as
    torch's CPU cell does, ``(h - n) * z + n``: the same roundings, and the same saved
    values (``h - n``, not ``h``, for z's gradient: a later ``h.data`` write is not seen)."""
    (h,) = state
    i_r, i_z, i_n = gi.chunk(3, 1)
    h_r, h_z, h_n = linear(h, w_hh, b_hh).chunk(3, 1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return ((h - n) * z + n,)


Step = Callable[..., State]
STEPS: dict[str, Step] = {
    "RNN_TANH": rnn_tanh_step,
    "RNN_RELU": rnn_relu_step,
    "LSTM": lstm_step,
    "GRU": gru_step,
}


# ---------------------------------------------------------------- cells (torch's checks)


def _check_cell(input: Tensor, hx: State, w_ih: Tensor, w_hh: Tensor) -> None:
    """ATen's check_rnn_cell_forward_input / _hidden, in its order."""
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(
            f"input has inconsistent input_size: got {input.shape[1]} expected {w_ih.shape[1]}"
        )
    for label, h in enumerate(hx):
        if input.shape[0] != h.shape[0]:
            raise RuntimeError(
                f"Input batch size {input.shape[0]} doesn't match hidden{label} batch size "
                f"{h.shape[0]}"
            )
        if h.shape[1] != w_hh.shape[1]:
            raise RuntimeError(
                f"hidden{label} has inconsistent hidden_size: got {h.shape[1]}, expected "
                f"{w_hh.shape[1]}"
            )


def cell(mode: str, input: Tensor, hx: State, w_ih: Tensor, w_hh: Tensor,
         b_ih: Tensor | None, b_hh: Tensor | None) -> State:  # fmt: skip
    """One step of a cell on a batch (``input`` (N, input_size), each state (N, hidden))."""
    _check_cell(input, hx, w_ih, w_hh)
    return STEPS[mode](linear(input, w_ih, b_ih), hx, w_hh, b_hh)


# ---------------------------------------------------------------- sequences


def _one_direction(step: Step, gis: Sequence[Tensor], batch_sizes: Sequence[int], state0: State,
                   weights: tuple, reverse: bool) -> tuple[list[Tensor], State]:  # fmt: skip
    """Run one layer in one direction over time; ``gis[t]`` has ``batch_sizes[t]`` rows (a
    non-increasing count). Returns each step's output and each sequence's state after its
    last valid step (forward) or after its first one (reverse)."""
    outputs: list[Tensor] = [gis[0]] * len(gis)
    if not reverse:
        state, finished = state0, []
        for t, gi in enumerate(gis):
            bs = batch_sizes[t]
            if bs < state[0].shape[0]:  # the sequences past row bs have ended
                finished.append(tuple(s[bs:] for s in state))
                state = tuple(s[:bs] for s in state)
            state = step(gi, state, *weights)
            outputs[t] = state[0]
        if finished:  # rows in their original order: the last to end come first
            finished.append(state)
            state = tuple(cat([f[k] for f in reversed(finished)]) for k in range(len(state)))
        return outputs, state
    state = tuple(s[: batch_sizes[-1]] for s in state0)
    for t in reversed(range(len(gis))):
        bs, have = batch_sizes[t], state[0].shape[0]
        if bs > have:  # longer sequences start here, from their initial state
            state = tuple(cat([s, s0[have:bs]]) for s, s0 in zip(state, state0))
        state = step(gis[t], state, *weights)
        outputs[t] = state[0]
    return outputs, state


def rnn_layers(mode: str, data: Tensor, batch_sizes: Sequence[int], hx: State,
               weights: Sequence[tuple], num_layers: int, dropout: float, training: bool,
               bidirectional: bool) -> tuple[Tensor, State]:  # fmt: skip
    """A stacked (and optionally bidirectional) recurrent net over a packed sequence.

    ``data`` is (sum(batch_sizes), input_size); ``hx`` holds the initial states, each
    (num_layers * num_directions, batch_sizes[0], size); ``weights[layer * D + d]`` is
    ``(w_ih, w_hh, b_ih, b_hh, w_hr)`` (absent ones ``None``). Dropout is applied to each
    layer's output but the last, while training. Returns the last layer's output (packed
    as ``data``) and the final states, stacked as ``hx``.
    """
    if not batch_sizes:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    step = STEPS[mode]
    directions = 2 if bidirectional else 1
    finals: list[list[Tensor]] = [[] for _ in hx]
    layer_input = data
    for layer in range(num_layers):
        outputs = []
        for d in range(directions):
            w_ih, w_hh, b_ih, b_hh, w_hr = weights[layer * directions + d]
            gis = linear(layer_input, w_ih, b_ih).split(list(batch_sizes))
            state0 = tuple(h[layer * directions + d] for h in hx)
            steps, final = _one_direction(step, gis, batch_sizes, state0, (w_hh, b_hh, w_hr),
                                          reverse=d == 1)  # fmt: skip
            outputs.append(cat(steps))
            for k, s in enumerate(final):
                finals[k].append(s)
        layer_input = outputs[0] if directions == 1 else cat(outputs, 1)
        if dropout and training and layer < num_layers - 1:
            layer_input = _dropout(layer_input, dropout, True)
    return layer_input, tuple(stack(f) for f in finals)
