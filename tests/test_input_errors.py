"""Bad input raises an error that names the problem and the fix, never a silent wrong result."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon

mnp = mx.np


@pytest.mark.parametrize("make", [mnp.zeros, mnp.ones, mnp.empty, lambda s: mnp.full(s, 2.0)])
def test_non_integer_shape_raises_instead_of_truncating(make):
    with pytest.raises(TypeError, match=r"shape must hold integers, got \(2\.5, 3\)"):
        make((2.5, 3))
    with pytest.raises(ValueError, match="negative dimensions"):
        make((2, -1))
    assert make(np.int64(3)).shape == (3,)


def test_one_hot_negative_depth_raises():
    idx = mnp.array([0, 1], dtype="int32")
    with pytest.raises(ValueError, match="depth must be a non-negative"):
        mx.npx.one_hot(idx, -1)
    np.testing.assert_array_equal(mx.npx.one_hot(idx, 3).asnumpy(), np.eye(3)[:2])


@pytest.mark.parametrize("layer, layout, hint", [
    (gluon.rnn.LSTM, "TNC", r"expand_dims\(x, 1\)"), (gluon.rnn.GRU, "NTC", r"expand_dims\(x, 0\)"),
    (gluon.rnn.RNN, "TNC", r"expand_dims\(x, 1\)")])
def test_rnn_layer_refuses_a_2d_input(layer, layout, hint):
    net = layer(4, layout=layout)
    net.initialize()
    with pytest.raises(ValueError, match=rf"3-d input in layout {layout}.*\(5, 3\).*{hint}"):
        net(mnp.ones((5, 3)))


@pytest.mark.parametrize("in_units", [0, 4])
def test_dense_on_an_empty_batch(in_units):
    net = gluon.nn.Dense(3, in_units=in_units)
    net.initialize()
    x = mnp.ones((0, 2, 2))
    x.attach_grad()
    with autograd.record():
        y = net(x)
        y.sum().backward()
    assert y.shape == (0, 3) and x.grad.shape == (0, 2, 2)
    np.testing.assert_array_equal(net.weight.grad().asnumpy(), np.zeros((3, 4)))
    assert gluon.nn.Flatten()(mnp.ones((0, 2, 3))).shape == (0, 6)


@pytest.mark.parametrize("batch_size", [0, -2, None, "8"])
def test_trainer_step_refuses_a_bad_batch_size_and_changes_nothing(batch_size):
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    before = net.weight.data().asnumpy().copy()
    with autograd.record():
        net(mnp.ones((4, 3))).sum().backward()
    with pytest.raises(ValueError, match=r"batch_size must be the positive number.*data\.shape\[0\]"):
        trainer.step(batch_size)
    np.testing.assert_array_equal(net.weight.data().asnumpy(), before)
    trainer.step(4)  # the refused call did not consume the fresh gradients
    assert not np.array_equal(net.weight.data().asnumpy(), before)


@pytest.mark.parametrize("subscripts, match", [
    ("ij,jk->q", r"'q' appears in no input"), ("ij,jk->ii", r"at most once"),
    ("ij,jk->i.", r"at most once")])
def test_einsum_bad_output_names_the_letters(subscripts, match):
    a = mnp.ones((2, 2))
    with pytest.raises(ValueError, match=match):
        mnp.einsum(subscripts, a, a)


def test_tile_negative_reps_raises():
    a = mnp.ones((2,))
    with pytest.raises(ValueError, match=r"reps must be non-negative, got \(-1,\)"):
        mnp.tile(a, -1)
    with pytest.raises(ValueError, match="non-negative"):
        mnp.tile(a, (2, -1))
    assert mnp.tile(a, (2, 0)).shape == (2, 0)


def test_gluon1_block_naming_and_symbol_blocks_are_refused_with_the_2x_way():
    class Passes(mx.gluon.HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

    with pytest.raises(TypeError, match=r"prefix= is MXNet 1.x's Block naming.*"
                                        r"share_parameters"):
        Passes(prefix="dense_")
    with pytest.raises(TypeError, match=r"params= and prefix= are"):
        Passes(prefix="dense_", params=None)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['units'\]"):
        Passes(units=3)

    class Symbolic(mx.gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return x

    with pytest.raises(TypeError, match="implement forward"):
        Symbolic()
