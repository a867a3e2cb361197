"""What ``flexspim reproduce`` prints: the paper beside the model, every policy and rule set of
Fig. 4, Fig. 7 and the workload map, Table I beside other chips, and where each difference from
the paper is explained."""

from __future__ import annotations

from typing import Any

from flexspim.reproduce.fig4 import HS_MIN_NOTE
from flexspim.reproduce.macro_figs import SPIDR_INPUT_SPARSITY, TABLE1_NORMALISATION
from flexspim.reproduce.paper import EXPLAINED_IN, differs, reference
from flexspim.reproduce.tables import (
    Table,
    fig4_table,
    reach_table,
    reference_energy_table,
    savings_table,
)

#: The printed rows: label, summary key, shown as a percentage.
TABLE_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("Fig. 4 stationary operands HS-min vs WS", "stationary_operands_gain_hsmin_vs_ws", True),
    ("  same, partly resident layers counted", "stationary_operands_gain_hsmin_vs_ws_partial",
     True),
    ("  same, in unpadded bits", "stationary_bits_gain_hsmin_vs_ws", True),
    ("  same, SOP-weighted resident fraction", "sop_weighted_fraction_gain_hsmin_vs_ws", True),
    ("Fig. 4 stationary operands optimal vs WS", "stationary_operands_gain_optimal_vs_ws", True),
    ("Fig. 4 energy saved optimal vs HS-min (est.)", "energy_saving_optimal_vs_hsmin", True),
    ("Fig. 7 max saving HS-min vs WS", "max_system_saving_hs_vs_ws", True),
    ("Fig. 7 max saving hs-traffic vs WS", "max_system_saving_hstraffic_vs_ws", True),
    ("Fig. 7 max saving optimal vs WS", "max_system_saving_optimal_vs_ws", True),
    ("Fig. 7 latency, 1 macro / 16 macros (x)", "latency_speedup_16_vs_1_macros", False),
    ("Fig. 7 estimate vs engine, largest error", "analytic_vs_engine_max_rel_error", True),
    ("Workload map max saving HS-min vs WS", "workload_map_max_saving_hs_vs_ws", True),
    ("Workload map max saving, any policy/rules", "workload_map_max_saving_any", True),
    ("Fig. 7a max gain vs row-wise (x)", "max_gain_vs_rowwise", False),
    ("Fig. 7a spread across shapes 16b/32och", "shape_spread_16b_32och", True),
    ("  same, 3x3 kernel taps packed", "shape_spread_16b_32och_packed", True),
    ("Table I pJ/SOP 8w/16v at 0.9 V", "pj_per_sop_8w16v_0v9", False),
    ("Table I pJ/SOP 8w/16v at 1.1 V", "pj_per_sop_8w16v_1v1", False),
    ("Table I pJ per 1-bit SOP at 0.9 V", "pj_per_1bit_sop_0v9", False),
    ("Table I SpiDR TOPS/W 4w/7v (SpiDR's paper)", "spidr_tops_per_w_4w7v", False),
)


def _fmt(v: float | None, pct: bool) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v:.2f}"


def text_table(table: Table, indent: str = "  ") -> list[str]:
    """A table as fixed-width text lines (first column left, the others right aligned)."""
    header, rows = table
    cells = [tuple(str(c).replace("`", "") for c in r) for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return [indent + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            for r in cells]


def main_lines(summary: dict[str, Any]) -> list[str]:
    lines = [f"{'result':<44}{'paper':>10}{'model':>10}"]
    chip = summary.get("hardware", "FlexSpIM")
    if chip != "FlexSpIM":
        lines.insert(0, f"paper: the FlexSpIM paper's values (SpiDR's for its row); model: "
                        f"computed on the '{chip}' hardware (Table I: each chip on its own)")
    for label, key, pct in TABLE_ROWS:
        paper = reference(key)
        paper_s = ("<" if key == "shape_spread_16b_32och" else "") + _fmt(paper, pct) \
            if paper is not None else "-"
        mark = " *" if differs(key, summary.get(key)) else ""
        lines.append(f"{label:<44}{paper_s:>10}{_fmt(summary.get(key), pct):>10}{mark}")
    return lines


def figure_lines(summary: dict[str, Any]) -> list[str]:
    """Fig. 4 per network, Fig. 7 and the workload map per rule set and policy."""
    out: list[str] = []
    for net in summary.get("fig4_networks", []):
        out += ["", f"Fig. 4 on 2 macros, {net['network']} (rule set 'paper'; energy estimated):",
                *text_table(fig4_table(net))]
    head = summary.get("headline_rules", "paper")
    if summary.get("fig7_max_saving_vs_ws"):
        ref = summary.get("reference_point", {})
        out += ["", f"Fig. 7 on {summary.get('fig7_network')}: largest saving vs WS-only per rule "
                    f"set (headline: '{head}'; best realistic: "
                    f"'{summary.get('best_realistic_rules')}'), executed:",
                *text_table(savings_table(summary["fig7_max_saving_vs_ws"], "fig7"))]
        if summary.get("fig7_reference_energy"):
            out += [f"  energy per inference at {100 * ref.get('input_sparsity', 0):g}% input "
                    f"sparsity, {ref.get('buffer_kib', 0):g} KiB, {ref.get('n_macros')} macros:",
                    *text_table(reference_energy_table(summary["fig7_reference_energy"], ref))]
    if summary.get("workload_map_max_saving_vs_ws"):
        out += ["", "Workload map (95% input sparsity, 256 KiB): largest saving vs WS-only, "
                    "executed:",
                *text_table(savings_table(summary["workload_map_max_saving_vs_ws"], "map"))]
        reach = summary.get("workload_map_cells_reaching_paper") or []
        out.append(f"  cells reaching the paper's 90%: {len(reach)}" + (":" if reach else ""))
        if reach:
            out += text_table(reach_table(reach[:20]), "    ")
    return out + ["", HS_MIN_NOTE] if out else out


def print_table(summary: dict[str, Any]) -> str:
    """The printed table (metric, paper, model), the figures' tables, Table I beside other
    chips, and under them where each difference from the paper is explained."""
    lines = main_lines(summary) + figure_lines(summary)
    lines += ["", *table1_lines(summary.get("table1_chips", []))]
    notes = [(label, key) for label, key, _ in TABLE_ROWS if differs(key, summary.get(key))]
    if notes:
        lines += ["", "* differs from the paper; where each difference is explained:"]
        lines += [f"  {label}: {EXPLAINED_IN.get(key, 'docs/reproduce.md')}"
                  for label, key in notes]
    return "\n".join(lines)


def table1_lines(chips: list[dict[str, Any]]) -> list[str]:
    """Table I as printed: each chip's reported figure and its 1-bit normalisation, with
    the source beside it."""
    if not chips:
        return []
    out = ["Table I beside other chips, normalised as docs/reproduce.md, section 'Table I: "
           "other chips' says:", f"  {TABLE1_NORMALISATION}",
           f"  {'chip':<18}{'node':>6}{'supply':>8}{'w/v bits':>10}{'pJ/op':>8}"
           f"{'pJ/1-bit op':>13}  source"]
    for c in chips:
        supply = f"{c['supply_v']:g} V" if c.get("supply_v") else "-"
        wv = f"{c['w_bits'] or '-'}/{c['acc_bits']}"
        out.append(f"  {c['chip']:<18}{c['technology_nm']:>4}nm{supply:>8}{wv:>10}"
                   f"{c['pj_per_op']:>8.3f}{c['pj_per_1bit_op']:>13.4f}  {c['source']}")
    spidr = next((c for c in chips if c["chip"] == "SpiDR (model)"), None)
    if spidr is not None:
        out += spidr_lines(spidr)
    return out


def spidr_lines(row: dict[str, Any]) -> list[str]:
    """SpiDR's reported TOPS/W beside the model's, under each operation count its abstract
    leaves open (:func:`spidr_model_row`)."""
    s = round(100 * SPIDR_INPUT_SPARSITY)
    return [f"  SpiDR at {row['w_bits']}-bit weights / {row['acc_bits']}-bit membranes: reported "
            f"up to {row['reported_tops_per_w']:g} TOPS/W at {s}% input sparsity; model "
            f"{row['tops_per_w']:.2f} TOPS/W counting one operation per SOP",
            f"    (the same energy reads {row['tops_per_w_two_ops_per_sop']:.2f} TOPS/W at two "
            f"operations per SOP, {row['tops_per_w_skipped_counted']:.1f} / "
            f"{row['tops_per_w_skipped_counted_two_ops']:.1f} if the {s}% skipped inputs count "
            f"as operations; why they differ: {EXPLAINED_IN['spidr_tops_per_w_4w7v']})"]

