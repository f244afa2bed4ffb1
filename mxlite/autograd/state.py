"""Recording state: whether ops are recorded and whether layers run in training mode.

Both are per thread (a ``threading.local``), so threads record independently.
"""
import threading

from ..base import MXNetError

__all__ = ["record", "pause", "train_mode", "predict_mode", "is_recording", "is_training",
           "set_recording", "set_training", "check_inplace", "Scope", "state"]


class _State(threading.local):
    recording = False
    training = False


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
    __slots__ = ("_rec", "_train", "_prev")

    def __init__(self, recording, training):
        self._rec = recording
        self._train = training
        self._prev = None

    def __enter__(self):
        self._prev = (state.recording, state.training)
        if self._rec is not None:
            state.recording = self._rec
        if self._train is not None:
            state.training = self._train
        return self

    def __exit__(self, *exc):
        state.recording, state.training = self._prev


def check_inplace(array):
    """Refuse an in-place write to an array on the tape while recording, as MXNet does."""
    if array._node is not None and state.recording:
        raise MXNetError(
            "Inplace operations (+=, -=, x[:]=, out=, etc) are not supported when recording "
            "with autograd: this array is part of the recorded graph. Compute a new array "
            "instead (y = x + 1, np.where) or do the write under autograd.pause().")


def record(train_mode=True):
    """Record ops for differentiation; layers run in training mode unless told otherwise."""
    return Scope(True, train_mode)


def pause(train_mode=False):
    return Scope(False, train_mode)


def train_mode():
    return Scope(None, True)


def predict_mode():
    return Scope(None, False)
