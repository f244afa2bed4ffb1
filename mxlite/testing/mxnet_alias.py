"""Run MXNet's own test files against mxlite: ``import mxnet`` gives mxlite.

``install()`` puts module aliases in ``sys.modules``: ``mxnet`` and every ``mxnet.X`` are
``mxlite`` / ``mxlite.X`` (the same module objects, through an import hook), with three
synthesized modules: ``mxnet.test_utils`` (``mxlite.test_utils`` plus stand-ins for the
symbol-based helpers), ``common`` (our versions of the helpers in MXNet's
``tests/python/unittest/common.py``: ``with_seed``, ``retry``, ``assertRaises``,
``xfail_when_nonstandard_decimal_separator``, ``assert_raises_cuda_not_satisfied``, ...) and
stubs for what mxlite deliberately lacks.

What mxlite lacks is of two kinds, and reaching either raises an exception of its own so the
runner can tell it from a genuine failure:

- legacy API (``LegacyAPIError``): ``mx.nd`` / ``mx.ndarray`` (MXNet's NDArray),
  ``mx.sym`` / ``mx.symbol`` (symbols, executors, ``check_numeric_gradient`` on a symbol),
  ``.as_nd_ndarray()`` (but ``mx.nd.waitall()``, the engine-wide barrier MXNet 2.x also
  has as ``npx.waitall()``, is mxlite's ``npx.waitall``); and a ``HybridBlock`` written against the symbol API
  (``hybrid_forward(self, F, ...)``), which mxlite's HybridBlock refuses with a TypeError, as
  Block refuses Gluon 1.x's ``prefix=`` / ``params=`` constructor arguments.
- MXNet internals (``InternalAPIError``): ``mxnet.ndarray.numpy._internal`` (the raw ``_npi``
  operators), ``mxnet.operator``'s C++ operator registry, ``mxnet.numpy_op_signature``,
  ``mxnet._numpy_op_doc`` (the docstring stubs of the registry's ``_np_`` operators),
  ``mxnet._deferred_compute`` (the C API's tracer that builds nnvm symbols).

Legacy rule: a test case is *legacy* when running it reaches one of these (its failure is a
``LegacyAPIError`` or ``InternalAPIError``, directly or as the cause of another exception).
A case that fails on something else first counts as a genuine failure, so the rule never
flatters the figure. Legacy cases are reported and excluded from the pass rate.

Runner::

    python -m mxlite.testing.mxnet_alias PATH/TO/test_numpy_op.py [pytest args]

runs pytest on the file with the aliases installed, a per-case time limit
(``--case-timeout``, seconds, default 60: a case over it fails as a timeout) and a per-case
seed (numpy, ``random`` and ``mx.random`` seeded from the case id, as MXNet's conftest seeds
each test), then prints: total cases, legacy, skipped, passed, failed, the pass rate among
non-legacy cases, and the top failure causes grouped by exception type and message (numbers
in the message replaced by ``#``). ``--summary-out FILE`` also writes the summary to FILE,
``--top N`` sets how many causes are listed.

NumPy 1.x names: MXNet's CI ran NumPy 1.x and its test files call a few host-numpy
(``onp``) names that NumPy 2.0 removed (``onp.product``, ``onp.round_``). While ``run()``
runs a file, ``numpy_1x_aliases()`` puts exactly those names back in the host numpy as the
NumPy 1.x aliases they were (``product`` = ``prod``, ``round_`` = ``round``), and lets ``onp.quantile`` /
``onp.percentile`` take NumPy 1.x's ``interpolation=`` keyword (renamed ``method=`` in 1.22,
removed in 2.4) as the ``method=`` it became, and ``onp.nonzero`` of a 0-d array give what
NumPy 1.x gave (``nonzero(atleast_1d(a))``, deprecated in 1.17, an error since 2.0); it
undoes all of this afterwards. This touches only the host numpy seen by the test file's own reference
computations, never mxlite; it does not bring back NumPy 1.x's value-based casting or
integer-overflow behaviour (``-onp.sort(-1 * a)`` on uint8 in ``test_np_sort`` still wraps
differently under NumPy 2: the shim cannot honestly fix a reference that computes
something else).

Layering: this module imports all of mxlite, so it sits in the top layer
(``tests/test_layering.py`` lists ``mxlite.testing.mxnet_alias`` there; a module belongs to
its longest listed prefix) while the rest of ``mxlite.testing`` (the CUDA simulator, the
CuPy stand-in) stays below the ops. Nothing in mxlite imports it.
"""
import argparse
import collections
import contextlib
import functools
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import random
import re
import signal
import sys
import tempfile
import types

import numpy as _onp
import pytest

import mxlite
from mxlite import test_utils as _mx_test_utils

__all__ = ["LegacyAPIError", "InternalAPIError", "install", "uninstall", "installed",
           "classify", "main", "numpy_1x_aliases"]


class LegacyAPIError(Exception):
    """A test reached MXNet's legacy API (mx.nd, mx.sym, symbol HybridBlocks)."""


class InternalAPIError(Exception):
    """A test reached MXNet's internals (raw _npi operators, the C++ operator registry)."""


class _Missing:
    """A name from an API mxlite lacks (``mx.nd.array``, ``_npi.foo``): it can be imported
    and looked into, and raises its error when used (called, iterated, tested, ...)."""

    def __init__(self, error, what):
        object.__setattr__(self, "_error", error)
        object.__setattr__(self, "_what", what)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Missing(self._error, f"{self._what}.{attr}")

    def _raise(self, *args, **kwargs):
        raise self._error(f"{self._what} is not part of mxlite")

    def __mro_entries__(self, bases):  # ``class Op(mx.operator.CustomOp)``
        self._raise()

    __call__ = __bool__ = __iter__ = __len__ = __getitem__ = __setattr__ = _raise
    __add__ = __radd__ = __mul__ = __rmul__ = __sub__ = __rsub__ = _raise

    def __repr__(self):
        return f"<missing {self._what}>"


class _Stub(types.ModuleType):
    """A module standing for an API mxlite lacks: its submodules import (so ``import
    mxnet.ndarray.numpy._internal as _npi`` works), any other name is a ``_Missing`` that
    raises when used."""

    def __init__(self, name, error, what):
        super().__init__(name)
        self.__dict__["_error"] = error
        self.__dict__["_what"] = what

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        sub = sys.modules.get(f"{self.__name__}.{attr}")
        if sub is not None:
            return sub
        passthrough = _PASSTHROUGH.get((self.__name__, attr))
        if passthrough is not None:
            return passthrough()
        return _Missing(self._error, f"{self._what}: {self.__name__}.{attr}")


_LEGACY_STUBS = ("mxnet.nd", "mxnet.ndarray", "mxnet.ndarray.numpy",
                 "mxnet.ndarray.ndarray", "mxnet.sym",
                 "mxnet.symbol", "mxnet.symbol.numpy", "mxnet.mod", "mxnet.module",
                 "mxnet.executor", "mxnet.attribute")
# mxnet.base's ctypes bindings to libmxnet, which MXNet's tests reach for the C API
_C_API_NAMES = ("_LIB", "check_call", "c_str", "c_array", "c_str_array", "c_handle_array",
                "py_str", "mx_uint", "mx_int", "mx_real_t", "NDArrayHandle", "SymbolHandle",
                "ExecutorHandle", "CachedOpHandle", "KVStoreHandle", "DataIterHandle")


def _base_module():
    """``mxnet.base``: mxlite.base's names (MXNetError is mxlite's class), MXNet's
    ``_as_list``, and the C-API bindings as internals."""
    mod = types.ModuleType("mxnet.base", mxlite.base.__doc__)
    mod.__dict__.update({k: v for k, v in vars(mxlite.base).items() if k != "__name__"})
    mod._as_list = lambda obj: obj if isinstance(obj, (list, tuple)) else [obj]
    for name in _C_API_NAMES:
        setattr(mod, name, _Missing(InternalAPIError, f"MXNet's C API: mxnet.base.{name}"))
    return mod
_INTERNAL_STUBS = ("mxnet.ndarray.numpy._internal", "mxnet.ndarray._internal",
                   "mxnet.symbol._internal", "mxnet._ctypes", "mxnet.library",
                   "mxnet._numpy_op_doc", "mxnet._deferred_compute")
# Names in a legacy namespace that are not NDArray API but engine-wide calls MXNet 2.x keeps
# there and in npx alike: they resolve to mxlite's (a test reaching only these is no legacy
# test). ``mx.nd.waitall()`` waits for all pending work, as ``npx.waitall()`` does.
_STORAGE_TYPE_STR_TO_ID = {"undefined": -1, "default": 0, "row_sparse": 1, "csr": 2}
_PASSTHROUGH = {("mxnet.nd", "waitall"): lambda: mxlite.numpy_extension.waitall,
                ("mxnet.ndarray", "waitall"): lambda: mxlite.numpy_extension.waitall,
                # the builtin under the name MXNet's indexing code imports it as
                ("mxnet.ndarray.ndarray", "py_slice"): lambda: slice,
                # storage type names and ids, as MXNet's C API numbers them: plain data
                ("mxnet.ndarray.ndarray", "_STORAGE_TYPE_STR_TO_ID"):
                    lambda: dict(_STORAGE_TYPE_STR_TO_ID),
                ("mxnet.ndarray", "_STORAGE_TYPE_STR_TO_ID"):
                    lambda: dict(_STORAGE_TYPE_STR_TO_ID)}


class _NDArrayType(type):
    def __instancecheck__(cls, obj):  # MXNet 2.x's np.ndarray subclasses NDArray
        return isinstance(obj, mxlite.numpy.ndarray)


class _LegacyNDArray(metaclass=_NDArrayType):
    """``mx.nd.NDArray`` as a class: an ``mx.np`` array is an instance, as in MXNet 2.x;
    making one is legacy."""

    def __new__(cls, *args, **kwargs):
        raise LegacyAPIError("mx.nd.NDArray is not part of mxlite")


_PASSTHROUGH.update({(stub, "NDArray"): lambda: _LegacyNDArray
                     for stub in ("mxnet.nd", "mxnet.ndarray", "mxnet.ndarray.ndarray")})
_LEGACY_ATTRS = {"nd": "mxnet.nd", "ndarray": "mxnet.ndarray", "sym": "mxnet.sym",
                 "symbol": "mxnet.symbol", "mod": "mxnet.mod", "module": "mxnet.module",
                 "executor": "mxnet.executor"}


class _MXNetModule(types.ModuleType):
    """``mxnet``: mxlite's attributes, the synthesized submodules, legacy names raise."""

    def __getattr__(self, attr):
        if attr in _LEGACY_ATTRS:
            return sys.modules[_LEGACY_ATTRS[attr]]
        sub = sys.modules.get(f"mxnet.{attr}")
        if sub is not None:
            return sub
        if attr.startswith("__"):
            raise AttributeError(attr)
        try:
            return getattr(mxlite, attr)
        except AttributeError:
            pass
        try:
            return importlib.import_module(f"mxnet.{attr}")
        except ImportError:
            raise AttributeError(f"mxlite has no mx.{attr}") from None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    """``mxnet.X`` imports as ``mxlite.X`` (the same module object)."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("mxnet."):
            return None
        target_name = "mxlite." + fullname[len("mxnet."):]
        try:
            if importlib.util.find_spec(target_name) is None:
                return None
        except ModuleNotFoundError:  # a parent is a plain module (mxlite.ndarray)
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(target_name),
                                              is_package=True)


_FINDER = _AliasFinder()


# -- mxnet.test_utils ------------------------------------------------------------------

def _symbolic(name):
    def helper(*args, **kwargs):
        raise LegacyAPIError(f"mx.test_utils.{name} works on MXNet symbols (mx.sym), "
                             "which mxlite does not have")
    helper.__name__ = name
    return helper


_SYMBOLIC_HELPERS = ("check_numeric_gradient", "check_symbolic_forward",
                     "check_symbolic_backward", "check_consistency", "check_speed",
                     "simple_forward")


def _make_test_utils():
    mod = types.ModuleType("mxnet.test_utils",
                           "mxlite.test_utils with MXNet's symbol-based helpers as stubs")
    for name in dir(_mx_test_utils):
        if not name.startswith("__"):
            setattr(mod, name, getattr(_mx_test_utils, name))
    for name in _SYMBOLIC_HELPERS:
        setattr(mod, name, _symbolic(name))
    # MXNet's test_utils has no __all__, so ``from mxnet.test_utils import *`` also gives the
    # modules it imports as ``mx`` and ``np`` (host numpy); old test files rely on that
    mod.mx = sys.modules["mxnet"]
    mod.np = _onp
    mod.array = sys.modules["mxnet.nd"].array  # MXNet's test_utils re-exports nd.array: legacy
    mod.retry = _retry
    mod.with_seed = _with_seed
    return mod


# -- common (MXNet's tests/python/unittest/common.py, our versions) -------------------------

def _with_seed(seed=None):
    """Seed numpy, ``random`` and ``mx.random`` for the decorated test (MXNet 2.x seeds in
    its conftest; the decorator remains for old files)."""
    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            if seed is not None:
                _seed_all(seed)
            return fn(*args, **kwargs)
        return run
    return decorate


def _retry(n):
    """Run the decorated test up to ``n`` times; it passes if one run passes."""
    if n < 1:
        raise ValueError("retry needs n >= 1")

    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            for i in range(n):
                try:
                    return fn(*args, **kwargs)
                except AssertionError:
                    if i == n - 1:
                        raise
        return run
    return decorate


def _assert_raises(expected_exception, func, *args, **kwargs):
    """common.py's argument order for ``test_utils.assert_exception``."""
    _mx_test_utils.assert_exception(func, expected_exception, *args, **kwargs)


def _xfail_when_nonstandard_decimal_separator(fn):
    import locale
    return pytest.mark.xfail(locale.localeconv()["decimal_point"] != ".",
                             reason="the locale's decimal separator is not '.'",
                             strict=True)(fn)


def _assert_raises_cuda_not_satisfied(min_version):
    """On a GPU build MXNet checks the CUDA version; mxlite on CPU runs the test as is."""
    def decorate(fn):
        return fn
    return decorate


def _assert_raises_cudnn_not_satisfied(min_version):
    return _assert_raises_cuda_not_satisfied(min_version)


@contextlib.contextmanager
def _random_seed(seed=None):
    state = (_onp.random.get_state(), random.getstate())
    _seed_all(seed if seed is not None else random.randint(0, 2 ** 31 - 1))
    try:
        yield
    finally:
        _onp.random.set_state(state[0])
        random.setstate(state[1])


def _with_environment(*env_args):
    """Run the decorated test inside ``test_utils.environment(*env_args)``."""
    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with _mx_test_utils.environment(*env_args):
                return fn(*args, **kwargs)
        return run
    return decorate


def _make_common():
    mod = types.ModuleType("common", "mxlite's versions of MXNet's unittest/common.py helpers")
    mod.with_seed = _with_seed
    mod.retry = _retry
    mod.assertRaises = _assert_raises
    mod.assert_raises = _assert_raises
    mod.xfail_when_nonstandard_decimal_separator = _xfail_when_nonstandard_decimal_separator
    mod.assert_raises_cuda_not_satisfied = _assert_raises_cuda_not_satisfied
    mod.assert_raises_cudnn_not_satisfied = _assert_raises_cudnn_not_satisfied
    mod.random_seed = _random_seed
    mod.environment = _mx_test_utils.environment
    mod.with_environment = _with_environment
    mod.setup_module = lambda: None
    mod.teardown_module = lambda: None
    mod.teardown = lambda: None  # the nose-era module teardown old files import
    mod.is_cd_run = lambda: False
    mod.TemporaryDirectory = tempfile.TemporaryDirectory  # yields the path, as MXNet's
    mod.run_in_spawned_process = _run_in_spawned_process
    return mod


def _run_in_spawned_process(func, env, *args):
    """MXNet's: ``func(seed, *args)`` in a fresh (spawned) process with the environment
    variables ``env`` set; False if spawning is unavailable, else True, asserting it exited
    with 0. The child installs these aliases before it unpickles ``func``."""
    import multiprocessing
    import pickle
    try:
        ctx = multiprocessing.get_context("spawn")
    except ValueError:
        return False
    seed = _onp.random.randint(0, 1024 * 1024 * 1024)
    payload = pickle.dumps((func, (seed,) + args))
    with _mx_test_utils.environment(env):
        proc = ctx.Process(target=_spawned_entry, args=(payload,))
        proc.start()
        proc.join()
    assert proc.exitcode == 0, f"Non-zero exit code {proc.exitcode} from {func.__name__}()."
    return True


def _spawned_entry(payload):
    import pickle
    install()
    func, args = pickle.loads(payload)
    func(*args)


def _seed_all(seed):
    seed = int(seed) % (2 ** 31)
    _onp.random.seed(seed)
    random.seed(seed)
    mxlite.random.seed(seed)


def _as_nd_ndarray(self):
    raise LegacyAPIError("as_nd_ndarray(): mx.nd's NDArray is not part of mxlite")


_SAVED = {}


def install():
    """Make ``import mxnet`` (and ``mxnet.X``, ``common``) resolve to mxlite. Idempotent."""
    if installed():
        return sys.modules["mxnet"]
    for name in ("mxnet", "common"):
        _SAVED[name] = sys.modules.get(name)
    top = _MXNetModule("mxnet", "mxlite standing in for mxnet (mxlite.testing.mxnet_alias)")
    top.__path__ = []
    top.__version__ = "2.0.0"
    top.__mxlite__ = mxlite
    sys.modules["mxnet"] = top
    for name in _LEGACY_STUBS:
        sys.modules[name] = _Stub(name, LegacyAPIError, "MXNet's legacy API")
        sys.modules[name].__path__ = []
    for name in _INTERNAL_STUBS:
        sys.modules[name] = _Stub(name, InternalAPIError, "MXNet's internals")
        sys.modules[name].__path__ = []
    sys.modules["mxnet.test_utils"] = _make_test_utils()
    sys.modules["mxnet.operator"] = _Stub("mxnet.operator", InternalAPIError,
                                          "MXNet's C++ operator registry")
    sys.modules["mxnet.numpy_op_signature"] = _Stub("mxnet.numpy_op_signature",
                                                    InternalAPIError,
                                                    "MXNet's operator signatures")
    sys.modules["common"] = _make_common()
    for sub in ("numpy", "numpy_extension", "autograd", "gluon", "random",
                "initializer", "optimizer", "context", "device", "util"):
        sys.modules[f"mxnet.{sub}"] = importlib.import_module(f"mxlite.{sub}")
    sys.modules["mxnet.base"] = _base_module()
    sys.modules["mxnet.np"] = mxlite.numpy
    sys.modules["mxnet.npx"] = mxlite.numpy_extension
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    if not hasattr(mxlite.numpy.ndarray, "as_nd_ndarray"):
        mxlite.numpy.ndarray.as_nd_ndarray = _as_nd_ndarray
    return top


def installed():
    return isinstance(sys.modules.get("mxnet"), _MXNetModule)


def uninstall():
    """Remove the aliases (for tests of this module)."""
    for name in list(sys.modules):
        if name == "mxnet" or name.startswith("mxnet."):
            del sys.modules[name]
    for name, mod in _SAVED.items():
        if mod is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = mod
    _SAVED.clear()
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    if mxlite.numpy.ndarray.__dict__.get("as_nd_ndarray") is _as_nd_ndarray:
        del mxlite.numpy.ndarray.as_nd_ndarray


# -- the runner ------------------------------------------------------------------------

def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_legacy(e):
    if isinstance(e, (LegacyAPIError, InternalAPIError)):
        return True
    # mxlite's HybridBlock refuses a hybrid_forward(self, F, ...) block (the symbol API), and
    # Block MXNet 1.x's prefix= / params= naming
    text = str(e)
    return isinstance(e, TypeError) and (
        "defines hybrid_forward" in text or "MXNet 1.x's Block naming" in text
        or "unexpected keyword argument 'prefix'" in text
        or "unexpected keyword argument 'params'" in text)


def classify(exc):
    """'legacy' when ``exc`` (or what caused it) is a Legacy/InternalAPIError or mxlite's
    refusal of a symbol-API HybridBlock, else 'failed'."""
    return "legacy" if any(_is_legacy(e) for e in _chain(exc)) else "failed"


def _cause(exc):
    """A failure's group key: exception type and first message line, numbers as '#'."""
    for e in _chain(exc):
        if _is_legacy(e):
            exc = e
            break
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    if isinstance(exc, AssertionError) and (not line or line.startswith("assert ")):
        line = "assert " + (line[7:60] if line else "")
    if line.startswith("Not equal to tolerance"):
        line = "Not equal to tolerance (assert_almost_equal)"
    line = re.sub(r"0x[0-9a-f]+", "#", line)
    line = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", line)
    return f"{type(exc).__name__}: {line[:140]}"


class _CaseTimeout(BaseException):
    pass


class _Collector:
    """pytest plugin: seeds and times each case, records its outcome and failure cause."""

    def __init__(self, case_timeout):
        self.case_timeout = case_timeout
        self.results = {}

    def _on_alarm(self, signum, frame):
        raise _CaseTimeout(f"case ran over {self.case_timeout} s")

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "flaky: MXNet's marker for tests it reruns")
        config.addinivalue_line("markers", "serial: MXNet's marker for tests run alone")
        config.addinivalue_line("markers", "garbage_expected: MXNet's marker for tests "
                                           "that leave arrays in reference cycles")

    @pytest.fixture
    def check_leak_ndarray(self, request):
        """MXNet's conftest fixture: the test must leave no array that only the cyclic
        garbage collector would free (unless it is marked ``garbage_expected``)."""
        import gc
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            yield
            gc.collect()
            leaked = [o for o in gc.garbage if isinstance(o, mxlite.numpy.ndarray)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        if leaked and request.node.get_closest_marker("garbage_expected") is None:
            raise AssertionError(f"{len(leaked)} arrays were left in reference cycles, e.g. "
                                 f"shape {leaked[0].shape}")

    def pytest_runtest_setup(self, item):
        _seed_all(int(hashlib.md5(item.nodeid.encode()).hexdigest()[:8], 16))

    def pytest_runtest_call(self, item):
        if self.case_timeout:
            signal.signal(signal.SIGALRM, self._on_alarm)
            signal.alarm(int(self.case_timeout))

    def pytest_runtest_teardown(self, item):
        if self.case_timeout:
            signal.alarm(0)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if call.when == "call" and self.case_timeout:
            signal.alarm(0)
        nodeid = item.nodeid
        if report.skipped:
            if call.when != "teardown" and nodeid not in self.results:
                if hasattr(report, "wasxfail"):
                    self.results[nodeid] = ("xfailed", "xfail")
                else:
                    self.results[nodeid] = ("skipped", str(report.longrepr[-1])
                                            if isinstance(report.longrepr, tuple) else "")
            return
        if report.failed:
            exc = call.excinfo.value if call.excinfo is not None else None
            if isinstance(exc, _CaseTimeout):
                self.results[nodeid] = ("failed", f"Timeout: case ran over "
                                                  f"{self.case_timeout} s")
            elif exc is None:
                self.results[nodeid] = ("failed", "xpass(strict)")
            else:
                self.results[nodeid] = (classify(exc), _cause(exc))
        elif call.when == "call" and report.passed and nodeid not in self.results:
            self.results[nodeid] = ("passed", "")

    def pytest_collectreport(self, report):
        if report.failed:
            self.results[report.nodeid or "<collection>"] = (
                "collection-error", str(report.longrepr).strip().splitlines()[-1][:140])


def summarize(results, top=25, title=None):
    counts = collections.Counter(kind for kind, _ in results.values())
    total = len(results)
    legacy = counts["legacy"]
    skipped = counts["skipped"] + counts["xfailed"]
    passed = counts["passed"]
    failed = counts["failed"] + counts["collection-error"]
    considered = passed + failed
    rate = 100.0 * passed / considered if considered else 0.0
    lines = []
    if title:
        lines.append(title)
    lines += [f"total cases:          {total}",
              f"legacy (excluded):    {legacy}",
              f"skipped/xfail:        {skipped}",
              f"non-legacy run:       {considered}",
              f"passed:               {passed}",
              f"failed:               {failed}",
              f"pass rate non-legacy: {rate:.1f}%"]
    causes = collections.Counter(c for kind, c in results.values()
                                 if kind in ("failed", "collection-error"))
    per_test = collections.defaultdict(collections.Counter)
    for nodeid, (kind, cause) in results.items():
        per_test[nodeid.split("[")[0].split("::")[-1]][kind] += 1
    lines.append("")
    lines.append(f"top failure causes ({len(causes)} distinct):")
    for cause, n in causes.most_common(top):
        lines.append(f"  {n:6d}  {cause}")
    legacy_causes = collections.Counter(c for kind, c in results.values() if kind == "legacy")
    lines.append("")
    lines.append("legacy causes:")
    for cause, n in legacy_causes.most_common(10):
        lines.append(f"  {n:6d}  {cause}")
    lines.append("")
    lines.append("per test function (passed/failed/legacy/skipped):")
    for name in sorted(per_test):
        c = per_test[name]
        lines.append(f"  {name}: {c['passed']}/{c['failed'] + c['collection-error']}/"
                     f"{c['legacy']}/{c['skipped'] + c['xfailed']}")
    return "\n".join(lines), {"total": total, "legacy": legacy, "skipped": skipped,
                              "passed": passed, "failed": failed, "rate": rate}


# NumPy 1.x aliases removed in NumPy 2.0 that MXNet's test_numpy_op.py calls on the host
# numpy (only those): name -> the function it aliased.
_NUMPY_1X_ALIASES = {"product": "prod", "round_": "round"}
# functions whose NumPy 1.x keyword NumPy 2 renamed (and then removed): old -> new
_NUMPY_1X_KEYWORDS = {"quantile": ("interpolation", "method"),
                      "percentile": ("interpolation", "method")}


def _nonzero_0d_as_1x(fn, numpy_module):
    @functools.wraps(fn)
    def nonzero(a):
        if numpy_module.ndim(a) == 0:
            return fn(numpy_module.atleast_1d(a))  # NumPy 1.x's result
        return fn(a)
    return nonzero


def _accept_old_keyword(fn, old, new):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if old in kwargs:
            if new in kwargs:
                raise TypeError(f"{fn.__name__}: give {new}= or {old}=, not both")
            kwargs[new] = kwargs.pop(old)
        return fn(*args, **kwargs)
    call.__wrapped_numpy_1x__ = fn
    return call


@contextlib.contextmanager
def numpy_1x_aliases(numpy_module=_onp):
    """Restore the NumPy 1.x aliases in ``_NUMPY_1X_ALIASES`` in the host numpy (where it
    lacks them), and the renamed keywords of ``_NUMPY_1X_KEYWORDS``, for the duration of the
    block: MXNet's CI ran NumPy 1.x, so its test files
    call ``onp.product`` / ``onp.round_``. The harness only: mxlite never uses them."""
    added = []
    for old, new in _NUMPY_1X_ALIASES.items():
        if old not in vars(numpy_module):
            try:
                getattr(numpy_module, old)
                continue  # still there (NumPy 1.x): leave it alone
            except AttributeError:
                pass
            setattr(numpy_module, old, getattr(numpy_module, new))
            added.append(old)
    wrapped = {}
    for name, (old, new) in _NUMPY_1X_KEYWORDS.items():
        fn = getattr(numpy_module, name)
        try:
            fn([0.0], 0.5, **{old: "linear"})
            continue  # NumPy 1.x still takes it
        except TypeError:
            pass
        wrapped[name] = fn
        setattr(numpy_module, name, _accept_old_keyword(fn, old, new))
    try:
        numpy_module.nonzero(numpy_module.array(1))
    except ValueError:
        wrapped["nonzero"] = numpy_module.nonzero
        numpy_module.nonzero = _nonzero_0d_as_1x(numpy_module.nonzero, numpy_module)
    try:
        yield added
    finally:
        for old in added:
            vars(numpy_module).pop(old, None)
        for name, fn in wrapped.items():
            setattr(numpy_module, name, fn)


def run(path, pytest_args=(), case_timeout=60):
    """Run pytest on ``path`` with the aliases installed (and, in the host numpy, the
    NumPy 1.x names the file needs: ``numpy_1x_aliases``); returns (results, exit code)."""
    install()
    _seed_all(0)  # the file draws random shapes when pytest collects it
    collector = _Collector(case_timeout)
    args = [str(path), "-p", "no:cacheprovider", "-q", "--no-header", "-rN",
            "--tb=no", "-o", "console_output_style=classic"]
    args += list(pytest_args)
    with numpy_1x_aliases():
        code = pytest.main(args, plugins=[collector])
    return collector.results, code


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m mxlite.testing.mxnet_alias",
        description="Run an MXNet test file against mxlite and summarize the outcome.")
    parser.add_argument("path")
    parser.add_argument("--case-timeout", type=float, default=60)
    parser.add_argument("--summary-out")
    parser.add_argument("--top", type=int, default=25)
    args, pytest_args = parser.parse_known_args(argv)
    results, code = run(args.path, pytest_args, args.case_timeout)
    text, _ = summarize(results, args.top, title=f"mxlite vs {args.path}")
    print("\n" + text)
    if args.summary_out:
        with open(args.summary_out, "w") as fh:
            fh.write(text + "\n")
    return 0 if code in (0, 1) else int(code)


if __name__ == "__main__":
    sys.exit(main())
