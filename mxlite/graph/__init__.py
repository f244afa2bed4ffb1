"""Graph mode for ``HybridBlock.hybridize()``: tracing, passes, an executor, export.

The first call of a hybridized block per input signature (shapes, dtypes, device, the
other arguments, training mode) runs the forward imperatively while ``tracer`` records
every op dispatched through ``mxlite.autograd.apply`` into a ``Graph`` (``ir``); the
``passes`` optimize it and the ``executor`` compiles it to generated Python that later calls
run (under ``autograd.record()`` the whole graph is one tape node with exact gradients).
A forward the graph could not replay falls back to imperative execution with one
``GraphFallbackWarning`` (``cached``). ``serialize`` writes and reads the JSON format below.

On a GPU, a fused elementwise group (one float dtype, every op a row of
``mxlite.cuda.fused.OPS``) runs as one generated CUDA kernel, broadcasting by index
arithmetic; its backward is one generated kernel per pattern of wanted gradients that
recomputes the group, so nothing inside it is saved. Each kernel compiles once per process
and device (keyed by a hash of its source). Other groups run op by op.

Memory of a training step: the backward frees each saved value after the last step that
reads it (unless ``retain_graph``), and ``static_alloc`` also drops cache-only aux (an op's
``aux_cache``, convolution's im2col columns) for the backward to recompute: a LeNet step
(batch 64) peaks at 0.51x eager's host memory (``python -m bench.peak_memory``). CUDA graph
capture is not implemented (the CuPy stand-in cannot check capture and replay).

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
