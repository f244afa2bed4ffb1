"""Compile CUDA kernel files with NVRTC, the compiler CuPy runs, and fail on errors or spills.

Works without a GPU: it calls ``cupy.cuda.nvrtc`` directly (``cupy.cuda.compiler`` needs a
device) and reads ptxas's report (``-Xptxas=-v``) for registers, shared memory and spill
bytes of every entry function. A kernel passes for an architecture when it compiles and
spills nothing (``0 bytes spill stores, 0 bytes spill loads``).

Template kernels compile to nothing unless instantiated, so a ``.cu`` file lists the
instantiations to check in comment lines of this form (any number of them, anywhere)::

    // mxlite-name-expressions: softmax_fwd<float>, softmax_fwd<__half, 256>

Entries are separated by commas outside ``<>``/``()``; each is passed to NVRTC as a name
expression (``nvrtcAddNameExpression``), exactly what ``cupy.RawModule(name_expressions=...)``
does. ``name_expressions(path)`` returns the list, for the CPU tests as well. A template
``__global__`` function that no entry names is reported as an error.

Command line: ``python -m mxlite.testing.nvrtc_check kernels/ [--arch sm_80 --arch sm_90]``
prints registers, shared memory and spills per kernel and architecture, and exits 1 on any
failure.

Needs ``cupy-cuda13x`` and ``nvidia-cuda-nvrtc==13.0.*`` (CuPy finds the wheel's
``libnvrtc.so.13`` by itself) and, where there is no CUDA toolkit, ``nvidia-cuda-runtime==13.0.*``
for ``cuda_fp16.h``/``cuda_bf16.h``. NVRTC has no C++ standard library: use
``<cuda/std/cstdint>`` or plain ``unsigned long long``, not ``<cstdint>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from pathlib import Path

from ..cuda import loader

__all__ = ["ARCHITECTURES", "CompileReport", "KernelReport", "available", "check_file", "name_expressions"]

ARCHITECTURES = ("sm_80", "sm_90")
_GLOBAL_FUNCTION = re.compile(r"\b__global__\b[^;{(]*?\b(\w+)\s*\(")
_FUNCTION_HEADER = re.compile(r"ptxas info\s*: (?:Compiling entry function|Function properties for) '?([^' ]+)'?")
_SPILLS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USAGE = re.compile(r"Used (\d+) registers(?:, used \d+ barriers)?(?:, (\d+) bytes smem)?")


@dataclasses.dataclass
class KernelReport:
    name: str
    registers: int = 0
    shared_bytes: int = 0
    stack_bytes: int = 0
    spill_store_bytes: int = 0
    spill_load_bytes: int = 0
    entry: bool = False

    @property
    def spills(self) -> bool:
        return self.spill_store_bytes > 0 or self.spill_load_bytes > 0


@dataclasses.dataclass
class CompileReport:
    path: str
    arch: str
    seconds: float
    log: str
    errors: list[str]
    kernels: list[KernelReport]

    @property
    def ok(self) -> bool:
        return not self.errors


def available() -> tuple[bool, str]:
    """Whether NVRTC can be used here, and why not."""
    try:
        from cupy.cuda import nvrtc
    except ImportError as error:
        return False, f"cupy is not installed ({error}); pip install cupy-cuda13x"
    try:
        version = nvrtc.getVersion()
    except Exception as error:  # the library is missing or cannot be loaded
        return False, f"NVRTC cannot be loaded ({error}); pip install 'nvidia-cuda-nvrtc==13.0.*'"
    return True, f"NVRTC {version[0]}.{version[1]}"


def name_expressions(path) -> tuple[str, ...]:
    """The template instantiations a ``.cu`` file lists in ``// mxlite-name-expressions:`` lines."""
    return loader.name_expressions(Path(path).read_text())


def _template_kernels(source: str) -> list[str]:
    code = re.sub(r"//[^\n]*|/\*.*?\*/", " ", source, flags=re.DOTALL)
    code = re.sub(r"^\s*#[^\n]*", "", code, flags=re.MULTILINE)
    code = re.sub(r"\b(__launch_bounds__|__align__)\s*\([^)]*\)", " ", code)
    names = []
    for match in _GLOBAL_FUNCTION.finditer(code):
        start = max(code.rfind(c, 0, match.start()) for c in ";{}")
        if re.search(r"\btemplate\b", code[start + 1 : match.start()]) and match.group(1) not in names:
            names.append(match.group(1))
    return names


def compiler_options(arch: str) -> list[str]:
    """CuPy's own include options plus C++17, the architecture and ptxas's verbose report."""
    from cupy._core.core import assemble_cupy_compiler_options

    return list(assemble_cupy_compiler_options(("--std=c++17",))) + [f"--gpu-architecture={arch}", "-Xptxas=-v"]


def parse_ptxas_report(log: str) -> list[KernelReport]:
    """Per-function resources from ptxas's ``-v`` output."""
    kernels: dict[str, KernelReport] = {}
    current = None
    for line in log.splitlines():
        if header := _FUNCTION_HEADER.search(line):
            current = kernels.setdefault(header.group(1), KernelReport(header.group(1)))
            current.entry = current.entry or "entry function" in line
        elif current is not None and (spills := _SPILLS.search(line)):
            current.stack_bytes, current.spill_store_bytes, current.spill_load_bytes = map(int, spills.groups())
        elif current is not None and (usage := _USAGE.search(line)):
            current.registers = int(usage.group(1))
            current.shared_bytes = int(usage.group(2) or 0)
    return list(kernels.values())


def check_file(path, arch: str) -> CompileReport:
    """Compile one ``.cu`` file for ``arch`` (e.g. ``"sm_90"``) and list what is wrong with it."""
    path = Path(path)
    source = loader.kernel_source(path)
    return _check(source, loader.name_expressions(source), path.name, str(path), arch)


def check_module(stem, arch: str) -> CompileReport:
    """``check_file`` for a kernel module by stem, the generated ``elementwise`` included."""
    source, expressions = loader.module_source(stem)
    return _check(source, expressions, f"{stem}.cu", stem, arch)


def _check(source, expressions, filename, origin, arch) -> CompileReport:
    from cupy.cuda import nvrtc

    errors = [
        f"template kernel {name!r} is never instantiated: list it in a "
        f"'// mxlite-name-expressions: {name}<...>' line"
        for name in _template_kernels(source)
        if not any(re.match(rf"\s*(\w+::)*{name}\s*<", e) for e in expressions)
    ]
    started = time.perf_counter()
    program = nvrtc.createProgram(source, filename, [], [])
    try:
        for expression in expressions:
            nvrtc.addNameExpression(program, expression)
        try:
            nvrtc.compileProgram(program, compiler_options(arch))
            compiled = True
        except nvrtc.NVRTCError:
            compiled = False
        log = nvrtc.getProgramLog(program)
        lowered = {}
        if compiled:
            lowered = {nvrtc.getLoweredName(program, e): e for e in expressions}
    finally:
        nvrtc.destroyProgram(program)
    seconds = time.perf_counter() - started
    if not compiled:
        hint = ""
        if re.search(r'cannot open source file "(cstdint|cstddef|climits|cmath|type_traits|stdint\.h)"', log):
            hint = " (NVRTC has no C++ standard library: use <cuda/std/...> headers or builtin types)"
        elif re.search(r'cannot open source file "cuda_(fp16|bf16)\.h"', log):
            hint = " (install 'nvidia-cuda-runtime==13.0.*' or a CUDA toolkit for the CUDA headers)"
        errors.append(f"NVRTC failed to compile {filename} for {arch}{hint}:\n{log.strip()}")
    kernels = parse_ptxas_report(log)
    for kernel in kernels:
        kernel.name = lowered.get(kernel.name, kernel.name)
        if kernel.spills:
            errors.append(
                f"{kernel.name} spills registers on {arch}: {kernel.spill_store_bytes} bytes spill stores, "
                f"{kernel.spill_load_bytes} bytes spill loads ({kernel.registers} registers); reduce live "
                f"values or relax __launch_bounds__"
            )
    if compiled and not any(k.entry for k in kernels):
        errors.append(f"{filename} compiled to no kernels for {arch}: nothing was checked")
    return CompileReport(origin, arch, seconds, log, errors, kernels)


def _kernel_files(targets) -> list[Path]:
    files = []
    for target in map(Path, targets):
        files += sorted(target.glob("*.cu")) if target.is_dir() else [target]
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mxlite.testing.nvrtc_check", description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="+", help=".cu files or directories of them")
    parser.add_argument("--arch", action="append", help="architecture(s), default sm_80 and sm_90")
    args = parser.parse_args(argv)
    ok, reason = available()
    if not ok:
        print(f"cannot check kernels: {reason}", file=sys.stderr)
        return 2
    files = _kernel_files(args.targets)
    if not files:
        print(f"no .cu files in {' '.join(args.targets)}", file=sys.stderr)
        return 2
    failures = 0
    print(f"{'file':<24} {'arch':<6} {'kernel':<44} {'regs':>4} {'smem':>6} {'stack':>5} {'spill st/ld':>11} {'time':>6}")
    for path in files:
        for arch in args.arch or ARCHITECTURES:
            report = check_file(path, arch)
            for kernel in (k for k in report.kernels if k.entry):
                spills = f"{kernel.spill_store_bytes}/{kernel.spill_load_bytes}"
                print(f"{path.name:<24} {arch:<6} {kernel.name:<44} {kernel.registers:>4} {kernel.shared_bytes:>6} "
                      f"{kernel.stack_bytes:>5} {spills:>11} {report.seconds:>5.2f}s")
            for error in report.errors:
                print(f"FAIL {path.name} {arch}: {error}", file=sys.stderr)
            failures += not report.ok
    print(f"{len(files)} files, {failures} failed", file=sys.stderr if failures else sys.stdout)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
