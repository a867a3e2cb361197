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

from flexspim._io import write_bytes_atomic
from flexspim.errors import ConfigError
from flexspim.reproduce.fig4 import POLICY_LABELS
from flexspim.reproduce.plan import PLANS, Plan
from flexspim.reproduce.rules import RULE_SETS
from flexspim.reproduce.workloads import (
    HEADLINE_NET,
    MACRO_BITS,
    PAPER_SCALE_NET,
    NetSpec,
    stationary_sets,
)


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


def grids_table(plans: Sequence[Plan] = tuple(PLANS.values())) -> str:
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
                     f"{executed_runs(p):,}"))
    return _table(("run", "Fig. 4 networks (2 macros)", "Fig. 7 grid (x 5 policies x 3 rule "
                   "sets)", "workload map, 95%, 256 KiB (x 5 policies x 2 rule sets)",
                   "runs executed"), rows)


def executed_runs(p: Plan) -> int:
    """Mappings a plan executes on the system engine: Fig. 7's points under every rule set,
    the map's under two, less the map's points that are Fig. 7's (same network and point)."""
    g, m = p.fig7, p.workload_map
    n_pol, n_rules = len(p.policies), len(p.rules)
    shared = sum(1 for net in m.networks() for n in m.macros
                 if net == g.network and (m.sparsity, m.buffer_kib, n) in g.points())
    return n_pol * (n_rules * len(g.points()) + 2 * (len(m.networks()) * len(m.macros) - shared))


#: The plan's blocks: name -> the code that writes it (a test keeps the page in step).
PLAN_BLOCKS: dict[str, Callable[[], str]] = {
    "rules": rules_table, "derivation": derivation_table, "grids": grids_table,
}

_BLOCK = "<!-- reproduce:{0} -->\n{1}\n<!-- /reproduce:{0} -->"
#: The section new result blocks go before.
DIFFERS_HEADING = "## Where the model differs from the paper, and why"


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
    """Replace the named blocks of the page at ``path`` (atomically); a block the page lacks
    is added, under a heading naming its run, before the section "Where the model differs"
    (else at the end). Returns the names written."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--doc {p}: no such file; give the page whose tables to rewrite "
                          f"(docs/reproduce.md)")
    text = p.read_text(encoding="utf-8")
    missing = []
    for name, body in blocks.items():
        pat = block_pattern(name)
        if pat.search(text):
            text = pat.sub(lambda _m, n=name, b=body: _BLOCK.format(n, b), text)
        else:
            missing.append(f"`{name}`:\n\n{_BLOCK.format(name, body)}\n")
    if missing:
        run = next(iter(blocks)).split(":")[0]
        added = f"### Results of the `{run}` run\n\n" + "\n".join(missing) + "\n"
        at = text.find(DIFFERS_HEADING)
        text = text + "\n" + added if at < 0 else text[:at] + added + text[at:]
    write_bytes_atomic(p, text.encode("utf-8"))
    return list(blocks)


# ----------------------------------------------------------------------------- results

Table = tuple[tuple[str, ...], list[tuple[Any, ...]]]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = ",.0f") -> str:
    return "-" if v is None else format(v, fmt)


def _label(p: str) -> str:
    return POLICY_LABELS.get(p, p)


def fig4_table(net: Mapping[str, Any]) -> Table:
    """Fig. 4 on two macros for one network: every policy's stationary operands."""
    header = ("policy", "operands, layers held whole", "operands, partly resident too",
              "resident bits (macros)", "SOP-weighted resident", "layers held whole",
              "estimated energy (uJ)")
    rows = []
    for p, c in net["policies"].items():
        bits = c.get("stationary_bits")
        rows.append((_label(p), _num(c.get("operands_whole_layers")),
                     _num(c.get("operands_partial")),
                     "-" if bits is None else f"{bits / MACRO_BITS:.2f}",
                     _pct(c.get("sop_weighted_resident_fraction")),
                     ", ".join(c.get("whole_layers") or []) or "none",
                     _num(c.get("estimated_energy_uj"), ",.1f")))
    return header, rows


def _where(at: Mapping[str, Any] | None, kind: str) -> str:
    if not at:
        return ""
    if kind == "fig7":
        return (f" ({100 * at['input_sparsity']:g}%, {at['buffer_kib']:g} KiB, "
                f"{_macros(at['n_macros'])})")
    return f" (input {at['input_hw']}, base {at['base']}, {_macros(at['n_macros'])})"


def _macros(n: int) -> str:
    return f"{n} macro" + ("" if n == 1 else "s")


def savings_table(best: Mapping[str, Mapping[str, Any]], kind: str) -> Table:
    """Per rule set (rows) and policy (columns) the largest saving against WS-only, and
    where (``kind``: ``fig7`` or ``map``)."""
    pols = list(next(iter(best.values()), {}))
    header = ("rule set", *(f"{_label(p)} vs ws" for p in pols))
    rows = [(f"`{r}`", *(_pct(d[p]["saving"]) + _where(d[p]["at"], kind) for p in pols))
            for r, d in best.items()]
    return header, rows


def reference_energy_table(rows: Sequence[Mapping[str, Any]], ref: Mapping[str, Any]) -> Table:
    """Energy per inference (uJ, executed) of every policy and rule set at the reference
    point of Fig. 7."""
    row = next((r for r in rows if all(r[k] == v for k, v in ref.items())), None)
    if row is None:
        return ("rule set",), []
    pols = list(next(iter(row["rules"].values()))["policies"])
    header = ("rule set", *(f"{_label(p)} (uJ)" for p in pols))
    out = []
    for r, d in row["rules"].items():
        out.append((f"`{r}`", *(_num(m["energy_uj"] if m else None, ",.1f")
                                for m in d["policies"].values())))
    return header, out


def reach_table(cells: Sequence[Mapping[str, Any]]) -> Table:
    """The workload-map cells where a saving reaches the paper's 90%."""
    header = ("rule set", "policy", "input", "base", "macros", "saving vs ws")
    rows = [(f"`{c['rules']}`", _label(c["policy"]), c["input_hw"], c["base"], c["n_macros"],
             _pct(c["saving"])) for c in sorted(cells, key=lambda c: -c["saving"])]
    return header, rows


def map_matrix_table(cells: Sequence[Mapping[str, Any]], rules: str) -> Table:
    """The workload map under one rule set: per network and macro count the best policy's
    saving against WS-only and which policy it is (policies within 0.05 points of it too)."""
    macros = sorted({c["n_macros"] for c in cells})
    nets = list(dict.fromkeys((c["input_hw"], c["base"]) for c in cells))
    header = ("input, base", *(_macros(n) for n in macros))
    rows = []
    for h, b in nets:
        line: list[Any] = [f"{h}, {b}"]
        for n in macros:
            c = next((c for c in cells if (c["input_hw"], c["base"], c["n_macros"], c["rules"])
                      == (h, b, n, rules)), None)
            s = {p: v for p, v in (c["saving_vs_ws"] if c else {}).items() if v is not None}
            top = max(s.values(), default=None)
            best = [_label(p) for p, v in s.items() if top is not None and v >= top - 5e-4]
            line.append("-" if top is None else f"{100 * top:+.0f}% {'/'.join(best)}")
        rows.append(tuple(line))
    return header, rows


def markdown(table: Table) -> str:
    header, rows = table
    return _table(header, rows)


def run_block(summary: Mapping[str, Any]) -> str:
    """How the run went: plan, points, time, machine load, estimator error, best rules."""
    pts = summary.get("points", {})
    load = ", ".join(f"{v:.2f}" for v in summary.get("load_average_at_start", []))
    err = summary.get("analytic_vs_engine_max_rel_error")
    map_err = summary.get("workload_map_analytic_vs_engine_max_rel_error")
    return (f"Run `{summary.get('plan')}` on hardware `{summary.get('hardware')}`: "
            f"{pts.get('total')} points ({pts.get('failed', 0)} could not be mapped), "
            f"{summary.get('seconds', 0):.0f} s with {pts.get('computed_now')} computed in it "
            f"(load average {load} at the start). Best realistic rule set: "
            f"`{summary.get('best_realistic_rules')}` (the lowest of the realistic ones at "
            f"{summary.get('best_realistic_lowest_at_points')} of "
            f"{summary.get('fig7_points')} Fig. 7 points). Analytic estimate against the "
            f"executed runs, largest difference: {_pct(err)} over Fig. 7, {_pct(map_err)} over "
            f"the workload map.")


def result_blocks(summary: Mapping[str, Any]) -> dict[str, str]:
    """The result tables of docs/reproduce.md from a run's summary, named ``<plan>:<table>``
    (a quick run rewrites only the quick tables)."""
    plan = summary.get("plan", "quick")
    blocks = {f"{plan}:run": run_block(summary)}
    for net in summary.get("fig4_networks", []):
        blocks[f"{plan}:fig4:{net['network']}"] = markdown(fig4_table(net))
    blocks[f"{plan}:fig7-savings"] = markdown(savings_table(
        summary["fig7_max_saving_vs_ws"], "fig7"))
    blocks[f"{plan}:fig7-reference"] = markdown(reference_energy_table(
        summary["fig7_reference_energy"], summary["reference_point"]))
    blocks[f"{plan}:map-savings"] = markdown(savings_table(
        summary["workload_map_max_saving_vs_ws"], "map"))
    reach = summary.get("workload_map_cells_reaching_paper") or []
    blocks[f"{plan}:map-reach"] = (markdown(reach_table(reach)) if reach else
                                   "No cell reaches 90% under any policy and rule set.")
    cells = summary.get("workload_map_savings") or []
    for label, rules in (("paper", summary.get("headline_rules", "paper")),
                         ("best", summary.get("best_realistic_rules"))):
        blocks[f"{plan}:map-{label}"] = markdown(map_matrix_table(cells, str(rules)))
    return blocks
