"""MXNet 2.x gluon pieces: pixel shuffle, concatenation, 3-D layers, triplet and SDML losses,
download, and the recurrent cell API (unroll, stacking, bidirectional, modifiers)."""
import hashlib
import os

import numpy as onp
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.test_utils import check_gradient

mnp, nn, rnn = mx.np, gluon.nn, gluon.rnn
RNG = onp.random.default_rng(5)


def test_pixel_shuffle_places_channel_groups_row_major():
    x = onp.arange(2 * 12 * 2 * 3, dtype=onp.float64).reshape(2, 12, 2, 3)
    got = nn.PixelShuffle2D((2, 3))(mnp.array(x, dtype="float64")).asnumpy()
    want = onp.zeros((2, 2, 4, 9))
    for c in range(2):
        for i in range(2):
            for j in range(3):
                want[:, c, i::2, j::3] = x[:, c * 6 + i * 3 + j]
    onp.testing.assert_array_equal(got, want)
    x1 = onp.arange(8.0).reshape(1, 4, 2)
    onp.testing.assert_array_equal(nn.PixelShuffle1D(2)(mnp.array(x1)).asnumpy(),
                                   [[[0, 2, 1, 3], [4, 6, 5, 7]]])
    assert nn.PixelShuffle3D(2)(mnp.ones((1, 16, 1, 2, 3))).shape == (1, 2, 2, 4, 6)
    with pytest.raises(ValueError, match=r"C\*4"):
        nn.PixelShuffle2D(2)(mnp.ones((1, 3, 2, 2)))
    check_gradient(lambda a: nn.PixelShuffle2D(2)(a) ** 2, RNG.standard_normal((1, 4, 2, 3)))


def test_concatenate_runs_branches_on_one_input():
    for cls in (nn.Concatenate, nn.HybridConcatenate):
        net = cls(axis=1)
        net.add(nn.Dense(3, in_units=5), nn.Identity())
        net.initialize()
        x = mnp.array(RNG.standard_normal((4, 5)))
        dense = next(iter(net._children.values()))
        want = onp.concatenate([dense(x).asnumpy(), x.asnumpy()], axis=1)
        onp.testing.assert_allclose(net(x).asnumpy(), want, rtol=1e-6)
        assert len(net) == 2


def test_three_d_transpose_conv_and_global_pools():
    t = nn.Conv3DTranspose(4, 2, in_channels=2)
    t.initialize()
    assert t(mnp.ones((1, 2, 3, 3, 3))).shape == (1, 4, 4, 4, 4)
    assert t.weight.shape == (2, 4, 2, 2, 2)
    x = RNG.standard_normal((2, 3, 2, 3, 4))
    onp.testing.assert_allclose(nn.GlobalAvgPool3D()(mnp.array(x)).asnumpy(),
                                x.mean(axis=(2, 3, 4), keepdims=True), rtol=1e-6)
    onp.testing.assert_allclose(nn.GlobalMaxPool3D()(mnp.array(x)).asnumpy(),
                                x.max(axis=(2, 3, 4), keepdims=True), rtol=1e-6)


def test_triplet_loss_hand_computed():
    pred = mnp.array([[1.0, 2.0], [0.0, 1.0]])
    pos = mnp.array([[3.0, 2.0], [0.0, 0.0]])
    neg = mnp.array([[1.0, 1.0], [0.0, 3.0]])
    # row 0: |p-pos|^2 = 4, |p-neg|^2 = 1 -> 4 - 1 + 1 = 4; row 1: 1 - 4 + 1 < 0 -> 0
    onp.testing.assert_allclose(gluon.loss.TripletLoss()(pred, pos, neg).asnumpy(), [4, 0])
    onp.testing.assert_allclose(gluon.loss.TripletLoss(margin=4)(pred, pos, neg).asnumpy(),
                                [7, 1])


def test_sdml_loss_matches_its_definition():
    x1, x2 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    d = ((x1[:, None] - x2[None]) ** 2).sum(-1)
    logp = -d - onp.log(onp.exp(-d).sum(1, keepdims=True))
    labels = onp.eye(3) * 0.7 + (1 - onp.eye(3)) * 0.3 / 2
    want = (labels * (onp.log(labels + 1e-12) - logp)).mean(1)
    got = gluon.loss.SDMLLoss()(mnp.array(x1, dtype="float64"), mnp.array(x2, dtype="float64"))
    onp.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6)
    check_gradient(lambda a, b: gluon.loss.SDMLLoss()(a, b), x1, x2)


def test_download_from_a_file_url_checks_sha1_and_never_leaves_partials(tmp_path):
    src = tmp_path / "weights.bin"
    src.write_bytes(b"abc" * 1000)
    digest = hashlib.sha1(b"abc" * 1000).hexdigest()
    got = gluon.utils.download(src.as_uri(), path=str(tmp_path / "cache") + os.sep,
                               sha1_hash=digest)
    assert open(got, "rb").read() == b"abc" * 1000
    assert gluon.utils.check_sha1(got, digest[:8]) and not gluon.utils.check_sha1(got, "0" * 40)
    target = tmp_path / "other.bin"
    with pytest.raises(UserWarning, match="does not match its SHA-1"):
        gluon.utils.download(src.as_uri(), path=str(target), sha1_hash="0" * 40, retries=1)
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir()) == \
        ["cache", "weights.bin"]
    with pytest.raises(RuntimeError, match="copy the file"):
        gluon.utils.download((tmp_path / "missing.bin").as_uri(), path=str(tmp_path), retries=2)


def test_test_utils_download_takes_mxnets_fname_and_dirname(tmp_path):
    src = tmp_path / "images.tar.gz"
    src.write_bytes(b"xyz")
    data = tmp_path / "data"
    got = mx.test_utils.download(src.as_uri(), dirname=str(data))
    assert got == str(data / "images.tar.gz") and open(got, "rb").read() == b"xyz"
    src.write_bytes(b"new")
    assert open(mx.test_utils.download(src.as_uri(), dirname=str(data)), "rb").read() == b"xyz"
    got = mx.test_utils.download(src.as_uri(), fname=str(tmp_path / "x.bin"), overwrite=True)
    assert open(got, "rb").read() == b"new"


def _copy_cell_into_layer(cell, layer):
    """The cell's four parameters, in rnn_param's order (weights, then biases)."""
    pieces = [getattr(cell, name).data().reshape(-1)
              for name in ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias")]
    layer.rnn_param.set_data(mnp.concatenate(pieces))


@pytest.mark.parametrize("cell_cls, layer_cls, extra", [
    (rnn.LSTMCell, rnn.LSTM, {}), (rnn.GRUCell, rnn.GRU, {}),
    (rnn.RNNCell, rnn.RNN, {"activation": "tanh"})])  # the layer's default is relu, the cell's tanh
def test_cell_unroll_equals_the_fused_layer(cell_cls, layer_cls, extra):
    cell, layer = cell_cls(4, input_size=3), layer_cls(4, input_size=3, layout="NTC", **extra)
    cell.initialize()
    layer.initialize()
    _copy_cell_into_layer(cell, layer)
    x = mnp.array(RNG.standard_normal((2, 5, 3)))
    out, states = cell.unroll(5, x, merge_outputs=True)
    onp.testing.assert_allclose(out.asnumpy(), layer(x).asnumpy(), rtol=1e-5, atol=1e-6)
    steps, _ = cell.unroll(5, [x[:, t] for t in range(5)])
    assert isinstance(steps, list) and len(steps) == 5
    with pytest.raises(ValueError, match="use unroll"):
        cell(x, cell.begin_state(2))


def test_valid_length_masks_outputs_and_keeps_last_valid_states():
    cell = rnn.LSTMCell(4, input_size=3)
    cell.initialize()
    x = mnp.array(RNG.standard_normal((2, 5, 3)))
    out, states = cell.unroll(5, x, merge_outputs=True, valid_length=mnp.array([3, 5]))
    short_out, short_states = cell.unroll(3, x[:1, :3], merge_outputs=True)
    assert onp.abs(out.asnumpy()[0, 3:]).sum() == 0
    onp.testing.assert_allclose(out.asnumpy()[0, :3], short_out.asnumpy()[0], rtol=1e-5)
    for s, t in zip(states, short_states):
        onp.testing.assert_allclose(s.asnumpy()[0], t.asnumpy()[0], rtol=1e-5)


def test_bidirectional_cell_reverses_within_each_length():
    left, right = rnn.GRUCell(3, input_size=2), rnn.GRUCell(3, input_size=2)
    bi = rnn.BidirectionalCell(left, right)
    bi.initialize()
    x = mnp.array(RNG.standard_normal((2, 4, 2)))
    out, states = bi.unroll(4, x, merge_outputs=True, valid_length=mnp.array([2, 4]))
    assert out.shape == (2, 4, 6) and len(states) == 2
    r_out, _ = right.unroll(2, x[:1, 1::-1], merge_outputs=True)  # sequence 0 reversed
    onp.testing.assert_allclose(out.asnumpy()[0, :2, 3:], r_out.asnumpy()[0, ::-1], rtol=1e-5)
    l_out, _ = left.unroll(4, x[1:], merge_outputs=True)
    onp.testing.assert_allclose(out.asnumpy()[1, :, :3], l_out.asnumpy()[0], rtol=1e-5)
    with pytest.raises(NotImplementedError, match="use unroll"):
        bi(x[:, 0], bi.begin_state(2))


def test_sequential_and_modifier_cells():
    inner = rnn.LSTMCell(3, input_size=3)
    seq = rnn.HybridSequentialRNNCell()
    seq.add(inner)
    seq.add(rnn.ResidualCell(rnn.GRUCell(3, input_size=3)))
    seq.add(rnn.DropoutCell(0.5))
    seq.initialize()
    x = mnp.array(RNG.standard_normal((2, 4, 3)))
    out, states = seq.unroll(4, x, merge_outputs=True)
    assert [s.shape for s in states] == [(2, 3)] * 3
    h, _ = inner.unroll(4, x, merge_outputs=True)
    g, _ = seq[1].base_cell.unroll(4, h, merge_outputs=True)
    onp.testing.assert_allclose(out.asnumpy(), (g + h).asnumpy(), rtol=1e-5)  # no dropout here
    base = rnn.LSTMCell(3, input_size=3)
    base.initialize()
    plain, _ = base.unroll(4, x, merge_outputs=True)
    for wrapped in (rnn.ZoneoutCell(base, 0.5, 0.5), rnn.VariationalDropoutCell(base, .5, .5, .5)):
        onp.testing.assert_allclose(wrapped.unroll(4, x, merge_outputs=True)[0].asnumpy(),
                                    plain.asnumpy(), rtol=1e-6)  # inference: the base cell


def test_variational_dropout_keeps_one_mask_per_sequence():
    cell = rnn.VariationalDropoutCell(rnn.DropoutCell(0.0), drop_outputs=0.5)
    x = mnp.ones((64, 6, 8))
    with autograd.record():
        out, _ = cell.unroll(6, x, merge_outputs=True)
    kept = out.asnumpy() != 0
    assert 0.2 < kept.mean() < 0.8
    assert (kept == kept[:, :1]).all()  # the same units dropped at every step


def test_lstmp_cell_projects_its_state():
    cell = rnn.LSTMPCell(4, 2, input_size=3)
    cell.initialize()
    x = RNG.standard_normal((2, 3))
    r0, c0 = RNG.standard_normal((2, 2)), RNG.standard_normal((2, 4))
    out, (r, c) = cell(mnp.array(x), [mnp.array(r0), mnp.array(c0)])
    p = {k: getattr(cell, k).data().asnumpy() for k in
         ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias", "h2r_weight")}
    gates = x @ p["i2h_weight"].T + p["i2h_bias"] + r0 @ p["h2h_weight"].T + p["h2h_bias"]
    sig = lambda v: 1 / (1 + onp.exp(-v))  # noqa: E731
    i, f, g, o = (gates[:, k * 4:(k + 1) * 4] for k in range(4))
    c_want = sig(f) * c0 + sig(i) * onp.tanh(g)
    r_want = (sig(o) * onp.tanh(c_want)) @ p["h2r_weight"].T
    onp.testing.assert_allclose(c.asnumpy(), c_want, rtol=1e-5)
    onp.testing.assert_allclose(out.asnumpy(), r_want, rtol=1e-5)
    assert [s["shape"] for s in cell.state_info(2)] == [(2, 2), (2, 4)]


def test_lstm_cell_recurrent_activation():
    cell = rnn.LSTMCell(2, input_size=2, recurrent_activation="tanh", activation="relu")
    cell.initialize()
    out, _ = cell(mnp.ones((1, 2)), cell.begin_state(1))
    assert out.shape == (1, 2)


def test_sequence_last_picks_each_last_valid_step():
    x = onp.arange(24.0).reshape(4, 2, 3)
    got = mx.npx.sequence_last(mnp.array(x), mnp.array([2, 4]), True, axis=0)
    onp.testing.assert_array_equal(got.asnumpy(), [x[1, 0], x[3, 1]])
    got = mx.npx.sequence_last(mnp.array(x.transpose(1, 0, 2)), mnp.array([2, 4]), True, axis=1)
    onp.testing.assert_array_equal(got.asnumpy(), [x[1, 0], x[3, 1]])
    onp.testing.assert_array_equal(mx.npx.sequence_last(mnp.array(x)).asnumpy(), x[-1])
    with pytest.raises(ValueError, match=r"in \[1, 4\]"):
        mx.npx.sequence_last(mnp.array(x), mnp.array([0, 4]), True)
    check_gradient(lambda a: mx.npx.sequence_last(a, mnp.array([2, 4]), True, 0), x)


def test_fused_layers_hold_one_rnn_param_in_cudnn_layout():
    layer = rnn.LSTM(10)
    layer.initialize()
    layer(mnp.ones((3, 2, 7)))
    assert list(layer.collect_params()) == ["rnn_param"]
    assert layer.rnn_param.shape == (760,)  # 40*7 + 40*10 + 2*40, as MXNet's
    gru = rnn.GRU(3, num_layers=2, bidirectional=True, input_size=2,
                  i2h_weight_initializer="ones", h2h_bias_initializer=mx.init.Constant(2.0))
    gru.initialize(mx.init.Normal(0.1))
    pieces = gru._unfuse(gru.rnn_param.data().asnumpy())
    assert list(pieces)[:4] == ["l0_i2h_weight", "l0_h2h_weight", "r0_i2h_weight",
                                "r0_h2h_weight"]
    assert pieces["r1_i2h_weight"].shape == (9, 6) and (pieces["l1_i2h_weight"] == 1).all()
    assert (pieces["l0_h2h_bias"] == 2).all() and (pieces["r1_i2h_bias"] == 0).all()
    assert 0 < onp.abs(pieces["l1_h2h_weight"]).std() < 0.2  # the global Normal(0.1)
    with pytest.raises(ValueError, match="do not make an rnn_param"):
        gru._unfuse(onp.zeros(7))
