"""The layering of docs/architecture.md: a module imports only from the parts before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


def imported_modules(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append(name)
            out += [f"{name}.{a.name}" for a in node.names if f"{name}.{a.name}" in RANKS]
    return [m for m in out if m == "flexspim" or m.startswith("flexspim.")]


FILES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_data_flow(path: Path) -> None:
    module = module_name(path)
    own = rank(module)
    for target in imported_modules(path, module):
        assert rank(target) <= own, (
            f"{module} (part rank {own}) imports {target} (rank {rank(target)}): "
            f"a part may import only the parts before it (docs/architecture.md)"
        )


def test_core_imports_without_heavy_dependencies() -> None:
    """`import flexspim`, the core parts and the command line's parser (what `flexspim
    --version` builds) need only NumPy (torch, dask, tonic, plotting stay optional)."""
    import subprocess
    import sys

    code = (
        "import sys, flexspim, flexspim.hw, flexspim.net, flexspim.cli, flexspim.sim,"
        " flexspim.compile, flexspim.system, flexspim.energy.system, flexspim.report;"
        "flexspim.cli.build_parser();"
        "bad=[m for m in ('torch','dask','distributed','tonic','matplotlib') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
