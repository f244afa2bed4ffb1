"""The recurrent API of MXNet 2.x's test_gluon_rnn.py: ``gluon.utils.split_rnn_params``,
``infer_shape(i, x, is_bidirect)`` on cells and their containers, ``rnn_cell.dynamic_unroll``
and ``ResidualCell`` around a ``BidirectionalCell``."""
import math
import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import rnn
from mxlite.graph import GraphFallbackWarning
from mxlite.gluon.rnn.rnn_cell import dynamic_unroll
from mxlite.gluon.utils import split_rnn_params

RNG = np.random.default_rng(7)


def randn(*shape):
    return mx.np.array(RNG.standard_normal(shape).astype(np.float32))


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


# -- split_rnn_params -----------------------------------------------------------------------

def _layout(gates, layers, dirs, inputs, hidden, proj=None):
    """(name, shape) in MXNet's order, written out from its documentation."""
    state = proj or hidden
    weights, biases = [], []
    for layer in range(layers):
        for d in "lr"[:dirs]:
            n = f"{d}{layer}_"
            columns = inputs if layer == 0 else state * dirs
            weights += [(n + "i2h_weight", (gates * hidden, columns)),
                        (n + "h2h_weight", (gates * hidden, state))]
            if proj:
                weights.append((n + "h2r_weight", (proj, hidden)))
            biases += [(n + "i2h_bias", (gates * hidden,)), (n + "h2h_bias", (gates * hidden,))]
    return weights + biases


@pytest.mark.parametrize("mode,gates,proj", [("lstm", 4, None), ("gru", 3, None),
                                             ("rnn_tanh", 1, None), ("lstm", 4, 2)])
def test_split_rnn_params_views_are_the_vectors_slices(mode, gates, proj):
    layout = _layout(gates, 2, 2, 3, 4, proj)
    size = sum(math.prod(s) for _, s in layout)
    flat = mx.np.arange(size, dtype="float32")
    views = split_rnn_params(flat, mode, 2, 3, 4, bidirectional=True, projection_size=proj)
    assert [(k, v.shape) for k, v in views.items()] == layout
    offset = 0
    for name, shape in layout:
        n = math.prod(shape)
        close(views[name], np.arange(offset, offset + n).reshape(shape))
        offset += n
    views["r1_h2h_bias"][:] = -1  # a view: writing it writes the vector
    assert (flat.asnumpy()[size - gates * 4:] == -1).all()
    assert mx.np.shares_memory(views["l0_i2h_weight"], flat)
    host = split_rnn_params(np.zeros(size), mode, 2, 3, 4, True, proj)["l1_i2h_weight"]
    assert host.shape == dict(layout)["l1_i2h_weight"]  # numpy vectors split the same way


def test_split_rnn_params_errors():
    with pytest.raises(ValueError, match=r"take an rnn_param of shape \(760,\), got \(7,\)"):
        split_rnn_params(mx.np.zeros(7), "lstm", 1, 7, 10)
    with pytest.raises(ValueError, match="projection_size is for mode 'lstm'"):
        split_rnn_params(mx.np.zeros(7), "gru", 1, 7, 10, projection_size=3)


def test_split_rnn_params_loads_cells_that_equal_the_fused_layer():
    layer = rnn.GRU(4, num_layers=2, bidirectional=True, layout="NTC", input_size=3)
    layer.initialize(mx.init.Uniform(0.5))
    stack = rnn.SequentialRNNCell()
    for _ in range(2):
        stack.add(rnn.BidirectionalCell(rnn.GRUCell(4), rnn.GRUCell(4)))
    x = randn(2, 5, 3)
    stack.infer_shape(0, x, False)
    stack.initialize()
    for name, view in split_rnn_params(layer.rnn_param.data(), "gru", 2, 3, 4, True).items():
        prefix, rest = name.split("_", 1)
        cell = stack[int(prefix[1:])].l_cell if prefix[0] == "l" else stack[int(prefix[1:])].r_cell
        getattr(cell, rest).set_data(view)
    out, _ = stack.unroll(5, x, layout="NTC", merge_outputs=True)
    close(out.asnumpy(), layer(x).asnumpy())


# -- infer_shape(i, x, is_bidirect) ---------------------------------------------------------

def test_cell_infer_shape_reads_layer_zero_from_x_and_later_layers_from_the_one_below():
    x = randn(2, 6, 7)  # a whole (N, T, C) sequence: the last axis is the input size
    for i, bidirect, cols in [(0, False, 7), (0, True, 7), (1, False, 5), (1, True, 10)]:
        cell = rnn.LSTMCell(5)
        cell.infer_shape(i, x, bidirect)
        assert cell.i2h_weight.shape == (20, cols)
    for i, bidirect, cols in [(0, False, 7), (1, False, 3), (1, True, 6)]:
        cell = rnn.LSTMPCell(5, 3)
        cell.infer_shape(i, x, bidirect)
        assert cell.i2h_weight.shape == (20, cols)
        assert cell.h2h_weight.shape == (20, 3) and cell.h2r_weight.shape == (3, 5)
    cell = rnn.GRUCell(4, input_size=7)
    with pytest.raises(ValueError, match="incompatible"):
        cell.infer_shape(0, randn(2, 8), False)


def test_container_infer_shape():
    x = randn(2, 7)
    stack = rnn.HybridSequentialRNNCell()
    stack.add(rnn.GRUCell(4))
    stack.add(rnn.DropoutCell(0.5))
    stack.add(rnn.ResidualCell(rnn.GRUCell(4)))
    stack.infer_shape(0, x, False)
    assert stack[0].i2h_weight.shape == (12, 7)
    assert stack[2].base_cell.i2h_weight.shape == (12, 4)

    bi = rnn.BidirectionalCell(rnn.LSTMCell(4), rnn.LSTMCell(4))
    bi.infer_shape(0, x, False)
    assert bi.l_cell.i2h_weight.shape == bi.r_cell.i2h_weight.shape == (16, 7)
    bi = rnn.BidirectionalCell(rnn.RNNCell(4), rnn.RNNCell(4))
    bi.infer_shape(1, x, False)  # above a bidirectional layer: both directions' output
    assert bi.l_cell.i2h_weight.shape == (4, 8)

    # each direction a stack: its second cell is fed its first's (one-direction) output
    bi = rnn.BidirectionalCell(rnn.SequentialRNNCell(), rnn.SequentialRNNCell())
    for seq in (bi.l_cell, bi.r_cell):
        seq.add(rnn.LSTMCell(3))
        seq.add(rnn.LSTMCell(3))
    bi.infer_shape(0, x, True)
    assert [c.i2h_weight.shape for c in bi.l_cell] == [(12, 7), (12, 3)]
    bi.initialize()
    out, _ = bi.unroll(2, randn(2, 2, 7), merge_outputs=True)
    assert out.shape == (2, 2, 6)

    for modifier in (lambda c: rnn.ZoneoutCell(c, 0.5), rnn.VariationalDropoutCell):
        cell = modifier(rnn.RNNCell(4))
        cell.infer_shape(1, x, True)
        assert cell.base_cell.i2h_weight.shape == (4, 8)


def test_first_forward_sizes_each_cell_from_its_own_input():
    stack = rnn.SequentialRNNCell()
    stack.add(rnn.LSTMCell(4))
    stack.add(rnn.GRUCell(3))
    stack.add(rnn.LSTMPCell(5, 2))
    stack.initialize()
    out, states = stack.unroll(3, randn(2, 3, 7), merge_outputs=True)
    assert [stack[k].i2h_weight.shape for k in range(3)] == [(16, 7), (9, 4), (20, 3)]
    assert out.shape == (2, 3, 2) and [s.shape for s in states] == [
        (2, 4), (2, 4), (2, 3), (2, 2), (2, 5)]


def test_a_cell_without_infer_shape_names_the_signature():
    class Scale(rnn.HybridRecurrentCell):
        def __init__(self):
            super().__init__()
            self.alpha = gluon.Parameter("alpha", shape=(-1,), allow_deferred_init=True)

        def forward(self, inputs, states):
            return inputs * self.alpha.data(), states

    cell = Scale()
    cell.initialize()
    with pytest.raises(RuntimeError, match=r"\['alpha'\]; implement infer_shape\(self, i, x, "):
        cell(mx.np.ones((2, 3)), [])


def test_conv_cell_infers_unknown_input_channels():
    x = randn(4, 3, 5, 7)  # N, T, C, W
    known = rnn.Conv1DLSTMCell((5, 7), 10, (3,), (3,))
    cell = rnn.Conv1DLSTMCell((-1, 7), 10, (3,), (3,))
    cell.infer_shape(0, x, False)
    assert cell.i2h_weight.shape == known.i2h_weight.shape == (40, 5, 3)
    lazy = rnn.Conv1DLSTMCell((-1, 7), 10, (3,), (3,))  # or on its first step
    known.initialize()
    lazy.initialize()
    lazy(x[:, 0], lazy.begin_state(4))
    assert lazy.i2h_weight.shape == (40, 5, 3)
    for name, p in known.collect_params().items():
        lazy.collect_params()[name].set_data(p.data())
    close(lazy.unroll(3, x, merge_outputs=True)[0].asnumpy(),
          known.unroll(3, x, merge_outputs=True)[0].asnumpy())

    last = rnn.Conv2DGRUCell((6, 5, -1), 2, 3, 3, conv_layout="NHWC")
    last.infer_shape(0, randn(2, 6, 5, 4), False)  # one step, channels last
    assert last.i2h_weight.shape == (6, 3, 3, 4)


# -- dynamic_unroll -------------------------------------------------------------------------

@pytest.mark.parametrize("cell_type", [rnn.RNNCell, rnn.LSTMCell, rnn.GRUCell])
@pytest.mark.parametrize("layout", ["TNC", "NTC"])
def test_dynamic_unroll_equals_unroll(cell_type, layout):
    cell = cell_type(4)
    cell.initialize(mx.init.Uniform(0.5))
    x = randn(6, 3, 5) if layout == "TNC" else randn(3, 6, 5)
    states = [randn(3, 4) for _ in cell.state_info()]
    valid = mx.np.array([2.0, 6.0, 4.0])
    for valid_length in (None, valid):
        out, last = dynamic_unroll(cell, x, states, layout=layout, valid_length=valid_length)
        ref, ref_last = cell.unroll(6, x, states, layout=layout, merge_outputs=True,
                                    valid_length=valid_length)
        close(out.asnumpy(), ref.asnumpy())
        for s, r in zip(last, ref_last):
            close(s.asnumpy(), r.asnumpy())
    steps = np.moveaxis(out.asnumpy(), layout.find("T"), 0)
    assert (steps[2:, 0] == 0).all() and (steps[4:, 2] == 0).all() and (steps[:, 1] != 0).all()


def test_dynamic_unroll_zero_length_keeps_begin_state_and_traces():
    class Layer(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.cell = rnn.LSTMCell(4)

        def forward(self, x, states, valid_length):
            return dynamic_unroll(self.cell, x, states, valid_length=valid_length)

    layer = Layer()
    layer.initialize()
    x, states = randn(5, 2, 3), [randn(2, 4), randn(2, 4)]
    valid = mx.np.array([0.0, 3.0])
    out, last = layer(x, states, valid)
    layer.hybridize()
    with warnings.catch_warnings():
        warnings.simplefilter("error", GraphFallbackWarning)  # the steps trace into a graph
        traced, traced_last = layer(x, states, valid)
        traced, traced_last = layer(x, states, valid)
    assert layer._cached_graph.latest is not None
    close(traced.asnumpy(), out.asnumpy())
    for s, t, begin in zip(last, traced_last, states):
        close(t.asnumpy(), s.asnumpy())
        close(s.asnumpy()[0], begin.asnumpy()[0])  # length 0: the begin state
    assert (out.asnumpy()[:, 0] == 0).all() and (out.asnumpy()[3:, 1] == 0).all()


def test_dynamic_unroll_dropout_masks_are_shared_over_time():
    x = mx.np.ones((4, 3, 6))
    with autograd.record():
        out, states = dynamic_unroll(rnn.DropoutCell(0.0), x, [], drop_inputs=0.5)
    out = out.asnumpy()
    assert states == [] and set(np.unique(out)) <= {0.0, 2.0}
    assert (out == out[0]).all() and 0 < out[0].mean() < 2


# -- ResidualCell ---------------------------------------------------------------------------

def _reverse(x, lengths):
    """(N, T, C) sequences reversed within their lengths."""
    out = x.copy()
    for n, k in enumerate(lengths):
        out[n, :k] = x[n, :k][::-1]
    return out


def test_residual_bidirectional_is_base_output_plus_inputs():
    cell = rnn.ResidualCell(rnn.BidirectionalCell(rnn.GRUCell(3), rnn.GRUCell(3)))
    x = randn(2, 4, 6)
    cell.infer_shape(0, x, True)
    cell.initialize(mx.init.Uniform(0.5))
    l_cell, r_cell = cell.base_cell.l_cell, cell.base_cell.r_cell
    for lengths in ([4, 4], [2, 4]):
        valid = mx.np.array(lengths, dtype="float32")
        out, states = cell.unroll(4, x, layout="NTC", merge_outputs=True, valid_length=valid)
        left, l_states = l_cell.unroll(4, x, layout="NTC", merge_outputs=True,
                                       valid_length=valid)
        right, r_states = r_cell.unroll(4, mx.np.array(_reverse(x.asnumpy(), lengths)),
                                        layout="NTC", merge_outputs=True, valid_length=valid)
        mask = np.arange(4)[None, :, None] < np.array(lengths)[:, None, None]
        expected = (np.concatenate([left.asnumpy(), _reverse(right.asnumpy(), lengths)], -1)
                    + x.asnumpy()) * mask
        close(out.asnumpy(), expected)
        for s, ref in zip(states, l_states + r_states, strict=True):
            close(s.asnumpy(), ref.asnumpy())
    steps, _ = cell.unroll(4, [x[:, t] for t in range(4)])  # a list in, a list out
    assert isinstance(steps, list)
    close(np.stack([s.asnumpy() for s in steps], 1),
          cell.unroll(4, x, merge_outputs=True)[0].asnumpy())


def test_residual_unroll_equals_its_steps():
    cell = rnn.ResidualCell(rnn.LSTMCell(5))
    cell.initialize(mx.init.Uniform(0.5))
    x = randn(2, 3, 5)
    out, _ = cell.unroll(3, x, merge_outputs=True)
    states = cell.begin_state(2)
    for t in range(3):
        step, states = cell.base_cell(x[:, t], states)
        close(out.asnumpy()[:, t], step.asnumpy() + x.asnumpy()[:, t])
