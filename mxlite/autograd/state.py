"""Recording state: whether ops are recorded and whether layers run in training mode.

Both are per thread (a ``threading.local``), so threads record independently. Each thread
keeps the scopes it has open, innermost last, with the state each one found; a scope leaves
by its own entry, so an interrupt anywhere in or around ``with`` cannot strand the state.
"""
import threading
import weakref
from functools import partial

from ..base import MXNetError
from ..ndarray import bump_version

__all__ = ["record", "pause", "train_mode", "predict_mode", "is_recording", "is_training",
           "set_recording", "set_training", "check_inplace", "Scope", "state"]


class _State(threading.local):
    recording = False
    training = False

    def __init__(self):
        self.entered = []  # (scope, recording before, training before) per open scope


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
    """Sets recording and/or training on entry and restores both on exit; scopes nest.

    Every state change is one line without calls (no trace event or signal lands inside it).
    The open-scope entry refers to the scope weakly: a scope abandoned between its entry and
    its ``with`` body (an interrupt while entering, or at the start of ``__exit__``) is
    collected as the interrupt unwinds, and its entry then restores the state it found.
    """
    __slots__ = ("_rec", "_train", "__weakref__")

    def __init__(self, recording, training):
        self._rec = recording
        self._train = training

    def __enter__(self):
        rec = state.recording if self._rec is None else self._rec
        train = state.training if self._train is None else self._train
        entered = state.entered
        entered.append((weakref.ref(self, partial(_abandoned, entered)), state.recording,
                        state.training))
        # MXNet's scopes enter as None; dropping self here keeps a traceback from holding it
        state.recording, state.training = rec, train; del self  # noqa: E702

    def __exit__(self, *exc):
        entered = state.entered
        for i in range(len(entered) - 1, -1, -1):
            if entered[i][0]() is self:
                _, state.recording, state.training = entered[i]; del entered[i:]  # noqa: E702
                return


def _abandoned(entered, ref):
    """A scope died while open: restore what it found, or hand that to the scope above it."""
    for i in range(len(entered) - 1, -1, -1):
        if entered[i][0] is ref:
            if i + 1 < len(entered):
                entered[i + 1] = (entered[i + 1][0], *entered[i][1:]); del entered[i]  # noqa
            else:
                _, state.recording, state.training = entered[i]; del entered[i:]  # noqa: E702
            return


def check_inplace(array):
    """Before an in-place write: refuse it on an array on the tape while recording, as MXNet
    does, else count it in the buffer's version (backward refuses stale saved arrays)."""
    if array._node is not None and state.recording:
        raise MXNetError(
            "Inplace operations (+=, -=, x[:]=, etc) are not supported when recording with "
            "autograd (out= neither): this array is part of the recorded graph. Compute a new "
            "array "
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
