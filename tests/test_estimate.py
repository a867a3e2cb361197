"""The analytic estimator (flexspim.compile.estimate) against the system engine: exact where its
assumptions hold, the compiler's objective equal to it, and within 2% of the executed run in
energy per inference on the demo (shipped digits model, measured activity) and on the
paper-scale preset (calibrated to 10% hidden density, 95% input sparsity)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from system_cases import (
    conv_inputs,
    conv_net,
    hand_layer,
    hand_mapping,
    hw_with,
    tiny,
    tiny_inputs,
    with_controller,
)

from flexspim.compile import (
    Activity,
    compile_network,
    estimate_counts,
    layer_loads,
    layer_totals,
    network_geometry,
)
from flexspim.compile.geometry import Option, option_geometry
from flexspim.energy.counts import COUNT_FIELDS, FIELD_INDEX
from flexspim.energy.system import cost_difference, system_cost
from flexspim.hw import default_hardware
from flexspim.mapped import estimate_cost
from flexspim.sim import simulate
from flexspim.system import run_system

#: The estimator's promise on real workloads (docs/system-model.md).
TOLERANCE = 0.02


def test_estimate_equals_the_engine_where_its_assumptions_hold() -> None:
    """One macro, weights stationary and resident, no scratch reuse, the same events in every
    timestep, every tap valid (a linear layer): every count, the energy and the latency agree."""
    net, x = tiny(), tiny_inputs((1, 2))           # 2 events at t0 and at t1
    hw = with_controller(hw_with(1), scratch_reuse=False)
    m = hand_mapping(net, hw, hand_layer(net, 0, hw, "weights", 8, tiles=[(0, 2, 4)]))
    run = run_system(net, m, hw, x)
    est = estimate_counts(net, m, hw, Activity.from_sim_result(net, run.result))
    assert est.source == "estimate" and est.data.shape == run.counts.data.shape
    assert est.totals() == pytest.approx(run.counts.totals(), rel=1e-12, abs=1e-12)
    assert run.counts.total("dram_write_bits") > 0 and run.counts.total("routed_events") == 4
    engine, estimate = system_cost(run.counts, hw), system_cost(est, hw)
    d = cost_difference(engine, estimate)
    assert d.energy_rel == pytest.approx(0.0, abs=1e-12)
    assert d["latency_rel"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("policy", ["ws", "os", "hs-min"])
def test_compiler_objective_is_the_estimators_counts(policy: str) -> None:
    """On one macro, the per-layer totals the compiler's search minimises
    (:func:`layer_totals`) are the estimator's counts of the compiled mapping, routing aside."""
    net, hw = conv_net(), hw_with(1, buffer_kib=0.5)
    act = Activity.from_sim_result(net, simulate(net, conv_inputs()))
    m = compile_network(net, hw, policy=policy, activity=act)
    est = estimate_counts(net, m, hw, act)
    for k, (lm, geo, load) in enumerate(zip(m.layers, network_geometry(net),
                                            layer_loads(net, act), strict=True)):
        og = option_geometry(geo, Option(lm.stationary, lm.cols, lm.pack), hw)
        objective = layer_totals(geo, og, load, hw, lm.resident_groups, lm.resident_bits,
                                 lm.streamed_buffer_bits, lm.spilled_buffer_bits)
        counted = est.data[0, :, k].sum(axis=(0, 2))               # [phases, fields]
        counted[:, FIELD_INDEX["routed_events"]] = 0.0
        assert np.allclose(objective, counted, rtol=1e-9), lm.name


@pytest.fixture(scope="module")
def digits():
    from flexspim.demo import load_test_split
    from flexspim.dse.networks import shipped_model_path, shipped_time_bins
    from flexspim.net import load_network

    net = load_network(shipped_model_path())
    x, y = load_test_split(shipped_time_bins())
    return net, x, y, simulate(net, x, labels=y)


@pytest.mark.parametrize("policy", ["hs-min", "optimal"])
def test_estimate_within_two_percent_on_the_demo(digits, policy: str) -> None:
    """The demo's setting: the shipped model on the whole digits test split, compiled for the
    activity the simulator measured, on the default 2-macro hardware."""
    net, x, y, sim = digits
    hw = default_hardware()
    act = Activity.from_sim_result(net, sim)
    m = compile_network(net, hw, policy=policy, activity=act)
    run = run_system(net, m, hw, x, labels=y)
    assert run.result.accuracy == sim.accuracy
    engine, estimate = system_cost(run.counts, hw), estimate_cost(net, m, hw, act)
    d = cost_difference(engine, estimate)
    assert abs(d.energy_rel) <= TOLERANCE, d
    # the largest components are themselves close
    for comp, v in d["components"].items():
        if v["share"] > 0.2:
            assert abs(v["rel"]) <= TOLERANCE, (comp, v)


@pytest.fixture(scope="module")
def paper_scale():
    """The paper-scale preset, thresholds calibrated to 10% hidden density on one random
    sample of 20 timesteps at 95% input sparsity."""
    from flexspim.net.presets import paper_scale_scnn
    from flexspim.sim.calibrate import calibrate_thresholds

    x = (np.random.default_rng(0).random((20, 1, 2, 128, 128)) < 0.05).astype(np.int64)
    net, densities = calibrate_thresholds(paper_scale_scnn(), x, 0.10)
    assert all(0.09 <= d <= 0.10 for d in densities), densities
    sim = simulate(net, x)
    return net, x, sim, Activity.from_sim_result(net, sim)


@pytest.mark.parametrize("n_macros", [1, 16])
def test_estimate_within_two_percent_on_the_paper_scale_preset(paper_scale, n_macros: int
                                                               ) -> None:
    net, x, sim, act = paper_scale
    hw = default_hardware()
    hw = hw.with_(system=dataclasses.replace(hw.system, n_macros=n_macros))
    for policy in ("ws", "hs-min", "optimal"):
        m = compile_network(net, hw, policy=policy, activity=act)
        run = run_system(net, m, hw, x)
        assert np.array_equal(run.result.output_counts, sim.output_counts)
        engine, estimate = system_cost(run.counts, hw), estimate_cost(net, m, hw, act)
        d = cost_difference(engine, estimate)
        assert abs(d.energy_rel) <= TOLERANCE, (policy, d)
        assert run.counts.total("sops") == pytest.approx(estimate.counts["totals"]["sops"])
        if policy == "ws":    # 2 x 128 x 128 inputs: operands far beyond arrays and buffer
            assert engine.total_pj["dram"] > 0
    assert set(COUNT_FIELDS) <= set(estimate.counts["totals"])
