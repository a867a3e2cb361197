"""The tables of docs/reproduce.md, written by code: the plan's (rule sets, networks, grids:
:data:`PLAN_BLOCKS`, checked against the page by a test) and the results' (from a run's summary:
:data:`RESULT_BLOCKS`, written into the page by ``flexspim reproduce --doc``).

A block sits in the page between ``<!-- reproduce:NAME -->`` and ``<!-- /reproduce:NAME -->``;
:func:`update_doc` replaces the blocks it is given and leaves the rest of the page as it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flexspim.errors import ConfigError
from flexspim.reproduce.plan import FULL, QUICK, Plan
from flexspim.reproduce.rules import RULE_SETS
from flexspim.reproduce.workloads import HEADLINE_NET, PAPER_SCALE_NET, NetSpec, stationary_sets


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def rules_table() -> str:
    """The rule sets (:data:`~flexspim.reproduce.rules.RULE_SETS`) and what each assumes."""
    rows = [(f"`{r.name}`", r.event_order, r.scratch_slices, r.compare,
             str(r.scratch_reuse).lower(), "yes" if r.realistic else "no (the reference)",
             r.assumes) for r in RULE_SETS]
    return _table(("rule set", "event_order", "scratch_slices", "compare", "scratch_reuse",
                   "realistic", "what it assumes"), rows)


def derivation_table() -> str:
    """Stationary sets of the candidate networks in macros of 16 kB (unpadded bits)."""
    nets = [HEADLINE_NET, *[NetSpec("scnn", h, b) for h in (32, 64) for b in (16, 32)],
            PAPER_SCALE_NET]
    rows = []
    for n in nets:
        s = stationary_sets(n)
        rows.append((f"`{n.name}`", f"2 x {n.input_hw} x {n.input_hw}", n.base,
                     f"{s['hs_min_set_macros']:.2f}", f"{s['weights_macros']:.2f}",
                     f"{s['membranes_macros']:.2f}"))
    return _table(("network", "input", "base width", "HS-min set (macros)", "all weights",
                   "all membranes"), rows)


def _nums(values: Sequence[Any], pct: bool = False) -> str:
    return ", ".join(f"{100 * v:g}%" if pct else f"{v:g}" for v in values)


def grids_table(plans: Sequence[Plan] = (QUICK, FULL)) -> str:
    """What each run computes (:mod:`flexspim.reproduce.plan`)."""
    rows = []
    for p in plans:
        g, m = p.fig7, p.workload_map
        extra = "".join(f"; {100 * s:g}% at {n} macros, {b:g} KiB" for s, b, n in g.extra)
        rows.append((f"`{p.name}`", ", ".join(f"`{n.name}`" for n in p.fig4_networks),
                     f"`{g.network.name}`: macros {_nums(g.macros)} x input sparsity "
                     f"{_nums(g.sparsities, True)} x buffer {_nums(g.buffers_kib)} KiB{extra}"
                     f" ({len(g.points())} points)",
                     f"input {_nums(m.inputs)} x base {_nums(m.bases)} x macros "
                     f"{_nums(m.macros)} ({len(m.networks()) * len(m.macros)} points)",
                     len(_all_points(p))))
    return _table(("run", "Fig. 4 networks (2 macros)", "Fig. 7 grid",
                   "workload map (95%, 256 KiB)", "points executed (x 5 policies x 3 rule "
                   "sets)"), rows)


def _all_points(p: Plan) -> set[tuple[Any, ...]]:
    """Distinct executed grid points of a plan (Fig. 7 and the map share the paper-scale row)."""
    g, m = p.fig7, p.workload_map
    out = {(g.network, s, b, n) for s, b, n in g.points()}
    out |= {(net, m.sparsity, m.buffer_kib, n) for net in m.networks() for n in m.macros}
    return out


#: The plan's blocks: name -> the code that writes it (a test keeps the page in step).
PLAN_BLOCKS: dict[str, Callable[[], str]] = {
    "rules": rules_table, "derivation": derivation_table, "grids": grids_table,
}

_BLOCK = "<!-- reproduce:{0} -->\n{1}\n<!-- /reproduce:{0} -->"


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<!-- reproduce:{re.escape(name)} -->\n.*?<!-- /reproduce:"
                      rf"{re.escape(name)} -->", re.S)


def read_block(text: str, name: str) -> str | None:
    """The body of block ``name`` in ``text`` (None if the page has no such block)."""
    m = block_pattern(name).search(text)
    if m is None:
        return None
    return m.group(0).split("\n", 1)[1].rsplit("\n", 1)[0]


def update_doc(path: str | os.PathLike[str], blocks: Mapping[str, str]) -> list[str]:
    """Replace the named blocks of the page at ``path`` (atomically); returns the names
    replaced. ConfigError if the page lacks one of them."""
    from flexspim._io import write_bytes_atomic

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--doc {p}: no such file; give the page whose tables to rewrite "
                          f"(docs/reproduce.md)")
    text = p.read_text(encoding="utf-8")
    for name, body in blocks.items():
        pat = block_pattern(name)
        if not pat.search(text):
            raise ConfigError(f"--doc {p}: no block '<!-- reproduce:{name} -->'; add the "
                              f"markers where the table goes")
        text = pat.sub(lambda _m, n=name, b=body: _BLOCK.format(n, b), text)
    write_bytes_atomic(p, text.encode("utf-8"))
    return list(blocks)
