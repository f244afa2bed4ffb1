"""The numpy backend used by every ``cpu(i)`` device."""
import numpy

CPU = 0  # backend kind; see mxlite.backend


class CpuBackend:
    kind = CPU
    xp = numpy
    array_type = numpy.ndarray
    name = "numpy"

    def __init__(self, device):
        self.device = device
        self.rng = numpy.random.default_rng()

    def asarray(self, obj, dtype=None):
        if hasattr(obj, "__cuda_array_interface__"):
            obj = obj.get()
        return numpy.asarray(obj, dtype=dtype)

    def to_host(self, data):
        return data

    def copy_from_host(self, dst, host):
        numpy.copyto(dst, host)

    def synchronize(self):
        pass

    def seed(self, seed):
        self.rng = numpy.random.default_rng([seed, 0, self.device.device_id])
