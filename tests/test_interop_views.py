"""asnumpy(copy=False): a zero-copy, read-only view on CPU; the default stays a copy."""
import numpy as np
import pytest

import mxlite as mx


def test_asnumpy_view_shares_memory_and_is_read_only():
    x = mx.np.arange(6).reshape(2, 3)
    view = x.asnumpy(copy=False)
    assert np.shares_memory(view, x.asnumpy(copy=False))
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0] = 5
    x[0, 0] = 7  # an in-place write to the array shows in the view
    assert view[0, 0] == 7


def test_asnumpy_default_is_an_owned_copy():
    x = mx.np.ones((2, 2))
    a = x.asnumpy()
    a[0, 0] = 3
    assert a.flags.writeable and float(x[0, 0]) == 1.0
    assert not np.shares_memory(a, x.asnumpy(copy=False))


def test_from_dlpack_round_trip_with_numpy():
    host = np.arange(4, dtype=np.float32)
    x = mx.np.from_dlpack(host)
    assert x.shape == (4,) and np.array_equal(np.from_dlpack(x), host)
