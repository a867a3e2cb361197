"""System energy and latency of a mapped run (DESIGN.md §4 ``energy``; docs/system-model.md).

:func:`system_cost` prices :class:`~flexspim.compile.SystemCounts` (from a simulation via
:func:`flexspim.sim.system.system_counts`) with the hardware description: energy per layer and
component — macro compute (row operations and threshold compares), array I/O (row reads/writes
of streamed operands), buffer, DRAM, event routing, leakage — and latency per timestep and per
inference. :func:`estimate_cost` does the same from an expected :class:`~flexspim.compile.Activity`
without simulating (the same model, SOPs from each layer's mean fan-out).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from flexspim._io import write_json
from flexspim.compile.activity import Activity
from flexspim.compile.mapping import Mapping
from flexspim.compile.model import COMPONENTS, Prices, SystemCounts, activity_totals, mapping_counts
from flexspim.hw import Hardware
from flexspim.net.network import IntNetwork

COST_FORMAT = "flexspim-cost"
COST_VERSION = 1


@dataclass(frozen=True, eq=False)
class CostReport:
    """Energy (pJ) per layer and component, totals, and latency of a mapped run.

    ``per_layer_pj[layer][component]`` and ``total_pj[component]`` are summed over all
    ``n_samples`` samples; ``energy_per_inference_uj`` and the latencies are per sample.
    Latency: a timestep runs its layers one after the other, each layer's row operations, array
    row accesses, buffer and DRAM transfers in sequence (docs/system-model.md §Latency).
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

    @property
    def total_energy_pj(self) -> float:
        """All components, all samples (pJ)."""
        return float(sum(self.total_pj.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"format": COST_FORMAT, "version": COST_VERSION, "policy": self.policy,
                "n_samples": self.n_samples, "n_timesteps": self.n_timesteps,
                "components": list(self.components), "per_layer_pj": self.per_layer_pj,
                "total_pj": self.total_pj, "total_energy_pj": self.total_energy_pj,
                "energy_per_inference_uj": self.energy_per_inference_uj,
                "latency_per_inference_us": self.latency_per_inference_us,
                "latency_per_timestep_us": self.latency_per_timestep_us,
                "per_layer_latency_us": self.per_layer_latency_us}

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` atomically."""
        write_json(path, self.to_dict())

    def table(self) -> str:
        """A plain-text breakdown: one row per layer, one column per component (nJ/inference)."""
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
                     f"{self.latency_per_timestep_us:.2f} us per timestep")
        return "\n".join(lines)


def system_cost(net: IntNetwork, mapping: Mapping, hw: Hardware,
                counts: SystemCounts) -> CostReport:
    """Price ``counts`` (a mapped run of ``net``) on ``hw``: energy breakdown and latency."""
    prices = Prices.from_hw(hw)
    per_layer: dict[str, dict[str, float]] = {}
    per_layer_lat: dict[str, float] = {}
    total = dict.fromkeys(COMPONENTS, 0.0)
    time_ns = 0.0
    n = max(counts.n_samples, 1)
    for lc in counts.layers:
        e = prices.energy_pj(lc)
        per_layer[lc.layer] = e
        t = prices.time_ns(lc)
        per_layer_lat[lc.layer] = t / n * 1e-3
        time_ns += t
        for c in COMPONENTS:
            total[c] += e[c]
    lat_us = time_ns / n * 1e-3
    return CostReport(
        components=COMPONENTS, per_layer_pj=per_layer, total_pj=total,
        energy_per_inference_uj=sum(total.values()) / n * 1e-6,
        latency_per_inference_us=lat_us,
        latency_per_timestep_us=lat_us / max(counts.n_timesteps, 1),
        n_samples=counts.n_samples, n_timesteps=counts.n_timesteps, policy=mapping.policy,
        per_layer_latency_us=per_layer_lat)


def estimate_counts(net: IntNetwork, mapping: Mapping, hw: Hardware,
                    activity: Activity) -> SystemCounts:
    """Expected counts of one inference under ``activity`` (no simulation)."""
    activity.check(net)
    outs = [activity.output_events(i) for i in range(len(net.layers))]
    totals = activity_totals(net, activity.input_events, outs)
    return mapping_counts(net, mapping, hw, totals, 1, activity.n_timesteps)


def estimate_cost(net: IntNetwork, mapping: Mapping, hw: Hardware,
                  activity: Activity) -> CostReport:
    """Analytic cost of one inference under ``activity``: the model of :func:`system_cost`
    applied to expected counts (SOPs = input events x each layer's mean fan-out)."""
    return system_cost(net, mapping, hw, estimate_counts(net, mapping, hw, activity))
