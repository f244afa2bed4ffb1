"""Every kernel module (kernels/*.cu and the generated elementwise one) compiles with NVRTC for
sm_80 and sm_90 without register spills.

Runs without a GPU; needs cupy-cuda13x and nvidia-cuda-nvrtc==13.0.* (the ``kernels`` extra).
"""

import re
from pathlib import Path

import pytest

from mxlite.cuda import loader
from mxlite.testing import nvrtc_check

ok, reason = nvrtc_check.available()
pytestmark = pytest.mark.skipif(not ok, reason=reason)


DATA = Path(__file__).resolve().parent / "data" / "cuda"


@pytest.mark.parametrize("arch", nvrtc_check.ARCHITECTURES)
@pytest.mark.parametrize("stem", loader.kernel_files())
def test_kernel_module_compiles_without_spills(stem, arch):
    report = nvrtc_check.check_module(stem, arch)
    assert report.ok, "\n".join(report.errors)


# The checker itself, on kernels made to pass or fail.


def test_name_expressions_are_read_from_the_file(tmp_path):
    source = tmp_path / "k.cu"
    source.write_text(
        "// mxlite-name-expressions: a<float>, b<__half, 256>\n"
        "//   mxlite-name-expressions: c<float, (4 > 2)>,a<float>\n"
        "// name-expressions: not_this<int>\n"
    )
    assert nvrtc_check.name_expressions(source) == ("a<float>", "b<__half, 256>", "c<float, (4 > 2)>")


@pytest.mark.parametrize("arch", nvrtc_check.ARCHITECTURES)
def test_good_file_reports_every_instantiation(arch):
    report = nvrtc_check.check_file(DATA / "cudasim_kernels.cu", arch)
    assert report.ok, "\n".join(report.errors)
    entries = {k.name: k for k in report.kernels if k.entry}
    assert {"scale_cast<float>", "scale_cast<__half>", "scale_cast<__nv_bfloat16>", "block_sums"} <= set(entries)
    assert entries["block_sums"].shared_bytes == 256 * 4
    assert all(k.registers > 0 for k in entries.values())


@pytest.mark.parametrize(
    "name, message",
    [
        ("spills.cu", "spill stores"),
        ("compile_error.cu", "not_declared_anywhere"),
        ("uninstantiated_template.cu", "never instantiated"),
        ("standard_header.cu", "no C\\+\\+ standard library"),
    ],
)
def test_bad_file_fails(name, message):
    report = nvrtc_check.check_file(DATA / "nvrtc_failures" / name, "sm_90")
    assert not report.ok
    assert any(re.search(message, e) for e in report.errors), report.errors


def test_ptxas_report_parsing():
    log = (
        "ptxas info    : Compiling entry function '_Z1kIfEvPT_i' for 'sm_90'\n"
        "ptxas info    : Function properties for _Z1kIfEvPT_i\n"
        "ptxas         .     16 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n"
        "ptxas info    : Used 40 registers, used 1 barriers, 2048 bytes smem, 368 bytes cmem[0]\n"
        "ptxas info    : Function properties for helper\n"
        "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    )
    entry, helper = nvrtc_check.parse_ptxas_report(log)
    assert (entry.name, entry.entry, entry.registers, entry.shared_bytes) == ("_Z1kIfEvPT_i", True, 40, 2048)
    assert (entry.stack_bytes, entry.spill_store_bytes, entry.spill_load_bytes, entry.spills) == (16, 8, 12, True)
    assert (helper.entry, helper.spills) == (False, False)


def test_command_line_exit_status(capsys):
    assert nvrtc_check.main([str(DATA / "cudasim_kernels.cu"), "--arch", "sm_80"]) == 0
    assert "scale_cast<__half>" in capsys.readouterr().out
    assert nvrtc_check.main([str(DATA / "nvrtc_failures" / "compile_error.cu"), "--arch", "sm_80"]) == 1
