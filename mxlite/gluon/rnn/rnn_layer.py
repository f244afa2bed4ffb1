"""Multi-layer (optionally bidirectional) RNN, LSTM and GRU over whole sequences.

As in MXNet 2.x, all weights and biases are one parameter, ``rnn_param``, in cuDNN's layout
(``mx.init.RNNFused`` says which piece is where: ``l0_i2h_weight``, ``l0_h2h_weight``,
``r0_...`` for the reverse direction, ..., then the biases), and the forward is the fused
operator ``npx.rnn`` (``mxlite.ops.rnn``) on it: each layer projects the inputs of every
time step at once, then steps through time with the cells' math, reading the pieces as
views of the vector, so their gradients land in ``rnn_param``'s.
"""
from ... import initializer
from ... import numpy as np
from ... import numpy_extension as npx
from ..block import HybridBlock
from ..parameter import Parameter
from ..utils import split_rnn_params
from ...ops.rnn import MODES

__all__ = ["RNN", "LSTM", "GRU"]


class _RNNLayer(HybridBlock):
    def __init__(self, hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                 i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                 h2h_bias_initializer, mode, dtype="float32"):
        super().__init__()
        if layout not in ("TNC", "NTC"):
            raise ValueError(f"Invalid layout {layout!r}; must be one of ['TNC' or 'NTC']")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self._hidden_size = hidden_size
        self._num_layers = num_layers
        self._layout = layout
        self._dropout = dropout
        self._dirs = 2 if bidirectional else 1
        self._input_size = input_size
        self._mode = mode
        _, self._num_states, _ = MODES[mode]
        self._layout_of = initializer.RNNFused(
            mode, num_layers, hidden_size, bidirectional, i2h_weight_initializer,
            h2h_weight_initializer, i2h_bias_initializer, h2h_bias_initializer)
        self.rnn_param = Parameter("rnn_param", shape=(self._fused_size(input_size),),
                                   init=self._layout_of, allow_deferred_init=True, dtype=dtype)

    def _fused_size(self, input_size):
        return self._layout_of.size(input_size) if input_size else 0

    def _unfuse(self, flat):
        """``{piece name: view}`` of a fused vector (an ndarray or a numpy array)."""
        return split_rnn_params(flat, self._mode, self._num_layers,
                                self._layout_of.input_size(flat.shape[0]), self._hidden_size,
                                self._dirs == 2)

    def state_info(self, batch_size=0):
        shape = (self._num_layers * self._dirs, batch_size, self._hidden_size)
        return [{"shape": shape, "__layout__": "LNC"} for _ in range(self._num_states)]

    def begin_state(self, batch_size=0, func=None, **kwargs):
        """Initial states, each (num_layers * directions, batch_size, hidden_size)."""
        func = func or np.zeros
        shape = (self._num_layers * self._dirs, batch_size, self._hidden_size)
        return [func(shape, **kwargs) for _ in range(self._num_states)]

    def infer_shape(self, inputs, *args):
        self.rnn_param.shape = (self._fused_size(inputs.shape[-1]),)

    def forward(self, inputs, states=None):
        """``inputs`` (T, N, C) or (N, T, C); returns outputs, plus new states when given."""
        given_states = states is not None
        if inputs.ndim != 3:
            tnc = self._layout == "TNC"
            axes = "sequence, batch, features" if tnc else "batch, sequence, features"
            raise ValueError(f"{type(self).__name__} takes a 3-d input in layout {self._layout} "
                             f"({axes}), got shape {inputs.shape}; add the batch axis with "
                             f"np.expand_dims(x, {1 if tnc else 0})")
        if self._layout == "NTC":
            inputs = np.swapaxes(inputs, 0, 1)
        if not given_states:
            states = self.begin_state(inputs.shape[1], device=inputs.device,
                                      dtype=inputs.dtype)
        elif not isinstance(states, (list, tuple)):
            states = [states]
        if len(states) != self._num_states:
            raise ValueError(f"{type(self).__name__} takes {self._num_states} state arrays, "
                             f"got {len(states)}")
        lstm = self._mode == "lstm"
        res = npx.rnn(inputs, self.rnn_param.data(inputs.device), states[0],
                      states[1] if lstm else None, mode=self._mode,
                      state_size=self._hidden_size, num_layers=self._num_layers,
                      bidirectional=self._dirs == 2, state_outputs=given_states,
                      p=self._dropout)
        x, final = (res[0], res[1:]) if given_states else (res, None)
        if self._layout == "NTC":
            x = np.swapaxes(x, 0, 1)
        if not given_states:
            return x
        return x, list(final)

    def __repr__(self):
        size = self.rnn_param.shape[0]
        in_size = self._layout_of.input_size(size) if size else None
        return (f"{type(self).__name__}({in_size} -> "
                f"{self._hidden_size}, {self._layout}, num_layers={self._num_layers}"
                f"{', bidirectional' if self._dirs == 2 else ''})")


class RNN(_RNNLayer):
    """Elman RNN with tanh or relu ``activation``; one state (h)."""

    def __init__(self, hidden_size, num_layers=1, activation="relu", layout="TNC", dropout=0,
                 bidirectional=False, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 dtype="float32"):
        if activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}")
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "rnn_" + activation, dtype)


class LSTM(_RNNLayer):
    """Long short-term memory; states [h, c]."""

    def __init__(self, hidden_size, num_layers=1, layout="TNC", dropout=0, bidirectional=False,
                 input_size=0, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", dtype="float32"):
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "lstm", dtype)


class GRU(_RNNLayer):
    """Gated recurrent unit (MXNet's/cuDNN's variant); one state (h)."""

    def __init__(self, hidden_size, num_layers=1, layout="TNC", dropout=0, bidirectional=False,
                 input_size=0, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", dtype="float32"):
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "gru", dtype)
