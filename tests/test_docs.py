"""The repository stands alone: every document a file refers to is in it, and every pointer that
``flexspim reproduce`` prints leads to a section that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flexspim.reproduce import EXPLAINED_IN

ROOT = Path(__file__).resolve().parents[1]
#: Files that document or implement the product (where a reader follows references).
SOURCES = sorted([*ROOT.glob("src/flexspim/**/*.py"), *ROOT.glob("docs/*.md"),
                  ROOT / "README.md"])
#: A reference to a page of the repository's docs folder, e.g. ``docs/energy.md``.
DOC_REF = re.compile(r"docs/([A-Za-z0-9_\-]+)(\.md)?\b")



def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", [pytest.param(p, id=_rel(p)) for p in SOURCES])
def test_no_reference_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text, f"{_rel(path)} refers to a design file outside the repository"


def test_every_docs_reference_names_a_page_that_exists() -> None:
    missing = []
    for path in SOURCES:
        for m in DOC_REF.finditer(path.read_text(encoding="utf-8")):
            if not (ROOT / "docs" / f"{m.group(1)}.md").exists():
                missing.append(f"{_rel(path)}: {m.group(0)}")
    assert missing == []


@pytest.mark.parametrize("key, pointer", sorted(EXPLAINED_IN.items()))
def test_reproduce_pointers_lead_to_a_section(key: str, pointer: str) -> None:
    m = re.fullmatch(r"(docs/[\w\-]+\.md), section '([^']+)'.*", pointer)
    assert m, pointer
    page = (ROOT / m.group(1)).read_text(encoding="utf-8")
    assert re.search(rf"^#+ {re.escape(m.group(2))}\s*$", page, re.M), pointer


def test_design_page_is_the_projects_own() -> None:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    for section in ("§1", "§2", "§3", "§4", "§5"):
        assert f"## {section} " in text
    cited = set(re.findall(r"docs/design\.md (§\d)", " ".join(
        p.read_text(encoding="utf-8") for p in SOURCES)))
    assert cited <= {"§1", "§2", "§3", "§4", "§5"}


def _cells(row: str) -> int:
    """Cells of a Markdown table row (pipes inside backticks or escaped do not split)."""
    text = re.sub(r"`[^`]*`", "code", row.replace("\\|", "x")).strip()
    return len(text.strip("|").split("|"))


@pytest.mark.parametrize("path", [pytest.param(p, id=_rel(p)) for p in SOURCES
                                  if p.suffix == ".md"])
def test_markdown_tables_keep_their_columns(path: Path) -> None:
    """Every row of a table has its header's cells: a sentence fused onto a row (the README's
    "Requirements" once was) vanishes when the page is rendered."""
    bad, header = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("|"):
            header = None
            continue
        if header is None:
            header = _cells(line)
        elif _cells(line) != header:
            bad.append(f"{_rel(path)}:{number}: {_cells(line)} cells, the header has {header}")
    assert bad == []
