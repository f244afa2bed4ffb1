"""Finds the hand-written kernels (kernels/*.cu) and compiles each file once per GPU.

Every ``kernels/<stem>.cu`` is a kernel file, and so is the generated module
``elementwise`` (``mxlite.cuda.elementwise``): adding a ``.cu`` file needs no list edit.

The sources live in the repository's top-level ``kernels/`` directory; ``mxlite/cuda/kernels``
is a symlink to it, so the same relative path works in a source checkout and, with the
``mxlite.cuda`` package data ``kernels/*.cu`` (copied through the link at build time), in an
installed package. CuPy is imported only when a module is compiled.

Templated kernels are listed in their file on one line,
``// mxlite-name-expressions: name<float>, name<__half>, ...``; those names are passed to
NVRTC so the instantiations exist, and ``module.get_function("name<float>")`` finds them.
Local includes (``#include "common.cuh"``) are inlined by :func:`kernel_source`, so NVRTC
and CuPy's compile cache see the whole program. Generated code (graph mode's fused kernels,
``mxlite.cuda.fused``) compiles through :func:`load_generated`, cached by a hash of it.
"""
import importlib.resources
import re
import threading
from pathlib import Path

from . import elementwise

COMPILE_OPTIONS = ("--std=c++17",)
_NAME_EXPRESSIONS = re.compile(r"^\s*//\s*mxlite-name-expressions:(.*)$", re.MULTILINE)
_LOCAL_INCLUDE = re.compile(r'^[ \t]*#include[ \t]+"([^"]+)"[ \t]*$', re.MULTILINE)

_modules = {}
_lock = threading.Lock()


def kernel_dir():
    """The directory holding the .cu files: package data first, the source tree's kernels/ second."""
    packaged = Path(str(importlib.resources.files("mxlite.cuda").joinpath("kernels")))
    source_tree = Path(__file__).resolve().parents[2] / "kernels"  # a checkout without symlinks
    for candidate in (packaged, source_tree):
        if candidate.joinpath("activation.cu").is_file():
            return candidate
    raise FileNotFoundError(
        f"mxlite's CUDA kernel sources were not found in {packaged} or {source_tree}; reinstall mxlite "
        "from a checkout that has kernels/*.cu (pip install .)"
    )


def kernel_files():
    """The stems of the kernel modules: every kernels/*.cu and the generated ``elementwise``."""
    return tuple(sorted(path.stem for path in kernel_dir().glob("*.cu"))) + (elementwise.STEM,)


def kernel_path(stem):
    """Path of kernels/<stem>.cu."""
    path = kernel_dir() / f"{stem}.cu"
    if not path.is_file():
        raise ValueError(f"unknown kernel file {stem!r}; expected one of {', '.join(kernel_files())}")
    return path


def module_source(stem):
    """The whole program of the kernel module ``stem`` (local includes inlined) and the template
    instantiations NVRTC must emit."""
    if stem == elementwise.STEM:
        source = _inline_includes(elementwise.source(), kernel_dir())
        return source, elementwise.name_expressions()
    source = kernel_source(kernel_path(stem))
    return source, name_expressions(source)


def enum_values(stem, enum_name):
    """``{name: value}`` of the C enum ``enum_name`` in kernels/<stem>.cu, names lower-cased:
    codes shared by C and Python are defined once, in the kernel file."""
    source = kernel_path(stem).read_text()
    match = re.search(rf"\benum\s+{enum_name}\s*{{([^}}]*)}}", source)
    if match is None:
        raise ValueError(f"kernels/{stem}.cu defines no enum {enum_name}")
    values = {}
    for entry in match.group(1).split(","):
        name, _, value = entry.partition("=")
        if name.strip():
            values[name.strip().lower()] = int(value) if value.strip() else len(values)
    return values


def name_expressions(source):
    """The template instantiations a kernel source lists on its name-expressions lines."""
    names = []
    for match in _NAME_EXPRESSIONS.finditer(source):
        for name in _split_top_level(match.group(1)):
            if name and name not in names:
                names.append(name)
    return tuple(names)


def _split_top_level(text):
    """Split at commas outside template brackets and parentheses (``>`` in parentheses is a
    comparison), so ``k<float, 256>`` stays one name."""
    entries, angles, parens, current = [], 0, 0, []
    for char in text:
        if char in "([":
            parens += 1
        elif char in ")]":
            parens -= 1
        elif char == "<" and not parens:
            angles += 1
        elif char == ">" and not parens:
            angles -= 1
        if char == "," and not angles and not parens:
            entries.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    entries.append("".join(current).strip())
    return entries


def kernel_source(path):
    """The text of the ``.cu`` file at ``path`` with its local ``#include "..."`` files inlined."""
    path = Path(path)
    return _inline_includes(path.read_text(), path.parent)


def inline_includes(source):
    """Generated ``source`` with its local includes (``common.cuh``) inlined."""
    return _inline_includes(source, kernel_dir())


def _inline_includes(source, directory):
    return _LOCAL_INCLUDE.sub(lambda m: (directory / m.group(1)).read_text(), source)


def compile_module(stem, device_id=None):
    """A compiled cupy.RawModule for the kernel module ``stem`` (the current GPU by default)."""
    return compile_source(*module_source(stem), device_id)


def compile_source(source, names, device_id=None):
    """A compiled cupy.RawModule of the whole program ``source`` with the template
    instantiations ``names``."""
    import cupy

    with cupy.cuda.Device(device_id):
        module = cupy.RawModule(code=source, options=COMPILE_OPTIONS, name_expressions=names)
        module.compile()
    return module


def load_generated(key, make_source, device_id=None):
    """The cupy.RawModule of generated code on a GPU (the current one by default), compiled
    once per process and device: ``key`` names the code (a hash of it) and ``make_source()``
    returns ``(source, name expressions)`` (the whole program: ``inline_includes``)."""
    import cupy

    if device_id is None:
        device_id = cupy.cuda.runtime.getDevice()
    module = _modules.get((key, device_id))  # no lock on the hit: dict reads are atomic
    if module is None:
        with _lock:
            module = _modules.get((key, device_id))
            if module is None:
                source, names = make_source()
                module = _modules[key, device_id] = compile_source(source, names, device_id)
    return module


def load_module(stem, device_id=None):
    """The cupy.RawModule for the kernel module ``stem`` on a GPU (the current one by default),
    compiled once (cached as generated code is, under the stem)."""
    return load_generated(stem, lambda: module_source(stem), device_id)
