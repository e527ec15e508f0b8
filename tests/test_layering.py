"""The package's layering (registry -> codecs -> ops, tools on top), read from the source.

The rules are those of the design: ``ops`` imports nothing from the rest of
the package; a codec never imports another codec (shared logic lives in
``ops`` or in the codecs' private ``_*`` modules); ``base`` (with its
``_eager`` helper) and ``registry`` know no codec; nothing imports the test
suite; no import cycle; no module over the size at which shared logic is due
to move out.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jaxcodecs"
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """Every module of the package (or ``tests``) that ``name`` imports, at any depth of its code."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from jaxcodecs import ops`` imports the module jaxcodecs.ops.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in ("jaxcodecs", "tests"):
                found.add(target)
    return found - {name}


GRAPH = {name: _imports(name) for name in MODULES}


def test_the_graph_is_read():
    # Guards the reader itself: these edges exist by design.
    assert "jaxcodecs.ops" in GRAPH["jaxcodecs.codecs.topdown_heatmap"]
    assert "jaxcodecs.base" in GRAPH["jaxcodecs.registry"]
    assert "jaxcodecs.ops.validation" in GRAPH["jaxcodecs.ops.soft"]


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith("jaxcodecs.ops")])
def test_ops_import_only_ops(name):
    outside = {m for m in GRAPH[name] if not m.startswith("jaxcodecs.ops")}
    assert not outside, f"{name} imports {sorted(outside)}"


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith("jaxcodecs.codecs.")])
def test_codecs_import_no_other_codec(name):
    allowed = ("jaxcodecs.ops", "jaxcodecs.base", "jaxcodecs.registry", "jaxcodecs.codecs._")
    bad = {m for m in GRAPH[name] if not m.startswith(allowed)}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith("jaxcodecs.codecs.")
                                  and not m.rsplit(".", 1)[1].startswith("_")])
def test_codecs_check_arguments_through_one_module(name):
    # Call arguments are checked in codecs/_inputs.py (or its counterparts
    # _inputs_*.py for arguments only some codecs take), fields converted in
    # codecs/_fields.py; a codec module calling ops.validation itself would
    # be a second, hand-written policy.
    assert "jaxcodecs.ops.validation" not in GRAPH[name]
    inputs = {m for m in GRAPH[name] if m == "jaxcodecs.codecs._inputs" or m.startswith("jaxcodecs.codecs._inputs_")}
    assert inputs and "jaxcodecs.codecs._fields" in GRAPH[name]


@pytest.mark.parametrize("name", ["jaxcodecs.base", "jaxcodecs._eager", "jaxcodecs.registry"])
def test_base_and_registry_know_no_codec(name):
    # jaxcodecs._eager (eager calls through a cached jit) is part of base.
    bad = {m for m in GRAPH[name] if not m.startswith(("jaxcodecs.ops", "jaxcodecs.base", "jaxcodecs._eager"))}
    assert not bad, f"{name} imports {sorted(bad)}"


def test_nothing_imports_the_tests():
    bad = {name: sorted(m for m in deps if m.startswith("tests")) for name, deps in GRAPH.items()}
    assert not {k: v for k, v in bad.items() if v}


def test_no_import_cycle():
    # A package's __init__ re-exporting its submodules is not a cycle of logic;
    # edges into a package's own __init__ from inside it are left out.
    def edges(name):
        return {m for m in GRAPH[name] if m in GRAPH and not name.startswith(m + ".")}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name):
        state[name] = 1
        stack.append(name)
        for dep in sorted(edges(name)):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (over {MAX_LINES}): move shared logic out"
