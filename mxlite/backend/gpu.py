"""The CuPy backend used by ``gpu(i)`` devices. CuPy is imported only here, lazily.

Making a backend allocates nothing on the GPU (its generator is made on first use): CuPy's
allocations go through mxlite's pools, which look up this backend, so an allocation while
it is being made would recurse.
"""
import numpy

from ..base import GPUUnavailableError, bfloat16

GPU = 1  # backend kind; see mxlite.backend


def _import_cupy():
    try:
        import cupy
    except ImportError as err:
        raise GPUUnavailableError(
            "CuPy is not installed; install mxlite's GPU extra: pip install 'mxlite[gpu]'"
        ) from err
    return cupy


def gpu_unusable_reason(device_id=0):
    """Why ``gpu(device_id)`` cannot be used, or None when it can."""
    try:
        cupy = _import_cupy()
    except GPUUnavailableError as err:
        return str(err)
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDARuntimeError: no driver, or driver too old
        return f"no usable CUDA driver or GPU ({type(err).__name__}: {err})"
    if device_id >= count:
        return f"gpu({device_id}) requested but only {count} GPU(s) are visible"
    return None


def check_gpu_dtype(dtype, where):
    """Refuse bfloat16 on a GPU with the reason and the way out: CuPy has no bfloat16 dtype,
    and mxlite does not yet keep bfloat16 GPU arrays as 16-bit words (README, "Mixed
    precision")."""
    if dtype is not None and numpy.dtype(dtype) == bfloat16:
        raise TypeError(f"bfloat16 arrays cannot live on {where}: CuPy has no bfloat16 dtype "
                        "and mxlite does not store GPU bfloat16 yet; train 16-bit on a GPU "
                        "with amp.init('float16') (bfloat16 works on the CPU)")


class GpuBackend:
    kind = GPU
    name = "cupy"
    host_memory = False  # CuPy allocates, through the allocator hook storage installs

    def __init__(self, device):
        reason = gpu_unusable_reason(device.device_id)
        if reason is not None:
            raise GPUUnavailableError(f"cannot use {device}: {reason}")
        import cupy
        self.xp = cupy
        self.array_type = cupy.ndarray
        self.device = device
        self.cuda_device = cupy.cuda.Device(device.device_id)
        self._rng = None
        self._seed = None
        self._seeds = None

    @property
    def rng(self):
        """This GPU's generator, made on first use inside its scope (from the seed, else OS
        entropy)."""
        if self._rng is None:
            seed = None if self._seed is None else \
                (self._seed * 1_000_003 + self.device.device_id) % 2**63
            with self.cuda_device:
                self._rng = self.xp.random.default_rng(seed)
        return self._rng

    def host_rng(self):
        """A numpy generator seeded from this GPU's, for values made on the host."""
        with self.cuda_device:
            seed = int(self.rng.integers(0, 2**63 - 1))
        return numpy.random.default_rng(seed)

    def next_seed(self):
        """A seed for a per-call generator (dropout), drawn on the host: reading one from the
        GPU generator would make every call wait for the device."""
        if self._seeds is None:
            self._seeds = numpy.random.default_rng(
                None if self._seed is None else [self._seed, 1, self.device.device_id])
        return int(self._seeds.integers(0, 2**63 - 1))

    def scope(self):
        return self.cuda_device

    def empty(self, shape, dtype):
        check_gpu_dtype(dtype, self.device)
        with self.cuda_device:
            return self.xp.empty(shape, dtype)

    def asarray(self, obj, dtype=None):
        check_gpu_dtype(dtype if dtype is not None else getattr(obj, "dtype", None), self.device)
        with self.cuda_device:
            return self.xp.asarray(obj, dtype=dtype)

    def to_host(self, data):
        with self.cuda_device:
            return data.get()

    def copy_from_host(self, dst, host):
        with self.cuda_device:
            dst.set(host)

    def synchronize(self):
        self.cuda_device.synchronize()

    def seed(self, seed):
        self._seed = seed
        self._rng = None
        self._seeds = None
