"""Optimizer states in a format that cannot carry code: an ``.npz`` of arrays (read with
``allow_pickle=False``) plus one JSON entry with the optimizer's name, hyperparameters,
learning-rate schedule, update counts and each parameter's state structure.

Files from older mxlite versions were pickles, which run code when loaded; they are read
only when the caller passes ``allow_pickle=True``. Those and version 1 kept SGD's and NAG's
momentum negated (the step subtracted from the weight); reading converts them to MXNet's sign.
"""
import json
import numbers
import pickle

import numpy as _np

from .. import lr_scheduler
from ..base import MXNetError
from ..fileio import npz_bytes, read_npz_bytes

__all__ = ["pack", "unpack", "is_pickle", "load_pickle", "restore_optimizer",
           "from_negated_momentum"]

META = "__mxlite_states__"
FORMAT = "mxlite-optimizer-states"
VERSION = 2
_READS = (1, 2)
_NEGATED_MOMENTUM = ("sgd", "nag")  # their momentum before version 2
# kept elsewhere in the file, or belonging to this process only
_NOT_HYPER = {"param_dict", "_scratch", "fused_kernels", "_all_index_update_counts",
              "_index_update_count", "lr_scheduler", "idx2name", "lr_mult", "wd_mult"}
_EXPECTED = "Trainer.save_states or Updater.get_states"


def is_pickle(blob):
    """Whether ``blob`` is a pickle (protocol 2 and later start with 0x80), the old format."""
    return blob[:1] == b"\x80"


def load_pickle(blob, source, allow_pickle):
    """Unpickle an old-format states blob, only when the caller opted in."""
    if not allow_pickle:
        raise MXNetError(
            f"{source} holds optimizer states in the old pickle format. Unpickling can run "
            "arbitrary code, so it is refused by default; if you made this file yourself, "
            "pass allow_pickle=True to read it (then save it again to get the safe format). "
            "Never pass allow_pickle=True for a file from someone else.")
    return pickle.loads(blob)


def pack(devices, optimizer=None):
    """The bytes of a states file: ``devices`` maps a device name to ``{index: host state}``
    (None, a numpy array or a tuple of those); ``optimizer`` adds its settings."""
    arrays, layout = {}, {}
    for device, states in devices.items():
        layout[device] = [[index, _flatten(state, arrays)] for index, state in states.items()]
    meta = {"format": FORMAT, "version": VERSION, "states": layout,
            "optimizer": None if optimizer is None else _describe(optimizer)}
    arrays[META] = _np.frombuffer(json.dumps(meta).encode(), dtype=_np.uint8)
    return npz_bytes(arrays)


def _flatten(state, arrays):
    if state is None:
        return None
    if isinstance(state, _np.ndarray):
        key = f"s{len(arrays)}"
        arrays[key] = state
        return key
    return [_flatten(s, arrays) for s in state]


def unpack(blob, source, optimizer):
    """``(devices, optimizer description or None)`` from ``pack``'s bytes, every reference
    checked, states converted for ``optimizer`` (the one they are loaded into); raises
    MXNetError naming ``source`` for anything else."""
    arrays = read_npz_bytes(blob, source, _EXPECTED)
    raw = arrays.pop(META, None)
    try:
        meta = json.loads(raw.tobytes().decode()) if raw is not None else None
    except (UnicodeDecodeError, ValueError):
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT \
            or not isinstance(meta.get("states"), dict):
        raise MXNetError(f"{source} is an .npz but not an optimizer states file (no valid "
                         f"'{META}' entry); expected a file written by {_EXPECTED}")
    if meta.get("version") not in _READS:
        raise MXNetError(f"{source} has states format version {meta.get('version')!r}; this "
                         f"mxlite reads versions {', '.join(map(str, _READS))}")
    devices = {}
    for device, entries in meta["states"].items():
        try:
            devices[device] = {_index(index): _unflatten(layout, arrays)
                               for index, layout in entries}
        except (TypeError, ValueError, KeyError) as e:
            raise MXNetError(f"{source} is corrupt: the states of device {device} do not match "
                             f"its arrays ({e})") from None
    if meta["version"] == 1:
        devices = {d: from_negated_momentum(host, optimizer) for d, host in devices.items()}
    return devices, meta.get("optimizer")


def from_negated_momentum(host, optimizer):
    """``host`` (index -> state) as saved by mxlite before format version 2, in today's
    convention: SGD's and NAG's momentum negated to MXNet's sign, other states as they are."""
    if type(optimizer).__name__.lower() not in _NEGATED_MOMENTUM:
        return host
    return {index: _negate_momentum(state) for index, state in host.items()}


def _negate_momentum(state):
    if isinstance(state, tuple):  # multi_precision: (float32 master, momentum)
        return (state[0], _negate_momentum(state[1]))
    return None if state is None else -state


def _index(index):
    if isinstance(index, bool) or not isinstance(index, (int, str)):
        raise TypeError(f"parameter index {index!r} is not an int or str")
    return index


def _unflatten(layout, arrays):
    if layout is None:
        return None
    if isinstance(layout, str):
        return arrays[layout]
    if isinstance(layout, list):
        return tuple(_unflatten(item, arrays) for item in layout)
    raise TypeError(f"state entry {layout!r} is not an array key, a list or null")


def _is_scalar(value):
    return value is None or isinstance(value, (bool, _np.bool_, numbers.Real, str))


def _plain(value):
    """A JSON-ready copy of a scalar (numpy scalars become Python numbers)."""
    if isinstance(value, (bool, _np.bool_)):
        return bool(value)
    if value is None or isinstance(value, str):
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _describe(optimizer):
    hyper = {}
    for key, value in vars(optimizer).items():
        if key in _NOT_HYPER:
            continue
        if not _is_scalar(value):
            raise TypeError(f"save_states: optimizer attribute {key!r} holds a "
                            f"{type(value).__name__}, which the states file cannot store; "
                            "only numbers, strings and None are saved")
        hyper[key] = _plain(value)
    return {
        "name": type(optimizer).__name__.lower(), "hyper": hyper,
        "idx2name": [[i, n] for i, n in optimizer.idx2name.items()],
        "lr_mult": [[i, float(v)] for i, v in optimizer.lr_mult.items()],
        "wd_mult": [[i, float(v)] for i, v in optimizer.wd_mult.items()],
        "update_counts": [[str(device), [[i, int(c)] for i, c in counts.items()]]
                          for device, counts in optimizer._all_index_update_counts.items()],
        "lr_scheduler": _describe_scheduler(optimizer.lr_scheduler)}


def _describe_scheduler(scheduler):
    if scheduler is None:
        return None
    name = type(scheduler).__name__
    if name not in lr_scheduler.__all__ or type(scheduler) is not getattr(lr_scheduler, name):
        raise TypeError(f"save_states: the learning-rate scheduler {name} is not one of "
                        f"mx.lr_scheduler's {lr_scheduler.__all__}, so it cannot be stored")
    attrs = {}
    for key, value in vars(scheduler).items():
        if isinstance(value, (list, tuple)) and all(_is_scalar(v) for v in value):
            attrs[key] = [_plain(v) for v in value]
        elif _is_scalar(value):
            attrs[key] = _plain(value)
        else:
            raise TypeError(f"save_states: {name}.{key} holds a {type(value).__name__}, "
                            "which the states file cannot store")
    return {"class": name, "attrs": attrs}


def restore_optimizer(optimizer, desc, devices, source):
    """Give ``optimizer`` the settings ``desc`` describes; ``devices`` maps the device names
    in the file to this process's device keys (counts of other devices are dropped).
    Everything is checked before ``optimizer`` changes."""
    name = type(optimizer).__name__.lower()
    try:
        if desc["name"] != name:
            raise MXNetError(f"{source} holds states of optimizer '{desc['name']}' but this one "
                             f"is '{name}'; create the Trainer with optimizer '{desc['name']}'")
        hyper = dict(desc["hyper"])
        current = vars(optimizer)
        wrong = sorted(k for k, v in hyper.items() if k not in current or k in _NOT_HYPER
                       or not _is_scalar(v) or not _same_kind(current[k], v))
        if wrong:
            raise ValueError(f"settings {wrong} are unknown to {name} or of the wrong type")
        tables = {"idx2name": {_index(i): str(n) for i, n in desc["idx2name"]}}
        tables.update({key: {_index(i): float(v) for i, v in desc[key]}
                       for key in ("lr_mult", "wd_mult")})
        known = {str(k): k for k in optimizer._all_index_update_counts}
        known.update(devices)
        counts = {known[d]: {_index(i): int(c) for i, c in entries}
                  for d, entries in desc["update_counts"] if d in known}
        scheduler = _scheduler(desc["lr_scheduler"])
    except (KeyError, TypeError, ValueError) as e:
        raise MXNetError(f"{source} is corrupt: its optimizer settings are unreadable "
                         f"({type(e).__name__}: {e})") from None
    for key, value in hyper.items():
        setattr(optimizer, key, value)
    for key, table in tables.items():
        setattr(optimizer, key, table)
    optimizer._all_index_update_counts = counts or {0: {}}
    optimizer._index_update_count = next(iter(optimizer._all_index_update_counts.values()))
    optimizer.lr_scheduler = scheduler


def _same_kind(old, new):
    """Whether a saved setting may replace the current one: numbers by numbers, strings by
    strings (None either way)."""
    if old is None or new is None:
        return True
    return isinstance(old, numbers.Real) == isinstance(new, numbers.Real) and \
        isinstance(old, str) == isinstance(new, str)


def _scheduler(desc):
    """A scheduler of one of mx.lr_scheduler's own classes, its attributes set as saved."""
    if desc is None:
        return None
    name, attrs = desc["class"], desc["attrs"]
    if name not in lr_scheduler.__all__ or not isinstance(attrs, dict):
        raise ValueError(f"unknown learning-rate scheduler {name!r}")
    for key, value in attrs.items():
        values = value if isinstance(value, list) else [value]
        if key.startswith("__") or not all(_is_scalar(v) for v in values):
            raise ValueError(f"{name} attribute {key!r} = {value!r} is not a saved setting")
    klass = getattr(lr_scheduler, name)
    scheduler = klass.__new__(klass)
    scheduler.__dict__.update(attrs)
    return scheduler
