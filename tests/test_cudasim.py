"""Tests of mxlite.testing.cudasim, the CPU executor for kernels/*.cu."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from mxlite.testing import cudasim

ok, reason = cudasim.available()
pytestmark = pytest.mark.skipif(not ok, reason=reason)

REPO = Path(__file__).resolve().parent.parent
KERNELS = Path(__file__).resolve().parent / "data" / "cuda" / "cudasim_kernels.cu"
TEMPLATES = ("scale_cast<float>", "scale_cast<__half>", "scale_cast<__nv_bfloat16>")
WIDEN = ("widen<__half>", "widen<__nv_bfloat16>")
# The ASan CI job sets this to the kernel test files to re-run with every module
# sanitized (os.pathsep-separated, relative to the repository), e.g.
# MXLITE_CUDASIM_ASAN_TESTS=tests/test_kernels_cpu.py; unset, that re-run is skipped.
ASAN_TESTS = os.environ.get("MXLITE_CUDASIM_ASAN_TESTS", "")


@pytest.fixture(scope="module")
def module():
    return cudasim.Module(KERNELS, name_expressions=TEMPLATES + WIDEN)


def test_grid_stride_elementwise(module):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3000).astype(np.float32)
    y = rng.standard_normal(3000).astype(np.float32)
    expected = y + np.float32(1.5) * x
    # Fewer threads than elements, so each thread strides.
    module.get_function("axpy_grid_stride")((4,), (128,), (x, y, np.float32(1.5), np.int32(x.size)))
    np.testing.assert_array_equal(y, expected)


def test_shared_memory_tree_reduction(module):
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    blocks = (x.size + 255) // 256
    partial = np.zeros(blocks, np.float32)
    module.get_function("block_sums")(blocks, 256, (x, partial, np.int32(x.size)))
    padded = np.zeros(blocks * 256, np.float32)
    padded[: x.size] = x
    np.testing.assert_allclose(partial, padded.reshape(blocks, 256).sum(axis=1), rtol=1e-5, atol=1e-5)


def test_warp_shuffle_reduction(module):
    x = np.random.default_rng(2).standard_normal((13, 70)).astype(np.float32)
    out = np.zeros(13, np.float32)
    warps_per_block = 4
    grid = (13 + warps_per_block - 1) // warps_per_block
    module.get_function("row_sums_warp")(grid, (32, warps_per_block), (x, out, np.int32(13), np.int32(70)))
    np.testing.assert_allclose(out, x.sum(axis=1), rtol=1e-5, atol=1e-5)


def test_shuffle_variants_and_ballot(module):
    x = np.arange(32, dtype=np.int32) * 3 % 17
    down, up, broadcast = (np.zeros(32, np.int32) for _ in range(3))
    ballot = np.zeros(32, np.uint32)
    module.get_function("warp_ops")(1, 32, (x, down, up, broadcast, ballot))
    lanes = np.arange(32)
    np.testing.assert_array_equal(down, np.where(lanes + 3 < 32, x[np.minimum(lanes + 3, 31)], x))
    np.testing.assert_array_equal(up, np.where(lanes % 16 >= 5, x[lanes - 5], x))
    np.testing.assert_array_equal(broadcast, np.full(32, x[7]))
    np.testing.assert_array_equal(ballot, np.full(32, np.sum((x > 10) << lanes.astype(np.uint64)), np.uint32))


def test_atomics(module):
    values = np.random.default_rng(3).integers(0, 10, 700).astype(np.int32)
    counts = np.zeros(10, np.int32)
    maximum = np.full(1, -1, np.int32)
    total = np.zeros(1, np.uint64)
    float_total = np.zeros(1, np.float32)
    module.get_function("histogram_atomics")(3, 256, (values, np.int32(values.size), counts, maximum, total, float_total))
    np.testing.assert_array_equal(counts, np.bincount(values, minlength=10))
    assert maximum[0] == values.max()
    assert total[0] == values.sum()
    assert float_total[0] == 0.5 * values.size


@pytest.mark.parametrize("expression", TEMPLATES)
def test_template_kernel_through_name_expression(module, expression):
    # Values spanning half's subnormals, rounding ties and overflow.
    x = np.concatenate([np.float32(2.0) ** np.arange(-26, 17, dtype=np.float32),
                        np.linspace(-70000, 70000, 1001, dtype=np.float32),
                        np.float32([1 + 2**-11, 1 + 3 * 2**-11, np.inf, -np.inf])])
    dtype = {"float": np.float32, "__half": np.float16, "__nv_bfloat16": np.uint16}[expression[11:-1]]
    y = np.zeros(x.size, dtype)
    module.get_function(expression)((x.size + 127) // 128, 128, (x, y, np.float32(1.0), np.int32(x.size)))
    if dtype is np.uint16:  # bfloat16 bits: round to nearest even on the upper 16 bits
        bits = x.view(np.uint32).astype(np.uint64)
        expected = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        np.testing.assert_array_equal(y, expected)
    else:
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(y, x.astype(dtype))


@pytest.mark.parametrize("expression", WIDEN)
def test_every_16_bit_pattern_widens_to_float(module, expression):
    bits = np.arange(2**16, dtype=np.uint16)
    y = np.zeros(bits.size, np.float32)
    module.get_function(expression)(bits.size // 256, 256, (bits, y, np.int32(bits.size)))
    if expression == "widen<__half>":
        expected = bits.view(np.float16).astype(np.float32)
    else:
        expected = (bits.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(y.view(np.uint32), expected.view(np.uint32))


def test_dynamic_shared_memory(module):
    x = np.arange(300, dtype=np.float32)
    y = np.zeros_like(x)
    module.get_function("reverse_blocks")(3, 128, (x, y, np.int32(x.size)), shared_mem=128 * 4)
    full = np.zeros(384, np.float32)
    full[:300] = x
    expected = full.reshape(3, 128)[:, ::-1].reshape(-1)
    # Slots past n read from padding are not written; the rest is the block-reversed input.
    written = np.arange(384).reshape(3, 128)[:, ::-1].reshape(-1) < 300
    np.testing.assert_array_equal(y, np.where(written[:300], expected[:300], 0))


def test_float4_vectorised_load(module):
    x = np.random.default_rng(4).standard_normal(512).astype(np.float32)
    y = np.zeros_like(x)
    module.get_function("scale_float4")(1, 128, (x, y, np.float32(-2.0), np.int32(x.size // 4)))
    np.testing.assert_array_equal(y, np.float32(-2.0) * x)


def test_mismatched_barriers_are_reported(module):
    x = np.zeros(32, np.float32)
    with pytest.raises(RuntimeError, match="never be released"):
        module.get_function("mismatched_barriers")(1, 32, (x,))


def test_argument_types_are_checked(module):
    x = np.zeros(8, np.float32)
    kernel = module.get_function("axpy_grid_stride")
    with pytest.raises(TypeError, match="numpy.int32"):
        kernel(1, 8, (x, x, np.float32(1), 8))  # a Python int goes as 64 bits, as in CuPy
    with pytest.raises(TypeError, match="float64 array"):
        kernel(1, 8, (x.astype(np.float64), x, np.float32(1), np.int32(8)))
    with pytest.raises(TypeError, match="takes 4 arguments"):
        kernel(1, 8, (x, x))
    with pytest.raises(ValueError, match="1024"):
        kernel(1, (64, 32), (x, x, np.float32(1), np.int32(8)))
    with pytest.raises(KeyError, match="name_expressions"):
        module.get_function("scale_cast<double>")


def test_options_reach_the_compiler():
    source = 'extern "C" __global__ void fill(int* x) { x[threadIdx.x] = VALUE; }\n'
    x = np.zeros(4, np.int32)
    cudasim.Module(source, options=("-DVALUE=7", "--gpu-architecture=sm_90")).get_function("fill")(1, 4, (x,))
    np.testing.assert_array_equal(x, 7)
    with pytest.raises(ValueError, match="--frobnicate"):
        cudasim.Module(source, options=("--frobnicate",))


def _asan_or_skip():
    if cudasim.asan_runtime() is None:
        pytest.skip("the AddressSanitizer runtime (libasan) is not installed")


def test_out_of_bounds_write_is_caught_under_asan():
    _asan_or_skip()
    program = (
        "import numpy as np\n"
        "from mxlite.testing import cudasim\n"
        f"module = cudasim.Module({str(KERNELS)!r})\n"
        "x = np.zeros(100, np.float32)\n"
        "module.get_function('write_past_end')(1, 128, (x, np.int32(x.size)))\n"
    )
    result = cudasim.run_under_asan([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True,
                                    timeout=300)
    assert result.returncode != 0
    assert "heap-buffer-overflow" in result.stderr
    assert "cudasim_kernels.cu:" in result.stderr  # the report names the kernel's source line


@pytest.mark.slow
def test_kernel_tests_pass_under_asan():
    """The CI job that runs the kernel tests with every cudasim module under ASan."""
    _asan_or_skip()
    paths = [p for p in ASAN_TESTS.split(os.pathsep) if p]
    if not paths:
        pytest.skip("set MXLITE_CUDASIM_ASAN_TESTS=tests/test_kernels_cpu.py to re-run kernel tests under ASan")
    missing = [p for p in paths if not (REPO / p).exists()]
    assert not missing, f"MXLITE_CUDASIM_ASAN_TESTS names missing files: {', '.join(missing)}"
    result = cudasim.run_under_asan([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths],
                                    cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
