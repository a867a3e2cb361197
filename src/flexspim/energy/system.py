"""System energy and latency of a mapped run (docs/system-model.md).

:func:`system_cost` prices :class:`~flexspim.energy.counts.WorkCounts` — counted by the system
engine from executed events (:func:`flexspim.system.run_system`) or expected by the analytic
estimator — with the hardware description: energy per layer, component and macro, latency as the
makespan of the layer-first schedule (:func:`flexspim.energy.prices.timeline`), per-macro
utilisation, and the timeline of the first sample. :func:`cost_difference` compares two
reports (an executed run and the analytic estimate of it: :mod:`flexspim.mapped`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flexspim._io import write_json
from flexspim.energy.counts import PHASES, WorkCounts
from flexspim.energy.prices import COMPONENTS, Prices, phase_energy, price
from flexspim.hw import Hardware

COST_FORMAT = "flexspim-cost"
COST_VERSION = 2


@dataclass(frozen=True, eq=False)
class CostReport:
    """Energy (pJ) per layer, component and macro, totals, latency and utilisation of a run.

    ``per_layer_pj[layer][component]`` and ``total_pj[component]`` are summed over all
    ``n_samples`` samples; ``energy_per_inference_uj`` and the latencies are per sample (mean).
    ``per_macro`` holds, per macro, its dynamic energy per component (all samples), its busy
    time per inference and its utilisation (busy time / latency). ``timeline`` is the first
    sample's schedule: ``phase_ns[t][layer][phase]`` and ``busy_ns[t][layer][phase][macro]``.
    ``source`` is ``engine`` (executed events) or ``estimate`` (analytic).
    """

    components: tuple[str, ...]
    per_layer_pj: dict[str, dict[str, float]]
    total_pj: dict[str, float]
    energy_per_inference_uj: float
    latency_per_inference_us: float
    latency_per_timestep_us: float
    n_samples: int = 1
    n_timesteps: int = 1
    policy: str = ""
    per_layer_latency_us: dict[str, float] = field(default_factory=dict)
    #: ``{phase: {component: pJ}}`` summed over samples (init, leak, integrate, fire).
    per_phase_pj: dict[str, dict[str, float]] = field(default_factory=dict)
    per_macro: list[dict[str, Any]] = field(default_factory=list)
    timeline: dict[str, Any] = field(default_factory=dict)
    source: str = "engine"
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def total_energy_pj(self) -> float:
        """All components, all samples (pJ)."""
        return float(sum(self.total_pj.values()))

    @property
    def n_macros(self) -> int:
        return len(self.per_macro)

    def to_dict(self) -> dict[str, Any]:
        return {"format": COST_FORMAT, "version": COST_VERSION, "policy": self.policy,
                "source": self.source, "n_samples": self.n_samples,
                "n_timesteps": self.n_timesteps, "components": list(self.components),
                "per_layer_pj": self.per_layer_pj, "total_pj": self.total_pj,
                "total_energy_pj": self.total_energy_pj,
                "energy_per_inference_uj": self.energy_per_inference_uj,
                "latency_per_inference_us": self.latency_per_inference_us,
                "latency_per_timestep_us": self.latency_per_timestep_us,
                "per_layer_latency_us": self.per_layer_latency_us,
                "per_phase_pj": self.per_phase_pj,
                "per_macro": self.per_macro, "timeline": self.timeline, "counts": self.counts}

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` atomically."""
        write_json(path, self.to_dict())

    def table(self) -> str:
        """A plain-text breakdown: one row per layer, one column per component (nJ/inference),
        then one line per macro (utilisation)."""
        n = max(self.n_samples, 1)
        head = f"{'layer':<10}" + "".join(f"{c:>14}" for c in self.components) + f"{'total':>14}"
        lines = [head + "   (nJ per inference)"]
        for name, comp in self.per_layer_pj.items():
            vals = [comp[c] / n / 1e3 for c in self.components]
            lines.append(f"{name:<10}" + "".join(f"{v:>14.2f}" for v in vals)
                         + f"{sum(vals):>14.2f}")
        tot = [self.total_pj[c] / n / 1e3 for c in self.components]
        lines.append(f"{'total':<10}" + "".join(f"{v:>14.2f}" for v in tot) + f"{sum(tot):>14.2f}")
        lines.append(f"energy per inference {self.energy_per_inference_uj:.3f} uJ, latency "
                     f"{self.latency_per_inference_us:.1f} us per inference, "
                     f"{self.latency_per_timestep_us:.2f} us per timestep ({self.source})")
        if self.per_phase_pj:
            parts = ", ".join(f"{ph} {sum(c.values()) / n / 1e3:.2f}"
                              for ph, c in self.per_phase_pj.items())
            lines.append(f"by phase (nJ per inference): {parts}")
        if self.per_macro:
            util = ", ".join(f"{m['macro']}: {100 * m['utilisation']:.0f}%"
                             for m in self.per_macro[:16])
            more = " ..." if len(self.per_macro) > 16 else ""
            lines.append(f"macro utilisation (busy / latency): {util}{more}")
        return "\n".join(lines)


def _per_macro(counts: WorkCounts, prices: Prices, busy_ns: np.ndarray, latency_ns: float,
               n: int) -> list[dict[str, Any]]:
    per = counts.data.sum(axis=(0, 1, 2, 3))                 # [M, F]
    comp = per @ prices.component_matrix()                   # [M, C]
    busy = busy_ns.sum(axis=(0, 1, 2, 3))                     # [M]
    out = []
    for m in range(counts.n_macros):
        out.append({"macro": m,
                    "energy_pj": {c: float(comp[m, i]) for i, c in enumerate(COMPONENTS)
                                  if c != "leakage"},
                    "busy_us": float(busy[m]) / n * 1e-3,
                    "utilisation": float(busy[m]) / latency_ns if latency_ns > 0 else 0.0,
                    "row_ops": float(per[m, 0]) / n})
    return out


def system_cost(counts: WorkCounts, hw: Hardware) -> CostReport:
    """Price ``counts`` (a mapped run) on ``hw``: energy breakdown, latency, per-macro use."""
    prices = Prices.from_hw(hw)
    energy, tl = price(counts, prices)
    n = max(counts.n_samples, 1)
    latency_ns = float(tl.phase_ns.sum())
    per_layer = {name: {c: float(energy[i, j]) for j, c in enumerate(COMPONENTS)}
                 for i, name in enumerate(counts.layers)}
    total = {c: float(energy[:, j].sum()) for j, c in enumerate(COMPONENTS)}
    layer_ns = tl.phase_ns.sum(axis=(0, 1, 3))
    lat_us = latency_ns / n * 1e-3
    return CostReport(
        components=COMPONENTS, per_layer_pj=per_layer, total_pj=total,
        energy_per_inference_uj=sum(total.values()) / n * 1e-6,
        latency_per_inference_us=lat_us,
        latency_per_timestep_us=lat_us / max(counts.n_timesteps, 1),
        n_samples=counts.n_samples, n_timesteps=counts.n_timesteps, policy=counts.policy,
        per_layer_latency_us={name: float(layer_ns[i]) / n * 1e-3
                              for i, name in enumerate(counts.layers)},
        per_phase_pj={ph: {c: float(v) for c, v in zip(COMPONENTS, row, strict=True)}
                      for ph, row in zip(PHASES, phase_energy(counts, prices, tl,
                                                              counts.n_macros), strict=True)},
        per_macro=_per_macro(counts, prices, tl.macro_busy_ns, latency_ns, n),
        timeline={"layers": list(counts.layers), "phases": list(PHASES),
                  "phase_ns": tl.phase_ns[0].tolist(), "busy_ns": tl.macro_busy_ns[0].tolist()},
        source=counts.source, counts=counts.to_dict())


@dataclass(frozen=True)
class CostDifference:
    """How far an estimate is from an executed run: ``estimate / engine - 1`` of the energy per
    inference, of the latency, and per component (``engine_pj`` and ``estimate_pj`` per
    inference, ``rel``, and ``share``, the component's part of the engine's energy)."""

    energy_rel: float
    latency_rel: float
    components: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"energy_rel": self.energy_rel, "latency_rel": self.latency_rel,
                "components": self.components}


def cost_difference(engine: CostReport, estimate: CostReport) -> CostDifference:
    """The :class:`CostDifference` of ``estimate`` against ``engine``."""
    def rel(a: float, b: float) -> float:
        return b / a - 1.0 if a else (0.0 if not b else float("inf"))

    n_e, n_s = max(engine.n_samples, 1), max(estimate.n_samples, 1)
    total = engine.total_energy_pj / n_e
    comps = {}
    for c in engine.components:
        a, b = engine.total_pj[c] / n_e, estimate.total_pj[c] / n_s
        comps[c] = {"engine_pj": a, "estimate_pj": b, "rel": rel(a, b),
                    "share": a / total if total else 0.0}
    return CostDifference(
        energy_rel=rel(engine.energy_per_inference_uj, estimate.energy_per_inference_uj),
        latency_rel=rel(engine.latency_per_inference_us, estimate.latency_per_inference_us),
        components=comps)
