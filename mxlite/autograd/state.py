"""Recording state: whether ops are recorded and whether layers run in training mode.

Both are per thread (a ``threading.local``), so threads record independently. What a
scope restores is kept on the thread's own stack, not on the scope object, so one scope
object may be entered from several threads or nested; entering changes the flags as its
last step and leaving restores them as its first, so an exception (KeyboardInterrupt
included) raised anywhere in the block leaves them as they were. One window remains, as in
every context manager written in Python: CPython can deliver a signal on entry to
``__exit__`` itself, before its first statement.
"""
import threading

from ..base import MXNetError
from ..ndarray import bump_version

__all__ = ["record", "pause", "train_mode", "predict_mode", "is_recording", "is_training",
           "set_recording", "set_training", "check_inplace", "Scope", "state"]


class _State(threading.local):
    recording = False
    training = False
    outer = ()  # (recording, training) each open scope restores, innermost last


state = _State()  # this thread's recording and training flags


def is_recording():
    return state.recording


def is_training():
    return state.training


def set_recording(is_recording):
    prev = state.recording
    state.recording = bool(is_recording)
    return prev


def set_training(train_mode):
    prev = state.training
    state.training = bool(train_mode)
    return prev


class Scope:
    """Sets recording and/or training on entry and restores both on exit; scopes nest."""
    __slots__ = ("_rec", "_train")

    def __init__(self, recording, training):
        self._rec = recording
        self._train = training

    # Entering changes the flags with attribute stores only (no call after the first one,
    # so CPython takes no signal in between and a KeyboardInterrupt cannot leave the flags
    # set without the record of what to restore); leaving restores them the same way.
    def __enter__(self):
        st = state
        rec, train = st.recording, st.training
        new_rec = rec if self._rec is None else self._rec
        new_train = train if self._train is None else self._train
        st.outer = st.outer + ((rec, train),)
        st.recording = new_rec
        st.training = new_train
        return self

    def __exit__(self, *exc):
        st = state
        (rec, train), outer = st.outer[-1], st.outer[:-1]
        st.recording = rec
        st.training = train
        st.outer = outer


def check_inplace(array):
    """Before an in-place write: refuse it on an array on the tape while recording, as MXNet
    does, else count it in the buffer's version (backward refuses stale saved arrays)."""
    if array._node is not None and state.recording:
        raise MXNetError(
            "Inplace operations (+=, -=, x[:]=, out=, etc) are not supported when recording "
            "with autograd: this array is part of the recorded graph. Compute a new array "
            "instead (y = x + 1, np.where) or do the write under autograd.pause().")
    bump_version(array)


def record(train_mode=True):
    """Record ops for differentiation; layers run in training mode unless told otherwise."""
    return Scope(True, train_mode)


def pause(train_mode=False):
    return Scope(False, train_mode)


def train_mode():
    return Scope(None, True)


def predict_mode():
    return Scope(None, False)
