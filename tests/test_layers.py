"""The folders are the layers: no import runs back up, and no two modules need each other.

``workbench`` is built in floors, lowest first; a module may import from its own floor and the
floors below, never from one above (what import-linter calls a layers contract, checked here from
the source so it needs no tool).  A newcomer places a feature by its folder: a rule or mechanism
every feature needs goes in ``core``, a file format or package in ``files``, the office's work in
its feature package, a face (CLI, web) on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "workbench"

#: Lowest first.  Feature packages are ordered by what they build on (queries read what intake
#: registered, lifecycle ends what both hold, cycles run them all).
LAYERS: list[tuple[str, ...]] = [
    ("core", "migrations"),
    ("files",),
    ("intake",),
    ("queries",),
    ("lifecycle",),
    ("controls",),
    ("statistics",),
    ("simulate",),
    ("cycles",),
    ("services", "pending", "demo"),
    ("web",),
    ("cli", "__main__", "__init__"),
]

#: Imports that still run up a floor, each to be removed; none may be added.
KNOWN_UPWARD: set[tuple[str, str]] = set()

#: Module circles still to be broken; none may be added (issue 18 item 2 broke the last two).
KNOWN_CIRCLES: list[set[str]] = []


def _modules() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
                if base.startswith("workbench"):
                    deps |= {f"{base}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("workbench")}
        graph[name] = deps
    known = set(graph)
    return {m: {o for d in deps if (o := _owner(d, known)) is not None} - {m} for m, deps in graph.items()}


def _owner(dotted: str, known: set[str]) -> str | None:
    """The module a dotted import names (``workbench.core.audit.record`` → ``workbench.core.audit``)."""
    while dotted and dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted if dotted and dotted != "workbench" else None


def _floor(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module} is in no layer: add its folder to LAYERS")


def test_every_module_is_on_a_floor() -> None:
    for module in _modules():
        _floor(module)


def test_no_import_runs_up_a_floor() -> None:
    upward = {(m, d) for m, deps in _modules().items() for d in deps if _floor(d) > _floor(m)}
    assert upward <= KNOWN_UPWARD, sorted(upward - KNOWN_UPWARD)


def test_no_circles() -> None:
    graph = _modules()
    circles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert all(c in KNOWN_CIRCLES for c in circles), circles


def _private_uses(path: Path, module: str) -> list[str]:
    """``from workbench.x import _name`` and ``x._name`` (``x`` an imported module or name) in one file."""
    tree = ast.parse(path.read_text("utf-8"))
    imported: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                if base.split(".")[0] in ("workbench", "widgets"):
                    imported.add(alias.asname or alias.name)
                if alias.name.startswith("_") and not alias.name.startswith("__") and base.split(".")[0] in ("workbench", "widgets"):
                    found.append(f"{module}:{node.lineno} from {base} import {alias.name}")
        elif isinstance(node, ast.Import):
            imported |= {(a.asname or a.name).split(".")[0] for a in node.names
                         if a.name.split(".")[0] in ("workbench", "widgets")}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in imported):
            found.append(f"{module}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_used_across_modules() -> None:
    """Issue 18 item 4: a module's ``_name`` is its own; another module that needs it needs a public name."""
    found = []
    for top in ("workbench", "widgets"):
        for path in sorted((ROOT.parent / top).rglob("*.py")):
            found += _private_uses(path, ".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
    assert not found, found


def test_the_private_name_check_sees_both_forms(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from workbench.controls.users import _check\nfrom workbench.statistics import statistical_control as sdc\n"
                      "sdc._mask(1)\nlocal = object()\nlocal._fine = 1\n", "utf-8")
    assert _private_uses(sample, "workbench.sample") == [
        "workbench.sample:1 from workbench.controls.users import _check", "workbench.sample:3 sdc._mask"]


def test_tests_never_import_benchmarks() -> None:
    """Issue 18 item 6: the direct loaders are the tests' (``tests/direct_load.py``); benchmarks may use
    them, never the other way round.  A test that checks a benchmark runs it as a program."""
    found = []
    for path in sorted((ROOT.parent / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            line = getattr(node, "lineno", 0)  # an Import or ImportFrom whenever names is not empty
            found += [f"{path.name}:{line}" for n in names if n.split(".")[0] == "benchmarks"]
    assert not found, found


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative enough for a package of this size."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out
