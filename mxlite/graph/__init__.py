"""Graph mode for ``HybridBlock.hybridize()``: tracing, passes, an executor, export.

The first call of a hybridized block per input signature (shapes, dtypes, device, the
other arguments, training mode) runs the forward imperatively while ``tracer`` records
every op dispatched through ``mxlite.autograd.apply`` into a ``Graph`` (``ir``); the
``passes`` optimize it and the ``executor`` compiles it to generated Python that later calls
run (under ``autograd.record()`` the whole graph is one tape node with exact gradients).
A forward the graph could not replay falls back to imperative execution with one
``GraphFallbackWarning`` (``cached``). ``serialize`` writes and reads the JSON format below.

Symbol file format (``<prefix>-symbol.json``, ``format_version`` 1), one JSON object:

- ``"format": "mxlite-graph"``, ``"format_version": 1``
- ``"inputs"``: ``[{"id": v, "name": "data0", "shape": [...], "dtype": "float32"}]``, the
  call's arrays in order (the graph holds the shapes it was traced with)
- ``"params"``: ``[{"id": v, "name": "0.weight", "grad_req": "write"}]``, parameters,
  whose values are in ``<prefix>-NNNN.params`` under ``name``
- ``"constants"``: ``[{"id": v, "name": "__constant_v"}]``, other arrays the forward read,
  stored in the params file under ``name``
- ``"nodes"``: ``[{"op": "multiply", "args": [...], "params": {...}, "outs": [v, ...]}]``
  in execution order; ``op`` is a registered op name (``mxlite.autograd.registered_op``)
- ``"outputs"``: value ids of the flattened result; ``"out_tree"``: null for a single
  array, else ``["tuple"|"list", [subtrees]]`` with leaf indices into ``outputs``
- ``"meta"``: ``{"v": [shape, dtype]}`` for every value

Arguments and parameters are JSON values; what JSON lacks is tagged: ``{"value": v}`` a
graph value, ``{"tuple": [...]}``, ``{"slice": [start, stop, step]}``, ``{"ellipsis":
true}``, ``{"dtype": "float32"}``, ``{"float": "nan"|"inf"|"-inf"}``, ``{"scalar": x,
"dtype": d}`` (a numpy scalar), ``{"array": [...], "dtype": d}`` (a small host array),
``{"device": "cpu(0)"}`` and ``{"dict": {...}}``. The params file is the ``.npz`` that
``save_parameters`` writes.
"""
from .cached import CachedGraph, GraphFallbackWarning, pass_names
from .ir import FusedNode, Graph, OpNode, Ref
from .passes import PASSES, optimize
from .tracer import imperative, paused, runs_inline

__all__ = ["CachedGraph", "GraphFallbackWarning", "pass_names", "Graph", "OpNode",
           "FusedNode", "Ref", "PASSES", "optimize", "paused", "runs_inline",
           "imperative"]
