"""Writing and reading graphs in the symbol-file format (see ``mxlite.graph``)."""
import json
import math

import numpy as _np

from ..autograd.op import registered_op
from ..base import MXNetError
from ..device import Device
from ..fileio import read_npz, write_npz
from .ir import Graph, OpNode, Ref

__all__ = ["to_json", "from_json", "export", "load"]

FORMAT, VERSION = "mxlite-graph", 1


class _Unencodable(TypeError):
    pass


def _encode(value):
    if value.__class__ is Ref:
        return {"value": value.vid}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, slice):
        return {"slice": [_encode(value.start), _encode(value.stop), _encode(value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, _np.dtype) or (isinstance(value, type) and issubclass(value, _np.generic)):
        return {"dtype": _np.dtype(value).name}
    if isinstance(value, _np.generic):
        return {"scalar": value.item(), "dtype": value.dtype.name}
    if isinstance(value, Device):
        return {"device": str(value)}
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # a raw array (an index)
        host = value.get() if hasattr(value, "get") else _np.asarray(value)
        return {"array": host.tolist(), "dtype": host.dtype.name}
    raise _Unencodable(type(value).__name__)


def _decode(value, device):
    if isinstance(value, list):
        return [_decode(v, device) for v in value]
    if not isinstance(value, dict):
        return value
    if "scalar" in value:
        return _np.dtype(value["dtype"]).type(value["scalar"])
    if "array" in value:
        return device.backend.asarray(_np.asarray(value["array"], dtype=value["dtype"]))
    (tag, body), = value.items()
    if tag == "value":
        return Ref(body)
    if tag == "float":
        return float(body)
    if tag == "tuple":
        return tuple(_decode(v, device) for v in body)
    if tag == "dict":
        return {k: _decode(v, device) for k, v in body.items()}
    if tag == "slice":
        return slice(*(_decode(v, device) for v in body))
    if tag == "ellipsis":
        return Ellipsis
    if tag == "dtype":
        return _np.dtype(body)
    if tag == "device":
        return Device(body)
    raise MXNetError(f"symbol file: unknown tagged value {value!r}")


def to_json(graph, input_names, grad_reqs=None):
    """The graph as the symbol-file JSON object; constants are named ``__constant_<id>``;
    ``grad_reqs`` maps a parameter name to its grad_req (default 'write')."""
    grad_reqs = grad_reqs or {}
    nodes = []
    for node in graph.op_nodes():
        try:
            nodes.append({"op": node.op.name, "args": [_encode(a) for a in node.args],
                          "params": {k: _encode(v) for k, v in node.params.items()},
                          "outs": list(node.outs)})
        except _Unencodable as e:
            raise MXNetError(f"export: `{node.op.name}` has an argument of type {e} that the "
                             "symbol format cannot hold") from None
        try:
            registered_op(node.op.name)
        except KeyError:
            raise MXNetError(f"export: the op `{node.op.name}` is not registered by name "
                             "(a custom Function or anonymous op); it cannot be exported")
    meta = {str(v): [list(shape), dtype.name] for v, (shape, dtype) in graph.meta.items()}
    return {
        "format": FORMAT, "format_version": VERSION,
        "inputs": [{"id": v, "name": n, "shape": list(graph.meta[v][0]),
                    "dtype": graph.meta[v][1].name} for v, n in zip(graph.inputs, input_names)],
        "params": [{"id": v, "name": n, "grad_req": grad_reqs.get(n, "write")}
                   for v, n in graph.params],
        "constants": [{"id": v, "name": f"__constant_{v}"} for v, _ in graph.constants],
        "nodes": nodes, "outputs": list(graph.outputs), "out_tree": graph.out_tree,
        "meta": meta,
    }


def from_json(doc, device, constants):
    """A Graph from a symbol-file object; ``constants`` maps a constant's name to an
    ndarray. Returns (graph, input names, parameter name -> grad_req)."""
    if doc.get("format") != FORMAT or doc.get("format_version") != VERSION:
        raise MXNetError(f"not an mxlite symbol file (format {doc.get('format')!r}, version "
                         f"{doc.get('format_version')!r}; expected {FORMAT!r} {VERSION})")
    nodes = []
    for n in doc["nodes"]:
        try:
            op = registered_op(n["op"])
        except KeyError:
            raise MXNetError(f"symbol file: no op named {n['op']!r} in this mxlite") from None
        nodes.append(OpNode(op, [_decode(a, device) for a in n["args"]],
                            {k: _decode(v, device) for k, v in n["params"].items()}, n["outs"]))
    meta = {int(v): (tuple(shape), _np.dtype(dtype)) for v, (shape, dtype) in doc["meta"].items()}
    graph = Graph([i["id"] for i in doc["inputs"]], [(p["id"], p["name"]) for p in doc["params"]],
                  [(c["id"], constants[c["name"]]) for c in doc["constants"]], nodes,
                  doc["outputs"], _tree(doc["out_tree"]), meta)
    grad_reqs = {p["name"]: p.get("grad_req", "write") for p in doc["params"]}
    return graph, [i["name"] for i in doc["inputs"]], grad_reqs


def _tree(tree):
    """JSON turns the out_tree's tuples into lists: back to (kind, (subtrees))."""
    if tree is None or isinstance(tree, int):
        return tree
    kind, items = tree
    return (kind, tuple(_tree(t) for t in items))


def export(graph, input_names, params, prefix, epoch):
    """Write ``prefix-symbol.json`` and ``prefix-EPOCH.params`` (parameters by structural
    name, constants as ``__constant_<id>``); returns both paths."""
    symbol_file, param_file = f"{prefix}-symbol.json", f"{prefix}-{epoch:04d}.params"
    save_graph(graph, input_names, params, symbol_file)
    values = {name: params[name]._reduce() for _, name in graph.params}
    values.update({f"__constant_{v}": a.asnumpy() for v, a in graph.constants})
    write_npz(param_file, values)
    return symbol_file, param_file


def save_graph(graph, input_names, params, symbol_file):
    """Write the symbol file alone: the graph, its input names and grad_reqs."""
    doc = to_json(graph, input_names, {n: params[n].grad_req for _, n in graph.params})
    with open(symbol_file, "w") as f:
        json.dump(doc, f, indent=1)


def load(symbol_file, param_file):
    """(symbol-file object, {name: host array}) read back."""
    with open(symbol_file) as f:
        doc = json.load(f)
    values = read_npz(param_file, "SymbolBlock.imports", "HybridBlock.export") \
        if param_file is not None else {}
    return doc, values
