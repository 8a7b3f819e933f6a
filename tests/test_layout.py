"""The layout holds: layers point one way, no import cycle, small modules, few top-level modules.

Read from the source with ``ast`` (imports under ``if TYPE_CHECKING:`` left out), so a lazy
import inside a function counts like any other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ingest

PACKAGE = Path(ingest.__file__).resolve().parent
SHARED = "(shared)"  # the modules at the top of ingest/: errors, models, urls, units, ...
MAX_LINES = 300
MAX_TOP_MODULES = 12

# What each package may import besides the shared modules and itself. Stages never import
# one another; only the pipeline joins them, and only the shells (daemon, cli) sit above it.
ALLOWED = {
    SHARED: set(),
    "config": set(),
    "fetch": {"config"},
    "extract": set(),
    "workers": set(),
    "footers": set(),
    "state": set(),
    "sink": set(),
    "dedup": set(),
    "websub": set(),
    "pipeline": {"config", "fetch", "extract", "workers", "footers", "state", "sink", "dedup",
                 "websub"},
    "daemon": {"config", "state", "sink", "pipeline", "websub"},
    "cli": {"config", "state", "sink", "footers", "pipeline", "daemon"},
}
ENTRY_POINT = "ingest.__main__"  # `python -m ingest`: imports the CLI, nothing imports it


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> set[str]:
    """The ingest modules ``path`` imports (a package's __init__ when it names one)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in found if name in MODULES}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return SHARED


def test_every_package_is_in_the_layer_table() -> None:
    assert {_package(m) for m in MODULES} == set(ALLOWED)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != ENTRY_POINT))
def test_imports_point_down_the_layers(module: str) -> None:
    home = _package(module)
    wrong = sorted(d for d in GRAPH[module]
                   if _package(d) not in ALLOWED[home] | {home, SHARED} or d == ENTRY_POINT)
    assert not wrong, f"{module} ({home}) may not import {wrong}"


def test_no_import_cycle_between_modules() -> None:
    cycles = [sorted(c) for c in _strongly_connected(GRAPH) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_no_import_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        if module != ENTRY_POINT:
            packages.setdefault(_package(module), set()).update(
                _package(d) for d in deps if _package(d) != _package(module))
    cycles = [sorted(c) for c in _strongly_connected(packages) if len(c) > 1]
    assert not cycles, f"package cycles: {cycles}"


def test_a_cycle_is_found() -> None:
    assert [sorted(c) for c in _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
            if len(c) > 1] == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_small(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by concern"


def test_few_modules_at_the_top() -> None:
    top = sorted(m for m in MODULES if _package(m) == SHARED and m != "ingest")
    assert len(top) <= MAX_TOP_MODULES, f"{len(top)} modules at the top of ingest/: {top}"


def test_pure_code_imports_without_the_yaml_library() -> None:
    # the schedule, the fetch stage and the metrics need the settings model, not its loader
    code = textwrap.dedent("""
        import sys
        class NoYaml:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "ruamel":
                    raise ImportError("ruamel is not installed")
        sys.meta_path.insert(0, NoYaml())
        import ingest.daemon.schedule, ingest.fetch.client, ingest.daemon.metrics
        import ingest.config.model
        assert not [m for m in sys.modules if m.startswith("ruamel")]
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the strongly connected components of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components
