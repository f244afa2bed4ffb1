"""The tape: recording scopes (``state``), the op protocol and its dispatch (``op``), the
backward engine (``engine``), variables and the gradient methods of ndarray (``variables``),
and user-defined functions (``function``).

An op pairs a forward written against a backend's array module with a backward written
against the same module; ``apply`` runs the forward on the backend of the inputs' device
and, while recording, appends a node to the tape.
"""
from .engine import backward, grad, set_differentiable_namespace, sum_to
from .function import Function
from .op import Op, apply, apply1, apply2, defop, on_first_dispatch, registered_op
from .state import (check_inplace, is_recording, is_training, pause, predict_mode, record,
                    set_recording, set_training, train_mode)
from .variables import GRAD_REQS, check_grad_req, mark_variables, set_grad_ready_hook

__all__ = ["record", "pause", "train_mode", "predict_mode", "is_recording", "is_training",
           "set_recording", "set_training", "check_inplace", "backward", "grad",
           "mark_variables", "GRAD_REQS", "check_grad_req", "set_differentiable_namespace",
           "Function", "Op", "defop", "registered_op", "on_first_dispatch", "apply", "apply1",
           "apply2", "sum_to", "set_grad_ready_hook"]
