"""MXNet's ``mx.profiler``: per-op records (forward and ``_backward_<op>``), scopes, user
tasks, frames, events, counters and markers, written as a Chrome trace (opens in Perfetto or
chrome://tracing) and summarised as an aggregate table.

While the profiler runs it installs hooks in the autograd dispatch slots; stopped or paused
it removes them, so dispatch pays a single ``is None`` check. CPU ops are timed with
``perf_counter_ns``; GPU ops with CUDA events recorded on the current stream, resolved only
at ``dump``/``dumps`` so profiling does not synchronize the device per op.
"""
import json
import os
import threading
import time

from . import storage
from .autograd import op as _dispatch

__all__ = ["set_config", "set_state", "state", "pause", "resume", "dump", "dumps", "Scope",
           "scope", "Domain", "Task", "Frame", "Event", "Counter", "Marker"]

_DEFAULTS = {"profile_all": False, "profile_symbolic": True, "profile_imperative": True,
             "profile_memory": False, "profile_api": False, "aggregate_stats": False,
             "filename": "profile.json", "continuous_dump": False, "dump_period": 1.0,
             "profile_process": "worker"}
_config = dict(_DEFAULTS)
_state = {"run": False, "paused": False}
_records = []   # [name, cat, device, tid, start_ns | event, end_ns | event, args]
_counters = []  # (name, device, tid, ts_ns, {series: value})
_instants = []  # (name, scope, tid, ts_ns)
_t0 = time.perf_counter_ns()
_allocated = {}  # device -> bytes of op outputs made since the last reset
_gpu_base = {}  # device -> (host ns, CUDA event) anchoring that device's event clock
_tls = threading.local()  # this thread's scope stack


def set_config(**kwargs):
    """Configure what is recorded (MXNet's keys; ``profile_all=True`` turns on every kind,
    memory counters included). Unknown keys raise, naming the accepted ones."""
    unknown = sorted(set(kwargs) - set(_DEFAULTS))
    if unknown:
        raise ValueError(f"profiler.set_config got unknown option(s) {unknown}; accepted: "
                         f"{sorted(_DEFAULTS)}")
    _config.update(kwargs)
    if _config["profile_all"]:
        for key in ("profile_symbolic", "profile_imperative", "profile_memory", "profile_api"):
            _config[key] = True
    _install()


def set_state(state="stop", profile_process="worker"):
    """'run' starts recording, 'stop' ends it (records stay until ``dumps(reset=True)``)."""
    if state not in ("run", "stop"):
        raise ValueError(f"profiler.set_state takes 'run' or 'stop', not {state!r}")
    _state["run"] = state == "run"
    _state["paused"] = False
    _install()


def state():
    """'run' or 'stop'."""
    return "run" if _state["run"] else "stop"


def pause(profile_process="worker"):
    """Stop recording until ``resume()`` without ending the run."""
    _state["paused"] = True
    _install()


def resume(profile_process="worker"):
    _state["paused"] = False
    _install()


def _active():
    return _state["run"] and not _state["paused"]


def _install():
    on = _active() and (_config["profile_imperative"] or _config["profile_symbolic"])
    _dispatch.set_profile_hooks(_forward if on else None, _backward if on else None)


def _tid():
    return threading.get_ident()


def _timed(be, name, shapes, dtype, fn, args):
    """Run ``fn(*args)`` and record it; on a GPU between two CUDA events."""
    device = str(be.device)
    stack = getattr(_tls, "stack", None)
    meta = {"shapes": shapes, "dtype": dtype}
    if stack:
        meta["scope"] = stack[-1]
    if be.kind:
        with be.scope():
            cuda = be.xp.cuda
            if device not in _gpu_base:
                base = cuda.Event()
                base.record()
                _gpu_base[device] = (time.perf_counter_ns(), base, cuda.get_elapsed_time)
            start, stop = cuda.Event(), cuda.Event()
            start.record()
            res = fn(*args)
            stop.record()
        _records.append([name, "operator", device, _tid(), start, stop, meta])
    else:
        t = time.perf_counter_ns()
        res = fn(*args)
        _records.append([name, "operator", device, _tid(), t, time.perf_counter_ns(), meta])
    if _config["profile_memory"]:
        _sample_memory(be.device, device, res)
    return res


def _describe(arrays):
    shapes = [list(a.shape) for a in arrays if hasattr(a, "shape")]
    dtype = next((str(a.dtype) for a in arrays if hasattr(a, "dtype")), None)
    return shapes, dtype


def _forward(op, be, raw, params):
    shapes, dtype = _describe(raw)
    if be.kind:
        return _timed(be, op.name, shapes, dtype, _dispatch.dispatch_scoped,
                      (be, op.forward_impls, (be.xp, *raw), params))
    impl = op.forward_impls[0]
    return _timed(be, op.name, shapes, dtype, lambda: impl(be.xp, *raw, **params), ())


def _backward(op, be, bwd, ctx, g):
    shapes, dtype = _describe(g if isinstance(g, tuple) else (g,))
    return _timed(be, "_backward_" + op.name, shapes, dtype, bwd, (ctx, g))


def _nbytes(res):
    if isinstance(res, (tuple, list)):
        return sum(_nbytes(r) for r in res)
    return getattr(res, "nbytes", 0)


def _sample_memory(dev, device, res):
    """Counter tracks after an op: bytes its outputs took (running total) and the pool's
    counters (``mxlite.storage.stats``)."""
    st = storage.stats(dev)
    now = time.perf_counter_ns()
    _allocated[device] = _allocated.get(device, 0) + _nbytes(res)
    _counters.append((f"op outputs {device}", device, _tid(), now,
                      {"bytes_allocated": _allocated[device]}))
    _counters.append((f"memory {device}", device, _tid(), now,
                      {k: st[k] for k in ("allocated_bytes", "reserved_bytes", "cached_bytes")}))
    _counters.append((f"pool {device}", device, _tid(), now,
                      {k: st[k] for k in ("live_blocks", "free_blocks", "hits", "misses")}))


def _resolved():
    """Records as (name, cat, device, tid, start_ns, end_ns, args), GPU events resolved
    against the device's base event (waits for the last one to finish)."""
    out = []
    for name, cat, device, tid, start, end, meta in list(_records):
        if not isinstance(start, int):
            host0, base, elapsed_ms = _gpu_base[device]
            end.synchronize()
            begin = host0 + int(elapsed_ms(base, start) * 1e6)
            start, end = begin, begin + int(elapsed_ms(start, end) * 1e6)
        out.append((name, cat, device, tid, start, end, meta))
    return out


def _record_span(name, cat, start_ns, meta=None):
    if _active():
        _records.append([name, cat, "", _tid(), start_ns, time.perf_counter_ns(), meta or {}])


class Scope:
    """``with Scope('name'):`` groups the ops inside under ``name``: a trace span that contains
    them in time, and a ``scope`` field on each op's record. Scopes nest."""

    def __init__(self, name="<unk>:", append_mode=False):
        self.name = name
        self.append_mode = append_mode
        self._start = None

    def __enter__(self):
        stack = _tls.__dict__.setdefault("stack", [])
        full = stack[-1] + self.name if self.append_mode and stack else self.name
        stack.append(full)
        self._start = time.perf_counter_ns()
        return self

    def __exit__(self, *exc):
        _record_span(_tls.stack.pop(), "scope", self._start)


def scope(name="<unk>:", append_mode=True):
    """``Scope(name, append_mode)`` (MXNet's helper appends to the enclosing scope's name)."""
    return Scope(name, append_mode)


class Domain:
    """A named group for tasks, frames, counters and markers (its trace category)."""

    def __init__(self, name):
        self.name = name

    def new_task(self, name):
        return Task(self, name)

    def new_frame(self, name):
        return Frame(self, name)

    def new_counter(self, name, value=None):
        return Counter(self, name, value)

    def new_marker(self, name):
        return Marker(self, name)

    def __str__(self):
        return self.name


class _Span:
    """A user span: ``start()`` then ``stop()`` records one trace event."""
    category = "event"

    def __init__(self, domain, name):
        self.domain = domain
        self.name = name
        self._start = None

    def start(self):
        self._start = time.perf_counter_ns()

    def stop(self):
        if self._start is None:
            raise RuntimeError(f"{type(self).__name__} {self.name!r}: stop() without start()")
        cat = self.category if self.domain is None else f"{self.category}:{self.domain}"
        _record_span(self.name, cat, self._start)
        self._start = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def __str__(self):
        return self.name


class Task(_Span):
    category = "task"


class Frame(_Span):
    category = "frame"


class Event(_Span):
    def __init__(self, name):
        super().__init__(None, name)


class Counter:
    """A user counter track: ``set_value``, ``increment``, ``decrement``, ``+=``, ``-=``."""

    def __init__(self, domain, name, value=None):
        self.domain = domain
        self.name = name
        self.value = 0
        if value is not None:
            self.set_value(value)

    def set_value(self, value):
        self.value = value
        if _active():
            _counters.append((self.name, str(self.domain), _tid(), time.perf_counter_ns(),
                              {self.name: value}))

    def increment(self, delta=1):
        self.set_value(self.value + delta)

    def decrement(self, delta=1):
        self.set_value(self.value - delta)

    def __iadd__(self, delta):
        self.increment(delta)
        return self

    def __isub__(self, delta):
        self.decrement(delta)
        return self

    def __str__(self):
        return self.name


class Marker:
    """An instant event; ``scope`` is 'global', 'process' or 'thread' as in MXNet."""

    def __init__(self, domain, name):
        self.domain = domain
        self.name = name

    def mark(self, scope="process"):
        if _active():
            _instants.append((self.name, scope, _tid(), time.perf_counter_ns()))


def _us(ns):
    return (ns - _t0) / 1000.0


def _trace():
    """The Chrome trace: 'X' spans, 'C' counters, 'i' markers and 'M' names."""
    events, pids, tids = [], {}, {}

    def pid(device):  # host work (CPU ops, scopes, tasks) shares one process track
        return pids.setdefault(device if device.startswith("gpu") else "host", len(pids))

    def tid(ident):
        return tids.setdefault(ident, len(tids))

    for name, cat, device, ident, start, end, meta in _resolved():
        events.append({"name": name, "cat": cat, "ph": "X", "ts": _us(start),
                       "dur": (end - start) / 1000.0, "pid": pid(device), "tid": tid(ident),
                       "args": dict(meta, device=device) if device else dict(meta)})
    for name, device, ident, ts, values in list(_counters):
        events.append({"name": name, "cat": "counter", "ph": "C", "ts": _us(ts),
                       "pid": pid(device), "tid": tid(ident), "args": values})
    for name, sc, ident, ts in list(_instants):
        events.append({"name": name, "cat": "marker", "ph": "i", "ts": _us(ts),
                       "s": {"global": "g", "process": "p"}.get(sc, "t"),
                       "pid": pid(""), "tid": tid(ident)})
    for device, p in pids.items():
        events.append({"name": "process_name", "ph": "M", "pid": p, "args": {"name": device}})
        for ident, t in tids.items():
            events.append({"name": "thread_name", "ph": "M", "pid": p, "tid": t,
                           "args": {"name": f"thread {t}"}})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def dump(finished=True, profile_process="worker"):
    """Write the trace to ``set_config``'s ``filename``; ``finished`` also clears the records
    (MXNet's last dump of a run), otherwise they stay for later dumps."""
    path = _config["filename"]
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        json.dump(_trace(), f)
    if finished:
        _reset()
    return path


def _reset():
    _records.clear()
    _counters.clear()
    _instants.clear()
    _allocated.clear()


_SORT = {"total": "Total", "avg": "Avg", "min": "Min", "max": "Max", "count": "Count"}


def _aggregate():
    stats = {}
    for name, cat, device, _, start, end, _ in _resolved():
        if cat != "operator":
            continue
        ms = (end - start) / 1e6
        s = stats.setdefault(name, {"Count": 0, "Total": 0.0, "Min": ms, "Max": ms})
        s["Count"] += 1
        s["Total"] += ms
        s["Min"] = min(s["Min"], ms)
        s["Max"] = max(s["Max"], ms)
    for s in stats.values():
        s["Avg"] = s["Total"] / s["Count"]
    return stats


def dumps(reset=False, format="table", sort_by="total", ascending=False):
    """Per-op aggregate (calls, total, mean, min, max in ms) as a table or JSON string."""
    if format not in ("table", "json"):
        raise ValueError(f"profiler.dumps format must be 'table' or 'json', not {format!r}")
    if sort_by not in _SORT:
        raise ValueError(f"profiler.dumps sort_by must be one of {sorted(_SORT)}, "
                         f"not {sort_by!r}")
    stats = _aggregate()
    key = _SORT[sort_by]
    order = sorted(stats, key=lambda n: stats[n][key], reverse=not ascending)
    if format == "json":
        text = json.dumps({"Unit": {"Time": "ms"},
                           "Time": {"operator": {n: stats[n] for n in order}}})
    else:
        width = max([len(n) for n in order] + [4])
        lines = ["Profile Statistics:", "operator",
                 f"{'Name':<{width}} {'Total Count':>12} {'Time (ms)':>12} "
                 f"{'Min Time (ms)':>14} {'Max Time (ms)':>14} {'Avg Time (ms)':>14}"]
        for n in order:
            s = stats[n]
            lines.append(f"{n:<{width}} {s['Count']:>12} {s['Total']:>12.4f} "
                         f"{s['Min']:>14.4f} {s['Max']:>14.4f} {s['Avg']:>14.4f}")
        text = "\n".join(lines)
    if reset:
        _reset()
    return text
