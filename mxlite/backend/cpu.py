"""The numpy backend used by every ``cpu(i)`` device."""
import contextlib

import numpy

CPU = 0  # backend kind; see mxlite.backend

_NO_SCOPE = contextlib.nullcontext()


class CpuBackend:
    kind = CPU
    xp = numpy
    array_type = numpy.ndarray
    name = "numpy"
    host_memory = True  # arrays live in host memory: storage pools them itself

    def __init__(self, device):
        self.device = device
        self._rng = None
        self._seed = None

    @property
    def rng(self):
        """This device's generator, made on first use (from the seed, else OS entropy)."""
        if self._rng is None:
            self._rng = numpy.random.default_rng(
                None if self._seed is None else [self._seed, 0, self.device.device_id])
        return self._rng

    def host_rng(self):
        """A numpy generator for values made on the host: on the CPU, the device's own."""
        return self.rng

    def next_seed(self):
        """A seed for a per-call generator (dropout); on the CPU drawn from the device's own."""
        return int(self.rng.integers(0, 2**63 - 1))

    def scope(self):
        return _NO_SCOPE

    def empty(self, shape, dtype):
        return numpy.empty(shape, dtype)

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
        self._seed = seed
        self._rng = None
