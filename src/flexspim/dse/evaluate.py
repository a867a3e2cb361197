"""Evaluating one sweep point: build the network and hardware, compile, then cost it.

Two evaluators, chosen by the sweep's ``evaluation`` (registry :data:`EVALUATORS`):

- ``analytic``: the activity comes from the point's input sparsity
  (``Activity.from_sparsity``) and the cost from :func:`flexspim.mapped.estimate_cost`:
  exact for the event counts it is given, no data needed, milliseconds per point.
- ``simulate``: the network runs bit-exactly (fast engine) on a seeded sample of the offline
  digits test split; the mapping is compiled for the measured activity, and the cost comes from
  the counts of the system engine executing the mapping on those samples
  (:func:`flexspim.system.run_system` then :func:`flexspim.energy.system.system_cost`). Gives
  accuracy too.

Both return plain metrics (JSON-ready): ``energy_per_inference_uj`` (uJ),
``latency_per_inference_us`` and ``latency_per_timestep_us`` (us), ``energy_per_inference_pj``,
``stationary_fraction``, ``accuracy`` (None when analytic), ``components_pj`` (pJ per
component) and, for the mixed-precision search, the widths used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from flexspim.compile import Activity, compile_network
from flexspim.dse.networks import build_network, digits_test_data
from flexspim.dse.points import SweepPoint, Task
from flexspim.errors import ConfigError
from flexspim.hw import Hardware
from flexspim.mapped import MappedRun, compile_and_run, estimate_cost
from flexspim.net import IntNetwork


def point_hardware(base: Hardware, point: SweepPoint) -> Hardware:
    """``base`` with the point's macro count, buffer size (KiB) and supply (V) applied.

    Changing the voltage resets the clock to the highest one at that voltage (paper: 75.5 MHz at
    0.9 V ... 157 MHz at 1.1 V) unless the base fixes ``f_sys_mhz``.
    """
    system = base.system
    if point.n_macros is not None:
        system = dataclasses.replace(system, n_macros=int(point.n_macros))
    if point.buffer_kib is not None:
        system = dataclasses.replace(system, buffer_kib=float(point.buffer_kib))
    changes: dict[str, Any] = {"system": system}
    if point.voltage is not None:
        changes["voltage"] = float(point.voltage)
    return dataclasses.replace(base, **changes)


def cost_metrics(cost: Any, mapping: Any) -> dict[str, Any]:
    """The scalar metrics of a CostReport and a Mapping (units in the names); ``components_pj``
    is the energy per inference of each component (pJ), ``phases_pj`` of each phase (init,
    leak, integrate, fire)."""
    n = max(int(getattr(cost, "n_samples", 1)), 1)
    components = {str(k): float(v) / n for k, v in dict(cost.total_pj).items()}
    phases = {str(ph): float(sum(c.values())) / n
              for ph, c in dict(getattr(cost, "per_phase_pj", {})).items()}
    return {
        "phases_pj": phases,
        "energy_per_inference_uj": float(cost.energy_per_inference_uj),
        "latency_per_inference_us": float(cost.latency_per_inference_us),
        "latency_per_timestep_us": float(cost.latency_per_timestep_us),
        "energy_per_inference_pj": float(sum(components.values())),
        "stationary_fraction": float(mapping.stationary_fraction),
        "components_pj": components,
    }


def _widths(net: IntNetwork) -> dict[str, list[int]]:
    layers = net.spiking_layers
    return {"layer_w_bits": [int(x.w_bits) for x in layers],
            "layer_v_bits": [int(x.v_bits) for x in layers]}


def evaluate_analytic(task: Task) -> dict[str, Any]:
    """Compile and cost a point from its input sparsity (module docstring)."""
    point = task.point
    net = build_network(task.network, point.w_bits, point.v_bits)
    hw = point_hardware(task.hardware, point)
    sparsity = 0.95 if point.input_sparsity is None else float(point.input_sparsity)
    activity = Activity.from_sparsity(net, input_sparsity=sparsity,
                                      n_timesteps=task.n_timesteps)
    kwargs: dict[str, Any] = {"activity": activity}
    if point.policy is not None:
        kwargs["policy"] = point.policy
    mapping = compile_network(net, hw, **kwargs)
    cost = estimate_cost(net, mapping, hw, activity)
    out = cost_metrics(cost, mapping)
    out.update(accuracy=None, input_sparsity=sparsity, **_widths(net))
    return out


def simulate_point(task: Task, net: IntNetwork) -> MappedRun:
    """Simulate ``net`` on the task's data sample, compile for the measured activity and run the
    mapping on the system engine (:func:`flexspim.mapped.compile_and_run`)."""
    if task.network.kind == "dvs_gesture":
        raise ConfigError("network dvs_gesture has no offline data to simulate; use "
                          "'evaluation: analytic'")
    spikes, labels = digits_test_data(task.n_timesteps, task.samples, task.seed)
    if tuple(spikes.shape[2:]) != tuple(net.input_shape):
        raise ConfigError(f"network '{net.name}' takes input {tuple(net.input_shape)}, the "
                          f"offline digits data is {tuple(spikes.shape[2:])}; simulate a "
                          f"network trained on it (network: digits)")
    hw = point_hardware(task.hardware, task.point)
    kwargs: dict[str, Any] = {}
    if task.point.policy is not None:
        kwargs["policy"] = task.point.policy
    return compile_and_run(net, hw, spikes, labels=labels, **kwargs)


def evaluate_simulated(task: Task) -> dict[str, Any]:
    """Simulate a point on a sample of the offline data, then cost it (module docstring)."""
    point = task.point
    net = build_network(task.network, point.w_bits, point.v_bits)
    run = simulate_point(task, net)
    result = run.result
    out = cost_metrics(run.cost, run.mapping)
    n_in = float(np.prod(net.input_shape)) * result.n_timesteps * max(result.n_samples, 1)
    measured = 1.0 - float(result.input_events[0].sum()) / n_in if n_in else None
    out.update(accuracy=result.accuracy, input_sparsity=measured,
               overflow_events=int(result.overflow_events.sum()),
               sops_per_inference=float(result.total_sops) / max(result.n_samples, 1),
               **_widths(net))
    return out


#: Registry: the sweep file's ``evaluation`` -> evaluator.
EVALUATORS: dict[str, Callable[[Task], dict[str, Any]]] = {
    "analytic": evaluate_analytic,
    "simulate": evaluate_simulated,
}


def evaluate_task(task: Task) -> dict[str, Any]:
    """Evaluate a task with the evaluator its sweep names."""
    try:
        fn = EVALUATORS[task.evaluation]
    except KeyError:
        raise ConfigError(f"unknown evaluation '{task.evaluation}'; use one of "
                          f"{', '.join(EVALUATORS)}") from None
    return fn(task)
