"""MXNet 2.x numpy compatibility, assorted functions (issue 21's "misc" family), and the
MXNet test harness's NumPy 1.x shim. Ours, written from the documented semantics."""
import numpy as onp
import pytest

import mxlite as mx
from mxlite import np, npx
from mxlite.test_utils import check_gradient
from mxlite.testing import mxnet_alias


# -- harness: NumPy 1.x aliases and mx.nd.waitall ---------------------------------------

def test_numpy_1x_aliases_restored_only_inside_the_block():
    had_product = "product" in vars(onp)
    with mxnet_alias.numpy_1x_aliases() as added:
        assert onp.product([2, 3, 4]) == 24
        assert onp.round_(1.26, 1) == pytest.approx(1.3)
    if not had_product:
        assert "product" in added
        assert "product" not in vars(onp)
        with pytest.raises(AttributeError):
            onp.product
    # mxlite never gets them
    assert "product" not in vars(np)


def test_nd_waitall_is_not_legacy():
    mxnet_alias.install()
    try:
        import mxnet
        mxnet.nd.waitall()  # the barrier, not a LegacyAPIError
        with pytest.raises(mxnet_alias.LegacyAPIError):
            mxnet.nd.array([1, 2])
    finally:
        mxnet_alias.uninstall()
