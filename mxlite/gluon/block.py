"""``Block`` and ``HybridBlock`` (MXNet 2.x: users implement ``forward(x, *args)``).

Attributes that are Blocks or Parameters register themselves, and parameters are named
by structure: ``'0.weight'``, ``'0.0.weight'``. Parameters whose shape is unknown at
``initialize()`` are created on the block's first call, after ``infer_shape``.
"""
import itertools
import json
import re
import warnings
import weakref
from collections import OrderedDict

import numpy as _np

from .. import autograd, graph, initializer
from ..autograd import apply
from ..base import MXNetError
from ..graph import Ref, serialize
from ..graph.tracer import build_outputs
from ..device import current_device
from ..fileio import atomic_write, read_npz, write_npz
from ..ndarray import ndarray, wrap
from .parameter import Parameter, shape_is_known

__all__ = ["Block", "HybridBlock", "SymbolBlock", "HookHandle"]


class HookHandle:
    """Returned by ``register_forward_hook``; ``detach()`` removes the hook."""

    _ids = itertools.count()

    def __init__(self, hooks, hook):
        self._id = next(self._ids)
        hooks[self._id] = hook
        self._hooks = weakref.ref(hooks)

    def detach(self):
        hooks = self._hooks()
        if hooks is not None:
            hooks.pop(self._id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()


def _flatten_arrays(args):
    for a in args:
        if isinstance(a, ndarray):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _flatten_arrays(a)


class MissingParameterError(AssertionError):
    """``load_parameters`` found no value for a parameter (MXNet raises AssertionError)."""


class Block:
    """Base class of layers and models: holds child blocks and parameters."""

    def __init__(self, **kwargs):
        if kwargs:
            gluon1 = sorted(set(kwargs) & {"prefix", "params"})
            if gluon1:
                raise TypeError(
                    f"{type(self).__name__}: {'= and '.join(gluon1)}= "
                    f"{'is' if len(gluon1) == 1 else 'are'} MXNet 1.x's Block naming (Gluon 2 "
                    "removed it): parameter names are the attribute paths, "
                    "and parameters are shared with net.share_parameters(other.collect_params())")
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected keyword "
                            f"arguments {sorted(kwargs)}")
        object.__setattr__(self, "_children", OrderedDict())
        object.__setattr__(self, "_reg_params", OrderedDict())
        self._forward_hooks = OrderedDict()
        self._forward_pre_hooks = OrderedDict()
        self._active = False

    # -- registration ------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_children" not in self.__dict__ and isinstance(value, (Block, Parameter)):
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               f"before assigning the child block or parameter {name!r}")
        existing = self.__dict__.get(name)
        if isinstance(existing, (Parameter, Block)) and not isinstance(value, type(existing)):
            raise TypeError(f"Changing attribute type for {name} from {type(existing)} to "
                            f"{type(value)} is not allowed.")
        if isinstance(value, Block):
            self.register_child(value, name)
        elif isinstance(value, Parameter):
            self._reg_params[name] = value
        elif name in self.__dict__.get("_reg_params", ()) and value is None:
            del self._reg_params[name]
        object.__setattr__(self, name, value)

    def register_child(self, block, name=None):
        """Add ``block`` as a child (named by its index when ``name`` is None)."""
        if name is None:
            name = str(len(self._children))
        self._children[name] = block

    @property
    def params(self):
        """This block's own parameters (not its children's)."""
        return self._reg_params

    def _collect_params_with_prefix(self, prefix=""):
        ret = {prefix + name: p for name, p in self._reg_params.items()}
        for name, child in self._children.items():
            ret.update(child._collect_params_with_prefix(prefix + name + "."))
        return ret

    def collect_params(self, select=None):
        """Every parameter of this block and its children, keyed by structural name.

        ``select`` is a regular expression matched (``re.match``) against the names. Warns,
        as MXNet does, when an attribute is a list, tuple or dict holding Blocks that are
        not children: their parameters are not collected.
        """
        self._check_container_with_block()
        params = self._collect_params_with_prefix()
        if not select:
            return params
        pattern = re.compile(select)
        return {name: p for name, p in params.items() if pattern.match(name)}

    def _check_container_with_block(self):
        children = {id(c) for c in self._children.values()}

        def unregistered(data):
            if isinstance(data, (list, tuple)):
                return any(unregistered(v) for v in data)
            if isinstance(data, dict):
                return any(unregistered(v) for v in data.values())
            return isinstance(data, Block) and id(data) not in children
        for name, value in self.__dict__.items():
            if isinstance(value, (list, tuple, dict)) and not name.startswith("__") \
                    and name not in ("_children", "_reg_params") and unregistered(value):
                warnings.warn(f'"{type(self).__name__}.{name}" is an unregistered container '
                              "with Blocks. Note that Blocks inside the list, tuple or dict "
                              "will not be registered automatically. Make sure to register "
                              "them using register_child() or switching to "
                              "nn.Sequential/nn.HybridSequential instead.", stacklevel=3)

    def _unique_params(self):
        seen = {}
        for p in self._collect_params_with_prefix().values():
            seen.setdefault(id(p), p)
        return list(seen.values())

    # -- whole-model operations -------------------------------------------------------------
    def initialize(self, init=initializer.Uniform(), device=None, verbose=False,
                   force_reinit=False, ctx=None):
        """Initialize every parameter; ``init`` is the default for those without their own."""
        device = device if device is not None else ctx
        for p in self._unique_params():
            p.initialize(None, device, init, force_reinit=force_reinit)
        return self

    def zero_grad(self):
        for p in self._unique_params():
            p.zero_grad()

    def reset_device(self, device):
        for p in self._unique_params():
            p.reset_device(device)

    reset_ctx = reset_device

    def setattr(self, name, value):
        """Set an attribute on every parameter, e.g. ``net.setattr('grad_req', 'null')``."""
        for p in self._unique_params():
            setattr(p, name, value)

    def apply(self, fn):
        """Call ``fn(block)`` on every child (depth first), then on this block."""
        for child in self._children.values():
            child.apply(fn)
        fn(self)
        return self

    def cast(self, dtype):
        """Cast every parameter to ``dtype``."""
        for child in self._children.values():
            child.cast(dtype)
        for p in self._reg_params.values():
            p.cast(dtype)

    def hybridize(self, active=True, **kwargs):
        """Pass ``hybridize`` on to the children (a plain Block itself stays imperative)."""
        for child in self._children.values():
            child.hybridize(active, **kwargs)

    def share_parameters(self, shared):
        """Use the Parameters in ``shared`` (structural name -> Parameter) in place of ours."""
        if shared is None:
            return self
        if not isinstance(shared, dict):
            raise ValueError(f"'shared' should be in type of Dict. Get type {type(shared)}!")
        unused = set(shared)
        self._share(shared, unused, "")
        for name in sorted(unused):
            warnings.warn(f"Parameter name {name} is not in the current model!", stacklevel=2)
        return self

    def _share(self, shared, unused, prefix):
        for name in list(self._reg_params):
            key = prefix + name
            if shared.get(key) is not None:
                setattr(self, name, shared[key])
                unused.discard(key)
        for name, child in self._children.items():
            child._share(shared, unused, prefix + name + ".")

    # -- save / load -----------------------------------------------------------------------
    def save_parameters(self, filename, deduplicate=False):
        """Save parameter values to an uncompressed ``.npz`` keyed by structural names,
        replacing ``filename`` atomically (a failed save leaves the old file intact).

        With ``deduplicate`` a shared parameter is saved once, under its first name.
        """
        params = self._collect_params_with_prefix()
        if deduplicate:
            first = {}
            for name, p in params.items():
                first.setdefault(id(p), name)
            params = {name: p for name, p in params.items() if first[id(p)] == name}
        write_npz(filename, {name: p._reduce() for name, p in params.items()})

    def load_parameters(self, filename, device=None, allow_missing=False, ignore_extra=False,
                        cast_dtype=False, dtype_source="current", ctx=None):
        """Load values saved by ``save_parameters``; deferred shapes are filled from the file.

        The file holds arrays only (read with ``allow_pickle=False``). Every entry is
        checked before any parameter changes, so a bad file leaves the model as it was.
        """
        device = device if device is not None else ctx
        loaded = read_npz(filename, "load_parameters", "Block.save_parameters or npx.save")
        params = self._collect_params_with_prefix()
        if not allow_missing:
            names_of = {}
            for name, p in params.items():
                names_of.setdefault(id(p), []).append(name)
            missing = [name for name, p in params.items()
                       if not any(n in loaded for n in names_of[id(p)])]
            if missing:
                raise MissingParameterError(
                    f"Parameter '{missing[0]}' is missing in 'file: {filename}'. Missing: "
                    f"{_listed(missing, params)}; the file contains {_listed(loaded, loaded)}. "
                    "Set allow_missing=True to ignore missing parameters.")
        extra = [name for name in loaded if name not in params]
        if extra and not ignore_extra:
            raise ValueError(
                f"Parameter '{extra[0]}' loaded from 'file: {filename}' is not present in the "
                f"model. Not in the model: {_listed(extra, loaded)}; the model contains "
                f"{_listed(params, params)}. Set ignore_extra=True to ignore.")
        problems = [params[name]._check_load(value, cast_dtype, name)
                    for name, value in loaded.items() if name in params]
        problems = [p for p in problems if p]
        if problems:
            raise ValueError(f"load_parameters: 'file: {filename}': " + "; ".join(problems))
        for name, value in loaded.items():
            if name in params:
                params[name]._load_init(value, device or current_device(), cast_dtype,
                                        dtype_source)

    def _structure(self):
        """This block's tree as ``save`` records it: class, own parameter names, graph mode."""
        record = {"class": type(self).__name__, "params": list(self._reg_params)}
        cached = getattr(self, "_cached_graph", None)
        if isinstance(self, HybridBlock):
            record["hybridized"] = cached is not None
            if cached is not None:
                record["options"] = {"static_alloc": cached.static_alloc,
                                     "static_shape": cached.static_shape,
                                     **{name: name in cached.passes
                                        for name in ("dce", "cse", "fuse")}}
        record["children"] = {name: child._structure() for name, child in self._children.items()}
        return record

    def save(self, prefix):
        """Save the architecture record to ``prefix-model.json`` and the parameters to
        ``prefix-model.params``, for ``load`` on a model built the same way.

        The record keeps each block's class, parameter names and hybridize settings; the
        graph itself is not stored: a block saved hybridized is traced again on its first
        call after ``load``, which gives the same outputs."""
        with atomic_write(prefix + "-model.json") as fp:
            fp.write(json.dumps(self._structure()).encode())
        self.save_parameters(prefix + "-model.params")

    def load(self, prefix):
        """Load what ``save`` wrote: check this model has the saved structure, restore
        each block's hybridize settings, then load the parameters."""
        with open(prefix + "-model.json") as fp:
            saved = json.load(fp)
        self._restore(saved, prefix + "-model.json", "model")
        self.load_parameters(prefix + "-model.params")

    def _restore(self, saved, filename, where):
        mine = self._structure()
        for key in ("class", "params"):
            if saved[key] != mine[key]:
                raise ValueError(
                    f"load: {where} in '{filename}' has {key} {saved[key]!r}, this model has "
                    f"{mine[key]!r}; build the model the same way as the one that was saved")
        if list(saved["children"]) != list(mine["children"]):
            raise ValueError(
                f"load: {where} in '{filename}' has children {list(saved['children'])}, this "
                f"model has {list(mine['children'])}; build the model the same way as the one "
                "that was saved")
        if isinstance(self, HybridBlock):
            self.hybridize(saved["hybridized"], **saved.get("options", {}))
        for name, child in self._children.items():
            child._restore(saved["children"][name], filename, f"{where}.{name}")

    # -- calling ---------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook):
        """``hook(block, inputs)`` runs before each forward; returns a HookHandle."""
        return HookHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """``hook(block, inputs, outputs)`` runs after each forward; returns a HookHandle."""
        return HookHandle(self._forward_hooks, hook)

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            hook(self, args)
        pending = [p for p in self._reg_params.values()
                   if p._data is None and p._deferred_init]
        if pending:
            with graph.paused():  # initialization is not part of a traced forward
                if any(not shape_is_known(p._shape) for p in pending):
                    self.infer_shape(*args, **kwargs)
                for p in pending:
                    p._finish_deferred_init()
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            hook(self, args, out)
        return out

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def infer_shape(self, *args, **kwargs):
        """Fill unknown parameter shapes from the inputs; layers with deferred shapes override."""
        unknown = [name for name, p in self._reg_params.items() if not shape_is_known(p._shape)]
        raise RuntimeError(
            f"{type(self).__name__} has parameters with unknown shape {unknown}; implement "
            "infer_shape(self, *args) to set their shapes from the inputs, or give the shapes "
            "when creating the Parameters")

    # -- inspection -------------------------------------------------------------------------
    def __repr__(self):
        if not self._children:
            return f"{type(self).__name__}()"
        lines = [f"{type(self).__name__}("]
        for name, child in self._children.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)

    def summary(self, *inputs):
        """Print each block's output shape and parameter count for a forward on ``inputs``.
        The blocks must not be hybridized (AssertionError, as in MXNet): call summary
        before ``hybridize()``, or after ``hybridize(False)``."""
        def not_hybridized(block):
            if isinstance(block, HybridBlock) and block._active:
                raise AssertionError(f'"{type(block).__name__}" must not be hybridized to '
                                     "print summary: call summary() before hybridize(), or "
                                     "after hybridize(False)")
        self.apply(not_hybridized)
        rows = []
        seen = set()
        handles = []

        def count_params(block):
            total = trainable = 0
            for p in block._reg_params.values():
                if id(p) in seen or p.shape is None:
                    continue
                seen.add(id(p))
                n = int(_np.prod(p.shape))
                total += n
                trainable += n if p.grad_req != "null" else 0
            return total, trainable

        def hook(block, _, out):
            shapes = [o.shape for o in _flatten_arrays([out])]
            total, trainable = count_params(block)
            rows.append((f"{type(block).__name__}-{len(rows) + 1}",
                         str(shapes[0] if len(shapes) == 1 else shapes), total, trainable))

        self.apply(lambda b: handles.append(b.register_forward_hook(hook)))
        try:
            with autograd.pause(), graph.imperative():  # hooks fire in every block
                self(*inputs)
        finally:
            for h in handles:
                h.detach()
        width = 80
        print("-" * width)
        print(f"{'Layer (type)':>30}{'Output Shape':>30}{'Param #':>20}")
        print("=" * width)
        in_shapes = [a.shape for a in _flatten_arrays(inputs)]
        print(f"{'Input':>30}{str(in_shapes[0] if len(in_shapes) == 1 else in_shapes):>30}"
              f"{0:>20}")
        for name, shape, total, _ in rows:
            print(f"{name:>30}{shape:>30}{total:>20}")
        total = sum(r[2] for r in rows)
        trainable = sum(r[3] for r in rows)
        print("=" * width)
        print(f"Parameters in forward computation graph, duplicate included\n"
              f"   Total params: {total}\n   Trainable params: {trainable}\n"
              f"   Non-trainable params: {total - trainable}")
        print("-" * width)


# hybridize() keywords MXNet takes that mean nothing here (accepted, ignored)
_MXNET_HYBRIDIZE_OPTIONS = ("backend", "backend_opts", "clear", "partition_if_dynamic",
                            "inline_limit", "forward_bulk_size", "backward_bulk_size")


class HybridBlock(Block):
    """A Block whose forward uses only mxlite ops, so it can run as a graph.

    After ``hybridize()`` the first call per input signature traces the forward into a
    graph (``mxlite.graph``) and later calls run the optimized graph: same outputs and
    gradients, less per-op overhead. A forward that cannot be traced (Python control flow
    on array values, host reads, in-place writes) runs imperatively, with one warning.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if type(self).__dict__.get("hybrid_forward") is not None:
            raise TypeError(f"{type(self).__name__} defines hybrid_forward (MXNet 1.x); "
                            "implement forward(self, x, *args) instead")
        self._cached_graph = None

    def hybridize(self, active=True, static_alloc=False, static_shape=False, dce=True,
                  cse=True, fuse=True, **kwargs):
        """Run this block as a graph from its next call (``active=False``: imperatively).

        ``static_alloc`` plans the graph's intermediate buffers once and reuses them across
        calls; ``static_shape`` keeps a single graph (a new input signature replaces it);
        ``dce``, ``cse`` and ``fuse`` switch the passes (dead code, common subexpressions,
        elementwise fusion). Children are hybridized too; inside a traced parent they run as
        part of its graph.
        """
        unknown = set(kwargs) - set(_MXNET_HYBRIDIZE_OPTIONS)
        if unknown:
            raise TypeError(f"hybridize() got unexpected keywords {sorted(unknown)}; it takes "
                            "static_alloc, static_shape, dce, cse, fuse (and MXNet's "
                            f"{', '.join(_MXNET_HYBRIDIZE_OPTIONS)}, which do nothing here)")
        self._active = active
        self._cached_graph = graph.CachedGraph(
            self, graph.pass_names({"dce": dce, "cse": cse, "fuse": fuse}),
            static_alloc=static_alloc, static_shape=static_shape) if active else None
        super().hybridize(active, static_alloc=static_alloc, static_shape=static_shape,
                          dce=dce, cse=cse, fuse=fuse, **kwargs)

    def register_child(self, block, name=None):
        if self._active:
            warnings.warn(f"Currently the model {type(self).__name__} has been hybridized; "
                          "adding a child turns hybridization off.", stacklevel=3)
            self._active = False
            self._cached_graph = None
        super().register_child(block, name)

    def cast(self, dtype):
        self._active = False
        self._cached_graph = None
        super().cast(dtype)

    def __call__(self, x, *args, **kwargs):
        if not any(True for _ in _flatten_arrays((x,) + args)):
            raise ValueError(f"{type(self).__name__}: at least one input must be an ndarray")
        cached = self._cached_graph
        if cached is None or kwargs or graph.runs_inline():
            return super().__call__(x, *args, **kwargs)
        call = (x,) + args
        return cached(self, call, lambda: Block.__call__(self, *call))

    def export(self, path, epoch=0, remove_amp_cast=True):
        """Write the latest traced graph to ``path-symbol.json`` (format: ``mxlite.graph``)
        and its parameters to ``path-EPOCH.params``; returns both file names. The graph
        holds the input shapes and training mode it was traced with."""
        graph_, names = self._traced_graph("export")
        return serialize.export(graph_, names, self.collect_params(), path, epoch)

    def _traced_graph(self, caller):
        """(latest traced graph, its input names); MXNetError naming why there is none."""
        entry = self._cached_graph.latest if self._cached_graph is not None else None
        if entry is None:
            why = (f"it fell back to imperative execution ({self._cached_graph.fallback})"
                   if self._cached_graph is not None and self._cached_graph.fallback
                   else "call hybridize() and run one forward first")
            raise MXNetError(f"{type(self).__name__}.{caller} needs a traced graph: {why}")
        names = ["data"] if len(entry.graph.inputs) == 1 else \
            [f"data{i}" for i in range(len(entry.graph.inputs))]
        return entry.graph, names

    def _save_graph(self, symbol_file):
        """Write only the latest traced graph (what ``export`` puts in ``-symbol.json``)."""
        graph_, names = self._traced_graph("export")
        serialize.save_graph(graph_, names, self.collect_params(), symbol_file)

    def optimize_for(self, x, *args, backend=None, clear=False, **kwargs):
        """Hybridize with ``kwargs`` (the ``hybridize`` options), trace on ``x, *args`` and
        return the report of what the passes did (``graph_summary``)."""
        if backend is not None:
            raise MXNetError(f"optimize_for: no backend {backend!r}; mxlite runs its own "
                             "passes (backend=None) switched by dce, cse, fuse, static_alloc")
        self.hybridize(True, **kwargs)
        self(x, *args)
        return self.graph_summary()

    def graph_summary(self):
        """What graph mode did (printable): per signature the nodes, fused groups, planned
        memory and pass reports, or why the block fell back to imperative execution."""
        if self._cached_graph is None:
            return f"{type(self).__name__}: not hybridized (call hybridize() first)"
        return self._cached_graph.summary()


class SymbolBlock(HybridBlock):
    """A graph loaded from a symbol file, run (and trained) without the Python class that
    made it; hybridize it to run it as a graph again."""

    def __init__(self, graph, input_names, params):
        super().__init__()
        self._graph = graph
        self._input_names = list(input_names)
        for name, p in params.items():
            self._reg_params[name] = p

    @staticmethod
    def imports(symbol_file, input_names, param_file=None, device=None, ctx=None):
        """Load what ``HybridBlock.export`` wrote. ``input_names`` must name the file's
        inputs in order; without ``param_file`` the parameters wait for ``initialize`` or
        ``load_parameters``."""
        device = device if device is not None else ctx
        if isinstance(device, (list, tuple)):
            device = device[0]
        device = device or current_device()
        if isinstance(input_names, str):
            input_names = [input_names]
        doc, values = serialize.load(symbol_file, param_file)
        constants = {c["name"]: _constant_from_file(values, c["name"], device, param_file)
                     for c in doc.get("constants", ())}
        graph_, names, grad_reqs = serialize.from_json(doc, device, constants)
        if list(input_names) != names:
            raise ValueError(f"SymbolBlock.imports: {symbol_file} has inputs {names}; got "
                             f"input_names {list(input_names)}")
        params = {}
        for vid, name in graph_.params:
            shape, dtype = graph_.meta[vid]
            p = Parameter(name, grad_req=grad_reqs[name], shape=shape, dtype=dtype)
            if param_file is not None:
                if name not in values:
                    raise MissingParameterError(f"Parameter '{name}' is missing in 'file: "
                                                f"{param_file}'")
                p._load_init(values[name], device)
            params[name] = p
        return SymbolBlock(graph_, input_names, params)

    def __repr__(self):
        """MXNet's form: the class name, then one line for the graph with its input and
        output counts, then ')'."""
        g = self._graph
        ops = sum(1 for _ in g.op_nodes())
        return (f"SymbolBlock(\n<graph of {ops} ops over {', '.join(self._input_names)}> : "
                f"{len(g.inputs)} -> {len(g.outputs)}\n)")

    def forward(self, x, *args):
        flat = list(_flatten_arrays((x,) + args))
        g = self._graph
        if len(flat) != len(g.inputs):
            raise ValueError(f"SymbolBlock takes {len(g.inputs)} arrays "
                             f"({', '.join(self._input_names)}), got {len(flat)}")
        dev = flat[0]._device
        values = dict(zip(g.inputs, flat))
        values.update((vid, self._reg_params[name].data(dev)) for vid, name in g.params)
        values.update((vid, a if a._device is dev else a.to_device(dev))
                      for vid, a in g.constants)
        for node in g.op_nodes():
            args_ = [values[a.vid] if a.__class__ is Ref else a for a in node.args]
            if node.op.seed_arg is not None:
                args_[node.op.seed_arg] = dev.backend.next_seed()
            out = apply(node.op, tuple(args_), node.params)
            values.update(zip(node.outs, out if node.op.nout > 1 else (out,)))
        return build_outputs(g.out_tree, [values[v] for v in g.outputs])


def _constant_from_file(values, name, device, param_file):
    """The array ``name`` of a params file on ``device``."""
    if name not in values:
        raise MissingParameterError(f"'{name}' (a constant of the graph) is missing in "
                                    f"'file: {param_file}'")
    return wrap(device.backend.asarray(values[name]), device)


def _listed(names, shapes, limit=8):
    """``'a' (shape (2, 3)), 'b' (...)``: the first ``limit`` of ``names`` with their shapes
    (``shapes`` maps a name to an array or Parameter), then how many there are in all."""
    names = list(names)
    shown = ", ".join(f"'{n}' (shape {_shape_of(shapes[n])})" for n in names[:limit])
    return f"{shown}{', ...' if len(names) > limit else ''} ({len(names)} in all)"


def _shape_of(value):
    return value.shape if value.shape is not None else "unknown"
