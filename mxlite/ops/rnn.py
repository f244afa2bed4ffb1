"""The fused recurrent layers (``npx.rnn``, MXNet's ``RNN`` / ``_npx_rnn``) and the cell math
they share with ``gluon.rnn``'s cells and layers.

``rnn`` runs ``num_layers`` (optionally bidirectional) layers of Elman RNN (relu or tanh),
LSTM or GRU over a (T, N, C) sequence. All weights and biases are one vector in MXNet's
(cuDNN's) layout, ``rnn_param_pieces``: the weights of every layer and direction (l0, r0, l1,
...: i2h (G*H, C_in), h2h (G*H, H or P), h2r (P, H) with a projection), then all biases
(i2h, h2h, each (G*H,)) in the same order; gates i, f, g, o for LSTM and r, z, n for GRU.
Each layer projects the whole input sequence at once and then steps through time; it is
written with the differentiable ops (fully_connected on views of the vector, slices,
sigmoid, tanh, where), so its gradients are theirs and nothing here declares an op.

``gluon.rnn.RNN`` / ``LSTM`` / ``GRU`` call ``rnn``; the cells' step functions are the ones
below.
"""
import math as _math

from . import to_nd
from .elemwise import clip, isnan, tanh, where
from .nn import activation as _activation, dropout, fully_connected, sigmoid
from .shape import concatenate, reshape, stack

__all__ = ["rnn"]

GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


# -- the parameter vector -----------------------------------------------------------------

def rnn_param_pieces(mode, num_layers, input_size, state_size, bidirectional=False,
                     projection_size=None):
    """``[(name, shape)]`` of a fused vector in order: 'l0_i2h_weight', 'l0_h2h_weight'
    ('l0_h2r_weight' with ``projection_size``), 'r0_...' for the reverse direction, 'l1_...',
    then the biases 'l0_i2h_bias', 'l0_h2h_bias', ... in the same order."""
    if mode not in GATES:
        raise ValueError(f"mode must be one of {sorted(GATES)}, got {mode!r}")
    if projection_size and mode != "lstm":
        raise ValueError(f"projection_size is for mode 'lstm' (LSTMP), got mode {mode!r}")
    dirs = 2 if bidirectional else 1
    rows = GATES[mode] * state_size
    recurrent = projection_size or state_size  # what h2h reads and the next layer gets
    weights, biases = [], []
    for layer in range(num_layers):
        columns = input_size if layer == 0 else recurrent * dirs
        for prefix in ("l", "r")[:dirs]:
            name = f"{prefix}{layer}_"
            weights += [(name + "i2h_weight", (rows, columns)),
                        (name + "h2h_weight", (rows, recurrent))]
            if projection_size:
                weights.append((name + "h2r_weight", (projection_size, state_size)))
            biases += [(name + "i2h_bias", (rows,)), (name + "h2h_bias", (rows,))]
    return weights + biases


def rnn_param_size(mode, num_layers, input_size, state_size, bidirectional=False,
                   projection_size=None):
    """The length of the fused vector (MXNet's ``GetRnnParamSize``)."""
    return sum(_math.prod(shape) for _, shape in rnn_param_pieces(
        mode, num_layers, input_size, state_size, bidirectional, projection_size))


def split_rnn_params(param, mode, num_layers, input_size, state_size, bidirectional=False,
                     projection_size=None, who="split_rnn_params"):
    """``{name: view}`` of the fused vector ``param`` (an mxlite or a numpy array): the views
    share its memory (and, for an mxlite array under autograd, pass their gradients to it)."""
    try:
        pieces = rnn_param_pieces(mode, num_layers, input_size, state_size, bidirectional,
                                  projection_size)
    except ValueError as e:
        raise ValueError(f"{who}: {e}") from None
    size = sum(_math.prod(shape) for _, shape in pieces)
    if tuple(param.shape) != (size,):
        layers = f"{num_layers} {mode} layer(s) of {state_size} units on {input_size} inputs"
        if projection_size:
            layers += f", projected to {projection_size}"
        if bidirectional:
            layers += ", bidirectional"
        raise ValueError(f"{who}: {layers} take an rnn_param of shape ({size},), "
                         f"got {tuple(param.shape)}")
    views, offset = {}, 0
    for name, shape in pieces:
        n = _math.prod(shape)
        views[name] = param[offset:offset + n].reshape(shape)
        offset += n
    return views


# -- one time step (shared with gluon.rnn's cells) ----------------------------------------

def _gate(x, k, hidden):
    return x[..., k * hidden:(k + 1) * hidden]


def _act(x, name, default):
    name = name or default
    if name == "sigmoid":
        return sigmoid(x)
    if name == "tanh":
        return tanh(x)
    return _activation(x, act_type=name)


def rnn_step(i2h, h2h, states, hidden, activation, recurrent_activation=None):
    """Elman: ``h' = activation(i2h + h2h)``; returns (output, [h'])."""
    h = _activation(i2h + h2h, act_type=activation)
    return h, [h]


def lstm_step(i2h, h2h, states, hidden, activation=None, recurrent_activation=None,
              cell_clip=None):
    """LSTM with gates [i, f, g, o]: ``c' = f*c + i*g``, ``h' = o*act(c')``; returns
    (h', [h', c']). ``cell_clip`` (min, max, nan) clips c' to [min, max] before h' reads
    it (cuDNN's LSTM state clipping; with ``nan`` a NaN becomes min)."""
    gates = i2h + h2h
    in_gate = _act(_gate(gates, 0, hidden), recurrent_activation, "sigmoid")
    forget_gate = _act(_gate(gates, 1, hidden), recurrent_activation, "sigmoid")
    candidate = _act(_gate(gates, 2, hidden), activation, "tanh")
    out_gate = _act(_gate(gates, 3, hidden), recurrent_activation, "sigmoid")
    c = forget_gate * states[1] + in_gate * candidate
    if cell_clip is not None:
        low, high, nan = cell_clip
        c = clip(c, low, high)
        if nan:
            c = where(isnan(c), low, c)
    h = out_gate * _act(c, activation, "tanh")
    return h, [h, c]


def gru_step(i2h, h2h, states, hidden, activation=None, recurrent_activation=None):
    """GRU as MXNet/cuDNN: r, z from i2h + h2h, ``n = act(i2h_n + r*h2h_n)``,
    ``h' = (1-z)*n + z*h``; returns (h', [h'])."""
    reset = _act(_gate(i2h, 0, hidden) + _gate(h2h, 0, hidden), recurrent_activation, "sigmoid")
    update = _act(_gate(i2h, 1, hidden) + _gate(h2h, 1, hidden), recurrent_activation,
                  "sigmoid")
    new = _act(_gate(i2h, 2, hidden) + reset * _gate(h2h, 2, hidden), activation, "tanh")
    h = (1 - update) * new + update * states[0]
    return h, [h]


# mode -> (gates per unit, number of states, step function)
MODES = {"rnn_relu": (1, 1, rnn_step), "rnn_tanh": (1, 1, rnn_step),
         "lstm": (4, 2, lstm_step), "gru": (3, 1, gru_step)}


# -- the fused layers ---------------------------------------------------------------------

def _direction(x, states, weights, name, mode, hidden, reverse, valid, cell_clip):
    """One layer in one direction over all of ``x`` (T, N, C_in) from ``states``; returns
    (outputs (T, N, H or P), final states). ``valid[t]`` (N, 1) masks padded steps: there
    the states stay and the output is 0, so a reverse pass starts at each sequence's end."""
    i2h = fully_connected(x, weights[name + "i2h_weight"], weights[name + "i2h_bias"],
                          flatten=False)
    h2h_weight, h2h_bias = weights[name + "h2h_weight"], weights[name + "h2h_bias"]
    h2r_weight = weights.get(name + "h2r_weight")
    step = MODES[mode][2]
    act = {"rnn_relu": "relu", "rnn_tanh": "tanh"}.get(mode)
    steps = x.shape[0]
    outputs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        h2h = fully_connected(states[0], h2h_weight, h2h_bias, flatten=False)
        if mode == "lstm":
            out, new = step(i2h[t], h2h, states, hidden, cell_clip=cell_clip)
        else:
            out, new = step(i2h[t], h2h, states, hidden, act)
        if h2r_weight is not None:  # LSTMP: the recurrent state is the projection
            out = fully_connected(out, h2r_weight, None, no_bias=True, flatten=False)
            new = [out, new[1]]
        if valid is not None:
            out = where(valid[t], out, 0)
            new = [where(valid[t], n, s) for n, s in zip(new, states)]
        outputs[t] = out
        states = new
    return stack(outputs, axis=0), states


def _check_state(what, arr, shape, hint):
    if arr is None:
        raise ValueError(f"npx.rnn: {what} of shape {shape} is required ({hint})")
    if tuple(arr.shape) != shape:
        raise ValueError(f"npx.rnn: {what} must have shape {shape} ({hint}), got "
                         f"{tuple(arr.shape)}")


def rnn(data, parameters, state, state_cell=None, sequence_length=None, mode=None,
        state_size=None, num_layers=None, bidirectional=False, state_outputs=False, p=0.0,
        projection_size=None, lstm_state_clip_min=None, lstm_state_clip_max=None,
        lstm_state_clip_nan=False, use_sequence_length=False, **kwargs):
    """MXNet's fused RNN operator (``_npx_rnn``).

    ``data`` (T, N, C); ``parameters`` the fused vector (see ``rnn_param_pieces``);
    ``state`` (num_layers * directions, N, H, or P with ``projection_size``); ``state_cell``
    (num_layers * directions, N, H), LSTM only; ``sequence_length`` (N,) with
    ``use_sequence_length``: steps past each length give zero outputs and leave the states
    as they are (the reverse direction starts at each sequence's last valid step, as cuDNN's
    unpacked layout). ``p`` is dropout on each layer's output but the last's, while training.
    Returns the output (T, N, directions * (H or P)) or, with ``state_outputs``, the list
    [output, final state] ([output, final h, final c] for LSTM). Differentiable in data,
    parameters, state and state_cell.
    """
    kwargs.pop("name", None)
    kwargs.pop("cudnn_off", None)
    if kwargs:
        raise TypeError(f"npx.rnn got unexpected keyword arguments {sorted(kwargs)}")
    if mode not in GATES:
        raise ValueError(f"npx.rnn: mode must be one of {sorted(GATES)}, got {mode!r}")
    if state_size is None or num_layers is None or int(state_size) < 1 or int(num_layers) < 1:
        raise ValueError(f"npx.rnn: state_size and num_layers must be positive ints, got "
                         f"state_size={state_size}, num_layers={num_layers}")
    state_size, num_layers = int(state_size), int(num_layers)
    if not 0 <= p < 1:
        raise ValueError(f"npx.rnn: dropout p must be in [0, 1), got {p}")
    data = to_nd(data)
    parameters = to_nd(parameters, data)
    if data.ndim != 3:
        raise ValueError(f"npx.rnn: data must be 3-d (sequence length, batch size, input size), "
                         f"got shape {data.shape}")
    if mode != "lstm" and state_cell is not None:
        if use_sequence_length and sequence_length is None:  # MXNet's positional order
            state_cell, sequence_length = None, state_cell
        else:
            raise ValueError(f"npx.rnn: state_cell is for mode 'lstm', got mode {mode!r}")
    if projection_size is not None:
        if mode != "lstm":
            raise ValueError(f"npx.rnn: projection is only supported for LSTM, got mode "
                             f"{mode!r}")
        if not 0 < projection_size <= state_size:
            raise ValueError(f"npx.rnn: projection_size must be in [1, state_size={state_size}]"
                             f", got {projection_size}")
    cell_clip = None
    if lstm_state_clip_min is not None or lstm_state_clip_max is not None:
        if mode != "lstm":
            raise ValueError("npx.rnn: state clipping is only supported for LSTM")
        if lstm_state_clip_min is None or lstm_state_clip_max is None:
            raise ValueError("npx.rnn: lstm_state_clip_min and lstm_state_clip_max must be "
                             "specified together")
        if lstm_state_clip_max < lstm_state_clip_min:
            raise ValueError(f"npx.rnn: lstm_state_clip_max ({lstm_state_clip_max}) must be >= "
                             f"lstm_state_clip_min ({lstm_state_clip_min})")
        cell_clip = (float(lstm_state_clip_min), float(lstm_state_clip_max),
                     bool(lstm_state_clip_nan))
    steps, batch, input_size = data.shape
    dirs = 2 if bidirectional else 1
    recurrent = projection_size or state_size
    hint = "num_layers * directions, batch, state size"
    state = None if state is None else to_nd(state, data)
    _check_state("state", state, (num_layers * dirs, batch, recurrent), hint)
    states = [state]
    if mode == "lstm":
        state_cell = None if state_cell is None else to_nd(state_cell, data)
        _check_state("state_cell", state_cell, (num_layers * dirs, batch, state_size), hint)
        states.append(state_cell)
    valid = None
    if use_sequence_length:
        if sequence_length is None:
            raise ValueError("npx.rnn: use_sequence_length=True needs sequence_length")
        sequence_length = to_nd(sequence_length, data)
        if tuple(sequence_length.shape) != (batch,):
            raise ValueError(f"npx.rnn: sequence_length must have shape ({batch},) (one length "
                             f"per batch entry), got {tuple(sequence_length.shape)}")
        lengths = reshape(sequence_length, (batch, 1))
        valid = [lengths > t for t in range(steps)]
    elif sequence_length is not None:
        raise ValueError("npx.rnn: sequence_length is given but use_sequence_length=False")
    weights = split_rnn_params(parameters, mode, num_layers, input_size, state_size,
                               bidirectional, projection_size, who="npx.rnn")
    x = data
    finals = [[] for _ in states]
    for layer in range(num_layers):
        outs = []
        for d, prefix in enumerate(("l", "r")[:dirs]):
            index = layer * dirs + d
            out, last = _direction(x, [s[index] for s in states], weights, f"{prefix}{layer}_",
                                   mode, state_size, d == 1, valid, cell_clip)
            outs.append(out)
            for k, s in enumerate(last):
                finals[k].append(s)
        x = outs[0] if dirs == 1 else concatenate(outs, axis=-1)
        if p and layer < num_layers - 1:
            x = dropout(x, p=p)
    if not state_outputs:
        return x
    return [x] + [stack(f, axis=0) for f in finals]
