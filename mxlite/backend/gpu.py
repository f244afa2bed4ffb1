"""The CuPy backend used by ``gpu(i)`` devices. CuPy is imported only here, lazily."""
from ..device import GPUUnavailableError

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


class GpuBackend:
    kind = GPU
    name = "cupy"

    def __init__(self, device):
        reason = gpu_unusable_reason(device.device_id)
        if reason is not None:
            raise GPUUnavailableError(f"cannot use {device}: {reason}")
        import cupy
        self.xp = cupy
        self.array_type = cupy.ndarray
        self.device = device
        self.cuda_device = cupy.cuda.Device(device.device_id)
        from ..storage import install_cupy_allocator
        install_cupy_allocator()  # CuPy's allocations, temporaries included, use our pools
        from ..cuda.register import register_gpu_kernels
        register_gpu_kernels()  # our CUDA kernels become the GPU implementations of their ops
        with self.cuda_device:
            self.rng = cupy.random.default_rng()

    def asarray(self, obj, dtype=None):
        with self.cuda_device:
            return self.xp.asarray(obj, dtype=dtype)

    def to_host(self, data):
        return data.get()

    def copy_from_host(self, dst, host):
        with self.cuda_device:
            dst.set(host)

    def synchronize(self):
        self.cuda_device.synchronize()

    def seed(self, seed):
        with self.cuda_device:
            self.rng = self.xp.random.default_rng((seed * 1_000_003 + self.device.device_id) % 2**63)
