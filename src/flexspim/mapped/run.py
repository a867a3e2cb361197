"""The steps of a mapped run and the record they produce (module docstring of
:mod:`flexspim.mapped`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexspim.compile import Activity, Mapping, Program, build_program, compile_network
from flexspim.compile.estimate import estimate_counts
from flexspim.energy.system import CostDifference, CostReport, cost_difference, system_cost
from flexspim.errors import MappingError
from flexspim.hw import Hardware, hardware_to_dict
from flexspim.net.network import IntNetwork
from flexspim.sim.result import SimResult
from flexspim.system import SystemRun, run_system
from flexspim.system.trace import Trace, record_trace


@dataclass(frozen=True, eq=False)
class MappedRun:
    """A mapping executed on the system engine, priced, and estimated beside it.

    ``system`` holds the result and the counts of the executed events; ``cost`` prices them;
    ``estimate`` is the analytic estimator's cost of the same mapping for ``activity``, the
    activity the run measured; ``difference`` compares the two.
    """

    network: IntNetwork
    mapping: Mapping
    hardware: Hardware
    program: Program
    system: SystemRun
    activity: Activity
    cost: CostReport
    estimate: CostReport
    difference: CostDifference

    @property
    def result(self) -> SimResult:
        return self.system.result

    @property
    def counts(self) -> Any:
        return self.system.counts

    @property
    def event_maps(self) -> list[np.ndarray]:
        return self.system.event_maps

    def summary(self) -> dict[str, Any]:
        """The scalar figures of the run, per inference (units in the names)."""
        n = max(self.cost.n_samples, 1)
        c = self.counts
        return {
            "policy": self.mapping.policy,
            "energy_uj": self.cost.energy_per_inference_uj,
            "latency_us": self.cost.latency_per_inference_us,
            "dram_bits": (c.total("dram_read_bits") + c.total("dram_write_bits")) / n,
            "buffer_bits": (c.total("buffer_read_bits") + c.total("buffer_write_bits")) / n,
            "transfer_bits": c.total("transfer_bits") / n,
            "components_uj": {k: v / n * 1e-6 for k, v in self.cost.total_pj.items()},
            "estimate_energy_uj": self.estimate.energy_per_inference_uj,
            "estimate_rel_error": self.difference.energy_rel,
            "estimate_latency_rel_error": self.difference.latency_rel,
            "utilisation": [m["utilisation"] for m in self.cost.per_macro],
            "stationary": {lm.name: lm.stationary for lm in self.mapping.layers},
            "stationary_operands": float(self.mapping.resident_operands),
            "stationary_fraction": float(self.mapping.stationary_fraction),
        }


def estimate_cost(net: IntNetwork, mapping: Mapping, hw: Hardware, activity: Activity,
                  program: Program | None = None) -> CostReport:
    """Analytic cost of one inference of ``mapping`` under ``activity``: the engine's prices on
    the estimator's expected counts (no events executed)."""
    return system_cost(estimate_counts(net, mapping, hw, activity, program), hw)


def record(net: IntNetwork, inputs: Any, **options: Any) -> Trace:
    """Simulate ``inputs`` once and keep every layer's events
    (:func:`~flexspim.system.trace.record_trace`)."""
    return record_trace(net, inputs, **options)


def measured_activity(net: IntNetwork, trace: Trace, source: str = "measured") -> Activity:
    """The activity of ``trace``: events, SOPs and spikes per layer, and where they happen."""
    return Activity.from_trace(net, trace.result, trace.inputs, trace.layer_outputs, source)


def _hardware(mapping: Mapping, hardware: Hardware | None) -> Hardware:
    """The run's hardware: the mapping's own unless ``hardware`` is given (a what-if)."""
    if hardware is not None:
        return hardware
    if mapping.hardware is None:
        raise MappingError("hardware-match", f"mapping for network '{mapping.network}' records "
                           f"no hardware; pass the hardware it was compiled for")
    return mapping.hardware


def run_mapped(net: IntNetwork, mapping: Mapping, inputs: Any, *,
               hardware: Hardware | None = None, mode: str = "fast",
               activity: Activity | None = None, labels: Any = None,
               n_time_bins: int | None = None, sensor_size: Sequence[int] | None = None,
               batch_size: int = 64, progress: bool = False,
               return_membranes: bool = False) -> MappedRun:
    """Execute ``mapping`` on ``inputs`` (a :class:`~flexspim.system.trace.Trace` of ``net``,
    binned spikes or event streams), price it and estimate it (module docstring).

    ``hardware`` defaults to the one the mapping records; ``activity`` (default: measured from
    the run) is what the estimate is made for.
    """
    hw = _hardware(mapping, hardware)
    prog = build_program(net, mapping, hw)
    trace = inputs if isinstance(inputs, Trace) else None
    if trace is None and mode == "fast":
        trace = record_trace(net, inputs, n_time_bins=n_time_bins, sensor_size=sensor_size,
                             labels=labels, batch_size=batch_size, progress=progress,
                             return_membranes=return_membranes)
    source = trace if trace is not None else inputs
    sysrun = run_system(net, mapping, hw, source, mode=mode, program=prog, labels=labels,
                        n_time_bins=n_time_bins, sensor_size=sensor_size,
                        batch_size=batch_size, progress=progress,
                        return_membranes=return_membranes)
    if activity is None:
        activity = measured_activity(net, trace, "this run") if trace is not None else \
            Activity.from_sim_result(net, sysrun.result, "this run")
    cost = system_cost(sysrun.counts, hw)
    estimate = estimate_cost(net, mapping, hw, activity, prog)
    return MappedRun(network=net, mapping=mapping, hardware=hw, program=prog, system=sysrun,
                     activity=activity, cost=cost, estimate=estimate,
                     difference=cost_difference(cost, estimate))


def compile_and_run(net: IntNetwork, hardware: Hardware, inputs: Any, *,
                    policy: str = "hs-min", activity: Activity | None = None,
                    mode: str = "fast", labels: Any = None, batch_size: int = 64,
                    progress: bool = False, **compile_options: Any) -> MappedRun:
    """Compile ``net`` onto ``hardware`` with ``policy`` for ``activity`` (default: the one
    measured on ``inputs``) and :func:`run_mapped` the mapping on ``inputs``."""
    trace = inputs if isinstance(inputs, Trace) else record_trace(
        net, inputs, labels=labels, batch_size=batch_size, progress=progress)
    act = activity if activity is not None else measured_activity(net, trace)
    mapping = compile_network(net, hardware, policy=policy, activity=act, **compile_options)
    return run_mapped(net, mapping, trace, hardware=hardware, mode=mode, activity=act,
                      labels=labels, batch_size=batch_size, progress=progress)


def hardware_digest(hw: Hardware) -> str:
    """A short digest of a hardware description (shown when two descriptions differ)."""
    doc = json.dumps(hardware_to_dict(hw), sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:12]
