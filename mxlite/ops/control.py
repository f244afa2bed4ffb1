"""MXNet 2.x's control-flow operators, ``npx.foreach``, ``npx.while_loop`` and ``npx.cond``.

MXNet builds a subgraph from the Python function once and runs it in a C++ loop; here they
are Python loops (and a Python ``if``) over recorded ops, so autograd differentiates through
them and the function runs once per step. The return structures are MXNet's: ``foreach``
gives (outputs stacked on a new axis 0, final states); ``while_loop`` gives (step outputs
stacked and padded with zeros to ``max_iterations`` rows, final loop variables); ``cond``
gives the taken branch's outputs. Nested lists and tuples come back as (nested) lists, a
single array as that array.

Under ``hybridize()``: a ``foreach`` traces into the graph unrolled (its length is a shape);
``while_loop`` and ``cond`` read their condition on the host, so a forward that uses them
with an array condition runs imperatively (one ``GraphFallbackWarning``), with the same
results.
"""
import numpy as _np

from ..ndarray import ndarray, untraceable, wrap_constant
from .shape import concatenate, stack

__all__ = ["foreach", "while_loop", "cond"]


def _flatten(value, who, what):
    """(flat list of ndarrays, format): format 0 is one array, a list is a list's formats."""
    if isinstance(value, ndarray):
        return [value], 0
    if isinstance(value, (list, tuple)):
        flat, fmt = [], []
        for v in value:
            f, sub = _flatten(v, who, what)
            flat += f
            fmt.append(sub)
        return flat, fmt
    raise TypeError(f"{who}: {what} must be an mxlite ndarray or a (nested) list of them, "
                    f"got {type(value).__name__}")


def _regroup(flat, fmt):
    def take(items, f):
        if f == 0:
            return items[0], items[1:]
        out = []
        for sub in f:
            v, items = take(items, sub)
            out.append(v)
        return out, items
    return take(list(flat), fmt)[0]


def _describe(arrays):
    return [tuple(a.shape) for a in arrays]


def _check_same(who, what, before, after):
    """The arrays of one step must match the previous step's in number and shape."""
    if len(before) != len(after):
        raise ValueError(f"{who}: {what} changed from {len(before)} arrays to {len(after)} "
                         "between steps")
    for k, (b, a) in enumerate(zip(before, after)):
        if tuple(b.shape) != tuple(a.shape):
            raise ValueError(f"{who}: {what} {k} changed shape from {tuple(b.shape)} to "
                             f"{tuple(a.shape)} between steps (all steps must give the same "
                             f"shapes: {_describe(before)})")


def _as_pair(result, who, fn):
    if not isinstance(result, (list, tuple)) or len(result) != 2:
        raise TypeError(f"{who}: {fn} must return a pair (outputs, states), got "
                        f"{type(result).__name__}")
    return result


def foreach(body, data, init_states):
    """Run ``out, states = body(data[i], states)`` for i along axis 0 of ``data``.

    ``data`` is an ndarray or a (nested) list of them, all of one length on axis 0 (the
    body gets the i-th slices in the same structure); ``init_states`` an ndarray or (nested)
    list of them, which the body gets in that structure at every step and must return with
    the same number of arrays and shapes. Returns ``(outputs, states)``: each of the body's
    outputs stacked along a new axis 0 (in the structure the body returns them), and the
    states from the last step.
    """
    who = "npx.foreach"
    flat_data, data_fmt = _flatten(data, who, "data")
    flat_states, state_fmt = _flatten(init_states, who, "init_states")
    if not flat_data:
        raise ValueError(f"{who}: data holds no arrays")
    for d in flat_data:
        if d.ndim == 0:
            raise ValueError(f"{who}: data arrays are sliced along axis 0, got a 0-d array")
    length = flat_data[0].shape[0]
    if any(d.shape[0] != length for d in flat_data):
        raise ValueError(f"{who}: all data arrays must have the same length on axis 0, got "
                         f"shapes {_describe(flat_data)}")
    if length == 0:
        raise ValueError(f"{who}: data of shapes {_describe(flat_data)} has no steps (length "
                         "0 on axis 0)")
    states = flat_states
    steps, out_fmt, out_state_fmt = [], None, state_fmt
    for t in range(length):
        piece = _regroup([d[t] for d in flat_data], data_fmt)
        out, new_states = _as_pair(body(piece, _regroup(states, state_fmt)), who, "body")
        flat_out, out_fmt = ([], []) if out is None else _flatten(out, who, "the body's output")
        flat_new, out_state_fmt = _flatten(new_states, who, "the body's states")
        _check_same(who, "state", states, flat_new)
        if steps:
            _check_same(who, "output", steps[-1], flat_out)
        steps.append(flat_out)
        states = flat_new
    outputs = [stack([s[k] for s in steps], axis=0) for k in range(len(steps[0]))]
    return _regroup(outputs, out_fmt), _regroup(states, out_state_fmt)


def _truth(value, who, what):
    """A Python bool from a condition (a Python bool/number or a one-element array)."""
    if isinstance(value, ndarray):
        if value.size != 1:
            raise ValueError(f"{who}: {what} must be a scalar (one-element) array, got shape "
                             f"{tuple(value.shape)}")
        untraceable(f"{who}, whose {what} is read on the host to choose the computation",
                    value)
        return bool(value.reshape(()).item())
    if isinstance(value, (bool, int, float, _np.bool_, _np.number)):
        return bool(value)
    raise TypeError(f"{who}: {what} must be a scalar array or a Python bool, got "
                    f"{type(value).__name__}")


def _zeros(like, rows):
    be = like._device.backend
    with be.scope():
        return wrap_constant(be.xp.zeros((rows,) + tuple(like.shape[1:]), dtype=like.dtype),
                             like._device)


def while_loop(cond, func, loop_vars, max_iterations=None):
    """Run ``step_output, loop_vars = func(*loop_vars)`` while ``cond(*loop_vars)`` holds, at
    most ``max_iterations`` times.

    ``loop_vars`` is an ndarray or a non-empty (nested) list of them; ``func`` must return
    the same number of loop variables, each of its shape. Returns ``(outputs, loop_vars)``:
    each step output stacked along a new axis 0 and padded with zeros to ``max_iterations``
    rows (as MXNet, whose output shape is static), and the final loop variables (in the
    structure ``loop_vars`` was given in). When ``cond`` fails at once there are no step
    outputs (``[]``; MXNet documents the same).
    """
    who = "npx.while_loop"
    if max_iterations is None:
        raise ValueError(f"{who}: max_iterations should be specified")
    if isinstance(max_iterations, ndarray):
        untraceable(f"{who}, whose max_iterations is read on the host", max_iterations)
        max_iterations = max_iterations.item()
    try:
        max_iterations = int(max_iterations)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: cannot convert max_iterations={max_iterations!r} to a Python "
                         "int") from None
    if max_iterations < 0:
        raise ValueError(f"{who}: max_iterations must be >= 0, got {max_iterations}")
    if isinstance(loop_vars, (list, tuple)) and len(loop_vars) == 0:
        raise ValueError(f"{who}: loop_vars should contain at least one element")
    flat_vars, var_fmt = _flatten(loop_vars, who, "loop_vars")
    call_fmt = [var_fmt] if var_fmt == 0 else var_fmt  # what cond and func get, unpacked
    steps, out_fmt = [], []
    for _ in range(max_iterations):
        if not _truth(cond(*_regroup(flat_vars, call_fmt)), who, "the value cond returns"):
            break
        step_output, new_vars = _as_pair(func(*_regroup(flat_vars, call_fmt)), who, "func")
        if step_output is None:
            step_output = []
        if new_vars is None:
            new_vars = []
        if not isinstance(new_vars, (list, tuple)):
            new_vars = [new_vars]
        if len(new_vars) != len(call_fmt):
            raise ValueError(f"{who}: the length of loop_vars should be consistent during the "
                             f"loop: {len(call_fmt)} given, func returned {len(new_vars)}")
        flat_out, out_fmt = _flatten(step_output, who, "func's step output")
        flat_new, _ = _flatten(list(new_vars), who, "func's new loop_vars")
        _check_same(who, "loop variable", flat_vars, flat_new)
        if steps:
            _check_same(who, "step output", steps[-1], flat_out)
        steps.append(flat_out)
        flat_vars = flat_new
    if not steps:
        return [], _regroup(flat_vars, var_fmt)
    outputs = []
    for k in range(len(steps[0])):
        stacked = stack([s[k] for s in steps], axis=0)
        if len(steps) < max_iterations:
            stacked = concatenate([stacked, _zeros(stacked, max_iterations - len(steps))],
                                  axis=0)
        outputs.append(stacked)
    return _regroup(outputs, out_fmt), _regroup(flat_vars, var_fmt)


def cond(pred, then_func, else_func, inputs=None):
    """``then_func(*inputs)`` if ``pred`` holds, else ``else_func(*inputs)``.

    As MXNet 2.x, ``pred`` is a function of the inputs, ``pred(*inputs)``, returning a
    one-element array (a one-element array or a bool is taken as the condition itself, as
    MXNet 1.x's ``contrib.cond``; without ``inputs`` the branches are called with no
    arguments). ``inputs`` is an ndarray or a non-empty (nested) list of them. Returns the
    taken branch's outputs (an array, or a list for several). Only the taken branch runs, so
    the gradients are that branch's.
    """
    who = "npx.cond"
    if inputs is None:
        args = []
    else:
        if isinstance(inputs, (list, tuple)) and len(inputs) == 0:
            raise ValueError(f"{who}: inputs should contain at least one element")
        flat, fmt = _flatten(inputs, who, "inputs")
        args = _regroup(flat, [fmt] if fmt == 0 else fmt)
    value = pred(*args) if callable(pred) else pred
    branch = then_func if _truth(value, who, "pred") else else_func
    result = branch(*args)
    if result is None:
        return None
    flat, fmt = _flatten(result, who, "a branch's output")
    return _regroup(flat, fmt)

