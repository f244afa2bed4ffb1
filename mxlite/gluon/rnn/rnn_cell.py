"""Recurrent cells (one time step) and the gate math shared with the fused layers.

Gate layouts follow MXNet: LSTM [input, forget, candidate, output]; GRU [reset, update,
new] with the reset gate applied to the hidden projection, ``h' = (1-z)*n + z*h``.
"""
from ... import numpy as np
from ... import numpy_extension as npx
from ..block import HybridBlock
from ..parameter import Parameter

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]


def _gate(x, k, hidden):
    return x[..., k * hidden:(k + 1) * hidden]


def rnn_step(i2h, h2h, states, hidden, activation):
    h = npx.activation(i2h + h2h, act_type=activation)
    return h, [h]


def lstm_step(i2h, h2h, states, hidden, activation=None):
    gates = i2h + h2h
    in_gate = npx.sigmoid(_gate(gates, 0, hidden))
    forget_gate = npx.sigmoid(_gate(gates, 1, hidden))
    candidate = np.tanh(_gate(gates, 2, hidden))
    out_gate = npx.sigmoid(_gate(gates, 3, hidden))
    c = forget_gate * states[1] + in_gate * candidate
    h = out_gate * np.tanh(c)
    return h, [h, c]


def gru_step(i2h, h2h, states, hidden, activation=None):
    reset = npx.sigmoid(_gate(i2h, 0, hidden) + _gate(h2h, 0, hidden))
    update = npx.sigmoid(_gate(i2h, 1, hidden) + _gate(h2h, 1, hidden))
    new = np.tanh(_gate(i2h, 2, hidden) + reset * _gate(h2h, 2, hidden))
    h = (1 - update) * new + update * states[0]
    return h, [h]


# mode -> (gates per unit, number of states, step function)
MODES = {"rnn_relu": (1, 1, rnn_step), "rnn_tanh": (1, 1, rnn_step),
         "lstm": (4, 2, lstm_step), "gru": (3, 1, gru_step)}


class _Cell(HybridBlock):
    """One step: ``output, new_states = cell(inputs, states)`` on (N, input_size) inputs."""

    _mode = "lstm"

    def __init__(self, hidden_size, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 activation=None):
        super().__init__()
        gates, self._num_states, self._step = MODES[self._mode]
        self._hidden_size = hidden_size
        self._activation = activation
        rows = gates * hidden_size
        self.i2h_weight = Parameter("i2h_weight", shape=(rows, input_size),
                                    init=i2h_weight_initializer, allow_deferred_init=True)
        self.h2h_weight = Parameter("h2h_weight", shape=(rows, hidden_size),
                                    init=h2h_weight_initializer, allow_deferred_init=True)
        self.i2h_bias = Parameter("i2h_bias", shape=(rows,), init=i2h_bias_initializer,
                                  allow_deferred_init=True)
        self.h2h_bias = Parameter("h2h_bias", shape=(rows,), init=h2h_bias_initializer,
                                  allow_deferred_init=True)

    def state_info(self, batch_size=0):
        return [{"shape": (batch_size, self._hidden_size), "__layout__": "NC"}
                for _ in range(self._num_states)]

    def begin_state(self, batch_size=0, func=None, **kwargs):
        """Initial states (zeros by default) for a batch of ``batch_size``."""
        func = func or np.zeros
        return [func((batch_size, self._hidden_size), **kwargs)
                for _ in range(self._num_states)]

    def infer_shape(self, inputs, *args):
        self.i2h_weight.shape = (self.i2h_weight.shape[0], inputs.shape[-1])

    def forward(self, inputs, states):
        device = inputs.device
        i2h = npx.fully_connected(inputs, self.i2h_weight.data(device),
                                  self.i2h_bias.data(device), flatten=False)
        h2h = npx.fully_connected(states[0], self.h2h_weight.data(device),
                                  self.h2h_bias.data(device), flatten=False)
        return self._step(i2h, h2h, states, self._hidden_size, self._activation)

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
    """Long short-term memory cell; states are [h, c]."""

    _mode = "lstm"


class GRUCell(_Cell):
    """Gated recurrent unit cell (MXNet's/cuDNN's variant)."""

    _mode = "gru"
