"""Parity and speed of mxlite's hand-written CUDA kernels (kernels/*.cu).

For every wrapper in mxlite.cuda.ops: run it on random inputs, compare with a numpy float64
reference (error = max |kernel - reference| / max |reference|, under 1e-5 in float32 unless the
case says otherwise, 2e-3 to 4e-3 for float16 storage; NaN never passes), and time it against the equivalent chain of CuPy calls,
reporting achieved GB/s against the measured device-to-device copy bandwidth. The chain doubles
as the reference: the same code runs on numpy in float64.

    python -m bench.kernel_parity              # on a GPU: table to stdout and bench/results/
    python -m bench.kernel_parity --cpu-sim    # tiny sizes through mxlite.testing.cudasim (checks
                                               # the script and parity; timings mean nothing)

Exits 1 when any case fails parity.
"""
import argparse
import datetime
import math
import sys
import time
from pathlib import Path

import numpy as np

from mxlite.cuda import bind, elementwise, loader, ops, philox

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# ---- where the kernels run ----

class Gpu:
    name = "gpu"

    def __init__(self):
        import cupy
        self.xp = cupy
        self.cupy = cupy

    def module_for(self, stem):
        return loader.load_module(stem)

    def seconds(self, fn, repeats):
        """Median seconds per call, timed with CUDA events after warm-up."""
        for _ in range(3):
            fn()
        times = []
        for _ in range(repeats):
            start, stop = self.cupy.cuda.Event(), self.cupy.cuda.Event()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(self.cupy.cuda.get_elapsed_time(start, stop) / 1e3)
        return float(np.median(times))

    def to_host(self, a):
        return self.cupy.asnumpy(a)

    def describe(self):
        cupy = self.cupy
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.runtime.getDevice())
        runtime = cupy.cuda.runtime.runtimeGetVersion()
        driver_api = cupy.cuda.runtime.driverGetVersion()
        info = {"card": props["name"].decode(), "compute capability": f"{props['major']}.{props['minor']}",
                "CUDA runtime": f"{runtime // 1000}.{runtime % 1000 // 10}",
                "CUDA driver API": f"{driver_api // 1000}.{driver_api % 1000 // 10}",
                "CuPy": cupy.__version__, "numpy": np.__version__}
        try:
            import pynvml
            pynvml.nvmlInit()
            version = pynvml.nvmlSystemGetDriverVersion()
            info["driver"] = version.decode() if isinstance(version, bytes) else version
            pynvml.nvmlShutdown()
        except Exception as err:  # NVML missing or not loadable: report why, keep going
            info["driver"] = f"unknown (NVML: {type(err).__name__})"
        return info


class CpuSim:
    name = "cpu-sim"

    def __init__(self):
        from mxlite.testing import cudasim
        ok, reason = cudasim.available()
        if not ok:
            raise SystemExit(f"--cpu-sim needs the CPU CUDA executor: {reason}")
        self.xp = np
        self.module_for = cudasim.kernel_module

    def seconds(self, fn, repeats):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    def to_host(self, a):
        return np.asarray(a)

    def describe(self):
        return {"card": "none (CPU executor mxlite.testing.cudasim; timings are not GPU timings)",
                "numpy": np.__version__}


# ---- cases: each gives inputs, the kernel call, the CuPy/numpy chain, and the bytes it must move ----

def _erf(xp, z):
    if xp is np:
        return np.vectorize(math.erf, otypes=[np.float64])(z)
    import cupyx.scipy.special
    return cupyx.scipy.special.erf(z)


def _sigmoid(xp, z):
    return 1 / (1 + xp.exp(-z))


def _log_softmax(xp, x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def _batch_stats(xp, x):
    axes = (0, 2)
    mean = x.mean(axis=axes)
    var = ((x - mean[None, :, None]) ** 2).mean(axis=axes)
    return mean, var


def _windows(xp, x, kernel, stride, pad, fill):
    """(n, c, oh, ow) slices of the padded input, one per window offset."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh = (x.shape[2] + 2 * ph - kh) // sh + 1
    ow = (x.shape[3] + 2 * pw - kw) // sw + 1
    return [padded[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] for i in range(kh) for j in range(kw)]


def _im2col_chain(xp, x, k):
    n, c = x.shape[:2]
    slices = _windows(xp, x, (k, k), (1, 1), (1, 1), 0)
    return xp.stack(slices, axis=2).reshape(n, c * k * k, -1)


def _col2im_chain(xp, cols, x_shape, k):
    n, c, h, w = x_shape
    padded = xp.zeros((n, c, h + 2, w + 2), dtype=cols.dtype)
    cols = cols.reshape(n, c, k, k, h, w)
    for i in range(k):
        for j in range(k):
            padded[:, :, i:i + h, j:j + w] += cols[:, :, i, j]
    return padded[:, :, 1:-1, 1:-1]


def make_cases(scale):
    """Case tuples (name, file stem, inputs, kernel(call, xp, *inputs), chain(xp, *inputs), bytes, tol)."""
    rng = np.random.default_rng(0)
    f32 = np.float32

    def normal(*shape):
        return rng.standard_normal(shape).astype(f32)

    n_big = 8 << 20 if scale == "gpu" else 1000
    rows, cols = ((16384, 1000) if scale == "gpu" else (6, 70))
    image = (32, 64, 32, 32) if scale == "gpu" else (2, 3, 6, 5)
    cases = []

    x2 = normal(n_big // 1024, 1024) if scale == "gpu" else normal(20, 50)
    cases.append(("activation_forward silu", "activation", (x2,),
                  lambda call, xp, x: call(ops.activation_forward, x, "silu"),
                  lambda xp, x: x * _sigmoid(xp, x), 2 * x2.nbytes, 1e-5))
    cases.append(("activation_forward gelu_tanh", "activation", (x2,),
                  lambda call, xp, x: call(ops.activation_forward, x, "gelu_tanh"),
                  lambda xp, x: 0.5 * x * (1 + xp.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))),
                  2 * x2.nbytes, 1e-5))
    cases.append(("activation_forward gelu (erf)", "activation", (x2,),
                  lambda call, xp, x: call(ops.activation_forward, x, "gelu"),
                  lambda xp, x: 0.5 * x * (1 + _erf(xp, x / math.sqrt(2.0))), 2 * x2.nbytes, 1e-5))
    dy2 = normal(*x2.shape)
    cases.append(("activation_backward silu", "activation", (dy2, x2),
                  lambda call, xp, dy, z: call(ops.activation_backward, dy, z, "silu"),
                  lambda xp, dy, z: dy * _sigmoid(xp, z) * (1 + z * (1 - _sigmoid(xp, z))), 3 * x2.nbytes, 1e-5))

    # elementwise declarations: a broadcast backward in one pass against the op's own chain
    row = normal(1, x2.shape[1])
    hypot_backward = elementwise.declared("hypot").backward
    cases.append(("elementwise hypot backward, (R, C) x (1, C)", "elementwise",
                  (dy2, x2, row, np.hypot(x2, row)),
                  lambda call, xp, g, a, b, y: call(hypot_backward, g, a, b, y),
                  lambda xp, g, a, b, y: (g / y * a, g / y * b), 5 * x2.nbytes, 1e-5))

    logits = normal(rows, cols) * 3
    dy = normal(rows, cols)
    probs = np.exp(_log_softmax(np, logits.astype(np.float64))).astype(f32)
    cases.append(("softmax_forward", "softmax", (logits,),
                  lambda call, xp, x: call(ops.softmax_forward, x),
                  lambda xp, x: xp.exp(_log_softmax(xp, x)), 2 * logits.nbytes, 1e-5))
    cases.append(("log_softmax_forward", "softmax", (logits,),
                  lambda call, xp, x: call(ops.softmax_forward, x, log=True),
                  lambda xp, x: _log_softmax(xp, x), 2 * logits.nbytes, 1e-5))
    cases.append(("softmax_backward", "softmax", (dy, probs),
                  lambda call, xp, g, y: call(ops.softmax_backward, g, y),
                  lambda xp, g, y: y * (g - (g * y).sum(axis=-1, keepdims=True)), 3 * logits.nbytes, 1e-5))
    labels = rng.integers(0, cols, rows).astype(np.int32)

    def sce_chain(xp, x, label):
        logp = _log_softmax(xp, x)
        index = xp.arange(x.shape[0])
        grad = xp.exp(logp)
        grad[index, label] -= 1
        return -logp[index, label], grad
    cases.append(("softmax_cross_entropy", "softmax", (logits, labels),
                  lambda call, xp, x, label: call(ops.softmax_cross_entropy, x, label), sce_chain,
                  2 * logits.nbytes + 8 * rows, 1e-5))

    xd = normal(n_big)
    seed, offset, p = 1234, 7, 0.4
    keep = philox.dropout_mask(xd.shape, p, seed, offset)

    def dropout_chain(xp, x):
        if xp is np:  # the reference: the same Philox stream as the kernel
            return np.where(keep, x / (1 - p), 0.0)
        return x * (xp.random.random(x.shape, dtype=f32) >= p) * f32(1 / (1 - p))
    cases.append(("dropout (Philox, in-kernel mask)", "dropout", (xd,),
                  lambda call, xp, x: call(ops.dropout_forward, x, p, seed, offset), dropout_chain,
                  2 * xd.nbytes, 1e-5))

    cases.append(("dropout_backward (mask regenerated)", "dropout", (xd,),
                  lambda call, xp, g: call(ops.dropout_backward, g, p, seed, offset), dropout_chain,
                  2 * xd.nbytes, 1e-5))

    xb = normal(*image) * 2 + 1
    gamma, beta = normal(image[1]), normal(image[1])

    def bn_forward_chain(xp, x, g, b):
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        mean, var = _batch_stats(xp, x3)
        inv_std = 1 / xp.sqrt(var + 1e-5)
        y = (x3 - mean[None, :, None]) * (inv_std * g)[None, :, None] + b[None, :, None]
        return y.reshape(x.shape), mean, inv_std
    cases.append(("batch_norm_forward (train)", "norm", (xb, gamma, beta),
                  lambda call, xp, x, g, b: call(ops.batch_norm_forward, x, g, b), bn_forward_chain,
                  3 * xb.nbytes, 1e-4))
    _, bn_mean, bn_inv_std = bn_forward_chain(np, xb.astype(np.float64), gamma, beta)
    bn_mean, bn_inv_std = bn_mean.astype(f32), bn_inv_std.astype(f32)
    dyb = normal(*image)

    def bn_backward_chain(xp, g_out, x, mean, inv_std, g):
        shape = (1, -1, 1, 1)
        xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        count = x.size // x.shape[1]
        dbeta, dgamma = g_out.sum(axis=(0, 2, 3)), (g_out * xhat).sum(axis=(0, 2, 3))
        dx = (g * inv_std).reshape(shape) * (g_out - dbeta.reshape(shape) / count - xhat * dgamma.reshape(shape) / count)
        return dx, dgamma, dbeta
    cases.append(("batch_norm_backward", "norm", (dyb, xb, bn_mean, bn_inv_std, gamma),
                  lambda call, xp, *a: call(ops.batch_norm_backward, *a), bn_backward_chain,
                  5 * xb.nbytes, 1e-4))

    xl = normal(rows, cols) * 2 + 1
    gl, bl = normal(cols), normal(cols)

    def ln_forward_chain(xp, x, g, b):
        mean = x.mean(axis=-1, keepdims=True)
        inv_std = 1 / xp.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + 1e-5)
        return (x - mean) * inv_std * g + b, mean[:, 0], inv_std[:, 0]
    cases.append(("layer_norm_forward", "norm", (xl, gl, bl),
                  lambda call, xp, x, g, b: call(ops.layer_norm_forward, x, g, b), ln_forward_chain,
                  2 * xl.nbytes, 1e-5))
    _, ln_mean, ln_inv_std = ln_forward_chain(np, xl.astype(np.float64), gl, bl)
    ln_mean, ln_inv_std = ln_mean.astype(f32), ln_inv_std.astype(f32)

    def ln_backward_chain(xp, g_out, x, g, mean, inv_std):
        xhat = (x - mean[:, None]) * inv_std[:, None]
        gg = g_out * g
        dx = inv_std[:, None] * (gg - gg.mean(axis=-1, keepdims=True) - xhat * (gg * xhat).mean(axis=-1, keepdims=True))
        return dx, (g_out * xhat).sum(axis=0), g_out.sum(axis=0)
    cases.append(("layer_norm_backward", "norm", (dy, xl, gl, ln_mean, ln_inv_std),
                  lambda call, xp, *a: call(ops.layer_norm_backward, *a), ln_backward_chain,
                  5 * xl.nbytes, 1e-4))

    sizes = ([(1024, 1024)] * 6 + [(4096,)] * 20 + [(3, 3, 64, 64)] * 20) if scale == "gpu" else [(7,), (300,), (5, 2)]
    weights = [normal(*s) for s in sizes]
    grads = [normal(*s) for s in sizes]
    means = [normal(*s) * 0.1 for s in sizes]
    variances = [np.abs(normal(*s)) * 0.1 for s in sizes]
    total = sum(w.nbytes for w in weights)
    b1, b2 = float(f32(0.9)), float(f32(0.999))

    def adam_kernel(call, xp, *arrays):
        w, g, m, v = (list(a) for a in arrays)
        call(ops.adam_update, w, g, m, v, 1e-3, 5, beta1=b1, beta2=b2, wd=0.01)
        return w + m + v

    def adam_chain(xp, *arrays):
        lr_t = 1e-3 * math.sqrt(1 - b2 ** 5) / (1 - b1 ** 5)
        new_w, new_m, new_v = [], [], []
        for w, g, m, v in zip(*arrays):
            g = g + 0.01 * w
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            new_w.append(w - lr_t * m / (xp.sqrt(v) + 1e-8))
            new_m.append(m)
            new_v.append(v)
        return new_w + new_m + new_v
    cases.append((f"adam_update ({len(sizes)} tensors, one launch)", "optimizer",
                  (weights, grads, means, variances), adam_kernel, adam_chain, 7 * total, 1e-5))

    def adamw_kernel(call, xp, *arrays):
        w, g, m, v = (list(a) for a in arrays)
        call(ops.adamw_update, w, g, m, v, 1e-3, 5, beta1=b1, beta2=b2, wd=0.01)
        return w + m + v

    def adamw_chain(xp, *arrays):
        lr_t = 1e-3 * math.sqrt(1 - b2 ** 5) / (1 - b1 ** 5)
        new_w, new_m, new_v = [], [], []
        for w, g, m, v in zip(*arrays):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            new_w.append(w - lr_t * m / (xp.sqrt(v) + 1e-8) - 1e-3 * 0.01 * w)
            new_m.append(m)
            new_v.append(v)
        return new_w + new_m + new_v
    cases.append((f"adamw_update ({len(sizes)} tensors, one launch)", "optimizer",
                  (weights, grads, means, variances), adamw_kernel, adamw_chain, 7 * total, 1e-5))
    momentum_f32 = float(f32(0.9))

    def sgd_kernel(call, xp, w, g, m):
        w, m = list(w), list(m)
        call(ops.sgd_momentum_update, w, list(g), m, 0.05, momentum=momentum_f32, wd=1e-4)
        return w + m

    def sgd_chain(xp, weights_, grads_, moms_):
        new_w, new_m = [], []
        for w, g, m in zip(weights_, grads_, moms_):
            m = momentum_f32 * m - 0.05 * (g + 1e-4 * w)
            new_w.append(w + m)
            new_m.append(m)
        return new_w + new_m
    cases.append((f"sgd_momentum_update ({len(sizes)} tensors, one launch)", "optimizer",
                  (weights, grads, means), sgd_kernel, sgd_chain, 5 * total, 1e-5))

    k = 3
    xc = normal(*image)
    cols_in = normal(image[0], image[1] * k * k, image[2] * image[3])
    cases.append(("im2col 3x3 pad 1", "conv", (xc,),
                  lambda call, xp, x: call(ops.im2col, x, (k, k), (1, 1), (1, 1)),
                  lambda xp, x: _im2col_chain(xp, x, k), xc.nbytes + xc.nbytes * k * k, 1e-5))
    cases.append(("col2im 3x3 pad 1", "conv", (cols_in,),
                  lambda call, xp, c: call(ops.col2im, c, image, (k, k), (1, 1), (1, 1)),
                  lambda xp, c: _col2im_chain(xp, c, image, k), cols_in.nbytes + xc.nbytes, 1e-5))
    pool_out = ((image[2] + 2 - 3) // 2 + 1) * ((image[3] + 2 - 3) // 2 + 1) * image[0] * image[1] * 4
    cases.append(("max_pool2d_forward 3x3/2", "conv", (xc,),
                  lambda call, xp, x: call(ops.max_pool2d_forward, x, (3, 3), (2, 2), (1, 1))[0],
                  lambda xp, x: xp.max(xp.stack(_windows(xp, x, (3, 3), (2, 2), (1, 1), -np.inf)), axis=0),
                  xc.nbytes + 2 * pool_out, 1e-5))
    cases.append(("avg_pool2d_forward 3x3/2", "conv", (xc,),
                  lambda call, xp, x: call(ops.avg_pool2d_forward, x, (3, 3), (2, 2), (1, 1)),
                  lambda xp, x: sum(_windows(xp, x, (3, 3), (2, 2), (1, 1), 0)) / 9,
                  xc.nbytes + pool_out, 1e-5))

    pool_windows = np.stack(_windows(np, xc, (3, 3), (2, 2), (1, 1), -np.inf))
    window = pool_windows.argmax(axis=0)
    out_h, out_w = window.shape[2:]
    oh, ow = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    argmax = ((oh * 2 - 1 + window // 3) * image[3] + ow * 2 - 1 + window % 3).astype(np.int32)
    dy_pool = normal(*window.shape)

    def max_pool_backward_chain(xp, g, at):
        planes = image[0] * image[1]
        flat = (xp.arange(planes).reshape(image[0], image[1], 1, 1) * image[2] * image[3] + at).reshape(-1)
        out = xp.zeros(planes * image[2] * image[3], dtype=g.dtype)
        if xp is np:
            np.add.at(out, flat, g.reshape(-1))
        else:
            import cupyx
            cupyx.scatter_add(out, flat, g.reshape(-1))
        return out.reshape(image)
    cases.append(("max_pool2d_backward 3x3/2", "conv", (dy_pool, argmax),
                  lambda call, xp, g, at: call(ops.max_pool2d_backward, g, at, image), max_pool_backward_chain,
                  xc.nbytes + 2 * pool_out, 1e-5))

    def avg_pool_backward_chain(xp, g):
        n, c, h, w = image
        padded = xp.zeros((n, c, h + 2, w + 2), dtype=g.dtype)
        for i in range(3):
            for j in range(3):
                padded[:, :, i:i + 2 * (out_h - 1) + 1:2, j:j + 2 * (out_w - 1) + 1:2] += g / 9
        return padded[:, :, 1:h + 1, 1:w + 1]
    cases.append(("avg_pool2d_backward 3x3/2", "conv", (dy_pool,),
                  lambda call, xp, g: call(ops.avg_pool2d_backward, g, image, (3, 3), (2, 2), (1, 1)),
                  avg_pool_backward_chain, xc.nbytes + pool_out, 1e-5))

    # float16 storage (math in float32): error bound set by half precision, 2^-11 relative.
    x_half, logits_half, xl_half = x2.astype(np.float16), logits.astype(np.float16), xl.astype(np.float16)
    cases.append(("activation_forward gelu_tanh, float16", "activation", (x_half,),
                  lambda call, xp, x: call(ops.activation_forward, x, "gelu_tanh"),
                  lambda xp, x: 0.5 * x * (1 + xp.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))),
                  2 * x_half.nbytes, 2e-3))
    cases.append(("softmax_forward, float16", "softmax", (logits_half,),
                  lambda call, xp, x: call(ops.softmax_forward, x),
                  lambda xp, x: xp.exp(_log_softmax(xp, x)), 2 * logits_half.nbytes, 2e-3))
    cases.append(("layer_norm_forward, float16", "norm", (xl_half, gl.astype(np.float16), bl.astype(np.float16)),
                  lambda call, xp, x, g, b: call(ops.layer_norm_forward, x, g, b)[0],
                  lambda xp, x, g, b: ln_forward_chain(xp, x, g, b)[0], 2 * xl_half.nbytes, 4e-3))
    cases.append(("dropout, float16", "dropout", (xd.astype(np.float16),),
                  lambda call, xp, x: call(ops.dropout_forward, x, p, seed, offset), dropout_chain,
                  xd.nbytes, 2e-3))

    vocab, dim, count = (30000, 512, 65536) if scale == "gpu" else (20, 8, 30)
    indices = rng.integers(0, vocab, count).astype(np.int32)
    dy_emb = normal(count, dim)

    def embedding_chain(xp, index, g):
        out = xp.zeros((vocab, dim), dtype=g.dtype)
        if xp is np:
            np.add.at(out, index, g)
        else:
            import cupyx
            cupyx.scatter_add(out, index, g)
        return out
    cases.append(("embedding_backward", "indexing", (indices, dy_emb),
                  lambda call, xp, index, g: call(ops.embedding_backward, index, g, vocab), embedding_chain,
                  dy_emb.nbytes + 4 * count + vocab * dim * 4, 1e-5))
    pick_index = rng.integers(0, cols, rows).astype(np.int32)
    dy_pick = normal(rows)

    def pick_chain(xp, index, g):
        out = xp.zeros((rows, cols), dtype=g.dtype)
        out[xp.arange(rows), index] = g
        return out
    cases.append(("pick_backward", "indexing", (pick_index, dy_pick),
                  lambda call, xp, index, g: call(ops.pick_backward, index, g, (rows, cols)), pick_chain,
                  rows * cols * 4 + 8 * rows, 1e-5))
    return cases


# ---- running ----

def _flatten(value):
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _flatten(v)]
    return [value]


def _to_device(xp, value):
    """A copy on the kernels' device: in-place kernels must not touch the case's inputs."""
    if isinstance(value, list):
        return [xp.array(v) for v in value]
    return xp.array(value)


def _to_float64(value):
    if isinstance(value, list):
        return [_to_float64(v) for v in value]
    return value.astype(np.float64) if value.dtype.kind == "f" else value


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|; inf when actual has NaN or the shapes differ."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape or np.isnan(actual).any():
        return math.inf
    finite = np.isfinite(expected)
    if not np.array_equal(actual[~finite], expected[~finite]):
        return math.inf
    scale = max(float(np.abs(expected[finite]).max()) if finite.any() else 0.0, 1e-30)
    return float(np.abs(actual[finite] - expected[finite]).max()) / scale if finite.any() else 0.0


def run_case(backend, case, repeats):
    name, stem, inputs, kernel, chain, nbytes, tol = case
    xp = backend.xp
    module = backend.module_for(stem)

    def call(wrapper, *args, **kwargs):
        return bind(wrapper, lambda _: module, xp)(*args, **kwargs)

    device_inputs = [_to_device(xp, v) for v in inputs]
    expected = _flatten(chain(np, *[_to_float64(v) for v in inputs]))
    actual = _flatten(kernel(call, xp, *[_to_device(xp, v) for v in inputs]))
    error = max(relative_error(backend.to_host(a), e) for a, e in zip(actual, expected))
    if len(actual) != len(expected):
        error = math.inf
    kernel_s = backend.seconds(lambda: kernel(call, xp, *device_inputs), repeats)
    chain_s = backend.seconds(lambda: chain(xp, *device_inputs), repeats)
    return {"name": name, "error": error, "tol": tol, "ok": error <= tol, "kernel_ms": kernel_s * 1e3,
            "chain_ms": chain_s * 1e3, "gbps": nbytes / kernel_s / 1e9, "bytes": nbytes}


def copy_bandwidth(backend, repeats):
    """Device-to-device copy GB/s (bytes read + written) of a 256 MiB buffer."""
    xp = backend.xp
    n = (64 << 20) if backend.name == "gpu" else (1 << 16)
    source, target = xp.ones(n, dtype=np.float32), xp.empty(n, dtype=np.float32)
    seconds = backend.seconds(lambda: xp.copyto(target, source), repeats)
    return 2 * source.nbytes / seconds / 1e9


def report(info, copy_gbps, results):
    lines = ["# mxlite kernel parity and speed", "",
             f"Date (UTC): {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    lines += [f"- device-to-device copy: {copy_gbps:.0f} GB/s (read + write)", "",
              "| kernel | rel. error | tol | parity | kernel ms | CuPy chain ms | speedup | GB/s | % of copy |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['error']:.2e} | {r['tol']:.0e} | {'ok' if r['ok'] else 'FAIL'} | "
            f"{r['kernel_ms']:.3f} | {r['chain_ms']:.3f} | {r['chain_ms'] / r['kernel_ms']:.1f}x | "
            f"{r['gbps']:.0f} | {100 * r['gbps'] / copy_gbps:.0f}% |")
    lines += ["", "GB/s counts the minimum bytes each kernel must move (kernels/README.md)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-sim", action="store_true", help="tiny inputs on the CPU executor (no GPU needed)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per case (median reported)")
    parser.add_argument("--output", type=Path, help="results file (default bench/results/kernel_parity-<date>.md)")
    args = parser.parse_args(argv)
    backend = CpuSim() if args.cpu_sim else Gpu()
    repeats = 1 if args.cpu_sim else args.repeats
    info = backend.describe()
    copy_gbps = copy_bandwidth(backend, repeats)
    results = []
    for case in make_cases("cpu" if args.cpu_sim else "gpu"):
        try:
            results.append(run_case(backend, case, repeats))
        except Exception as err:  # one broken case must not hide the others
            results.append({"name": case[0], "error": math.inf, "tol": case[6], "ok": False, "kernel_ms": math.nan,
                            "chain_ms": math.nan, "gbps": math.nan, "bytes": case[5]})
            print(f"{case[0]}: {type(err).__name__}: {err}", file=sys.stderr)
    text = report(info, copy_gbps, results)
    print(text)
    output = args.output or RESULTS_DIR / f"kernel_parity-{backend.name}-{datetime.date.today():%Y%m%d}.md"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"written to {output}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
