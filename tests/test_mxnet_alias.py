"""mxlite.testing.mxnet_alias runs an MXNet-style test file against mxlite: the file below
is ours, written the way MXNet's unit tests are (``import mxnet as mx``, ``from mxnet import
np, npx``, ``from mxnet.test_utils import ...``, ``from common import ...``)."""
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from mxlite.testing import mxnet_alias

ROOT = Path(__file__).resolve().parents[1]

MXNET_STYLE = '''
import numpy as onp
import pytest
import mxnet as mx
import mxnet.ndarray.numpy._internal as _npi
from mxnet import np, npx, autograd, gluon
from mxnet.gluon import HybridBlock
from mxnet.base import MXNetError
from mxnet.test_utils import same, assert_almost_equal, rand_ndarray, use_np
from mxnet.test_utils import check_numeric_gradient, collapse_sum_like
from mxnet.numpy_op_signature import _get_builtin_op
from common import assertRaises, retry, with_seed


@use_np
@pytest.mark.parametrize("hybridize", [True, False])
def test_square(hybridize):
    class Square(HybridBlock):
        def forward(self, a):
            return np.square(a)
    block = Square()
    if hybridize:
        block.hybridize()
    x = rand_ndarray((2, 3)).as_np_ndarray()
    x.attach_grad()
    with mx.autograd.record():
        y = block(x)
    y.backward()
    assert mx.__mxlite__.__name__ == "mxlite"
    assert_almost_equal(x.grad.asnumpy(), 2 * x.asnumpy(), rtol=1e-5, atol=1e-6)


@with_seed()
def test_error_type():
    assertRaises(MXNetError, np.max, np.zeros((0,)))


def test_fails_on_purpose():
    assert same(np.ones(2).asnumpy(), onp.zeros(2))


def test_uses_nd():
    x = mx.nd.array([1, 2])


def test_uses_sym():
    check_numeric_gradient(mx.sym.Variable("a"), [np.ones(2)])


def test_uses_internal_op():
    _npi.boolean_mask_assign_scalar(np.ones(2), np.ones(2), 1.0)


def test_symbol_hybrid_block():
    class Old(HybridBlock):
        def hybrid_forward(self, F, x):
            return F.relu(x)
    Old()(np.ones(2))


def test_gluon1_block_naming():
    class Old(HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
    Old(prefix="old_", params=None)


def test_skipped():
    pytest.skip("not here")
'''


@pytest.fixture
def alias():
    mxnet_alias.install()
    yield
    mxnet_alias.uninstall()


def test_imports_resolve_to_mxlite(alias):
    import mxnet as mx
    from mxnet import autograd, gluon, np, npx
    from mxnet.base import MXNetError
    from mxnet.gluon import HybridBlock
    from mxnet.test_utils import rand_shape_nd
    import common
    import mxlite
    assert np is mxlite.numpy and npx is mxlite.numpy_extension
    assert autograd is mxlite.autograd and gluon is mxlite.gluon
    assert HybridBlock is mxlite.gluon.HybridBlock and MXNetError is mxlite.MXNetError
    assert mx.np.ones(2).shape == (2,)
    assert len(rand_shape_nd(3)) == 3 and callable(common.with_seed)
    import mxnet.gluon.nn
    assert mxnet.gluon.nn is mxlite.gluon.nn
    with pytest.raises(mxnet_alias.LegacyAPIError):
        mx.nd.array([1])
    with pytest.raises(mxnet_alias.LegacyAPIError):
        mx.sym.Variable("x")


def test_c_api_custom_ops_and_symbol_attributes_count_as_internal_or_legacy(alias):
    from mxnet.base import _LIB, MXNetError, _as_list, check_call
    import mxnet as mx
    assert MXNetError is sys.modules["mxlite"].MXNetError
    assert _as_list(3) == [3] and _as_list((1, 2)) == (1, 2)
    for use in (lambda: check_call(_LIB.MXGetVersion()),
                lambda: types.new_class("Sigmoid", (mx.operator.CustomOp,))):
        with pytest.raises(mxnet_alias.InternalAPIError) as err:
            use()
        assert mxnet_alias.classify(err.value) == "legacy"
    with pytest.raises(mxnet_alias.LegacyAPIError):
        mx.attribute.AttrScope(group="4")


def _write_marker(seed, path):
    import mxnet as mx
    with open(path, "w") as f:
        f.write(f"{type(seed).__name__} {mx.np.ones(2).sum().item()}")


def test_common_runs_a_function_in_a_spawned_process(alias, tmp_path):
    import common
    marker = tmp_path / "ran.txt"
    assert common.run_in_spawned_process(_write_marker, {"MXLITE_ALIAS_TEST": "1"},
                                         str(marker))
    assert marker.read_text() == "int 2.0"


def test_star_import_of_test_utils_gives_what_mxnet_s_does(alias):
    """MXNet's test_utils has no __all__: old test files get ``mx`` and ``np`` (host numpy)
    from ``from mxnet.test_utils import *``."""
    import numpy
    names = {}
    exec("from mxnet.test_utils import *", names)
    assert names["mx"] is sys.modules["mxnet"] and names["np"] is numpy
    assert names["mx"].np.ones(2).shape == (2,)
    with names["discard_stderr"]():
        print("dropped", file=sys.stderr)
    with pytest.raises(mxnet_alias.LegacyAPIError):  # MXNet's re-export of nd.array
        names["array"]([1.0])
    import common
    common.teardown()  # the nose-era name old files import


def test_deferred_compute_is_internal(alias):
    import mxnet._deferred_compute as dc
    with pytest.raises(mxnet_alias.InternalAPIError):
        dc.context()


def test_discard_stderr_silences_native_writes_and_restores(capfd):
    import os
    from mxlite.test_utils import discard_stderr
    with discard_stderr():
        os.write(2, b"native\n")
        print("python", file=sys.stderr)
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_uninstall_removes_the_aliases(alias):
    mxnet_alias.uninstall()
    assert "mxnet" not in sys.modules and "common" not in sys.modules
    mxnet_alias.install()


def test_runner_counts_an_mxnet_style_file(tmp_path):
    path = tmp_path / "test_mxnet_style.py"
    path.write_text(textwrap.dedent(MXNET_STYLE))
    out_file = tmp_path / "summary.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "mxlite.testing.mxnet_alias", str(path), "--summary-out",
         str(out_file)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = out_file.read_text()
    assert "total cases:          10" in summary
    assert "legacy (excluded):    5" in summary
    assert "skipped/xfail:        1" in summary
    assert "passed:               3" in summary
    assert "failed:               1" in summary
    assert "pass rate non-legacy: 75.0%" in summary
    assert "AssertionError" in summary
    assert "test_square: 2/0/0/0" in summary
    assert "mxnet.nd.array" in summary and "hybrid_forward" in summary
    assert summary in proc.stdout


def test_legacy_helpers_mxnet_files_import(alias):
    import mxlite
    import mxnet as mx
    from common import TemporaryDirectory
    from mxnet.ndarray.ndarray import py_slice
    assert py_slice is slice
    with TemporaryDirectory() as folder:
        assert Path(folder).is_dir()
    assert not Path(folder).exists()
    # MXNet 2.x's np.ndarray subclasses NDArray; making a legacy array is legacy
    assert isinstance(mxlite.np.ones(2), mx.nd.NDArray) and not isinstance([1], mx.nd.NDArray)
    with pytest.raises(mxnet_alias.LegacyAPIError):
        mx.nd.NDArray()
