"""The system figures of the paper (Fig. 4 and Fig. 7b-d) on the paper-scale workload, every
mapping executed by the system engine (docs/reproduce.md).

:func:`paper_workload` builds the calibrated paper-scale network; :func:`fig4` counts the
stationary operands of each policy on two macros; :func:`fig7bcd` runs the grid of macro counts,
input sparsities and buffer sizes, each point compiled for the activity measured at its input
sparsity and executed on the system engine, with the analytic estimate beside it. Computed points
are kept in ``fig7_points.json`` so an interrupted run continues.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flexspim._io import read_json, write_json
from flexspim.compile import POLICIES, Activity, compile_network
from flexspim.errors import FlexspimError
from flexspim.hw import Hardware, hardware_to_dict
from flexspim.mapped import compile_and_run, estimate_cost, measured_activity, record
from flexspim.net.network import IntNetwork
from flexspim.net.presets import paper_scale_scnn
from flexspim.sim.calibrate import calibrate_thresholds
from flexspim.system.trace import Trace

#: Timesteps per sample (the simulator benchmark's setting, benchmarks/bench_sim.py).
N_TIMESTEPS = 20
#: Threshold calibration: target hidden density, input sparsity, samples, seed (the simulator
#: benchmark's settings: hidden layers at 10%, inputs 95% empty).
CALIBRATION = {"target_density": 0.10, "input_sparsity": 0.95, "samples": 2, "seed": 0}
#: Input sparsity at which Fig. 4 and the single-point keys are taken.
REFERENCE_SPARSITY = 0.95
#: The policies of Fig. 7: the paper's baseline and hybrid rule, and this toolkit's optimum.
FIG7_POLICIES: tuple[str, ...] = ("ws", "hs-min", "optimal")
POINTS_FORMAT = "flexspim-fig7-points"
POINTS_VERSION = 1


@dataclass(frozen=True)
class Fig7Grid:
    """The points of Fig. 7b-d: every (sparsity, buffer, macros) of the product, plus
    ``extra`` (buffer, macros) pairs at every sparsity; ``samples`` random samples each."""

    macros: tuple[int, ...]
    sparsities: tuple[float, ...]
    buffers_kib: tuple[float, ...]
    extra: tuple[tuple[float, int], ...] = ()
    samples: int = 1

    def points(self) -> list[tuple[float, float, int]]:
        """(input sparsity, buffer KiB, macros), in computing order."""
        out = []
        for s in self.sparsities:
            pairs = [(b, n) for b in self.buffers_kib for n in self.macros]
            pairs += [p for p in self.extra if p not in pairs]
            out += [(s, b, n) for b, n in pairs]
        return out


QUICK_GRID = Fig7Grid(macros=(1, 2, 4, 8, 16, 18, 32), sparsities=(0.85, 0.95, 0.99),
                      buffers_kib=(256.0,), extra=((0.0, 16),), samples=1)
FULL_GRID = Fig7Grid(macros=(1, 2, 3, 4, 6, 8, 12, 16, 18, 24, 32),
                     sparsities=(0.85, 0.87, 0.89, 0.91, 0.93, 0.95, 0.97, 0.99),
                     buffers_kib=(0.0, 64.0, 256.0), samples=2)


def random_inputs(net: IntNetwork, sparsity: float, n_samples: int, seed: int) -> np.ndarray:
    """Binary events ``[T, N, *input_shape]``: each (pixel, polarity, timestep) holds an event
    with probability ``1 - sparsity``."""
    rng = np.random.default_rng(seed)
    shape = (N_TIMESTEPS, n_samples, *net.input_shape)
    return (rng.random(shape) >= sparsity).astype(np.int64)


def paper_workload() -> tuple[IntNetwork, list[float]]:
    """The paper-scale network with thresholds calibrated as :data:`CALIBRATION` says; returns
    the network and the hidden densities reached."""
    c = CALIBRATION
    net = paper_scale_scnn()
    x = random_inputs(net, c["input_sparsity"], c["samples"], c["seed"])
    return calibrate_thresholds(net, x, c["target_density"])


def with_system(hw: Hardware, n_macros: int, buffer_kib: float | None = None) -> Hardware:
    """``hw`` with ``n_macros`` macros (and a buffer of ``buffer_kib``)."""
    changes: dict[str, Any] = {"n_macros": int(n_macros)}
    if buffer_kib is not None:
        changes["buffer_kib"] = float(buffer_kib)
    return hw.with_(system=dataclasses.replace(hw.system, **changes))


def workload_trace(net: IntNetwork, spikes: np.ndarray) -> tuple[Trace, Activity]:
    """The activity trace of ``net`` on ``spikes`` (simulated once, replayed on every mapping)
    and the activity it measures."""
    trace = record(net, spikes)
    return trace, measured_activity(net, trace)


# ----------------------------------------------------------------------------- Fig. 4

def fig4_counts(mapping: Any) -> dict[str, Any]:
    """Stationary operands of a mapping: whole layers, partial, and bits."""
    return {"operands_whole_layers": int(mapping.whole_layer_operands),
            "operands_partial": float(mapping.resident_operands),
            "stationary_bits": float(mapping.resident_bits),
            "stationary_fraction_bits": float(mapping.stationary_fraction),
            "per_layer": {lm.name: {"stationary": lm.stationary, "operands":
                                    lm.stationary_operands, "resident_operands":
                                    lm.resident_operands, "whole": lm.resident_groups == lm.groups,
                                    "shape": [lm.membrane_shape[0] if lm.stationary ==
                                              "membranes" else lm.weight_shape[0], lm.cols],
                                    "pack": lm.pack}
                          for lm in mapping.layers}}


def fig4(net: IntNetwork, hw: Hardware, activity: Activity) -> dict[str, Any]:
    """Stationary operands of each policy on two macros (paper Fig. 4), and their estimated
    energy; gains are relative to WS-only. Whole-layer counts come from mappings compiled with
    ``whole_layers`` (a layer is stationary only when all of its chosen operand fits); partial
    counts and bits from the usual mappings."""
    hw2 = with_system(hw, 2)
    maps = {p: compile_network(net, hw2, policy=p, activity=activity) for p in POLICIES}
    whole = {p: compile_network(net, hw2, policy=p, activity=activity, whole_layers=True)
             for p in POLICIES}
    counts = {p: fig4_counts(m) for p, m in maps.items()}
    for p, m in whole.items():
        counts[p]["operands_whole_layers"] = int(m.whole_layer_operands)
        counts[p]["whole_layers"] = [lm.name for lm in m.layers if lm.groups
                                     and lm.resident_groups == lm.groups]
    energy = {p: estimate_cost(net, m, hw2, activity).energy_per_inference_uj
              for p, m in maps.items()}

    def gain(p: str, key: str) -> float:
        base = counts["ws"][key]
        return counts[p][key] / base - 1.0 if base else float("inf")

    return {"policies": counts, "estimated_energy_per_inference_uj": energy,
            "stationary_operands_gain_hsmin_vs_ws": gain("hs-min", "operands_whole_layers"),
            "stationary_operands_gain_optimal_vs_ws": gain("optimal", "operands_whole_layers"),
            "stationary_operands_gain_hsmin_vs_ws_partial": gain("hs-min", "operands_partial"),
            "stationary_operands_gain_optimal_vs_ws_partial": gain("optimal",
                                                                   "operands_partial"),
            "stationary_bits_gain_hsmin_vs_ws": gain("hs-min", "stationary_bits"),
            "stationary_bits_gain_optimal_vs_ws": gain("optimal", "stationary_bits"),
            "energy_saving_optimal_vs_hsmin": 1.0 - energy["optimal"] / energy["hs-min"]}


# ----------------------------------------------------------------------------- Fig. 7b-d

def fig7_point(net: IntNetwork, hw: Hardware, policy: str, trace: Trace,
               activity: Activity) -> dict[str, Any]:
    """Compile for ``activity``, execute on the system engine over ``trace``, price it, and
    the analytic estimate beside it (:func:`flexspim.mapped.compile_and_run`)."""
    return compile_and_run(net, hw, trace, policy=policy, activity=activity).summary()


def _config_key(net: IntNetwork, hw: Hardware, grid: Fig7Grid) -> str:
    """A hash of everything a point depends on (network, hardware, grid, workload settings)."""
    doc = {"thresholds": [la.threshold for la in net.spiking_layers], "net": net.name,
           "hw": hardware_to_dict(hw), "samples": grid.samples, "T": N_TIMESTEPS,
           "calibration": CALIBRATION}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _load_points(path: Path, key: str) -> dict[str, Any]:
    """Points kept by an earlier run with the same configuration (else none)."""
    if not path.exists():
        return {}
    try:
        doc = read_json(path)
    except (FlexspimError, OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != POINTS_FORMAT \
            or doc.get("version") != POINTS_VERSION or doc.get("config") != key:
        return {}
    return dict(doc.get("points", {}))


def _point_id(s: float, b: float, n: int, p: str) -> str:
    return f"sparsity={s:g},buffer_kib={b:g},n_macros={n},policy={p}"


def run_grid(net: IntNetwork, hw: Hardware, grid: Fig7Grid, out: Path,
             tick: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every point of ``grid`` (kept in ``out/fig7_points.json`` as it is computed)."""
    path = out / "fig7_points.json"
    key = _config_key(net, hw, grid)
    done = _load_points(path, key)
    rows: list[dict[str, Any]] = []
    cache: dict[float, tuple[Trace, Activity]] = {}
    for s, b, n in grid.points():
        entry = {"input_sparsity": s, "buffer_kib": b, "n_macros": n, "policies": {}}
        for p in FIG7_POLICIES:
            pid = _point_id(s, b, n, p)
            if pid not in done:
                if s not in cache:
                    x = random_inputs(net, s, grid.samples, seed=1 + int(round(1000 * s)))
                    cache[s] = workload_trace(net, x)
                trace, act = cache[s]
                done[pid] = fig7_point(net, with_system(hw, n, b), p, trace, act)
                write_json(path, {"format": POINTS_FORMAT, "version": POINTS_VERSION,
                                  "config": key, "points": done})
            entry["policies"][p] = done[pid]
            tick(pid)
        e = {p: entry["policies"][p]["energy_uj"] for p in FIG7_POLICIES}
        entry["saving_hs_vs_ws"] = 1.0 - e["hs-min"] / e["ws"]
        entry["saving_optimal_vs_ws"] = 1.0 - e["optimal"] / e["ws"]
        rows.append(entry)
    return rows


def _at(rows: Sequence[dict[str, Any]], s: float, b: float, n: int) -> dict[str, Any] | None:
    for r in rows:
        if (r["input_sparsity"], r["buffer_kib"], r["n_macros"]) == (s, b, n):
            return r
    return None


def fig7_keys(rows: Sequence[dict[str, Any]], grid: Fig7Grid) -> dict[str, Any]:
    """The summary keys of Fig. 7 (docs/reproduce.md)."""
    best_hs = max(rows, key=lambda r: r["saving_hs_vs_ws"])
    best_opt = max(rows, key=lambda r: r["saving_optimal_vs_ws"])
    where = ("input_sparsity", "buffer_kib", "n_macros")
    ref_s = min(grid.sparsities, key=lambda s: abs(s - REFERENCE_SPARSITY))
    ref_b = 256.0 if 256.0 in grid.buffers_kib else grid.buffers_kib[-1]
    at16, at1 = _at(rows, ref_s, ref_b, 16), _at(rows, ref_s, ref_b, 1)
    errors = [abs(pt["estimate_rel_error"]) for r in rows for pt in r["policies"].values()]
    return {
        "max_system_saving_hs_vs_ws": best_hs["saving_hs_vs_ws"],
        "max_system_saving_hs_vs_ws_at": {k: best_hs[k] for k in where},
        "max_system_saving_optimal_vs_ws": best_opt["saving_optimal_vs_ws"],
        "max_system_saving_optimal_vs_ws_at": {k: best_opt[k] for k in where},
        "dram_bits_ws_16_macros": at16["policies"]["ws"]["dram_bits"] if at16 else None,
        "latency_speedup_16_vs_1_macros": (at1["policies"]["hs-min"]["latency_us"]
                                           / at16["policies"]["hs-min"]["latency_us"])
        if at1 and at16 else None,
        "analytic_vs_engine_max_rel_error": max(errors) if errors else None,
        "reference_point": {"input_sparsity": ref_s, "buffer_kib": ref_b},
    }


def plot_fig7(rows: Sequence[dict[str, Any]], grid: Fig7Grid, path: Path,
              save: Callable[[Any, Path], None]) -> None:
    """Fig. 7b (energy vs macros), 7c (energy vs input sparsity), 7d (savings vs macros)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {"ws": ("C0", "o", "-"), "hs-min": ("C1", "s", "--"), "optimal": ("C2", "^", ":")}
    ref_s = min(grid.sparsities, key=lambda s: abs(s - REFERENCE_SPARSITY))
    ref_b = 256.0 if 256.0 in grid.buffers_kib else grid.buffers_kib[-1]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0))
    pts = sorted((r for r in rows if r["input_sparsity"] == ref_s and r["buffer_kib"] == ref_b),
                 key=lambda r: r["n_macros"])
    for p, (c, mk, ls) in styles.items():
        axes[0].plot([r["n_macros"] for r in pts], [r["policies"][p]["energy_uj"] for r in pts],
                     color=c, marker=mk, ls=ls, label=p)
    axes[0].set(xlabel="macros", ylabel="energy per inference (uJ)", xscale="log", yscale="log",
                title=f"Fig. 7b: energy vs macros ({100 * ref_s:.0f}% sparse, "
                      f"{ref_b:g} KiB buffer)")
    n16 = 16 if 16 in grid.macros else grid.macros[-1]
    pts = sorted((r for r in rows if r["n_macros"] == n16 and r["buffer_kib"] == ref_b),
                 key=lambda r: r["input_sparsity"])
    for p, (c, mk, ls) in styles.items():
        axes[1].plot([100 * r["input_sparsity"] for r in pts],
                     [r["policies"][p]["energy_uj"] for r in pts], color=c, marker=mk, ls=ls,
                     label=p)
    axes[1].set(xlabel="input sparsity (%)", ylabel="energy per inference (uJ)", yscale="log",
                title=f"Fig. 7c: energy vs input sparsity ({n16} macros, {ref_b:g} KiB)")
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    for i, s in enumerate(grid.sparsities):
        pts = sorted((r for r in rows if r["input_sparsity"] == s and r["buffer_kib"] == ref_b),
                     key=lambda r: r["n_macros"])
        axes[2].plot([r["n_macros"] for r in pts], [100 * r["saving_hs_vs_ws"] for r in pts],
                     marker=markers[i % len(markers)], ls="-", color=f"C{i % 10}",
                     label=f"HS-min, {100 * s:.0f}% sparse")
    axes[2].set(xlabel="macros", ylabel="energy saved vs WS-only (%)", xscale="log",
                title="Fig. 7d: saving of HS-min vs WS-only")
    for ax in axes:
        ax.title.set_size(9)
        ax.legend(fontsize=7)
    save(fig, path)
    plt.close(fig)
