"""Recurrent cells (one time step) and the gate math shared with the fused layers.

Gate layouts follow MXNet: LSTM [input, forget, candidate, output]; GRU [reset, update,
new] with the reset gate applied to the hidden projection, ``h' = (1-z)*n + z*h``. The step
functions (``rnn_step``, ``lstm_step``, ``gru_step``, ``MODES``) live in ``mxlite.ops.rnn``,
where the fused layers (``npx.rnn``) use them too.
"""
from ... import numpy as np
from ... import numpy_extension as npx
from ... import autograd
from ...ops.rnn import MODES, gru_step, lstm_step, rnn_step  # noqa: F401 - shared
from ..block import Block, HybridBlock
from ..parameter import Parameter, shape_is_known

__all__ = ["RecurrentCell", "HybridRecurrentCell", "RNNCell", "LSTMCell", "GRUCell",
           "LSTMPCell", "SequentialRNNCell", "HybridSequentialRNNCell", "BidirectionalCell",
           "ModifierCell", "DropoutCell", "ZoneoutCell", "ResidualCell",
           "VariationalDropoutCell"]


def _steps(length, inputs, layout):
    """``inputs`` (a (N, T, C)/(T, N, C) array or a list of (N, C) steps) as a list."""
    axis = layout.find("T")
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != length:
            raise ValueError(f"unroll: length={length} but {len(inputs)} steps were given")
        return list(inputs), axis, False
    if inputs.shape[axis] != length:
        raise ValueError(f"unroll: length={length} but the inputs of shape {inputs.shape} have "
                         f"{inputs.shape[axis]} steps along axis {axis} (layout {layout})")
    return [np.take(inputs, t, axis=axis) for t in range(length)], axis, True


def _merge(outputs, axis, merged, merge_outputs, valid_length):
    if valid_length is not None:
        stacked = npx.sequence_mask(np.stack(outputs, axis=axis), sequence_length=valid_length,
                                    use_sequence_length=True, axis=axis)
        outputs = [np.take(stacked, t, axis=axis) for t in range(len(outputs))]
    merge = merged if merge_outputs is None else merge_outputs
    return np.stack(outputs, axis=axis) if merge else outputs


class RecurrentCell(Block):
    """A cell runs one step, ``output, states = cell(inputs, states)``; ``unroll`` runs it
    over a sequence."""

    def state_info(self, batch_size=0):
        return []

    def begin_state(self, batch_size=0, func=None, **kwargs):
        """Initial states (zeros by default) for a batch of ``batch_size``."""
        func = func or np.zeros
        return [func(info["shape"], **kwargs) for info in self.state_info(batch_size)]

    def reset(self):
        """Forget per-sequence state before a new ``unroll`` (the modifier cells keep some)."""
        for child in self._children.values():
            if isinstance(child, RecurrentCell):
                child.reset()

    def _unknown_shapes(self):
        return [name for name, p in self._reg_params.items() if not shape_is_known(p.shape)]

    def __call__(self, inputs, *args, **kwargs):
        # The first step sizes the cell's own deferred parameters. The input a cell steps on
        # is its own wherever it sits in a stack, so it is read as layer 0's.
        if self._unknown_shapes():
            self.infer_shape(0, inputs, False)
        return super().__call__(inputs, *args, **kwargs)

    def infer_shape(self, i, x, is_bidirect):
        """Fill deferred parameter shapes as cell ``i`` of a stack whose input is ``x`` (below
        a BidirectionalCell if ``is_bidirect``), MXNet 2.x's signature. Cells with deferred
        parameters override this; containers pass it on to their cells."""
        unknown = self._unknown_shapes()
        if unknown:
            raise RuntimeError(
                f"{type(self).__name__} has parameters with unknown shape {unknown}; implement "
                "infer_shape(self, i, x, is_bidirect) to set them from x, the input of cell i "
                "of a stack, or give the shapes when creating the Parameters")

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        """Run ``length`` steps. ``merge_outputs`` None keeps the input's form (one array or a
        list of steps); with ``valid_length`` (one length per batch entry) the outputs past
        each length are zero and the states are those of each sequence's last valid step."""
        self.reset()
        steps, axis, merged = _steps(length, inputs, layout)
        states = begin_state if begin_state is not None else self.begin_state(
            steps[0].shape[0], dtype=steps[0].dtype, device=steps[0].device)
        outputs, history = [], []
        for x in steps:
            out, states = self(x, states)
            outputs.append(out)
            if valid_length is not None:
                history.append(states)
        if valid_length is not None:
            states = [npx.sequence_last(np.stack(list(per_step), axis=0), valid_length, True, 0)
                      for per_step in zip(*history)]
        return _merge(outputs, axis, merged, merge_outputs, valid_length), states


class HybridRecurrentCell(RecurrentCell, HybridBlock):
    """A recurrent cell whose step can be hybridized."""


class _Cell(HybridRecurrentCell):
    """One step: ``output, new_states = cell(inputs, states)`` on (N, input_size) inputs."""

    _mode = "lstm"

    def __init__(self, hidden_size, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 activation=None, recurrent_activation=None, h2h_columns=None):
        super().__init__()
        gates, self._num_states, self._step = MODES[self._mode]
        self._hidden_size = hidden_size
        self._output_size = h2h_columns or hidden_size  # the recurrent state h2h reads
        self._activation = activation
        self._recurrent_activation = recurrent_activation
        rows = gates * hidden_size
        self.i2h_weight = Parameter("i2h_weight", shape=(rows, input_size),
                                    init=i2h_weight_initializer, allow_deferred_init=True)
        self.h2h_weight = Parameter("h2h_weight", shape=(rows, self._output_size),
                                    init=h2h_weight_initializer, allow_deferred_init=True)
        self.i2h_bias = Parameter("i2h_bias", shape=(rows,), init=i2h_bias_initializer,
                                  allow_deferred_init=True)
        self.h2h_bias = Parameter("h2h_bias", shape=(rows,), init=h2h_bias_initializer,
                                  allow_deferred_init=True)

    def state_info(self, batch_size=0):
        return [{"shape": (batch_size, self._hidden_size), "__layout__": "NC"}
                for _ in range(self._num_states)]

    def infer_shape(self, i, x, is_bidirect):
        """Cell 0 reads its input size from ``x``'s last axis; a later cell is fed the output
        of the one below (``projection_size`` for LSTMP, twice that below a
        BidirectionalCell)."""
        size = x.shape[-1] if i == 0 else self._output_size * (2 if is_bidirect else 1)
        self.i2h_weight.shape = (self.i2h_weight.shape[0], size)

    def _projections(self, inputs, states):
        device = inputs.device
        i2h = npx.fully_connected(inputs, self.i2h_weight.data(device),
                                  self.i2h_bias.data(device), flatten=False)
        h2h = npx.fully_connected(states[0], self.h2h_weight.data(device),
                                  self.h2h_bias.data(device), flatten=False)
        return i2h, h2h

    def forward(self, inputs, states):
        if inputs.ndim != 2:
            raise ValueError(f"{type(self).__name__} runs one step on (batch, features) "
                             f"inputs, got shape {inputs.shape}; use unroll() for sequences")
        i2h, h2h = self._projections(inputs, states)
        return self._step(i2h, h2h, states, self._hidden_size, self._activation,
                          self._recurrent_activation)

    def __repr__(self):
        return f"{type(self).__name__}({self.i2h_weight.shape[1]} -> {self._hidden_size})"


class RNNCell(_Cell):
    """Elman cell: ``h' = activation(W_i x + b_i + W_h h + b_h)`` (tanh or relu)."""

    _mode = "rnn_tanh"

    def __init__(self, hidden_size, activation="tanh", i2h_weight_initializer=None,
                 h2h_weight_initializer=None, i2h_bias_initializer="zeros",
                 h2h_bias_initializer="zeros", input_size=0):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size, activation)


class LSTMCell(_Cell):
    """Long short-term memory cell; states are [h, c]. ``activation`` is the candidate's and
    the cell output's (tanh by default), ``recurrent_activation`` the gates' (sigmoid)."""

    _mode = "lstm"


class GRUCell(_Cell):
    """Gated recurrent unit cell (MXNet's/cuDNN's variant)."""

    _mode = "gru"


class LSTMPCell(_Cell):
    """LSTM with a projected recurrent state: states are [r, c] with ``r = h @ h2r.T`` of
    ``projection_size`` (Sak et al., 2014), the ``r`` being the output."""

    _mode = "lstm"

    def __init__(self, hidden_size, projection_size, i2h_weight_initializer=None,
                 h2h_weight_initializer=None, h2r_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size,
                         h2h_columns=projection_size)
        self._projection_size = projection_size
        self.h2r_weight = Parameter("h2r_weight", shape=(projection_size, hidden_size),
                                    init=h2r_weight_initializer, allow_deferred_init=True)

    def state_info(self, batch_size=0):
        return [{"shape": (batch_size, self._projection_size), "__layout__": "NC"},
                {"shape": (batch_size, self._hidden_size), "__layout__": "NC"}]

    def forward(self, inputs, states):
        i2h, h2h = self._projections(inputs, states)
        hidden, (_, c) = lstm_step(i2h, h2h, states, self._hidden_size)
        r = npx.fully_connected(hidden, self.h2r_weight.data(inputs.device), None,
                                no_bias=True, flatten=False)
        return r, [r, c]


class _SequentialCellMixin:
    """Cells stacked: each step's output feeds the next cell; states are concatenated."""

    def add(self, cell):
        self.register_child(cell)
        return self

    def infer_shape(self, i, x, is_bidirect):
        """Cell k as layer k of the stack, each fed the (unidirectional) one below."""
        for k, cell in enumerate(self._children.values()):
            cell.infer_shape(k, x, False)

    def state_info(self, batch_size=0):
        return [info for cell in self._children.values() for info in cell.state_info(batch_size)]

    def begin_state(self, batch_size=0, func=None, **kwargs):
        return [s for cell in self._children.values()
                for s in cell.begin_state(batch_size, func, **kwargs)]

    def _split_states(self, states):
        at = 0
        for cell in self._children.values():
            n = len(cell.state_info())
            yield cell, states[at:at + n]
            at += n

    def forward(self, inputs, states):
        next_states = []
        for cell, cell_states in self._split_states(states):
            inputs, cell_states = cell(inputs, cell_states)
            next_states += cell_states
        return inputs, next_states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        """Unroll each cell over the whole sequence in turn (so a BidirectionalCell can be
        one of them)."""
        self.reset()
        if begin_state is None:
            first, _, _ = _steps(length, inputs, layout)
            begin_state = self.begin_state(first[0].shape[0], dtype=first[0].dtype,
                                           device=first[0].device)
        cells = list(self._split_states(begin_state))
        next_states = []
        for k, (cell, cell_states) in enumerate(cells):
            inputs, cell_states = cell.unroll(
                length, inputs, cell_states, layout,
                merge_outputs if k == len(cells) - 1 else None, valid_length)
            next_states += cell_states
        return inputs, next_states

    def __len__(self):
        return len(self._children)

    def __getitem__(self, i):
        return list(self._children.values())[i]


class SequentialRNNCell(_SequentialCellMixin, RecurrentCell):
    """Recurrent cells stacked in order."""


class HybridSequentialRNNCell(_SequentialCellMixin, HybridRecurrentCell):
    """Hybrid recurrent cells stacked in order."""


def _reverse_sequences(steps, valid_length, axis):
    """Each sequence reversed within its valid length (the padding stays at the end)."""
    if valid_length is None:
        return steps[::-1]
    stacked = np.stack(steps, axis=0)  # (T, N, ...)
    t = len(steps)
    lengths = valid_length.astype("int64").reshape(1, -1)
    pos = np.arange(t, device=stacked.device, dtype="int64").reshape(-1, 1)
    index = np.where(pos < lengths, lengths - 1 - pos, pos)
    index = index.reshape(index.shape + (1,) * (stacked.ndim - 2))
    index = np.broadcast_to(index, stacked.shape)
    flipped = np.take_along_axis(stacked, index, axis=0)
    return [flipped[k] for k in range(t)]


class BidirectionalCell(HybridRecurrentCell):
    """Runs ``l_cell`` forward and ``r_cell`` backward over the sequence and concatenates
    their outputs on the last axis; states are l_cell's then r_cell's. Only ``unroll``."""

    def __init__(self, l_cell, r_cell):
        super().__init__()
        self.l_cell, self.r_cell = l_cell, r_cell

    def state_info(self, batch_size=0):
        return self.l_cell.state_info(batch_size) + self.r_cell.state_info(batch_size)

    def begin_state(self, batch_size=0, func=None, **kwargs):
        return (self.l_cell.begin_state(batch_size, func, **kwargs) +
                self.r_cell.begin_state(batch_size, func, **kwargs))

    def forward(self, inputs, states):
        raise NotImplementedError("BidirectionalCell cannot be stepped: use unroll()")

    def infer_shape(self, i, x, is_bidirect):
        """Both directions see the same input; above layer 0 it is both directions' output."""
        self.l_cell.infer_shape(i, x, True)
        self.r_cell.infer_shape(i, x, True)

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        self.reset()
        steps, axis, merged = _steps(length, inputs, layout)
        if begin_state is None:
            begin_state = self.begin_state(steps[0].shape[0], dtype=steps[0].dtype,
                                           device=steps[0].device)
        n_left = len(self.l_cell.state_info())
        l_out, l_states = self.l_cell.unroll(length, steps, begin_state[:n_left], layout,
                                             False, valid_length)
        r_out, r_states = self.r_cell.unroll(length, _reverse_sequences(steps, valid_length,
                                                                        axis),
                                             begin_state[n_left:], layout, False, valid_length)
        r_out = _reverse_sequences(r_out, valid_length, axis)
        outputs = [np.concatenate([lo, ro], axis=-1) for lo, ro in zip(l_out, r_out)]
        return _merge(outputs, axis, merged, merge_outputs, valid_length), l_states + r_states


class ModifierCell(HybridRecurrentCell):
    """Wraps ``base_cell`` and changes what a step does; states are the base cell's."""

    def __init__(self, base_cell):
        super().__init__()
        self.base_cell = base_cell

    def state_info(self, batch_size=0):
        return self.base_cell.state_info(batch_size)

    def begin_state(self, batch_size=0, func=None, **kwargs):
        return self.base_cell.begin_state(batch_size, func, **kwargs)

    def infer_shape(self, i, x, is_bidirect):
        self.base_cell.infer_shape(i, x, is_bidirect)


def _keep_mask(rate, like):
    """A dropout mask (0 or 1/(1-rate)) shaped like ``like``; all ones outside training."""
    return npx.dropout(np.ones(like.shape, dtype=like.dtype, device=like.device), p=rate)


class DropoutCell(HybridRecurrentCell):
    """Dropout on each step's input (no states); ``axes`` share one mask along them."""

    def __init__(self, rate, axes=()):
        super().__init__()
        if not 0 <= rate <= 1:
            raise ValueError(f"DropoutCell rate must be in [0, 1], got {rate}")
        self._rate, self._axes = rate, tuple(axes)

    def forward(self, inputs, states):
        if self._rate > 0:
            inputs = npx.dropout(inputs, p=self._rate, axes=self._axes)
        return inputs, states


class ZoneoutCell(ModifierCell):
    """Zoneout (Krueger et al., 2016): while training, each unit keeps its previous output
    or state with probability ``zoneout_outputs`` / ``zoneout_states``."""

    def __init__(self, base_cell, zoneout_outputs=0., zoneout_states=0.):
        if isinstance(base_cell, BidirectionalCell):
            raise ValueError("ZoneoutCell cannot wrap a BidirectionalCell; wrap its cells")
        super().__init__(base_cell)
        self._p_outputs, self._p_states = zoneout_outputs, zoneout_states
        self._prev_output = None

    def reset(self):
        super().reset()
        self._prev_output = None

    def forward(self, inputs, states):
        output, next_states = self.base_cell(inputs, states)
        if self._p_outputs:
            prev = self._prev_output if self._prev_output is not None else np.zeros_like(output)
            output = np.where(_keep_mask(self._p_outputs, output) != 0, output, prev)
        if self._p_states:
            next_states = [np.where(_keep_mask(self._p_states, new) != 0, new, old)
                           for new, old in zip(next_states, states)]
        self._prev_output = output
        return output, next_states


class ResidualCell(ModifierCell):
    """Adds the step's input to the base cell's output (Wu et al., 2016)."""

    def forward(self, inputs, states):
        output, states = self.base_cell(inputs, states)
        return output + inputs, states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        """The base cell's unroll plus the inputs, so the base may be a BidirectionalCell
        (which cannot be stepped); past ``valid_length`` the outputs stay zero."""
        self.reset()
        outputs, states = self.base_cell.unroll(length, inputs, begin_state, layout,
                                                merge_outputs, valid_length)
        steps, axis, _ = _steps(length, inputs, layout)
        merged = not isinstance(outputs, list)
        residual = _merge(steps, axis, merged, merged, valid_length)
        if merged:
            return outputs + residual, states
        return [out + x for out, x in zip(outputs, residual)], states


class VariationalDropoutCell(ModifierCell):
    """Dropout with one mask per sequence (Gal & Ghahramani, 2016) on the inputs, the first
    state (``h`` for an LSTM) and the outputs; the masks are drawn on the first step."""

    def __init__(self, base_cell, drop_inputs=0., drop_states=0., drop_outputs=0.):
        if isinstance(base_cell, BidirectionalCell):
            raise ValueError("VariationalDropoutCell cannot wrap a BidirectionalCell; wrap "
                             "its cells")
        super().__init__(base_cell)
        self._rates = {"inputs": drop_inputs, "states": drop_states, "outputs": drop_outputs}
        self._masks = {}

    def reset(self):
        super().reset()
        self._masks = {}

    def _apply(self, name, x):
        rate = self._rates[name]
        if not rate or not autograd.is_training():
            return x
        if name not in self._masks:
            self._masks[name] = _keep_mask(rate, x)
        return x * self._masks[name]

    def forward(self, inputs, states):
        states = list(states)
        if states:
            states[0] = self._apply("states", states[0])
        output, next_states = self.base_cell(self._apply("inputs", inputs), states)
        return self._apply("outputs", output), next_states


def _within(valid_length, t, like):
    """Whether step ``t`` lies within each sequence, shaped to broadcast against ``like``."""
    return (valid_length > t).reshape((-1,) + (1,) * (like.ndim - 1))


def dynamic_unroll(cell, inputs, begin_state, drop_inputs=0, drop_outputs=0, layout="TNC",
                   valid_length=None):
    """Run ``cell`` over ``inputs`` (one (T, N, ...) or (N, T, ...) array in ``layout``) from
    ``begin_state``; returns ``(outputs, states)``, outputs one array in ``layout``.

    MXNet 2.x builds this on ``npx.foreach``; here it is a loop over the steps, which a
    hybridized block traces into its graph. The dropout masks are shared along the time
    axis. With ``valid_length`` the outputs past each sequence's length are zero and its
    states stop changing there (a length of 0 keeps ``begin_state``)."""
    axis = layout.find("T")
    if drop_inputs:
        inputs = npx.dropout(inputs, p=drop_inputs, axes=(axis,))
    cell.reset()
    states, outputs = list(begin_state), []
    for t in range(inputs.shape[axis]):
        output, next_states = cell(np.take(inputs, t, axis=axis), states)
        if valid_length is not None:
            output = np.where(_within(valid_length, t, output), output, 0)
            next_states = [np.where(_within(valid_length, t, new), new, old)
                           for new, old in zip(next_states, states)]
        outputs.append(output)
        states = next_states
    outputs = np.stack(outputs, axis=axis)
    if drop_outputs:
        outputs = npx.dropout(outputs, p=drop_outputs, axes=(axis,))
    return outputs, states
