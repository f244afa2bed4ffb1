"""Where the hand-written CUDA kernels attach to ops: the op layer's hook.

``mxlite.cuda.register`` (a lower layer) declares kernel implementations by op name and
never touches an op. On the first op dispatched to a GPU-kind backend, the engine runs
``attach_gpu_kernels``, which installs them with ``Op.register(GPU, ...)``; each falls back
to the implementation the op had before for calls its kernel does not cover.
"""
from ..autograd import on_first_dispatch, registered_op
from ..backend import GPU
from ..cuda import register

__all__ = ["attach_gpu_kernels", "detach_gpu_kernels"]

_generic = {}  # op name -> its GPU (forward, backward) before the kernels attached


def _generic_pair(name):
    op = registered_op(name)
    return _generic.setdefault(name, (op.forward_impls[GPU], op.backward_impls[GPU]))


def attach_gpu_kernels(run=register.current_gpu):
    """Install the kernel implementations for the GPU kind, ``run(wrapper)`` launching each
    wrapper (CuPy on the current GPU; the CPU executor in tests). Attaching again replaces
    the kernels; the fallbacks stay the ops' own implementations."""
    for name, (forward, backward) in register.kernel_implementations(run, _generic_pair).items():
        registered_op(name).register(GPU, forward=forward, backward=backward)


def detach_gpu_kernels():
    """Give every op back its own GPU implementation; the next GPU dispatch attaches again."""
    for name, (forward, backward) in _generic.items():
        op = registered_op(name)
        op.forward_impls[GPU] = forward
        op.backward_impls[GPU] = backward
    _generic.clear()
    on_first_dispatch(GPU, _attach_unless_attached)


def _attach_unless_attached():
    if not _generic:  # tests attach the CPU-executor kernels before the first dispatch
        attach_gpu_kernels()


on_first_dispatch(GPU, _attach_unless_attached)
