"""Convolutional recurrent cells (Shi et al., 2015), as MXNet's ``gluon.rnn.conv_rnn_cell``:
the cell's matrix products become convolutions over the input's spatial axes, so states
are feature maps. The input-to-state convolution takes ``i2h_kernel``/``i2h_pad``/
``i2h_dilate``; the state-to-state one pads to keep the state's size, so its kernel must be
odd. Gates are stacked along the channel axis in the order of the dense cells.
"""
from ... import numpy as np
from ... import numpy_extension as npx
from ..nn.conv_layers import spatial_tuple as _tuple
from ..parameter import Parameter
from .rnn_cell import HybridRecurrentCell, gru_step, lstm_step, rnn_step

__all__ = [f"Conv{d}D{kind}Cell" for d in (1, 2, 3) for kind in ("RNN", "LSTM", "GRU")]


class _ConvCell(HybridRecurrentCell):
    """``input_shape`` is one sample's shape in ``conv_layout`` without the batch axis, e.g.
    (channels, height, width) for 'NCHW'."""

    def __init__(self, input_shape, hidden_channels, i2h_kernel, h2h_kernel, i2h_pad,
                 i2h_dilate, h2h_dilate, i2h_weight_initializer, h2h_weight_initializer,
                 i2h_bias_initializer, h2h_bias_initializer, dims, conv_layout, activation):
        super().__init__()
        if len(conv_layout) != dims + 2 or conv_layout[:1] != "N" or "C" not in conv_layout:
            raise ValueError(f"conv_layout {conv_layout!r} does not fit a {dims}-d convolution "
                             f"(e.g. {'NC' + 'DHW'[3 - dims:]!r} or {'N' + 'DHW'[3 - dims:] + 'C'!r})")
        input_shape = tuple(int(s) for s in input_shape)
        if len(input_shape) != dims + 1:
            raise ValueError(f"input_shape must be one sample's {dims + 1} sizes in "
                             f"{conv_layout} without the batch axis, got {input_shape}")
        self._hidden_channels = hidden_channels
        self._conv_layout = conv_layout
        self._activation = activation
        self._i2h_kernel = _tuple(i2h_kernel, dims, "i2h_kernel")
        self._i2h_pad = _tuple(i2h_pad, dims, "i2h_pad")
        self._i2h_dilate = _tuple(i2h_dilate, dims, "i2h_dilate")
        self._h2h_kernel = _tuple(h2h_kernel, dims, "h2h_kernel")
        self._h2h_dilate = _tuple(h2h_dilate, dims, "h2h_dilate")
        if any(k % 2 == 0 for k in self._h2h_kernel):
            raise ValueError(f"Only support odd number, get h2h_kernel= {h2h_kernel}: the "
                             "state-to-state convolution must keep the state's size")
        self._h2h_pad = tuple(d * (k - 1) // 2 for d, k in zip(self._h2h_dilate,
                                                              self._h2h_kernel))
        self._channel_axis = conv_layout.find("C")
        channels_last = self._channel_axis != 1
        in_channels = input_shape[self._channel_axis - 1]
        spatial = input_shape[:-1] if channels_last else input_shape[1:]
        out_size = tuple((x + 2 * p - d * (k - 1) - 1) + 1 if x else 0 for x, k, p, d in
                         zip(spatial, self._i2h_kernel, self._i2h_pad, self._i2h_dilate))
        rows = hidden_channels * self._gates
        if channels_last:
            i2h_shape = (rows,) + self._i2h_kernel + (in_channels,)
            h2h_shape = (rows,) + self._h2h_kernel + (hidden_channels,)
            self._state_shape = out_size + (hidden_channels,)
        else:
            i2h_shape = (rows, in_channels) + self._i2h_kernel
            h2h_shape = (rows, hidden_channels) + self._h2h_kernel
            self._state_shape = (hidden_channels,) + out_size
        self.i2h_weight = Parameter("i2h_weight", shape=i2h_shape, init=i2h_weight_initializer,
                                    allow_deferred_init=True)
        self.h2h_weight = Parameter("h2h_weight", shape=h2h_shape, init=h2h_weight_initializer,
                                    allow_deferred_init=True)
        self.i2h_bias = Parameter("i2h_bias", shape=(rows,), init=i2h_bias_initializer,
                                  allow_deferred_init=True)
        self.h2h_bias = Parameter("h2h_bias", shape=(rows,), init=h2h_bias_initializer,
                                  allow_deferred_init=True)

    def state_info(self, batch_size=0):
        return [{"shape": (batch_size,) + self._state_shape, "__layout__": self._conv_layout}
                for _ in range(self._num_states)]

    def infer_shape(self, i, x, is_bidirect):
        """The input channels (-1 or 0 in ``input_shape``) from ``x``, one step or a
        sequence: its last axes are one sample in ``conv_layout``, as MXNet reads them."""
        sample = x.shape[len(x.shape) - len(self._i2h_kernel) - 1:]
        shape = list(self.i2h_weight.shape)
        shape[self._channel_axis] = sample[self._channel_axis - 1]
        self.i2h_weight.shape = tuple(shape)

    def _conv(self, x, weight, bias, kernel, pad, dilate):
        device = x.device
        return npx.convolution(x, weight.data(device), bias.data(device), kernel=kernel,
                               stride=(1,) * len(kernel), dilate=dilate, pad=pad,
                               num_filter=self._hidden_channels * self._gates,
                               layout=self._conv_layout)

    def forward(self, inputs, states):
        if inputs.ndim != len(self._conv_layout):
            raise ValueError(f"{type(self).__name__} runs one step on {self._conv_layout} "
                             f"inputs, got shape {inputs.shape}; use unroll() for sequences")
        i2h = self._conv(inputs, self.i2h_weight, self.i2h_bias, self._i2h_kernel,
                         self._i2h_pad, self._i2h_dilate)
        h2h = self._conv(states[0], self.h2h_weight, self.h2h_bias, self._h2h_kernel,
                         self._h2h_pad, self._h2h_dilate)
        # the dense cells' gate math, with the gates' channels moved to the last axis
        axis = self._channel_axis
        i2h, h2h = np.moveaxis(i2h, axis, -1), np.moveaxis(h2h, axis, -1)
        last = [np.moveaxis(s, axis, -1) for s in states]
        output, new_states = self._step(i2h, h2h, last, self._hidden_channels,
                                        self._activation)
        return (np.moveaxis(output, -1, axis),
                [np.moveaxis(s, -1, axis) for s in new_states])

    def __repr__(self):
        return (f"{type(self).__name__}({self.i2h_weight.shape} -> {self._hidden_channels} "
                f"channels, {self._conv_layout})")


class _ConvRNN(_ConvCell):
    _gates, _num_states, _step = 1, 1, staticmethod(rnn_step)


class _ConvLSTM(_ConvCell):
    _gates, _num_states, _step = 4, 2, staticmethod(lstm_step)


class _ConvGRU(_ConvCell):
    _gates, _num_states, _step = 3, 1, staticmethod(gru_step)


def _cell_class(base, dims, kind):
    layout = "NC" + "DHW"[3 - dims:]
    doc = (f"{dims}-d convolutional {kind} cell; states are {layout} feature maps "
           f"(``conv_layout`` may put the channels last).")

    def __init__(self, input_shape, hidden_channels, i2h_kernel, h2h_kernel,
                 i2h_pad=(0,) * dims, i2h_dilate=(1,) * dims, h2h_dilate=(1,) * dims,
                 i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros",
                 conv_layout=layout, activation="tanh"):
        base.__init__(self, input_shape, hidden_channels, i2h_kernel, h2h_kernel, i2h_pad,
                      i2h_dilate, h2h_dilate, i2h_weight_initializer, h2h_weight_initializer,
                      i2h_bias_initializer, h2h_bias_initializer, dims, conv_layout,
                      activation)

    name = f"Conv{dims}D{kind}Cell"
    return type(name, (base,), {"__init__": __init__, "__doc__": doc, "__module__": __name__,
                                "__qualname__": name})


for _dims in (1, 2, 3):
    for _kind, _base in (("RNN", _ConvRNN), ("LSTM", _ConvLSTM), ("GRU", _ConvGRU)):
        globals()[f"Conv{_dims}D{_kind}Cell"] = _cell_class(_base, _dims, _kind)
