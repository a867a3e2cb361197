"""The points of the figures: what one point computes, its key, and running many on Dask.

Every figure is a set of independent points (:class:`Point`): calibrate a network, count the
stationary operands of a mapping (Fig. 4), or compile a mapping and execute it on the system
engine with the analytic estimate beside it (Fig. 7 and the workload map). A point is a pure
function of its definition, keyed by the SHA-256 of everything that defines it
(:func:`point_key`), and evaluated through the sweep machinery (:func:`flexspim.dse.
evaluate_tasks`: a Dask LocalCluster by default or a scheduler's address, results in a SQLite
store as each completes), so an interrupted run resumes with no point lost or computed twice,
and figures that share a point (the workload map's paper-scale row and Fig. 7) compute it once.

Workers build what a point needs themselves (the network from its shape and calibrated
thresholds, the activity trace from the seeded inputs) and keep the last few in memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flexspim.compile import Activity, compile_network
from flexspim.compile.estimate import layer_loads
from flexspim.compile.geometry import network_geometry
from flexspim.dse import evaluate_tasks, open_store
from flexspim.errors import ConfigError
from flexspim.hw import Hardware, hardware_to_dict
from flexspim.mapped import compile_and_run, estimate_cost, measured_activity, record
from flexspim.net.network import IntNetwork
from flexspim.reproduce.rules import rule_set
from flexspim.reproduce.workloads import (
    CALIBRATION,
    N_TIMESTEPS,
    SAMPLES,
    NetSpec,
    calibrate,
    input_seed,
    random_inputs,
)
from flexspim.system.trace import Trace

#: Part of every key: bump when what a point computes changes, so old results are not reused.
POINTS_VERSION = 3
#: What a point does: calibrate a network's thresholds; compile and count stationary operands
#: (Fig. 4); compile, execute on the system engine and estimate (Fig. 7, workload map).
KINDS = ("calibrate", "fig4", "run")


@dataclass(frozen=True)
class Point:
    """One point: ``kind`` (:data:`KINDS`) on ``network`` with its calibrated ``thresholds``,
    ``n_macros`` macros, a ``buffer_kib`` KiB buffer, inputs of ``input_sparsity``, the
    stationarity ``policy``, the controller ``rules`` (:mod:`flexspim.reproduce.rules`), and
    for Fig. 4 ``whole_layers`` (a layer resident whole or not at all)."""

    kind: str
    network: NetSpec
    thresholds: tuple[int, ...] = ()
    n_macros: int = 2
    buffer_kib: float = 256.0
    input_sparsity: float = 0.95
    policy: str = "ws"
    rules: str = "paper"
    whole_layers: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"point kind '{self.kind}': use one of {', '.join(KINDS)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (the network as a dict, thresholds as a list)."""
        d = dataclasses.asdict(self)
        d["network"] = self.network.to_dict()
        d["thresholds"] = list(self.thresholds)
        return d


@dataclass(frozen=True)
class PointTask:
    """What a worker needs for one point (plain, picklable): its key, the point and the base
    hardware (the point's macros, buffer and rules are applied on the worker)."""

    key: str
    point: Point
    hardware: Hardware


def point_key(point: Point, hardware: Hardware) -> str:
    """The store key of a point: a hex SHA-256 (32 digits) of the point, the hardware (for
    points that run on it), the rule set's settings, the workload settings and
    :data:`POINTS_VERSION`."""
    doc: dict[str, Any] = {"point": point.to_dict(), "version": POINTS_VERSION,
                           "calibration": CALIBRATION, "T": N_TIMESTEPS}
    if point.kind != "calibrate":
        doc.update(hardware=hardware_to_dict(hardware), samples=SAMPLES,
                   input_seed=input_seed(point.input_sparsity),
                   controller=rule_set(point.rules).controller())
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def make_task(point: Point, hardware: Hardware) -> PointTask:
    return PointTask(point_key(point, hardware), point, hardware)


def with_system(hw: Hardware, n_macros: int, buffer_kib: float | None = None) -> Hardware:
    """``hw`` with ``n_macros`` macros (and a buffer of ``buffer_kib`` KiB)."""
    changes: dict[str, Any] = {"n_macros": int(n_macros)}
    if buffer_kib is not None:
        changes["buffer_kib"] = float(buffer_kib)
    return hw.with_(system=dataclasses.replace(hw.system, **changes))


def point_hardware(task: PointTask) -> Hardware:
    """The hardware a point runs on: the base with its macros, buffer and rule set."""
    p = task.point
    return rule_set(p.rules).apply(with_system(task.hardware, p.n_macros, p.buffer_kib))


# ----------------------------------------------------------------------------- on a worker

@lru_cache(maxsize=8)
def network(spec: NetSpec, thresholds: tuple[int, ...]) -> IntNetwork:
    """The network of a point (kept per worker)."""
    return spec.build(list(thresholds) or None)


@lru_cache(maxsize=4)
def workload(spec: NetSpec, thresholds: tuple[int, ...], sparsity: float
             ) -> tuple[IntNetwork, Trace, Activity]:
    """The network, its activity trace on the seeded inputs of ``sparsity`` (simulated once,
    replayed on every mapping) and the activity measured on it (kept per worker: the activity
    keeps the reuse profiles the compiler computes)."""
    net = network(spec, thresholds)
    trace = record(net, random_inputs(net, sparsity, SAMPLES, input_seed(sparsity)))
    return net, trace, measured_activity(net, trace)


def sop_weighted_fraction(net: IntNetwork, mapping: Any, activity: Activity) -> float:
    """The share of synaptic operations whose stationary operand is resident: each layer's
    resident fraction weighted by its SOPs in ``activity``."""
    sops = {g.index: load.sops for g, load in zip(network_geometry(net),
                                                  layer_loads(net, activity), strict=True)}
    total = sum(sops.values())
    if total <= 0:
        return 0.0
    return sum(sops[lm.index] * lm.resident_fraction for lm in mapping.layers) / total


def mapping_counts(net: IntNetwork, mapping: Any, activity: Activity) -> dict[str, Any]:
    """Stationary operands of a mapping (paper Fig. 4 counts operands): resident, in layers
    held whole, in unpadded bits, and the SOP-weighted resident fraction; per layer too."""
    sops = {g.index: load.sops for g, load in zip(network_geometry(net),
                                                  layer_loads(net, activity), strict=True)}
    return {
        "operands_partial": int(mapping.resident_operands),
        "operands_whole_layers": int(mapping.whole_layer_operands),
        "whole_layers": [lm.name for lm in mapping.layers if lm.resident_groups == lm.groups],
        "stationary_bits": int(mapping.resident_bits),
        "stationary_fraction_bits": float(mapping.stationary_fraction),
        "sop_weighted_resident_fraction": sop_weighted_fraction(net, mapping, activity),
        "per_layer": {lm.name: {
            "stationary": lm.stationary, "operands": int(lm.stationary_operands),
            "resident_operands": int(lm.resident_operands), "resident_bits": int(lm.resident_bits),
            "resident_fraction": float(lm.resident_fraction), "sops": float(sops[lm.index]),
            "whole": lm.resident_groups == lm.groups,
            "shape": [lm.membrane_shape[0] if lm.stationary == "membranes" else
                      lm.weight_shape[0], lm.cols], "pack": lm.pack}
            for lm in mapping.layers},
    }


def evaluate_calibrate(task: PointTask) -> dict[str, Any]:
    thresholds, densities = calibrate(task.point.network)
    return {"thresholds": thresholds, "hidden_densities": densities}


def evaluate_fig4(task: PointTask) -> dict[str, Any]:
    """Compile (no execution) and count the stationary operands; the estimated energy for the
    activity measured at the point's input sparsity."""
    p = task.point
    net, _, act = workload(p.network, p.thresholds, p.input_sparsity)
    hw = point_hardware(task)
    mapping = compile_network(net, hw, policy=p.policy, activity=act,
                              whole_layers=p.whole_layers)
    cost = estimate_cost(net, mapping, hw, act)
    return {**mapping_counts(net, mapping, act),
            "estimated_energy_uj": cost.energy_per_inference_uj}


def evaluate_run(task: PointTask) -> dict[str, Any]:
    """Compile for the measured activity, execute on the system engine, price, and estimate
    beside it (:func:`flexspim.mapped.compile_and_run`)."""
    p = task.point
    net, trace, act = workload(p.network, p.thresholds, p.input_sparsity)
    run = compile_and_run(net, point_hardware(task), trace, policy=p.policy, activity=act)
    counts = mapping_counts(net, run.mapping, act)
    counts.pop("per_layer")
    return {**run.summary(), **counts}


#: Registry: a point's kind -> the function that evaluates it on a worker.
EVALUATORS: dict[str, Callable[[PointTask], dict[str, Any]]] = {
    "calibrate": evaluate_calibrate, "fig4": evaluate_fig4, "run": evaluate_run,
}


def evaluate(task: PointTask) -> dict[str, Any]:
    """Evaluate one point (on a worker); ``seconds`` is its wall time there (the network's
    trace included when this worker recorded it for this point)."""
    start = time.perf_counter()
    out = EVALUATORS[task.point.kind](task)
    return {**out, "seconds": time.perf_counter() - start}


# ----------------------------------------------------------------------------- many points

@dataclass(frozen=True)
class Results:
    """Stored results by key: ``metrics`` of the points that succeeded, ``errors`` (one line
    each) of those that could not be mapped; ``computed`` now, the rest found in the store."""

    metrics: dict[str, dict[str, Any]]
    errors: dict[str, str]
    computed: int

    def get(self, task: PointTask) -> dict[str, Any] | None:
        return self.metrics.get(task.key)


def run_points(tasks: Sequence[PointTask], store_path: Any, client_factory: Callable[[], Any],
               *, progress: bool, desc: str, evaluator: Callable[[PointTask], dict[str, Any]]
               = evaluate) -> Results:
    """Evaluate the tasks the store at ``store_path`` does not hold yet (on the client that
    ``client_factory`` opens, only if there is work) and return every task's result."""
    with open_store(store_path) as store:
        missing = [t for t in tasks if t.key not in store]
        computed = 0
        if missing:
            client = client_factory()
            _, computed = evaluate_tasks(tasks, store, "reproduce", client,  # type: ignore
                                         evaluator, progress=progress, desc=desc)
        metrics, errors = {}, {}
        for t in tasks:
            r = store.get(t.key)
            if r is None:
                continue
            if r.status == "ok":
                metrics[t.key] = r.metrics
            else:
                errors[t.key] = r.error or "failed"
    return Results(metrics, errors, computed)
