"""Run CUDA C kernels on the CPU, for tests on machines without a GPU.

A ``.cu`` file is compiled with g++ (C++17) against ``include/cuda_sim.h``, which defines
the CUDA built-ins and runs each block's threads as cooperative fibers (one small
``ucontext`` stack per thread). Launches follow ``cupy.RawKernel``'s calling convention::

    from mxlite.testing import cudasim
    mod = cudasim.Module("kernels/softmax.cu", name_expressions=("softmax_fwd<float>",))
    mod.get_function("softmax_fwd<float>")(grid, block, (x, y, numpy.int32(n)), shared_mem=0)

Arrays are numpy arrays (device memory is host memory here); scalars are numpy scalars
whose dtype must match the kernel's parameter type, as on the GPU.

What it checks: indexing, bounds, barriers and the algorithm, against numpy. What it does
not: timing, occupancy or the GPU memory model. Races are not found (fibers switch only at
barriers, always in the same order); float results may differ from a GPU in the last bits
(no FMA contraction here, full-precision ``__expf``). Not supported: inline PTX (``asm``),
cooperative groups, CUB/Thrust, texture/surface objects, ``cp.async``/tensor-core
intrinsics, dynamic parallelism. See README.md beside this file.

``sanitize=True`` (or ``MXLITE_CUDASIM_SANITIZE=1``) builds with AddressSanitizer so that
an out-of-bounds access reports the ``.cu`` line; that needs the ASan runtime preloaded,
so run such tests through ``python -m mxlite.testing.cudasim --asan <pytest args>``.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy

__all__ = ["Module", "Function", "available", "kernel_module", "asan_runtime", "asan_environment",
           "run_under_asan"]

INCLUDE_DIR = Path(__file__).resolve().parent / "include"
SANITIZE_ENV = "MXLITE_CUDASIM_SANITIZE"
CACHE_ENV = "MXLITE_CUDASIM_CACHE"
_FORMAT_VERSION = "1"

# NVRTC/CuPy options that mean nothing on the CPU and are accepted so that the same
# option tuple can be passed to both.
_IGNORED_OPTION = re.compile(
    r"^(-arch|--gpu-architecture|-lineinfo|--generate-line-info|--use_fast_math|-use_fast_math|"
    r"--fmad|-fmad|--ftz|-ftz|--prec-div|-prec-div|--prec-sqrt|-prec-sqrt|-Xptxas|--ptxas-options|"
    r"--maxrregcount|-maxrregcount|-G|--device-debug|--dopt|-dopt|--extra-device-vectorization|"
    r"-default-device|--relocatable-device-code|-rdc)(=.*)?$"
)
_DEFINE_OPTION = re.compile(r"^(-D|--define-macro=)(.+)$")
_UNDEFINE_OPTION = re.compile(r"^(-U|--undefine-macro=)(.+)$")
_INCLUDE_OPTION = re.compile(r"^(-I|--include-path=)(.+)$")
_STD_OPTION = re.compile(r"^(-std=|--std=)(c\+\+(?:17|20))$")

_GLOBAL_KERNEL = re.compile(r"\b__global__\b[^;{(]*?\b(\w+)\s*\(")
_EXTERN_SHARED = re.compile(r"\bextern\s+__shared__\s+([^;\[\]]*?)\s*\b(\w+)\s*\[\s*\]\s*;")
_ALIGNMENT = re.compile(r"__align__\s*\([^)]*\)|alignas\s*\([^)]*\)")
_QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)

_C_TYPE_NAMES = {
    "f4": "float", "f8": "double", "i1": "signed char", "u1": "unsigned char", "i2": "short",
    "u2": "unsigned short", "i4": "int", "u4": "unsigned int", "i8": "long long",
    "u8": "unsigned long long", "b1": "bool", "v0": "void",
}
_NUMPY_NAMES = {
    "f4": "numpy.float32", "f8": "numpy.float64", "i1": "numpy.int8", "u1": "numpy.uint8",
    "i2": "numpy.int16", "u2": "numpy.uint16", "i4": "numpy.int32", "u4": "numpy.uint32",
    "i8": "numpy.int64", "u8": "numpy.uint64", "b1": "numpy.bool_",
}

# The executor's state is global inside each compiled library and fibers are not
# thread safe, so launches from several Python threads take turns.
_LAUNCH_LOCK = threading.Lock()
_LOADED: dict[str, "_Library"] = {}


def available() -> tuple[bool, str]:
    """Whether kernels can be compiled here, and why not."""
    compiler = _compiler()
    if compiler is None:
        return False, "g++ not found on PATH (Debian/Ubuntu: apt-get install g++; or set CXX)"
    if not sys.platform.startswith("linux"):
        return False, f"the CUDA simulator needs Linux (ucontext fibers); this is {sys.platform}"
    return True, f"compiling with {compiler}"


def asan_runtime() -> str | None:
    """Path of g++'s AddressSanitizer runtime, or None where it is not installed."""
    compiler = _compiler()
    if compiler is None:
        return None
    result = subprocess.run([compiler, "-print-file-name=libasan.so"], capture_output=True, text=True)
    path = result.stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


def asan_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process whose cudasim modules all run under ASan."""
    runtime = asan_runtime()
    if runtime is None:
        raise RuntimeError("the AddressSanitizer runtime is not installed (Debian/Ubuntu: apt-get install libasan8)")
    env = dict(os.environ if base is None else base)
    env["LD_PRELOAD"] = " ".join(filter(None, [runtime, env.get("LD_PRELOAD", "")]))
    # Python's own allocations are not ASan's business; leaks are not checked.
    env["ASAN_OPTIONS"] = ":".join(filter(None, ["detect_leaks=0", env.get("ASAN_OPTIONS", "")]))
    env[SANITIZE_ENV] = "1"
    return env


def run_under_asan(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``argv`` (e.g. ``[sys.executable, "-m", "pytest", path]``) with every module sanitized."""
    return subprocess.run(argv, env=asan_environment(kwargs.pop("env", None)), **kwargs)


class Module:
    """A compiled ``.cu`` file; the counterpart of ``cupy.RawModule``.

    ``path_or_source`` is a path to a ``.cu`` file or the CUDA source itself. Template
    kernels are callable only through ``name_expressions`` (as with CuPy); ``extern "C"``
    kernels by their plain name.
    """

    def __init__(self, path_or_source, name_expressions=(), options=(), sanitize: bool | None = None):
        ok, reason = available()
        if not ok:
            raise RuntimeError(f"cannot compile CUDA C for the CPU: {reason}")
        if sanitize is None:
            sanitize = os.environ.get(SANITIZE_ENV, "") not in ("", "0")
        source, path = _read_source(path_or_source)
        self.path = path
        self.name_expressions = tuple(name_expressions)
        self.sanitize = bool(sanitize)
        if self.sanitize and not _asan_loaded():
            raise RuntimeError(
                "a sanitized cudasim module needs the AddressSanitizer runtime loaded first; run the "
                "tests through `python -m mxlite.testing.cudasim --asan <pytest args>` (which sets "
                "LD_PRELOAD=$(g++ -print-file-name=libasan.so) and ASAN_OPTIONS=detect_leaks=0)"
            )
        flags = _translate_options(options, path)
        plain_kernels = _plain_kernel_names(source)
        entries = list(plain_kernels) + [e for e in self.name_expressions if e not in plain_kernels]
        self._library = _build(source, path, flags, entries, self.sanitize)
        self._entries = {name: index for index, name in enumerate(entries)}
        self._functions: dict[str, Function] = {}

    def get_function(self, name: str) -> "Function":
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(
                f"no kernel {name!r} in {self.path or 'the source'} (kernels: {known}); a template kernel "
                f"must be listed in name_expressions exactly as requested, e.g. 'softmax_fwd<float>'"
            )
        if name not in self._functions:
            self._functions[name] = Function(self._library, name, self._entries[name])
        return self._functions[name]


class Function:
    """One kernel entry; call it like ``cupy.RawKernel``: ``f(grid, block, args, shared_mem=0)``."""

    def __init__(self, library: "_Library", name: str, index: int):
        self.name = name
        self._library = library
        self._launch = getattr(library.handle, f"cudasim_launch_{index}")
        self._launch.argtypes = [ctypes.POINTER(_LaunchConfig), ctypes.POINTER(ctypes.c_void_p)]
        self._launch.restype = ctypes.c_int
        describe = getattr(library.handle, f"cudasim_signature_{index}")
        describe.restype = ctypes.c_char_p
        self.parameters = [p for p in describe().decode().split(",") if p]

    def __call__(self, grid, block, args, shared_mem: int = 0):
        grid3 = _dims("grid", grid, (2**31 - 1, 65535, 65535))
        block3 = _dims("block", block, (1024, 1024, 64))
        if block3[0] * block3[1] * block3[2] > 1024:
            raise ValueError(f"{self.name}: block {block3} has {block3[0] * block3[1] * block3[2]} threads; at most 1024")
        shared_mem = int(shared_mem)
        if not 0 <= shared_mem <= 227 * 1024:
            raise ValueError(f"{self.name}: shared_mem={shared_mem} bytes; a block can have at most 227 KiB")
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"{self.name}: args must be a tuple of numpy arrays and numpy scalars, got {type(args).__name__}")
        if len(args) != len(self.parameters):
            raise TypeError(f"{self.name} takes {len(self.parameters)} arguments, got {len(args)}")
        storage = [self._marshal(i, p, a) for i, (p, a) in enumerate(zip(self.parameters, args))]
        pointers = (ctypes.c_void_p * max(1, len(storage)))(*[ctypes.addressof(s) for s in storage])
        config = _LaunchConfig(grid3, block3, shared_mem)
        with _LAUNCH_LOCK:
            status = self._launch(ctypes.byref(config), pointers)
            if status:
                raise RuntimeError(f"{self.name}: {self._library.last_error()}")

    def _marshal(self, index: int, parameter: str, value):
        if parameter.startswith("P"):
            if not isinstance(value, numpy.ndarray):
                raise TypeError(
                    f"{self.name}: argument {index} must be a numpy array (the parameter is a pointer to "
                    f"{_c_type(parameter[1:])}), got {type(value).__name__}"
                )
            if not _pointee_accepts(parameter[1:], value.dtype):
                raise TypeError(
                    f"{self.name}: argument {index} is a {value.dtype} array but the parameter points to "
                    f"{_c_type(parameter[1:])}; convert it with .astype(...)"
                )
            return ctypes.c_void_p(value.ctypes.data)
        scalar = _as_numpy_scalar(value)
        if scalar is None:
            raise TypeError(
                f"{self.name}: argument {index} must be a numpy scalar of C type {_c_type(parameter)}, "
                f"got {type(value).__name__}"
            )
        if not _value_accepts(parameter, scalar.dtype):
            hint = f"; pass {_NUMPY_NAMES[parameter]}(...)" if parameter in _NUMPY_NAMES else ""
            raise TypeError(
                f"{self.name}: argument {index} is {scalar.dtype} but the parameter is {_c_type(parameter)}{hint}"
            )
        return ctypes.create_string_buffer(scalar.tobytes(), max(1, scalar.dtype.itemsize))


class _LaunchConfig(ctypes.Structure):
    _fields_ = [("grid", ctypes.c_uint * 3), ("block", ctypes.c_uint * 3), ("shared_bytes", ctypes.c_ulonglong)]


class _Library:
    def __init__(self, path: Path):
        self.handle = ctypes.CDLL(str(path))
        self._last_error = self.handle.cudasim_last_error
        self._last_error.restype = ctypes.c_char_p

    def last_error(self) -> str:
        return self._last_error().decode(errors="replace")


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")


def _asan_loaded() -> bool:
    return hasattr(ctypes.CDLL(None), "__asan_init")


def _read_source(path_or_source) -> tuple[str, str | None]:
    if isinstance(path_or_source, os.PathLike) or (
        isinstance(path_or_source, str) and "\n" not in path_or_source and "__global__" not in path_or_source
    ):
        path = Path(path_or_source).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no CUDA source file {path}")
        return path.read_text(), str(path)
    return str(path_or_source), None


def _translate_options(options, path: str | None) -> list[str]:
    """g++ flags for NVRTC-style options; rejects options with no CPU meaning that matter."""
    flags = ["-I" + str(Path(path).parent)] if path else []
    for option in options:
        if _IGNORED_OPTION.match(option):
            continue
        if m := _DEFINE_OPTION.match(option):
            flags.append("-D" + m.group(2))
        elif m := _UNDEFINE_OPTION.match(option):
            flags.append("-U" + m.group(2))
        elif m := _INCLUDE_OPTION.match(option):
            flags.append("-I" + m.group(2))
        elif m := _STD_OPTION.match(option):
            flags.append("-std=" + m.group(2))
        else:
            raise ValueError(
                f"cudasim does not understand the compile option {option!r}; it takes -D/-U/-I/--std= "
                f"and ignores GPU code-generation options such as --gpu-architecture and -Xptxas"
            )
    return flags


def _strip_comments(source: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", source, flags=re.DOTALL)


def _plain_kernel_names(source: str) -> list[str]:
    """Names of the non-template ``__global__`` functions, callable without a name expression."""
    code = _strip_comments(source)
    code = re.sub(r"^\s*#[^\n]*", "", code, flags=re.MULTILINE)
    code = re.sub(r"\b(__launch_bounds__|__align__)\s*\([^)]*\)", " ", code)
    names = []
    for match in _GLOBAL_KERNEL.finditer(code):
        start = max(code.rfind(c, 0, match.start()) for c in ";{}")
        if re.search(r"\btemplate\b", code[start + 1 : match.start()]):
            continue
        if match.group(1) not in names:
            names.append(match.group(1))
    return names


def _rewrite_extern_shared(source: str) -> str:
    """Point ``extern __shared__ T name[];`` at the launch's dynamic shared memory buffer."""
    pieces, last = [], 0
    for match in _EXTERN_SHARED.finditer(source):
        element = _ALIGNMENT.sub("", match.group(1)).strip()
        name = match.group(2)
        buffer = f"reinterpret_cast<{element}*>(::cudasim::detail::dynamic_shared_memory)"
        if _brace_depth(source, match.start()) == 0:
            # At namespace scope the buffer is not known before a launch: use a macro.
            line = source.count("\n", 0, match.end()) + 1
            replacement = f"\n#define {name} ({buffer})\n#line {line}\n"
        else:
            replacement = f"{element}* const {name} = {buffer};" + "\n" * match.group(0).count("\n")
        pieces += [source[last : match.start()], replacement]
        last = match.end()
    pieces.append(source[last:])
    return "".join(pieces)


def _brace_depth(source: str, position: int) -> int:
    code = _strip_comments(source[:position])
    return code.count("{") - code.count("}")


def _entry_points(entries) -> str:
    lines = [
        '#line 1 "cudasim-entry-points"',
        'extern "C" __attribute__((visibility("default"))) const char* cudasim_last_error() {',
        "  return ::cudasim::detail::last_error.c_str();",
        "}",
    ]
    for index, name in enumerate(entries):
        lines += [
            f'extern "C" __attribute__((visibility("default"))) int cudasim_launch_{index}(',
            "    const ::cudasim::detail::LaunchConfig* config, void** args) {",
            f"  return ::cudasim::detail::launch(&{name}, *config, args);",
            "}",
            f'extern "C" __attribute__((visibility("default"))) const char* cudasim_signature_{index}() {{',
            f"  static const std::string text = ::cudasim::detail::signature(&{name});",
            "  return text.c_str();",
            "}",
        ]
    return "\n".join(lines) + "\n"


def _included_files(source: str, directories: list[Path], seen: set[Path]) -> list[Path]:
    """Files reached through ``#include "..."``: part of the cache key."""
    found = []
    for name in _QUOTED_INCLUDE.findall(source):
        for directory in directories:
            candidate = (directory / name).resolve()
            if candidate.is_file() and candidate not in seen:
                seen.add(candidate)
                found.append(candidate)
                found += _included_files(candidate.read_text(errors="replace"), [candidate.parent] + directories, seen)
                break
    return found


def _cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        base = Path(configured)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mxlite" / "cudasim"
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=base)
        probe.close()
    except OSError:
        base = Path(tempfile.gettempdir()) / f"mxlite-cudasim-{os.getuid()}"
        base.mkdir(parents=True, exist_ok=True)
    return base


@functools.lru_cache(maxsize=None)
def _compiler_identity(compiler: str) -> str:
    return subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout


def _build(source: str, path: str | None, flags: list[str], entries: list[str], sanitize: bool) -> _Library:
    compiler = _compiler()
    program = ""
    if path:
        program += f'#line 1 "{path}"\n'
    program += _rewrite_extern_shared(source) + "\n" + _entry_points(entries)
    # -O1: run time is mostly fiber switches, and -O2 compiles a third slower.
    code_flags = ["-std=c++17", "-O1", "-ffp-contract=off", "-fPIC", "-shared",
                  "-fvisibility=hidden", "-fno-gnu-unique", "-Wno-unused", "-Wno-attributes"]
    if sanitize:
        code_flags += ["-g", "-fsanitize=address", "-fno-omit-frame-pointer"]
    # A later -std= from the options wins over the default.
    command_flags = code_flags + ["-I" + str(INCLUDE_DIR), "-include", "cuda_sim.h"] + flags
    key = hashlib.sha256()
    for part in [_FORMAT_VERSION, _compiler_identity(compiler), program, *command_flags]:
        key.update(part.encode() + b"\0")
    for header in sorted(INCLUDE_DIR.rglob("*")):
        if header.is_file():
            key.update(header.read_bytes())
    include_dirs = [Path(f[2:]) for f in flags if f.startswith("-I")]
    for header in _included_files(source, include_dirs, set()):
        key.update(str(header).encode() + b"\0" + header.read_bytes())
    digest = key.hexdigest()[:32]
    if digest in _LOADED:
        return _LOADED[digest]
    cache = _cache_dir()
    library_path = cache / f"{digest}.so"
    if not library_path.exists():
        with tempfile.TemporaryDirectory(dir=cache) as work:
            program_path = Path(work) / "kernels.cpp"
            program_path.write_text(program)
            built = Path(work) / "kernels.so"
            result = subprocess.run([compiler, *command_flags, str(program_path), "-o", str(built)],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"g++ could not compile {path or 'the CUDA source'} for the CPU:\n{result.stderr}")
            os.replace(built, library_path)
    library = _Library(library_path)
    _LOADED[digest] = library
    return library


def _dims(what: str, value, limits) -> tuple[int, int, int]:
    items = (value,) if isinstance(value, (int, numpy.integer)) else tuple(value)
    if not 1 <= len(items) <= 3 or not all(isinstance(v, (int, numpy.integer)) for v in items):
        raise TypeError(f"{what} must be an int or a tuple of 1 to 3 ints, got {value!r}")
    dims = tuple(int(v) for v in items) + (1,) * (3 - len(items))
    for axis, (size, limit) in enumerate(zip(dims, limits)):
        if not 1 <= size <= limit:
            raise ValueError(f"{what} {dims}: dimension {axis} must be in [1, {limit}]")
    return dims


def _as_numpy_scalar(value):
    if isinstance(value, numpy.generic):
        return value
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        return value[()]
    # CuPy passes Python scalars as 64-bit values (bool as bool); mirror it so that the
    # type check below flags an int where the kernel takes a 32-bit int.
    if isinstance(value, bool):
        return numpy.bool_(value)
    if isinstance(value, int):
        return numpy.int64(value)
    if isinstance(value, float):
        return numpy.float64(value)
    return None


def _c_type(code: str) -> str:
    if code in _C_TYPE_NAMES:
        return _C_TYPE_NAMES[code]
    kinds = {"S": "struct", "e": "enum", "p": "pointer", "b": "bool", "f": "float", "i": "int", "u": "unsigned"}
    return f"a {code[1:]}-byte {kinds.get(code[0], 'value')}"


def _value_accepts(code: str, dtype: numpy.dtype) -> bool:
    kind, size = code[0], int(code[1:])
    if dtype.itemsize != size:
        return False
    if kind == "f":
        return dtype.kind == "f"
    if kind in "iue":
        return dtype.kind in "iu"
    if kind == "b":
        return dtype.kind in "biu"
    return True


def _pointee_accepts(code: str, dtype: numpy.dtype) -> bool:
    kind, size = code[0], int(code[1:])
    if kind == "v" or (kind in "iu" and size == 1):
        return True  # void* and char* are byte views of anything
    if kind == "S":
        return size % dtype.itemsize == 0
    return _value_accepts(code, dtype)


_kernel_modules = {}


def kernel_module(stem: str) -> Module:
    """The kernel module ``stem`` (``kernels/<stem>.cu`` or the generated ``elementwise``)
    compiled for the executor once per process, with its name expressions and compile options,
    as ``mxlite.cuda.loader`` compiles it for a GPU."""
    module = _kernel_modules.get(stem)
    if module is None:
        from ...cuda import loader

        source, names = loader.module_source(stem)
        # a file keeps its path, so sanitizer reports name its lines
        origin = source if stem == loader.elementwise.STEM else loader.kernel_path(stem)
        module = _kernel_modules[stem] = Module(origin, name_expressions=names,
                                                options=loader.COMPILE_OPTIONS)
    return module
