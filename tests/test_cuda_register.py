"""The kernel-backed GPU implementations (mxlite.cuda.register), built on the CPU executor and
numpy instead of CuPy, called directly and compared with the ops' generic CPU implementations:
same outputs, aux and gradients (float32, rtol 1e-5), and the generic path for every call a
kernel does not cover. Nothing is registered onto the real ops' CPU implementations.
"""
import subprocess
import sys

import numpy as np
import pytest

import mxlite as mx
from mxlite.autograd import registered_op, sum_to
from mxlite.backend import CPU, GPU
from mxlite.cuda import bind, philox, register
from mxlite.ops import conv as conv_ops
from mxlite.ops import gpu_kernels
from mxlite.ops import elemwise as elemwise_ops
from mxlite.ops import nn as nn_ops
from mxlite.ops import norm as norm_ops
from mxlite.test_utils import gpu_unusable_reason
from mxlite.testing import cudasim

_usable, _why = cudasim.available()
pytestmark = pytest.mark.skipif(not _usable, reason=f"CPU CUDA executor unavailable: {_why}")

F32 = dict(rtol=1e-5, atol=1e-6)
module_for = cudasim.kernel_module


class Kernels:
    """The implementations bound to the CPU executor, logging which wrappers and which generic
    fallbacks ran."""

    def __init__(self):
        self.log = []
        self.impls = register.kernel_implementations(self.run, self.generic)

    def run(self, wrapper):
        bound = bind(wrapper, module_for, np)

        def call(*args, **kwargs):
            self.log.append(wrapper.__name__)
            return bound(*args, **kwargs)
        return call

    def generic(self, name):
        op = registered_op(name)
        forward, backward = op.forward_impls[CPU], op.backward_impls[CPU]

        def logged_forward(*args, **kwargs):
            self.log.append(f"generic {op.name}")
            return forward(*args, **kwargs)

        def logged_backward(*args, **kwargs):
            self.log.append(f"generic {op.name} backward")
            return backward(*args, **kwargs)
        return logged_forward, logged_backward

    def forward(self, op):
        forward = self.impls.get(op.name, (None, None))[0]
        return forward or op.forward_impls[CPU]

    def backward(self, op):
        backward = self.impls.get(op.name, (None, None))[1]
        return backward or op.backward_impls[CPU]


def generic_forward(op):
    return op.forward_impls[CPU]


@pytest.fixture(scope="module")
def kernels():
    return Kernels()


@pytest.fixture
def rng():
    return np.random.default_rng(7)


class Ctx:
    """What the engine's raw context gives a backward; ``call`` runs helper ops through
    ``forward_of`` (the kernel implementations, or the generic ones)."""

    def __init__(self, forward_of, inputs, params, out, aux):
        self.xp = np
        self.inputs = list(inputs)
        self.params = params
        self.out = out
        self.aux = aux
        self.need = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in inputs]
        self._forward_of = forward_of

    def call(self, op, *args, **params):
        res = self._forward_of(op)(np, *args, **params)
        return res[0] if op.has_aux else res


def forward_backward(op, forward_of, backward, inputs, params, head):
    """(output, aux, input gradients summed to the inputs' shapes) as the engine would get them."""
    res = forward_of(op)(np, *inputs, **params)
    aux = None
    if op.has_aux:
        res, aux = res
    grads = backward(Ctx(forward_of, inputs, params, res if op.save_out else None, aux), head)
    grads = [None if g is None else sum_to(np.asarray(g), a.shape) for g, a in zip(grads, inputs)]
    return res, aux, grads


def heads_for(op, output, rng):
    if op.nout == 1:
        return rng.standard_normal(output.shape).astype(output.dtype)
    return (rng.standard_normal(output[0].shape).astype(output[0].dtype),) + (None,) * (op.nout - 1)


def assert_same(actual, expected, tol=F32):
    if expected is None:
        assert actual is None
        return
    if isinstance(expected, (tuple, list)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_same(a, e, tol)
        return
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), **tol)


def check(kernels, op, inputs, params, rng, uses=(), tol=F32):
    """Kernel implementation == generic one in output, aux and gradients; ``uses`` lists the
    wrappers that must have run (none means the call must have fallen back)."""
    expected = generic_forward(op)(np, *inputs, **params)
    head = heads_for(op, expected[0] if op.has_aux else expected, rng)
    kernels.log.clear()
    got = forward_backward(op, kernels.forward, kernels.backward(op), inputs, params, head)
    want = forward_backward(op, generic_forward, op.backward_impls[CPU], inputs, params, head)
    assert_same(got[0], want[0], tol)
    if op.has_aux and got[1] is not None:  # None: a kernel that keeps no cache (convolution)
        np.testing.assert_array_equal(got[1], want[1])
        assert got[1].dtype == want[1].dtype
    assert_same(got[2], want[2], tol)
    for name in uses:
        assert name in kernels.log, f"{name} did not run; ran {kernels.log}"
    if not uses:
        assert not [entry for entry in kernels.log if not entry.startswith("generic")], kernels.log
    return kernels.log


def normal(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ---- activations ----

ACTIVATION_KERNELS = ("activation_forward", "activation_backward")


@pytest.mark.parametrize("op", [nn_ops._relu, nn_ops._sigmoid, elemwise_ops.tanh.op], ids=lambda o: o.name)
def test_unary_activations_match(kernels, rng, op):
    check(kernels, op, [normal(rng, 3, 37)], {}, rng, uses=ACTIVATION_KERNELS)


@pytest.mark.parametrize("act_type", ["relu", "sigmoid", "tanh", "silu"])
def test_activation_matches(kernels, rng, act_type):
    check(kernels, nn_ops._activation, [normal(rng, 2, 3, 11)], {"act_type": act_type}, rng,
          uses=ACTIVATION_KERNELS)


@pytest.mark.parametrize("act_type", ["leaky", "gelu", "gelu_tanh"])
def test_leaky_relu_family_matches(kernels, rng, act_type):
    check(kernels, nn_ops._leaky_relu, [normal(rng, 4, 29), None], {"act_type": act_type, "slope": 0.1},
          rng, uses=ACTIVATION_KERNELS)


def test_activations_without_a_kernel_fall_back(kernels, rng):
    check(kernels, nn_ops._activation, [normal(rng, 3, 5)], {"act_type": "softrelu"}, rng)
    check(kernels, nn_ops._leaky_relu, [normal(rng, 3, 5), None], {"act_type": "elu", "slope": 0.3}, rng)
    gamma = np.full((1, 5), 0.2, np.float32)
    check(kernels, nn_ops._leaky_relu, [normal(rng, 3, 5), gamma], {"act_type": "prelu", "slope": 0.25}, rng)
    check(kernels, nn_ops._relu, [normal(rng, 3, 5, dtype=np.float64)], {}, rng)
    check(kernels, nn_ops._relu, [np.zeros((0, 4), np.float32)], {}, rng)


# ---- softmax ----

@pytest.mark.parametrize("op", [nn_ops._softmax, nn_ops._log_softmax], ids=lambda o: o.name)
@pytest.mark.parametrize("axis", [-1, 2])
def test_softmax_last_axis_matches(kernels, rng, op, axis):
    check(kernels, op, [normal(rng, 2, 3, 40)], {"axis": axis, "temperature": None}, rng,
          uses=("softmax_forward", "softmax_backward"))


@pytest.mark.parametrize("op", [nn_ops._softmax, nn_ops._log_softmax], ids=lambda o: o.name)
def test_softmax_other_axis_or_temperature_falls_back(kernels, rng, op):
    check(kernels, op, [normal(rng, 4, 6)], {"axis": 0, "temperature": None}, rng)
    check(kernels, op, [normal(rng, 4, 6)], {"axis": -1, "temperature": 2.0}, rng)


# ---- dropout ----

def test_dropout_mask_is_philox_and_backward_regenerates_it(kernels, rng):
    x = normal(rng, 5, 13)
    p, seed = 0.3, 12345
    y, mask = kernels.forward(nn_ops._dropout)(np, x, p, (), seed)
    keep = philox.dropout_mask(x.shape, p, seed, 0)
    scale = np.float32(1 / (1 - p))
    np.testing.assert_array_equal(y, np.where(keep, x * scale, 0))
    assert isinstance(mask, register.PhiloxMask)
    g = normal(rng, 5, 13)
    kernels.log.clear()
    gx = kernels.backward(nn_ops._dropout)(Ctx(kernels.forward, [x, p, (), seed], {}, None, mask), g)[0]
    np.testing.assert_array_equal(gx, np.where(keep, g * scale, 0))
    assert "dropout_backward" in kernels.log and "dropout_forward" not in kernels.log


def test_dropout_mask_reads_as_the_generic_aux(kernels, rng):
    """The generic backward (create_graph=True) multiplies by the aux: it must see the mask."""
    x = normal(rng, 4, 9)
    y, mask = kernels.forward(nn_ops._dropout)(np, x, 0.5, (), 99)
    g = normal(rng, 4, 9)
    want = kernels.backward(nn_ops._dropout)(Ctx(kernels.forward, [x, 0.5, (), 99], {}, None, mask), g)[0]
    generic = nn_ops._dropout.backward(Ctx(generic_forward, [x, 0.5, (), 99], {}, None, mask), g)[0]
    np.testing.assert_array_equal(generic, want)
    through_ndarray = (mx.np.array(g) * mask).asnumpy()
    np.testing.assert_array_equal(through_ndarray, want)
    assert np.asarray(mask).dtype == x.dtype and set(np.unique(np.asarray(mask))) <= {0.0, 2.0}


def test_dropout_shared_axes_or_p_one_fall_back(kernels, rng):
    x = normal(rng, 4, 6)
    for p, axes in ((0.5, (0,)), (1.0, ())):
        kernels.log.clear()
        y, mask = kernels.forward(nn_ops._dropout)(np, x, p, axes, 5)
        want_y, want_mask = generic_forward(nn_ops._dropout)(np, x, p, axes, 5)
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(mask, want_mask)
        assert kernels.log == ["generic dropout"]


# ---- normalization ----

def test_layer_norm_matches(kernels, rng):
    x = normal(rng, 3, 4, 24)
    gamma, beta = normal(rng, 1, 1, 24), normal(rng, 1, 1, 24)
    check(kernels, norm_ops._normalize, [x, gamma, beta], {"axes": (2,), "eps": 1e-5, "fix_gamma": False},
          rng, uses=("layer_norm_forward", "layer_norm_backward"))
    check(kernels, norm_ops._normalize, [x, None, None], {"axes": (2,), "eps": 1e-5, "fix_gamma": False},
          rng, uses=("layer_norm_forward", "layer_norm_backward"))


@pytest.mark.parametrize("fix_gamma", [False, True])
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (16, 5)])
def test_batch_norm_training_matches(kernels, rng, shape, fix_gamma):
    x = normal(rng, *shape) * 2 + 1
    param_shape = (1, shape[1]) + (1,) * (len(shape) - 2)
    gamma, beta = normal(rng, *param_shape), normal(rng, *param_shape)
    axes = (0,) + tuple(range(2, len(shape)))
    check(kernels, norm_ops._normalize, [x, gamma, beta], {"axes": axes, "eps": 1e-3, "fix_gamma": fix_gamma},
          rng, uses=("batch_norm_forward", "batch_norm_backward"))


@pytest.mark.parametrize("fix_gamma", [False, True])
def test_batch_norm_inference_matches(kernels, rng, fix_gamma):
    x = normal(rng, 3, 4, 5, 5)
    gamma, beta, mean = (normal(rng, 1, 4, 1, 1) for _ in range(3))
    var = rng.uniform(0.5, 2.0, (1, 4, 1, 1)).astype(np.float32)
    check(kernels, norm_ops._normalize_global, [x, gamma, beta, mean, var], {"eps": 1e-3, "fix_gamma": fix_gamma},
          rng, uses=("batch_norm_forward", "batch_norm_backward"))


def test_normalizations_without_a_kernel_fall_back(kernels, rng):
    x = normal(rng, 2, 3, 4, 5)
    gamma = normal(rng, 1, 3, 1, 1)
    instance = {"axes": (2, 3), "eps": 1e-3, "fix_gamma": False}
    check(kernels, norm_ops._normalize, [x, gamma, gamma], instance, rng)
    batch = {"axes": (0, 2, 3), "eps": 1e-3, "fix_gamma": False}
    check(kernels, norm_ops._normalize, [x.astype(np.float64), gamma.astype(np.float64), None], batch, rng)
    per_channel_over_last_axis = {"axes": (2,), "eps": 1e-3, "fix_gamma": False}  # instance norm of (N, C, L)
    check(kernels, norm_ops._normalize, [x[..., 0], gamma[..., 0], gamma[..., 0]], per_channel_over_last_axis, rng)
    mixed_dtype_layer = {"axes": (3,), "eps": 1e-5, "fix_gamma": False}
    check(kernels, norm_ops._normalize, [x, normal(rng, 1, 1, 1, 5, dtype=np.float64), None], mixed_dtype_layer,
          rng)


def test_normalize_backward_with_mean_var_gradients_falls_back(kernels, rng):
    """Gradients flowing into the mean/var outputs (output_mean_var) take the generic formula."""
    x = normal(rng, 3, 8)
    params = {"axes": (1,), "eps": 1e-5, "fix_gamma": False}
    heads = (normal(rng, 3, 8), normal(rng, 3, 1), normal(rng, 3, 1))
    kernels.log.clear()
    got = kernels.backward(norm_ops._normalize)(Ctx(kernels.forward, [x, None, None], params, None, None), heads)
    want = norm_ops._normalize.backward(Ctx(generic_forward, [x, None, None], params, None, None), heads)
    assert_same(list(got), list(want))
    assert "generic normalize backward" in kernels.log


# ---- pooling ----

@pytest.mark.parametrize("kernel, stride, pad", [((3, 3), (2, 2), (1, 1)), ((2, 2), (2, 2), (0, 0)),
                                                 ((3, 2), (1, 2), (1, 0))])
def test_max_pool_matches_with_the_generic_aux(kernels, rng, kernel, stride, pad):
    x = normal(rng, 2, 3, 7, 8)
    check(kernels, conv_ops._max_pool, [x], {"kernel": kernel, "stride": stride, "pad": pad, "extra": (0, 0)},
          rng, uses=("max_pool2d_forward", "max_pool2d_backward"))


@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool_matches(kernels, rng, include_pad):
    params = {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "extra": (0, 0), "mode": "avg",
              "include_pad": include_pad}
    check(kernels, conv_ops._avg_pool, [normal(rng, 2, 3, 7, 6)], params, rng,
          uses=("avg_pool2d_forward", "avg_pool2d_backward"))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_pooling_kernels_take_16_bit_inputs(kernels, rng, dtype):
    x = normal(rng, 2, 3, 7, 8, dtype=dtype)
    pool = {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "extra": (0, 0)}
    tol = dict(rtol=2e-2, atol=2e-2)
    check(kernels, conv_ops._max_pool, [x], pool, rng, uses=("max_pool2d_forward", "max_pool2d_backward"),
          tol=tol)
    check(kernels, conv_ops._avg_pool, [x], dict(pool, mode="avg", include_pad=True), rng,
          uses=("avg_pool2d_forward", "avg_pool2d_backward"), tol=tol)


def test_pooling_without_a_kernel_falls_back(kernels, rng):
    x = normal(rng, 2, 2, 7, 7)
    full = {"kernel": (2, 2), "stride": (2, 2), "pad": (0, 0), "extra": (1, 1)}
    check(kernels, conv_ops._max_pool, [x], full, rng)
    check(kernels, conv_ops._avg_pool, [x], dict(full, extra=(0, 0), mode="sum", include_pad=True), rng)
    one_d = {"kernel": (3,), "stride": (1,), "pad": (1,), "extra": (0,)}
    check(kernels, conv_ops._max_pool, [normal(rng, 2, 2, 9)], one_d, rng)


# ---- convolution ----

@pytest.mark.parametrize("groups, stride, pad, dilate", [(1, (1, 1), (1, 1), (1, 1)),
                                                         (2, (2, 1), (0, 2), (2, 1))])
def test_convolution_matches(kernels, rng, groups, stride, pad, dilate):
    x, w, b = normal(rng, 2, 4, 7, 6), normal(rng, 6, 4 // groups, 3, 3), normal(rng, 6)
    params = {"stride": stride, "pad": pad, "dilate": dilate, "groups": groups}
    check(kernels, conv_ops._conv, [x, w, b], params, rng, uses=("im2col", "col2im"), tol=dict(rtol=1e-5, atol=1e-5))


def test_deconvolution_matches(kernels, rng):
    g, w = normal(rng, 2, 3, 4, 4), normal(rng, 3, 2, 3, 3)
    params = {"stride": (2, 2), "pad": (1, 1), "dilate": (1, 1), "groups": 1, "size": (7, 8)}
    check(kernels, conv_ops._conv_data_grad, [g, w], params, rng, uses=("col2im", "im2col"),
          tol=dict(rtol=1e-5, atol=1e-5))


def test_one_d_convolution_falls_back(kernels, rng):
    params = {"stride": (1,), "pad": (1,), "dilate": (1,), "groups": 1}
    check(kernels, conv_ops._conv, [normal(rng, 2, 3, 9), normal(rng, 4, 3, 3), None], params, rng)


# ---- embedding and pick gradients ----

def test_embedding_gradient_matches(kernels, rng):
    indices = np.array([[0, 3, 3], [5, 0, 3]])
    check(kernels, nn_ops._embedding, [indices, normal(rng, 6, 4)], {}, rng, uses=("embedding_backward",))


@pytest.mark.parametrize("keepdims", [False, True])
def test_pick_gradient_matches(kernels, rng, keepdims):
    index = rng.integers(0, 4, (3, 5))
    check(kernels, nn_ops._pick, [normal(rng, 3, 4, 5), index], {"axis": 1, "keepdims": keepdims}, rng,
          uses=("pick_backward",))


def test_float64_index_gradients_fall_back(kernels, rng):
    check(kernels, nn_ops._pick, [normal(rng, 3, 4, dtype=np.float64), rng.integers(0, 4, 3)],
          {"axis": 1, "keepdims": False}, rng)


# ---- elementwise declarations (broadcasting included) ----

@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2", "hypot", "arctan2"])
@pytest.mark.parametrize("shapes", [((3, 5), (3, 5)), ((3, 1), (1, 5)), ((), (4,))], ids=["same", "outer", "scalar"])
def test_elementwise_backward_kernels_match(kernels, rng, name, shapes):
    inputs = [np.asarray(normal(rng, *shape) + 0.5) for shape in shapes]
    check(kernels, registered_op(name), inputs, {}, rng, uses=(f"elementwise_{name}_backward",))


def test_elementwise_kernels_fall_back_for_mixed_dtypes_and_empty(kernels, rng):
    check(kernels, registered_op("hypot"), [normal(rng, 3), normal(rng, 3, dtype=np.float64)], {}, rng)
    check(kernels, registered_op("hypot"), [np.zeros((0, 3), np.float32), normal(rng, 3)], {}, rng)


# ---- softmax cross entropy ----

def test_softmax_cross_entropy_kernel_matches_the_generic_op(kernels, rng):
    op = registered_op("softmax_cross_entropy")
    logits, labels = normal(rng, 4, 3, 11), rng.integers(-1, 12, (4, 3)).astype(np.float32)  # clipped
    kernels.log.clear()
    loss, aux = kernels.forward(op)(np, logits, labels)
    want_loss, want_aux = generic_forward(op)(np, logits, labels)
    assert kernels.log == ["softmax_cross_entropy"]
    assert_same(loss, want_loss)
    assert_same(aux, want_aux)
    g = normal(rng, 4, 3)
    got = kernels.backward(op)(Ctx(kernels.forward, [logits, labels], {}, None, aux), g)
    want = op.backward(Ctx(generic_forward, [logits, labels], {}, None, None), g)
    assert_same(got[0], want[0])


def test_softmax_cross_entropy_falls_back_for_float64(kernels, rng):
    op = registered_op("softmax_cross_entropy")
    kernels.log.clear()
    kernels.forward(op)(np, normal(rng, 2, 5, dtype=np.float64), np.array([1, 4]))
    assert kernels.log == ["generic softmax_cross_entropy"]


# ---- registration ----

def test_attaching_is_idempotent_and_keeps_the_original_fallbacks(kernels, rng):
    relu = registered_op("relu")
    original_relu = relu.forward_impls[GPU]
    try:
        gpu_kernels.attach_gpu_kernels(kernels.run)
        gpu_kernels.attach_gpu_kernels(kernels.run)
        assert gpu_kernels._generic["relu"][0] is original_relu
        for name in kernels.impls:
            op = registered_op(name)
            assert op.forward_impls[CPU] is not None
            assert (op.forward_impls[GPU], op.backward_impls[GPU]) != gpu_kernels._generic[name]
        x64 = normal(rng, 4, 3, dtype=np.float64)
        np.testing.assert_array_equal(relu.forward_impls[GPU](np, x64), np.maximum(x64, 0))
        x = normal(rng, 4, 3)
        kernels.log.clear()
        np.testing.assert_array_equal(relu.forward_impls[GPU](np, x), np.maximum(x, 0))
        assert kernels.log == ["activation_forward"]
    finally:
        gpu_kernels.detach_gpu_kernels()
    assert relu.forward_impls[GPU] is original_relu


def test_every_declared_kernel_names_a_declared_op():
    for name in register.declared_ops():
        registered_op(name)  # raises KeyError naming the op


def test_a_phase_declared_twice_is_refused():
    with pytest.raises(ValueError, match="already has a kernel"):
        register.kernel("relu")(lambda k, xp, x: x)


def test_importing_the_registration_does_not_import_cupy():
    code = "import sys, mxlite.cuda.register; assert 'cupy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- on a GPU: the registered kernels through the engine, against the CPU ----

@pytest.fixture
def gpu_with_kernels(kernels):
    """gpu(0) with the CuPy-bound kernels attached; detached (the ops' own GPU implementations
    back) afterwards."""
    reason = gpu_unusable_reason(0)
    if reason is not None:
        pytest.skip(f"no usable GPU: {reason}")
    gpu_kernels.attach_gpu_kernels()
    yield mx.gpu(0)
    gpu_kernels.detach_gpu_kernels()


def _bn_training(x, gamma, beta):
    return mx.npx.batch_norm(x, gamma, beta, mx.np.zeros(3, device=x.device), mx.np.ones(3, device=x.device),
                             fix_gamma=False)


def _bn_inference(x, gamma, beta):
    with mx.autograd.predict_mode():
        return mx.npx.batch_norm(x, gamma, beta, beta * 0.1, gamma * gamma + 0.5, fix_gamma=False)


GPU_CASES = {
    "relu": ((2, 3, 8), lambda x: mx.npx.relu(x)),
    "sigmoid": ((2, 3, 8), lambda x: mx.npx.sigmoid(x)),
    "tanh": ((2, 3, 8), lambda x: mx.np.tanh(x)),
    "silu": ((2, 3, 8), lambda x: mx.npx.activation(x, "silu")),
    "leaky": ((2, 3, 8), lambda x: mx.npx.leaky_relu(x, slope=0.1)),
    "gelu": ((2, 3, 8), lambda x: mx.npx.gelu(x)),
    "gelu_tanh": ((2, 3, 8), lambda x: mx.npx.gelu(x, approximation="tanh")),
    "softmax": ((4, 300), lambda x: mx.npx.softmax(x)),
    "log_softmax": ((6, 10), lambda x: mx.npx.log_softmax(x)),
    "layer_norm": ((4, 5, 16), lambda x: mx.npx.layer_norm(x, x[0, 0] * 0 + 1.5, x[0, 1])),
    "batch_norm": ((4, 3, 5, 5), lambda x: _bn_training(x, x[0, :, 0, 0] + 2, x[1, :, 0, 0])),
    "batch_norm_inference": ((4, 3, 5, 5), lambda x: _bn_inference(x, x[0, :, 0, 0] + 2, x[1, :, 0, 0])),
    "max_pool": ((2, 3, 9, 9), lambda x: mx.npx.pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1))),
    "avg_pool": ((2, 3, 9, 9), lambda x: mx.npx.pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="avg",
                                                       count_include_pad=False)),
    "convolution": ((2, 4, 8, 8), lambda x: mx.npx.convolution(x, x[0].reshape(-1)[:108].reshape(6, 2, 3, 3),
                                                               x[1, 0, 0, :6], kernel=(3, 3), pad=(1, 1),
                                                               num_group=2)),
    "embedding": ((5, 4), lambda w: mx.npx.embedding(mx.np.array([[0, 3], [3, 4]], device=w.device), w)),
    "pick": ((3, 7), lambda x: mx.npx.pick(x, mx.np.array([1, 6, 0], device=x.device))),
}


def _value_and_gradient(fn, host, device):
    x = mx.np.array(host, device=device)
    x.attach_grad()
    with mx.autograd.record():
        y = fn(x)
        loss = (y * y).sum()
    loss.backward()
    return y.asnumpy(), x.grad.asnumpy()


@pytest.mark.parametrize("case", sorted(GPU_CASES))
def test_registered_kernels_match_the_cpu_through_the_engine(gpu_with_kernels, case):
    shape, fn = GPU_CASES[case]
    host = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    y_gpu, grad_gpu = _value_and_gradient(fn, host, gpu_with_kernels)
    y_cpu, grad_cpu = _value_and_gradient(fn, host, mx.cpu())
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_gpu, grad_cpu, rtol=1e-4, atol=1e-4)


def test_gpu_dropout_gradient_and_second_order_use_its_mask(gpu_with_kernels):
    x = mx.np.array(np.random.default_rng(4).uniform(1, 2, (64, 33)).astype(np.float32), device=gpu_with_kernels)
    x.attach_grad()
    with mx.autograd.record():
        y = mx.npx.dropout(x, p=0.25)
        (gx,) = mx.autograd.grad((y * y).sum(), [x], create_graph=True)
        total = gx.sum()
    kept = y.asnumpy() != 0
    assert 0.6 < kept.mean() < 0.9
    scale = np.float32(1 / 0.75)
    np.testing.assert_allclose(gx.asnumpy(), np.where(kept, 2 * y.asnumpy() * scale, 0), rtol=1e-5)
    total.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), np.where(kept, 2 * scale * scale, 0), rtol=1e-5)
