"""Layers only look down: every import in mxlite (inside functions too) goes to the same
or a lower layer, and imports within one layer form no cycle.

Read from the sources (ast), so an import that runs only on a GPU or in one code path is
checked as well.
"""
import ast
from pathlib import Path

import pytest

import mxlite

ROOT = Path(mxlite.__file__).parent

# Lowest first. A module belongs to the longest entry that is its name or a package above it
# (so a module can sit above its package: mxlite.testing.mxnet_alias, the MXNet test-file
# runner, imports all of mxlite while the rest of mxlite.testing stays below the ops).
LAYERS = [
    ("mxlite.base", "mxlite.fileio", "mxlite.recordio"),
    ("mxlite.backend", "mxlite.device_info"),
    ("mxlite.device", "mxlite.context", "mxlite.util", "mxlite.runtime", "mxlite.engine"),
    ("mxlite.storage",),
    ("mxlite.ndarray",),
    ("mxlite.autograd",),
    ("mxlite.profiler",),
    ("mxlite.cuda",),
    ("mxlite.testing",),
    ("mxlite.ops",),
    ("mxlite.numpy", "mxlite.numpy_extension", "mxlite.numpy_dispatch_protocol",
     "mxlite.random", "mxlite.symbol", "mxlite.test_utils"),
    ("mxlite.graph",),
    ("mxlite.initializer", "mxlite.lr_scheduler", "mxlite.optimizer", "mxlite.kvstore",
     "mxlite.io"),
    ("mxlite.gluon",),
    ("mxlite.amp",),
    ("mxlite.examples", "mxlite.__main__", "mxlite.nd", "mxlite.distributed", "mxlite",
     "mxlite.image", "mxlite.testing.mxnet_alias"),
]


def _modules():
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = ("mxlite",) + path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def layer_of(module):
    best = None
    for rank, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                # "mxlite" itself is only the package module, not everything below it
                if name == "mxlite" and module != "mxlite":
                    continue
                if best is None or len(name) > len(best[1]):
                    best = (rank, name)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best[0]


def imports_of(module):
    """(imported mxlite module, line, inside a function) for every import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = []
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.append(submodule if submodule in MODULES else source)
        else:
            continue
        for target in targets:
            if target == "mxlite" or target.startswith("mxlite."):
                found.append((target, node.lineno, id(node) not in top_level))
    return found


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_import_reaches_up():
    upward = []
    for module in MODULES:
        for target, line, inner in imports_of(module):
            if layer_of(target) > layer_of(module):
                where = " (inside a function)" if inner else ""
                upward.append(f"{module} (line {line}) imports "
                              f"{target}{where}, a higher layer")
    assert not upward, "\n".join(upward)


def _cycle(graph):
    """One import cycle in ``graph`` as a list of modules, or None."""
    state = {}
    for start in graph:
        stack = [(start, iter(graph[start]))]
        path = [start]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    return path[path.index(child):] + [child]
                if not state.get(child):
                    state[child] = 1
                    stack.append((child, iter(graph.get(child, ()))))
                    path.append(child)
                    break
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return None


def test_no_import_cycle():
    graph = {m: sorted({t for t, _, _ in imports_of(m) if t != m and t in MODULES
                        and layer_of(t) == layer_of(m)}) for m in MODULES}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("source, expected", [
    ("from ..numpy import zeros\n", "mxlite.numpy"),
    ("def f():\n    from .. import gluon\n", "mxlite.gluon"),
])
def test_the_check_sees_upward_imports(tmp_path, monkeypatch, source, expected):
    """A planted upward import (also inside a function) in the autograd layer is caught."""
    planted = tmp_path / "planted.py"
    planted.write_text(source)
    monkeypatch.setitem(MODULES, "mxlite.autograd.planted", planted)
    targets = [t for t, _, _ in imports_of("mxlite.autograd.planted")]
    assert targets == [expected]
    assert layer_of(expected) > layer_of("mxlite.autograd.planted")
    with pytest.raises(AssertionError, match="a higher layer"):
        test_no_import_reaches_up()


def test_the_check_sees_cycles():
    assert _cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert _cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) is None
