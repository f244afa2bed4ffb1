"""CONTRIBUTING.md stays true: its ``python run`` blocks run (and assert), and each
``python file=PATH`` block stands verbatim in PATH, so the worked examples are the code."""
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "CONTRIBUTING.md"
_BLOCK = re.compile(r"^```python (run|file=(\S+))\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks():
    return [(m.group(1), m.group(2), m.group(3)) for m in _BLOCK.finditer(GUIDE.read_text())]


def _section(index):
    """The heading above block ``index``, for readable test ids."""
    text = GUIDE.read_text()
    start = list(_BLOCK.finditer(text))[index].start()
    return re.findall(r"^## (.+)$", text[:start], re.MULTILINE)[-1]


def test_the_guide_has_examples_of_each_kind():
    kinds = [kind.split("=")[0] for kind, _, _ in _blocks()]
    assert "run" in kinds and "file" in kinds


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_guide_block(index):
    kind, path, code = _blocks()[index]
    if kind == "run":
        exec(compile(code, f"CONTRIBUTING.md ({_section(index)})", "exec"), {})
    else:
        source = (ROOT / path).read_text()
        snippet = textwrap.dedent(code).strip()
        body = "\n".join(line.strip() for line in source.splitlines())
        wanted = "\n".join(line.strip() for line in snippet.splitlines())
        assert wanted in body, f"CONTRIBUTING.md ({_section(index)}) shows code that is not in {path}"
