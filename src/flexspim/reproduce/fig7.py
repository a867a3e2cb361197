"""Fig. 7b-d: system energy of every policy under every rule set, executed on the system engine
(docs/reproduce.md): energy vs macros (7b), vs input sparsity (7c), and the saving of each
policy against WS-only (7d); the best realistic rule set measured at the reference point."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flexspim.reproduce.fig4 import POLICY_LABELS
from flexspim.reproduce.figures import POLICY_COLOURS, pyplot
from flexspim.reproduce.plan import REFERENCE_BUFFER_KIB, REFERENCE_MACROS, Fig7Grid
from flexspim.reproduce.points import PointTask, Results
from flexspim.reproduce.rules import HEADLINE_RULES, best_realistic, rule_set
from flexspim.reproduce.workloads import REFERENCE_SPARSITY

WHERE = ("input_sparsity", "buffer_kib", "n_macros")
#: Summary key of each policy's largest saving under the headline rule set.
HEADLINE_KEYS = {"hs-min": "max_system_saving_hs_vs_ws",
                 "optimal": "max_system_saving_optimal_vs_ws",
                 "hs-traffic": "max_system_saving_hstraffic_vs_ws",
                 "os": "max_system_saving_os_vs_ws"}


def saving(energy: Mapping[str, float | None], policy: str) -> float | None:
    """``1 - E_policy / E_ws`` (None where either is missing)."""
    e, base = energy.get(policy), energy.get("ws")
    return None if e is None or not base else 1.0 - e / base


def grid_rows(grid: Fig7Grid, rules: Sequence[str], policies: Sequence[str],
              tasks: Mapping[tuple[float, float, int, str, str], PointTask], results: Results
              ) -> list[dict[str, Any]]:
    """One row per grid point: per rule set every policy's executed run (None where the
    mapping did not fit, with the reason in ``errors``) and its saving against WS-only."""
    rows = []
    for s, b, n in grid.points():
        entry: dict[str, Any] = {"input_sparsity": s, "buffer_kib": b, "n_macros": n,
                                 "rules": {}}
        for r in rules:
            runs = {p: results.get(tasks[(s, b, n, r, p)]) for p in policies}
            energy = {p: (m["energy_uj"] if m else None) for p, m in runs.items()}
            entry["rules"][r] = {
                "policies": runs,
                "errors": {p: results.errors[tasks[(s, b, n, r, p)].key] for p in policies
                           if tasks[(s, b, n, r, p)].key in results.errors},
                "saving_vs_ws": {p: saving(energy, p) for p in policies if p != "ws"}}
        rows.append(entry)
    return rows


def _at(rows: Sequence[dict[str, Any]], s: float, b: float, n: int) -> dict[str, Any] | None:
    return next((r for r in rows if (r["input_sparsity"], r["buffer_kib"], r["n_macros"])
                 == (s, b, n)), None)


def max_savings(rows: Sequence[dict[str, Any]], rules: Sequence[str],
                policies: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per rule set and policy, the largest saving against WS-only and where."""
    out: dict[str, dict[str, Any]] = {}
    for r in rules:
        out[r] = {}
        for p in policies:
            if p == "ws":
                continue
            pts = [(row["rules"][r]["saving_vs_ws"][p], row) for row in rows
                   if row["rules"][r]["saving_vs_ws"].get(p) is not None]
            if pts:
                best, row = max(pts, key=lambda t: t[0])
                out[r][p] = {"saving": best, "at": {k: row[k] for k in WHERE}}
            else:
                out[r][p] = {"saving": None, "at": None}
    return out


def reference(grid: Fig7Grid) -> tuple[float, float, int]:
    """Fig. 7's reference point in ``grid``: the nearest to 95%, 256 KiB, 16 macros."""
    s = min(grid.sparsities, key=lambda v: abs(v - REFERENCE_SPARSITY))
    b = REFERENCE_BUFFER_KIB if REFERENCE_BUFFER_KIB in grid.buffers_kib else grid.buffers_kib[-1]
    n = min(grid.macros, key=lambda v: abs(v - REFERENCE_MACROS))
    return s, b, n


def _energies(row: dict[str, Any] | None, r: str) -> dict[str, float | None]:
    if row is None:
        return {}
    return {p: (m["energy_uj"] if m else None) for p, m in row["rules"][r]["policies"].items()}


def realistic_choice(rows: Sequence[dict[str, Any]], grid: Fig7Grid,
                     rules: Sequence[str]) -> dict[str, Any]:
    """The best realistic rule set at the reference point, and at how many points it is
    the lowest of the realistic ones too."""
    s, b, n = reference(grid)
    ref = _at(rows, s, b, n)
    realistic = [r for r in rules if rule_set(r).realistic]
    best = best_realistic({r: _energies(ref, r) for r in realistic})
    lowest = 0
    for row in rows:
        e = {r: [v for v in _energies(row, r).values() if v is not None] for r in realistic}
        if all(e.values()) and min(e[best]) <= min(min(v) for v in e.values()):
            lowest += 1
    return {"best_realistic_rules": best, "best_realistic_lowest_at_points": lowest,
            "fig7_points": len(rows)}


def estimate_errors(rows: Sequence[dict[str, Any]], rules: Sequence[str]) -> dict[str, Any]:
    """The analytic estimate against the executed run: the largest |relative difference| of
    energy over every run, per rule set and in all."""
    per = {r: max((abs(m["estimate_rel_error"]) for row in rows
                   for m in row["rules"][r]["policies"].values() if m), default=None)
           for r in rules}
    vals = [v for v in per.values() if v is not None]
    return {"analytic_vs_engine_max_rel_error": max(vals) if vals else None,
            "analytic_vs_engine_max_rel_error_by_rules": per}


def fig7_keys(rows: Sequence[dict[str, Any]], grid: Fig7Grid, rules: Sequence[str],
              policies: Sequence[str]) -> dict[str, Any]:
    """The summary keys of Fig. 7 (docs/reproduce.md); the headline ones under
    :data:`~flexspim.reproduce.rules.HEADLINE_RULES`."""
    best = max_savings(rows, rules, policies)
    s, b, n = reference(grid)
    at_ref, at1 = _at(rows, s, b, n), _at(rows, s, b, 1)
    head = HEADLINE_RULES
    keys: dict[str, Any] = {"fig7_network": grid.network.name, "fig7_max_saving_vs_ws": best,
                            "reference_point": dict(zip(WHERE, (s, b, n), strict=True))}
    for p, key in HEADLINE_KEYS.items():
        if p in best.get(head, {}):
            keys[key] = best[head][p]["saving"]
            keys[f"{key}_at"] = best[head][p]["at"]
    ws_ref = at_ref["rules"][head]["policies"].get("ws") if at_ref else None
    keys[f"dram_bits_ws_{n}_macros"] = ws_ref["dram_bits"] if ws_ref else None
    hs = [row["rules"][head]["policies"].get("hs-min") if row else None for row in (at1, at_ref)]
    keys[f"latency_speedup_{n}_vs_1_macros"] = (hs[0]["latency_us"] / hs[1]["latency_us"]
                                                 if all(hs) else None)
    keys.update(realistic_choice(rows, grid, rules))
    keys.update(estimate_errors(rows, rules))
    return keys


def _panel_lines(ax: Any, xs: Sequence[Any], rows: Sequence[dict[str, Any]], r: str,
                 policies: Sequence[str], value: Callable[[dict[str, Any], str], Any]) -> None:
    for p in policies:
        pts = [(x, value(row, p)) for x, row in zip(xs, rows, strict=True)]
        pts = [(x, y) for x, y in pts if y is not None]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], color=POLICY_COLOURS.get(p),
                    marker="o", label=POLICY_LABELS.get(p, p))


def plot_fig7(rows: Sequence[dict[str, Any]], grid: Fig7Grid, rules: Sequence[str],
              policies: Sequence[str], path: Path, save: Callable[[Any, Path], None]) -> None:
    """One row per rule set: 7b (energy vs macros at the reference sparsity and buffer), 7c
    (energy vs input sparsity at the reference macros), 7d (saving vs WS-only vs macros)."""
    plt = pyplot()
    s, b, n = reference(grid)
    by_n = sorted((r for r in rows if (r["input_sparsity"], r["buffer_kib"]) == (s, b)),
                  key=lambda r: r["n_macros"])
    by_s = sorted((r for r in rows if (r["n_macros"], r["buffer_kib"]) == (n, b)),
                  key=lambda r: r["input_sparsity"])
    fig, axes = plt.subplots(len(rules), 3, figsize=(15, 3.7 * len(rules)), squeeze=False)

    def energy(row: dict[str, Any], p: str, r: str) -> Any:
        m = row["rules"][r]["policies"].get(p)
        return m["energy_uj"] if m else None

    for ax3, r in zip(axes, rules, strict=True):
        macros = [row["n_macros"] for row in by_n]
        _panel_lines(ax3[0], macros, by_n, r, policies, lambda row, p, r=r: energy(row, p, r))
        ax3[0].set(xlabel="macros", ylabel="energy per inference (uJ)", xscale="log",
                   yscale="log", title=f"7b '{r}': energy vs macros ({100 * s:.0f}% sparse, "
                                       f"{b:g} KiB)")
        _panel_lines(ax3[1], [100 * row["input_sparsity"] for row in by_s], by_s, r, policies,
                     lambda row, p, r=r: energy(row, p, r))
        ax3[1].set(xlabel="input sparsity (%)", ylabel="energy per inference (uJ)",
                   yscale="log", title=f"7c '{r}': energy vs input sparsity ({n} macros)")
        _panel_lines(ax3[2], macros, by_n, r, policies,
                     lambda row, p, r=r: 0.0 if p == "ws" else None
                     if row["rules"][r]["saving_vs_ws"].get(p) is None
                     else 100 * row["rules"][r]["saving_vs_ws"][p])
        ax3[2].set(xlabel="macros", ylabel="energy saved vs WS-only (%)", xscale="log",
                   title=f"7d '{r}': saving vs WS-only ({100 * s:.0f}% sparse, {b:g} KiB)")
        for ax in ax3:
            ax.title.set_size(9)
            if ax.get_lines():
                ax.legend(fontsize=7)
    fig.suptitle(f"Fig. 7: {grid.network.name}, every policy under every rule set, executed "
                 f"on the system engine (* hs-min: our reading of the paper)", fontsize=10)
    save(fig, path)
