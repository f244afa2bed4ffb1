"""Elementwise GPU kernels declared as one line of CUDA C each, with broadcasting.

``declare(op_name, inputs, backward, forward=None)`` gives the op named ``op_name`` a backward
kernel (and a forward one when ``forward`` is given), generated from statement bodies that
compute in ``F`` (float for float16/float32, double for float64)::

    declare("hypot", ("x1", "x2"),
            backward="const F s = y == F(0) ? F(0) : g / y; g1 = s * x1; g2 = s * x2;")

The backward body reads ``g`` (the output's gradient), the inputs and, when it names it, the
output ``y`` (the op must save its output), and sets one gradient per input (``gx`` for a unary
op, ``g1``, ``g2`` for a binary one); a forward body reads the inputs and sets ``y``. Each body
becomes two kernels in the generated module ``elementwise``:
a contiguous one, and a strided one that reads broadcast inputs in place (shape and element
strides in a small table), so broadcasting never falls back. The module compiles with NVRTC on a
GPU and with the CPU executor in tests like the files in ``kernels/``; a declaration is the whole
kernel, and ``mxlite.cuda.register.elementwise_op(op_name)`` attaches it.

Use it where one kernel replaces a chain of library calls (a backward of several products is
one pass instead of one per product); a forward that is one CuPy ufunc gains nothing, so most
declarations have a backward only.
"""
import math
import re

import numpy

__all__ = ["STEM", "DTYPES", "TYPE_NAMES", "PRELUDE", "Declaration", "declare", "declared",
           "wrapper", "source", "name_expressions", "kernel_source", "launch_kernel"]

STEM = "elementwise"  # the generated module's name beside the kernels/*.cu stems
DTYPES = ("float16", "float32", "float64")
BLOCK = 256
MAX_BLOCKS = 8192
TYPE_NAMES = {"float16": "__half", "float32": "float", "float64": "double"}
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")

_declarations = {}  # op name -> Declaration


class Declaration:
    """One op's elementwise kernels: ``backward(k, xp, g, *inputs[, y]) -> gradients`` and, when
    declared, ``forward(k, xp, *inputs) -> y`` launch them."""

    def __init__(self, op_name, inputs, backward, forward=None):
        if not _IDENTIFIER.match(op_name):
            raise ValueError(f"elementwise op names are lower-case C identifiers, got {op_name!r}")
        self.op_name = op_name
        self.inputs = tuple(inputs)
        self.gradients = ("gx",) if len(self.inputs) == 1 else tuple(f"g{i + 1}" for i in range(len(self.inputs)))
        self.reads_out = re.search(r"\by\b", backward) is not None
        self.kernels = {"backward": (("g",) + self.inputs + (("y",) if self.reads_out else ()),
                                     self.gradients, backward)}
        if forward is not None:
            self.kernels["forward"] = (self.inputs, ("y",), forward)
        self.forward = self._launcher("forward") if forward is not None else None
        self.backward = self._launcher("backward")

    def kernel_name(self, phase):
        return f"elementwise_{self.op_name}_{phase}"

    def _launcher(self, phase):
        reads, writes, _ = self.kernels[phase]
        name = self.kernel_name(phase)

        def launch(k, xp, *arrays):
            if len(arrays) != len(reads):
                raise TypeError(f"{name} takes {len(reads)} arrays ({', '.join(reads)}), got {len(arrays)}")
            outputs = launch_kernel(k, xp, name, arrays, len(writes))
            return outputs[0] if len(outputs) == 1 else tuple(outputs)
        launch.__name__ = name
        launch.kernel_file = STEM
        return launch

    def source(self):
        return "".join(kernel_source(self.kernel_name(phase), *self.kernels[phase]) for phase in self.kernels)


def launch_kernel(k, xp, name, arrays, n_writes):
    """Launch the kernel pair ``name`` (from ``kernel_source``) of module ``k`` on ``arrays``:
    the contiguous kernel when all have the broadcast shape and are C-contiguous, else the
    strided one; returns the ``n_writes`` new arrays of the broadcast shape."""
    dtype = arrays[0].dtype
    if dtype.name not in DTYPES or any(a.dtype != dtype for a in arrays):
        raise TypeError(f"{name} takes arrays of one dtype among {', '.join(DTYPES)}; got "
                        f"{', '.join(str(a.dtype) for a in arrays)}")
    shape = numpy.broadcast_shapes(*(a.shape for a in arrays))
    outputs = [xp.empty(shape, dtype=dtype) for _ in range(n_writes)]
    size = math.prod(shape)
    if size:
        template = f"<{TYPE_NAMES[dtype.name]}>"
        grid = (max(1, min(-(-size // BLOCK), MAX_BLOCKS)),)
        if all(a.shape == shape and a.flags.c_contiguous for a in arrays):
            k.get_function(name + template)(grid, (BLOCK,), (*arrays, *outputs, numpy.int64(size)))
        else:
            views = [xp.broadcast_to(a, shape) for a in arrays]
            table = list(shape) + [s // dtype.itemsize for v in views for s in v.strides]
            k.get_function(f"{name}_strided{template}")(
                grid, (BLOCK,), (*views, *outputs, numpy.int64(size), numpy.int32(len(shape)),
                                 xp.asarray(numpy.array(table, dtype=numpy.int64))))
    return outputs


def kernel_source(name, reads, writes, body):
    """The contiguous and the strided kernel (``name``, ``name_strided``, templates on the
    storage type ``T``) that run ``body`` per element: it reads the ``reads`` and sets the
    ``writes`` (C identifiers, all in ``F``); the strided one reads broadcast inputs in place
    through a table of the shape and each input's element strides."""
    params = ", ".join([f"const T* __restrict__ {r}_" for r in reads] + [f"T* __restrict__ {w}_" for w in writes])
    offsets = (" long long rest = i;" + "".join(f" long long o_{r} = 0;" for r in reads)
               + " for (int d = ndim - 1; d >= 0; --d) { const long long c = rest % table[d]; rest /= table[d];"
               + "".join(f" o_{r} += c * table[{j + 1} * ndim + d];" for j, r in enumerate(reads)) + " }")

    def kernel(kernel_name, extra_params, prologue, index):
        loads = " ".join(f"const F {r} = C::load({r}_[{index(r)}]);" for r in reads)
        return (f"template <typename T>\n__global__ void {kernel_name}({params}, long long n{extra_params}) {{\n"
                "    typedef Compute<T> C;\n    typedef typename C::type F;\n"
                "    const long long stride = (long long)blockDim.x * gridDim.x;\n"
                "    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {\n"
                f"       {prologue} {loads}\n"
                f"        {' '.join(f'F {w};' for w in writes)}\n"
                f"        {{ {body} }}\n"
                f"        {' '.join(f'{w}_[i] = C::store({w});' for w in writes)}\n"
                "    }\n}\n\n")
    return (kernel(name, "", "", lambda r: "i")
            + kernel(f"{name}_strided", ", int ndim, const long long* __restrict__ table", offsets,
                     lambda r: f"o_{r}"))


PRELUDE = """// Generated by mxlite.cuda.elementwise: do not edit.
#include "common.cuh"

// Elementwise bodies compute in F: float for the 16- and 32-bit storage types, double for double.
template <typename T> struct Compute {
    typedef float type;
    static __device__ __forceinline__ float load(T v) { return to_float(v); }
    static __device__ __forceinline__ T store(float v) { return from_float<T>(v); }
};
template <> struct Compute<double> {
    typedef double type;
    static __device__ __forceinline__ double load(double v) { return v; }
    static __device__ __forceinline__ double store(double v) { return v; }
};

"""


def declare(op_name, inputs, backward, forward=None):
    """Declare the elementwise kernels of the op named ``op_name`` (see the module docstring)."""
    if op_name in _declarations:
        raise ValueError(f"{op_name!r} already has elementwise kernels")
    declaration = _declarations[op_name] = Declaration(op_name, inputs, backward, forward)
    return declaration


def declared(op_name):
    try:
        return _declarations[op_name]
    except KeyError:
        raise KeyError(f"no elementwise kernels are declared for {op_name!r}; declared: "
                       f"{', '.join(sorted(_declarations))}") from None


def wrapper(name):
    """The launcher called ``name`` (``elementwise_<op>_<phase>``), as ``mxlite.cuda.ops`` names wrappers."""
    for declaration in _declarations.values():
        for phase in declaration.kernels:
            if declaration.kernel_name(phase) == name:
                return getattr(declaration, phase)
    raise AttributeError(f"no kernel wrapper named {name!r}")


def source():
    """The generated module: every declaration's kernels (``#include "common.cuh"`` left for the
    loader to inline, as in ``kernels/*.cu``)."""
    return PRELUDE + "".join(d.source() for d in _declarations.values())


def name_expressions():
    return tuple(f"{d.kernel_name(phase)}{suffix}<{t}>" for d in _declarations.values()
                 for phase in d.kernels for suffix in ("", "_strided")
                 for t in TYPE_NAMES.values())


# ---- the declarations: backward passes that replace a chain of CuPy calls ----

declare("logaddexp", ("x1", "x2"), backward="g1 = g * exp(x1 - y); g2 = g * exp(x2 - y);")
declare("logaddexp2", ("x1", "x2"), backward="g1 = g * exp2(x1 - y); g2 = g * exp2(x2 - y);")
declare("hypot", ("x1", "x2"), backward="const F s = y == F(0) ? F(0) : g / y; g1 = s * x1; g2 = s * x2;")
declare("arctan2", ("x1", "x2"), backward="const F s = g / (x1 * x1 + x2 * x2); g1 = s * x2; g2 = -s * x1;")
