"""The layering of docs/architecture.md, as tests: a module imports only from the parts before
it, the package's import graph has no circle, and imports sit at the top of their module except
those of the optional heavy libraries (and of our modules that load one of them)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from flexspim.cli.extras import OPTIONAL_IMPORTS

SRC = Path(__file__).resolve().parents[1] / "src" / "flexspim"

#: Rank of each part, in the order data flows (longest prefix wins).
RANKS: dict[str, int] = {
    "flexspim": 0,
    "flexspim.errors": 0,
    "flexspim._io": 0,
    "flexspim._plot": 0,
    "flexspim._device": 0,
    "flexspim.hw": 1,
    "flexspim.macro": 2,
    "flexspim.energy": 3,
    "flexspim.energy.ops": 3,
    "flexspim.data": 4,
    "flexspim.net": 5,
    "flexspim.train": 6,
    "flexspim.compile": 7,
    "flexspim.sim": 8,
    "flexspim.system": 9,
    "flexspim.energy.system": 10,
    "flexspim.mapped": 11,
    "flexspim.report": 12,
    "flexspim.dse": 13,
    "flexspim.results": 14,
    "flexspim.demo": 14,
    "flexspim.reproduce": 14,
    "flexspim.cli": 15,
    "flexspim.__main__": 15,
}

#: The optional libraries (the extras of pyproject.toml; cli/extras.py names each one's extra and
#: tests/test_packaging.py keeps the two equal): torch, Numba, Dask, matplotlib, and Tonic,
#: scikit-learn, the recording decoders, NIR, PuLP, pandas and pyarrow. The core (``import
#: flexspim``, the command line's parser) needs only NumPy, PyYAML, tomli-w and tqdm, so these are
#: imported inside the functions that use them, or at the top in ``try: ... except ImportError``
#: where a module runs without them (Numba's compiled kernels).
LAZY: tuple[str, ...] = tuple(OPTIONAL_IMPORTS)


def rank(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in RANKS:
            return RANKS[key]
    raise KeyError(module)


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


FILES = sorted(SRC.rglob("*.py"))
MODULES: dict[str, Path] = {module_name(p): p for p in FILES}


@dataclass(frozen=True)
class Import:
    """One imported name: which module imports what, at which line, and how."""

    module: str  # the importing module
    line: int
    target: str  # one of our modules (a package is its __init__), or a library's top name
    in_function: bool  # inside a function (run when it is called), not at module level
    optional: bool  # in ``try: ... except ImportError`` or an ``if`` block: loaded only when
    #                 the library is there (the module loads without it)
    type_only: bool  # inside ``if TYPE_CHECKING:`` (never run)

    @property
    def ours(self) -> bool:
        return self.target == "flexspim" or self.target.startswith("flexspim.")

    @property
    def where(self) -> str:
        return f"{MODULES[self.module].relative_to(SRC.parent)}:{self.line}"


def _ours(dotted: str) -> str:
    """The module a dotted name of ours lives in (the longest prefix that is a module)."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in MODULES:
            return ".".join(parts[:n])
    return dotted


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """What an import statement loads: ``from P import n`` loads ``P.n`` when that is a module
    of ours, else ``P``; relative imports are resolved against ``module``."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return [_ours(n) if n.split(".")[0] == "flexspim" else n.split(".")[0] for n in names]
    if node.level:
        base = module.split(".")
        if MODULES[module].name != "__init__.py":
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source.split(".")[0] != "flexspim":
        return [source.split(".")[0]]
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else _ours(source)
            for a in node.names]


def _guards_import_error(node: ast.Try) -> bool:
    names = {"ImportError", "ModuleNotFoundError"}
    for handler in node.handlers:
        caught = handler.type
        elts = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(isinstance(e, ast.Name) and e.id in names for e in elts):
            return True
    return False


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    """Every import statement of ``module``, anywhere in it (module level and in functions)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    out: list[Import] = []

    def visit(node: ast.AST, in_function: bool, optional: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if isinstance(child, ast.ImportFrom) and child.module == "__future__":
                    continue
                out.extend(Import(module, child.lineno, t, in_function, optional, type_only)
                           for t in dict.fromkeys(_targets(child, module)))
                continue
            fn = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, in_function or fn,
                  optional or isinstance(child, ast.If) or (
                      isinstance(child, ast.Try) and _guards_import_error(child)),
                  type_only or (isinstance(child, ast.If) and _is_type_checking(child)))

    visit(tree, False, False, False)
    return tuple(out)


def import_graph() -> dict[str, dict[str, Import]]:
    """Our modules and, for each, the modules of ours it imports (with the first import)."""
    graph: dict[str, dict[str, Import]] = {m: {} for m in MODULES}
    for module in MODULES:
        for imp in imports_of(module):
            if imp.ours and imp.target != module:
                graph[module].setdefault(imp.target, imp)
    return graph


def _parents(module: str) -> list[str]:
    """The packages Python runs before ``module`` (``a.b.c``: ``a``, ``a.b``)."""
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


@cache
def loads_lazy_library(module: str) -> tuple[str, ...]:
    """The libraries of :data:`LAZY` that importing ``module`` loads (its module-level imports,
    those of its packages, and so on; an optional import does not count: the module loads
    without that library): a module of ours that may itself be imported lazily."""
    seen: set[str] = set()
    found: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen or m not in MODULES:
            continue
        seen.add(m)
        todo += _parents(m)
        for imp in imports_of(m):
            if imp.in_function or imp.optional or imp.type_only:
                continue
            if imp.ours:
                todo.append(imp.target)
            elif imp.target in LAZY:
                found.add(imp.target)
    return tuple(sorted(found))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_data_flow(path: Path) -> None:
    """Every import of ours, at module level or in a function, goes to a part of the same rank
    or before (docs/architecture.md)."""
    module = module_name(path)
    own = rank(module)
    for imp in imports_of(module):
        if imp.ours:
            assert rank(imp.target) <= own, (
                f"{imp.where}: {module} (part rank {own}) imports {imp.target} (rank "
                f"{rank(imp.target)}): a part may import only the parts before it "
                f"(docs/architecture.md)"
            )


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                out.append(sorted(comp))
    return out


def a_cycle(graph: dict[str, dict[str, Import]], component: list[str]) -> list[Import]:
    """One circle through a component's first module: the imports, in order (breadth-first,
    so the shortest)."""
    inside = set(component)
    start = component[0]
    came: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for m in frontier:
            for target, imp in sorted(graph[m].items()):
                if target not in inside or target in came:
                    continue
                came[target] = imp
                if target == start:
                    path = [imp]
                    while path[0].module != start:
                        path.insert(0, came[path[0].module])
                    return path
                following.append(target)
        frontier = following
    raise AssertionError(f"no circle through {start}")  # pragma: no cover - a component has one


def test_the_import_graph_has_no_circle() -> None:
    """No module imports, directly or through others, a module that imports it back (every
    import statement counts, those inside functions too: a circle hidden in a function is still
    a circle)."""
    graph = import_graph()
    circles = []
    for comp in strongly_connected(graph):
        if len(comp) > 1:
            path = a_cycle(graph, comp)
            steps = " -> ".join(f"{imp.target} ({imp.where})" for imp in path)
            circles.append(f"{path[0].module} -> {steps}")
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_imports_inside_functions_are_of_optional_libraries_only() -> None:
    """An import inside a function loads an optional library (:data:`LAZY`) or a module of ours
    whose import loads one (:func:`loads_lazy_library`); everything else sits at the top of its
    module, where a reader sees what the module depends on."""
    offenders = []
    for module in MODULES:
        for imp in imports_of(module):
            if not imp.in_function:
                continue
            if imp.ours and loads_lazy_library(imp.target):
                continue
            if not imp.ours and imp.target in LAZY:
                continue
            offenders.append(f"{imp.where}: {imp.target}")
    assert not offenders, (
        "imports inside functions that belong at the top of the module:\n" + "\n".join(offenders))


def test_the_graph_reader_resolves_every_kind_of_import() -> None:
    """The checks above see relative imports, packages, names from packages and modules
    imported inside functions (a check that misread imports would pass for nothing)."""
    by_target = {(imp.module, imp.target): imp for m in MODULES for imp in imports_of(m)}
    assert ("flexspim.cli", "flexspim.errors") in by_target  # absolute, from a package
    assert any(imp.target == "torch" and imp.in_function for imp in imports_of("flexspim._device"))
    assert loads_lazy_library("flexspim.train.frames") == ("torch",)  # through train/__init__
    assert loads_lazy_library("flexspim.hw") == ()
    graph = {"a": {"b": Import("a", 1, "b", False, False, False)},
             "b": {"a": Import("b", 2, "a", False, False, False)}, "c": {}}
    assert sorted(map(tuple, strongly_connected(graph))) == [("a", "b"), ("c",)]
    assert [imp.line for imp in a_cycle(graph, ["a", "b"])] == [1, 2]


def test_the_parts_table_of_the_docs_is_the_tested_order() -> None:
    """docs/architecture.md lists the parts with the ranks this test enforces (one table, kept in
    step with :data:`RANKS`)."""
    doc = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    table: dict[str, int] = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            for part in re.findall(r"`([\w.]+)`", cells[1]):
                table[f"flexspim.{part}"] = int(cells[0])
    tested = {m: r for m, r in RANKS.items()
              if m not in ("flexspim", "flexspim.energy", "flexspim.__main__")}
    assert table == tested


def test_core_imports_without_heavy_dependencies() -> None:
    """`import flexspim`, the core parts and the command line's parser (what `flexspim
    --version` builds) need only NumPy (torch, dask, tonic, plotting stay optional)."""
    code = (
        "import sys, flexspim, flexspim.hw, flexspim.net, flexspim.cli, flexspim.sim,"
        " flexspim.compile, flexspim.system, flexspim.energy.system, flexspim.report;"
        "flexspim.cli.build_parser();"
        f"bad=[m for m in {LAZY!r} if m != 'numba' and m in sys.modules];"  # numba: optional
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
