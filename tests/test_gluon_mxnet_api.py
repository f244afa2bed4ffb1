"""MXNet 2.x gluon behaviour that MXNet's own test_gluon.py checks: the test-API helpers,
model-zoo download keywords, hybridized-call input rules, warnings and errors MXNet gives,
ReflectionPad2D, initializer equality."""
import os
import warnings

import numpy as onp
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import nn
from mxlite.gluon.model_zoo import vision
from mxlite.testing import mxnet_alias


# -- test API ----------------------------------------------------------------------------

def test_py_str_and_assert_allclose():
    assert mx.base.py_str(b"caf\xc3\xa9") == "café"
    mx.test_utils.assert_allclose(mx.np.array([1.0, 2.0]), onp.array([1.0, 2.0]))
    with pytest.raises(AssertionError):
        mx.test_utils.assert_allclose(mx.np.array([1.0]), onp.array([1.001]))  # rtol 1e-7


def test_environment_sets_unsets_and_restores_on_error():
    os.environ["MXLITE_T_KEEP"] = "old"
    os.environ.pop("MXLITE_T_NEW", None)
    try:
        with pytest.raises(RuntimeError):
            with mx.test_utils.environment({"MXLITE_T_KEEP": None, "MXLITE_T_NEW": "1"}):
                assert "MXLITE_T_KEEP" not in os.environ and os.environ["MXLITE_T_NEW"] == "1"
                raise RuntimeError
        assert os.environ["MXLITE_T_KEEP"] == "old" and "MXLITE_T_NEW" not in os.environ
        with mx.test_utils.environment("MXLITE_T_KEEP", "new"):
            assert os.environ["MXLITE_T_KEEP"] == "new"
        assert os.environ["MXLITE_T_KEEP"] == "old"
    finally:
        os.environ.pop("MXLITE_T_KEEP", None)


@pytest.fixture
def alias():
    mxnet_alias.install()
    yield
    mxnet_alias.uninstall()


def test_harness_common_environment_and_storage_ids(alias):
    from common import environment, with_environment
    from mxnet.ndarray.ndarray import _STORAGE_TYPE_STR_TO_ID

    @with_environment("MXLITE_T_DECO", "2")
    def read():
        return os.environ["MXLITE_T_DECO"]
    assert read() == "2" and "MXLITE_T_DECO" not in os.environ
    with environment("MXLITE_T_DECO", "3"):
        assert os.environ["MXLITE_T_DECO"] == "3"
    assert _STORAGE_TYPE_STR_TO_ID == {"undefined": -1, "default": 0, "row_sparse": 1, "csr": 2}


def test_top_level_util_aliases_and_stype():
    assert mx.np_shape is mx.util.np_shape and mx.use_np is mx.util.use_np
    with mx.np_shape(True), mx.np_array(True):
        assert mx.is_np_shape() and mx.is_np_array()
    assert mx.np.ones((2, 3)).stype == "default"


def test_gpu_unavailable_is_an_mxnet_error():
    assert issubclass(mx.base.GPUUnavailableError, mx.base.MXNetError)


# -- model zoo ---------------------------------------------------------------------------

def test_model_zoo_takes_mxnets_download_keywords():
    net = vision.get_resnet(1, 18, pretrained=False, device=mx.cpu(), root="/nonexistent")
    assert isinstance(net, vision.ResNetV1)
    # device and root only matter for pretrained weights, as in MXNet: nothing is placed yet
    assert all(p._data is None for p in net.collect_params().values())
    for build in (vision.resnet18_v2, vision.alexnet, vision.vgg11_bn, vision.densenet121,
                  vision.squeezenet1_1, vision.mobilenet0_25, vision.mobilenet_v2_0_25,
                  vision.inception_v3):
        build(pretrained=False, device=mx.cpu(), root="x", ctx=mx.cpu(), classes=7)
        with pytest.raises(ValueError, match="does not download.*load_parameters"):
            build(pretrained=True)
    net = vision.get_model("vgg11_bn", device=mx.cpu(), classes=3)
    assert any("running_mean" in name for name in net.collect_params())  # batch_norm kept


# -- hybridized calls --------------------------------------------------------------------

class _Add(gluon.HybridBlock):
    def forward(self, a, b=None):
        return a if b is None else a + b


def test_hybridized_call_keeps_its_first_argument_structure():
    x = mx.np.ones((3,))
    f = _Add()
    f.hybridize()
    assert f(x, None).asnumpy().tolist() == [1.0] * 3
    assert f(x).asnumpy().tolist() == [1.0] * 3  # a trailing None left to its default
    with pytest.raises(ValueError, match=r"does not match the cached version. Stored format = "
                                         r"\[0, -1\], input format = \[0, 0\]"):
        f(x, x)
    f.hybridize()  # starts over
    assert f(x, x).asnumpy().tolist() == [2.0] * 3
    with pytest.raises(ValueError, match="input format = \\[\\[0, 0\\], 0\\]"):
        f([x, x], x)


def test_hybridized_call_rejects_python_scalars():
    x = mx.np.ones((3,))
    f = _Add()
    assert f(x, 1).asnumpy().tolist() == [2.0] * 3  # imperative: any argument
    f.hybridize()
    with pytest.raises(ValueError, match="list of ndarray or None, but got 1 of type"):
        f(x, 1)
    with pytest.raises(ValueError, match="at least one input must be an ndarray"):
        f(None, None)


# -- layers ------------------------------------------------------------------------------

def test_layernorm_wrong_in_channels_is_value_and_assertion_error():
    layer = nn.LayerNorm(in_channels=10)
    layer.initialize()
    with pytest.raises(AssertionError, match=r"\(10,\) does not match 11 channels.*\(2, 11\)"):
        layer(mx.np.ones((2, 11)))
    with pytest.raises(ValueError, match="in_channels=11"):
        layer(mx.np.ones((2, 11)))


@pytest.mark.parametrize("hybridize", [False, True])
def test_reflection_pad2d_matches_numpy_pad_and_its_gradient(hybridize):
    host = onp.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype("float32")
    pad = (0, 0, 0, 0, 1, 2, 3, 1)  # MXNet's pad_width: top 1, bottom 2, left 3, right 1
    widths = ((0, 0), (0, 0), (1, 2), (3, 1))
    layer = nn.ReflectionPad2D(pad)
    if hybridize:
        layer.hybridize()
    weights = onp.random.default_rng(1).standard_normal((2, 3, 7, 9)).astype("float32")
    x = mx.np.array(host)
    x.attach_grad()
    with autograd.record():
        y = layer(x)
        (y * mx.np.array(weights)).sum().backward()
    onp.testing.assert_allclose(y.asnumpy(), onp.pad(host, widths, mode="reflect"))
    # d/dx of sum(w * pad(x)): each padded cell sends its weight to the cell it reflects
    index = onp.pad(onp.arange(host.size).reshape(host.shape), widths, mode="reflect")
    expected = onp.bincount(index.ravel(), weights.ravel(), host.size).reshape(host.shape)
    onp.testing.assert_allclose(x.grad.asnumpy(), expected, rtol=1e-5, atol=1e-6)
    assert nn.ReflectionPad2D(3)(x).shape == (2, 3, 10, 11)


def test_reflection_pad2d_rejects_padding_on_batch_or_channels():
    with pytest.raises(ValueError, match="0 for N and C"):
        nn.ReflectionPad2D((0, 0, 1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) input"):
        nn.ReflectionPad2D(1)(mx.np.ones((3, 4)))


# -- warnings and errors MXNet gives -----------------------------------------------------

def test_collect_params_warns_about_blocks_in_plain_containers():
    class InList(gluon.Block):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Dense(2), nn.Dense(3)]

    class Data(gluon.Block):
        def __init__(self):
            super().__init__()
            self.data = {"a": "4", "b": [123]}
            self.seq = nn.Sequential()
            self.seq.add(nn.Dense(2))
    with pytest.warns(UserWarning, match=r'"InList.layers" is an unregistered container with '
                                         r"Blocks.*register_child\(\).*nn.Sequential"):
        assert InList().collect_params() == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Data().collect_params()


def test_sequential_of_hybrid_blocks_warns_on_hybridize():
    net = nn.Sequential()
    net.add(nn.Dense(2))
    with pytest.warns(UserWarning, match="are HybridBlocks. Consider using HybridSequential"):
        net.hybridize()
    net.add(gluon.Block())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.hybridize()


def test_summary_refuses_a_hybridized_block(capsys):
    net = nn.HybridSequential()
    net.add(nn.Dense(2, in_units=3))
    net.initialize()
    net.summary(mx.np.ones((1, 3)))
    assert "Total params: 8" in capsys.readouterr().out
    net.hybridize()
    with pytest.raises(AssertionError, match='"Dense" must not be hybridized to print summary'):
        net.summary(mx.np.ones((1, 3)))


def test_initializers_compare_by_type_and_arguments():
    assert mx.init.Constant(-10.0) == mx.init.Constant(-10.0)
    assert mx.init.Constant(onp.ones(2)) == mx.init.Constant(mx.np.ones(2))
    assert mx.init.Constant(1.0) != mx.init.One()
    assert mx.init.Xavier() != mx.init.Xavier(magnitude=2)
    assert len({mx.init.Normal(0.1), mx.init.Normal(0.1), mx.init.Normal(0.2)}) == 2


def test_symbol_block_repr_is_mxnets_three_lines(tmp_path):
    net = nn.HybridSequential()
    net.add(nn.Dense(2, in_units=3), nn.Activation("relu"))
    net.initialize()
    net.hybridize()
    net(mx.np.ones((1, 3)))
    symbol_file, params_file = net.export(str(tmp_path / "net"))
    lines = str(gluon.SymbolBlock.imports(symbol_file, ["data"], params_file)).splitlines()
    assert lines[0] == "SymbolBlock(" and lines[2] == ")"
    assert lines[1].endswith("over data> : 1 -> 1")
