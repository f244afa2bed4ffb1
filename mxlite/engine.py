"""``mx.engine``: MXNet's operator-bulking controls, kept so training code runs unchanged.

MXNet's engine can group up to ``size`` consecutive operators into one scheduled unit.
mxlite has no asynchronous engine to bulk: CPU ops run when called and GPU ops are queued on
CuPy's stream as they are called, so the size is recorded and returned but changes nothing."""
import contextlib

__all__ = ["bulk", "set_bulk_size"]

_bulk_size = 15  # MXNet's default (MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_FWD)


def set_bulk_size(size):
    """Set the bulk size; returns the previous one."""
    global _bulk_size
    if int(size) != size or size < 0:
        raise ValueError(f"bulk size must be a non-negative integer, got {size!r}")
    previous, _bulk_size = _bulk_size, int(size)
    return previous


@contextlib.contextmanager
def bulk(size):
    """``with mx.engine.bulk(size):`` sets the bulk size inside the block only."""
    previous = set_bulk_size(size)
    try:
        yield
    finally:
        set_bulk_size(previous)
