"""Graph mode's fused elementwise groups as generated CUDA kernels.

``group_kernel(steps, read_shapes, outs, out_shapes, dtype)`` describes a group by op names
(this layer knows no ops): ``steps`` is ``[(op name, args)]`` in order, each argument
``("read", k)`` (the group's k-th input array), ``("step", j)`` (step j's output) or
``("const", x)`` (a Python number, baked into the source); ``outs`` are the steps whose
outputs it returns. It returns a ``GroupKernel`` when every op has a row in ``OPS`` and the
dtype is float16/32/64, else None (the group then runs op by op).

The forward is one kernel computing every step per element in ``F`` (float, double for
float64) and writing the group's outputs; the backward is one kernel per pattern of wanted
gradients that recomputes the steps and walks them in reverse with each op's derivative
(``OPS``), so nothing inside the group is saved for it. Both are ``elementwise.kernel_source``
pairs (contiguous, and strided for broadcast inputs read in place) launched by
``elementwise.launch_kernel`` with a grid-stride loop; a gradient of a broadcast input comes
back in the group's shape, for the caller to sum. The source is compiled once per process
and device, keyed by its hash (``loader.load_generated``).
"""
import hashlib
import math

import numpy

from . import elementwise, loader

__all__ = ["OPS", "GroupKernel", "group_kernel"]

# op name -> (forward, derivative per input): C expressions in F of the inputs {a}, {b} and
# the output {y}; the derivatives follow the ops' own backward (MXNet's conventions: abs'(0)
# = 0, maximum/minimum give a tie to the first operand, power's exponent gets 0 where a <= 0).
OPS = {
    "negative": ("-{a}", ("F(-1)",)),
    "positive": ("{a}", ("F(1)",)),
    "abs": ("fabs({a})", ("({a} > F(0) ? F(1) : ({a} < F(0) ? F(-1) : F(0)))",)),
    "exp": ("exp({a})", ("{y}",)),
    "expm1": ("expm1({a})", ("exp({a})",)),
    "log": ("log({a})", ("F(1) / {a}",)),
    "log1p": ("log1p({a})", ("F(1) / ({a} + F(1))",)),
    "sqrt": ("sqrt({a})", ("F(1) / (F(2) * {y})",)),
    "square": ("{a} * {a}", ("F(2) * {a}",)),
    "reciprocal": ("F(1) / {a}", ("-{y} * {y}",)),
    "sin": ("sin({a})", ("cos({a})",)),
    "cos": ("cos({a})", ("-sin({a})",)),
    "tanh": ("tanh({a})", ("F(1) - {y} * {y}",)),
    "arctan": ("atan({a})", ("F(1) / (F(1) + {a} * {a})",)),
    "sinh": ("sinh({a})", ("cosh({a})",)),
    "cosh": ("cosh({a})", ("sinh({a})",)),
    "floor": ("floor({a})", ("F(0)",)),
    "ceil": ("ceil({a})", ("F(0)",)),
    "trunc": ("trunc({a})", ("F(0)",)),
    "add": ("{a} + {b}", ("F(1)", "F(1)")),
    "subtract": ("{a} - {b}", ("F(1)", "F(-1)")),
    "multiply": ("{a} * {b}", ("{b}", "{a}")),
    "divide": ("{a} / {b}", ("F(1) / {b}", "-{a} / ({b} * {b})")),
    "maximum": ("({a} != {a} || {a} >= {b}) ? {a} : {b}",
                ("({a} >= {b} ? F(1) : F(0))", "({a} >= {b} ? F(0) : F(1))")),
    "minimum": ("({a} != {a} || {a} <= {b}) ? {a} : {b}",
                ("({a} <= {b} ? F(1) : F(0))", "({a} <= {b} ? F(0) : F(1))")),
    "power": ("pow({a}, {b})", ("{b} * pow({a}, {b} - F(1))",
                                "({a} > F(0) ? {y} * log({a}) : F(0))")),
}


class GroupKernel:
    """The kernels of one fused group; ``forward``/``backward`` take ``module_for(key,
    make_source)`` (``loader.load_generated`` on a GPU, the CPU executor in tests)."""

    def __init__(self, steps, n_reads, outs, dtype):
        self.steps = [(name, tuple(args)) for name, args in steps]
        self.n_reads = n_reads
        self.outs = tuple(outs)
        self.dtype = numpy.dtype(dtype)
        self._forward = self._pair("forward", *self._forward_body())
        self._backwards = {}  # (heads present, reads wanted) -> kernel pair

    def _operand(self, arg):
        kind, value = arg
        if kind == "read":
            return f"x{value}"
        if kind == "step":
            return f"t{value}"
        return f"F({float(value)!r})"

    def _recompute(self):
        lines = []
        for j, (name, args) in enumerate(self.steps):
            forward = OPS[name][0]
            operands = dict(zip("ab", (self._operand(a) for a in args)))
            lines.append(f"const F t{j} = {forward.format(**operands)};")
        return lines

    def _forward_body(self):
        reads = tuple(f"x{k}" for k in range(self.n_reads))
        writes = tuple(f"y{m}" for m in range(len(self.outs)))
        body = self._recompute() + [f"y{m} = t{j};" for m, j in enumerate(self.outs)]
        return reads, writes, body

    def _backward_body(self, heads, wanted):
        """Recompute, then accumulate ``e_<value>`` (the gradient reaching it) in reverse."""
        reads = tuple(f"x{k}" for k in range(self.n_reads)) + tuple(f"h{m}" for m in heads)
        writes = tuple(f"d{k}" for k in wanted)
        body = self._recompute()
        body += [f"F e_t{j} = F(0);" for j in range(len(self.steps))]
        body += [f"F e_x{k} = F(0);" for k in range(self.n_reads)]
        body += [f"e_t{self.outs[m]} += h{m};" for m in heads]
        for j in range(len(self.steps) - 1, -1, -1):
            name, args = self.steps[j]
            operands = dict(zip("ab", (self._operand(a) for a in args)), y=f"t{j}")
            for arg, derivative in zip(args, OPS[name][1]):
                if arg[0] != "const":
                    target = f"e_{self._operand(arg)}"
                    body.append(f"{target} += e_t{j} * ({derivative.format(**operands)});")
        body += [f"d{k} = e_x{k};" for k in wanted]
        return reads, writes, body

    def _pair(self, phase, reads, writes, body):
        text = " ".join(body)
        key = hashlib.sha256(f"{self.dtype}|{reads}|{writes}|{text}".encode()).hexdigest()[:20]
        name = f"fused_{phase}_{key}"
        type_name = elementwise.TYPE_NAMES[self.dtype.name]

        def make_source():
            source = elementwise.PRELUDE + elementwise.kernel_source(name, reads, writes, text)
            return loader.inline_includes(source), (f"{name}<{type_name}>", f"{name}_strided<{type_name}>")
        return name, key, make_source, len(writes)

    def source(self, phase="forward", heads=(), wanted=()):
        """The generated program of the forward, or of the backward for the heads and
        wanted gradients given (for tests and inspection)."""
        pair = self._forward if phase == "forward" else self._backward_pair(heads, wanted)
        return pair[2]()

    def _backward_pair(self, heads, wanted):
        pattern = (tuple(heads), tuple(wanted))
        pair = self._backwards.get(pattern)
        if pair is None:
            pair = self._backwards[pattern] = self._pair("backward",
                                                         *self._backward_body(*pattern))
        return pair

    def forward(self, module_for, xp, *reads):
        """The group's outputs (a tuple) for its input arrays."""
        name, key, make_source, n = self._forward
        return tuple(elementwise.launch_kernel(module_for(key, make_source), xp, name,
                                               reads, n))

    def backward(self, module_for, xp, heads, reads, need):
        """Per input, its gradient in the group's shape (None where ``need`` says no) from
        the outputs' gradients ``heads`` (None: no gradient)."""
        present = tuple(m for m, h in enumerate(heads) if h is not None)
        wanted = tuple(k for k, n in enumerate(need) if n)
        grads = [None] * self.n_reads
        if not present or not wanted:
            return grads
        name, key, make_source, n = self._backward_pair(present, wanted)
        arrays = list(reads) + [heads[m].astype(self.dtype, copy=False) for m in present]
        for k, g in zip(wanted, elementwise.launch_kernel(module_for(key, make_source), xp,
                                                          name, arrays, n)):
            grads[k] = g
        return grads


def group_kernel(steps, read_shapes, outs, out_shapes, dtype):
    """A GroupKernel for the group (see the module docstring), or None where it has an op
    without a row, a constant that is not a finite number, outputs not of the group's
    (broadcast) shape or a dtype the kernels lack."""
    dtype = numpy.dtype(dtype)
    if dtype.name not in elementwise.DTYPES or not read_shapes:
        return None
    shape = numpy.broadcast_shapes(*read_shapes)
    if any(tuple(s) != shape for s in out_shapes):
        return None
    for name, args in steps:
        row = OPS.get(name)
        if row is None or len(args) != len(row[1]):
            return None
        for kind, value in args:
            if kind == "const" and (value.__class__ not in (int, float)
                                    or not math.isfinite(value)):
                return None
    return GroupKernel(steps, len(read_shapes), outs, dtype)
