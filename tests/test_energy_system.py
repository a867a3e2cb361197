"""Prices, timelines and cost reports of system-engine runs (flexspim.energy.counts, .prices,
.system): energy by hand, latency as the sum of phase makespans, leakage over the makespan, more
macros never slower when compute-bound, and the counts and cost documents through the run
document and the report."""

from __future__ import annotations

import json

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
    two_layer,
    with_controller,
)

from flexspim.compile import Mapping, compile_network
from flexspim.energy.counts import COUNT_FIELDS, PHASES, WorkCounts
from flexspim.energy.prices import COMPONENTS, Prices, timeline
from flexspim.energy.system import cost_difference, system_cost
from flexspim.report import load_run, make_run_document, render_report, save_run_document
from flexspim.system import run_system


def test_cost_report_by_hand() -> None:
    """OS on macro 1 of 2: 3 row operations, 8 row accesses, 36 buffer bits, 3 sensor
    deliveries (counts checked in test_system_engine); every component and the latency by hand."""
    hw = hw_with()
    net = tiny()
    m = hand_mapping(net, hw, hand_layer(net, 0, hw, "membranes", 8, tiles=[(1, 2, 1)],
                                         streamed_buffer=4))
    rep = system_cost(run_system(net, m, hw, tiny_inputs()).counts, hw)
    p = Prices.from_hw(hw)
    assert rep.components == COMPONENTS
    assert rep.total_pj["macro_compute"] == pytest.approx(
        3 * p.row_pj + 72 * p.active_col_pj + 696 * p.standby_col_pj
        + 2 * 256 * p.compare_bit_pj)
    assert rep.total_pj["array_io"] == pytest.approx(6 * 256 * p.write_bit_pj)
    assert rep.total_pj["buffer"] == pytest.approx(36 * hw.system_energy.buffer_pj_per_bit)
    assert rep.total_pj["dram"] == 0.0
    assert rep.total_pj["routing"] == pytest.approx(3 * hw.system_energy.routing_pj_per_event)
    # one macro works, so every phase lasts its busy time: row operations, 8 row accesses
    # (3 weight loads, 2 compares, 2 resets, 1 initialisation) and 36 bits through the buffer
    latency_ns = 3 * p.row_op_ns + 8 * p.cycle_ns + 36 / p.buffer_bits_per_cycle * p.cycle_ns
    assert rep.latency_per_inference_us == pytest.approx(latency_ns * 1e-3)
    assert rep.latency_per_timestep_us == pytest.approx(rep.latency_per_inference_us / 2)
    assert rep.total_pj["leakage"] == pytest.approx(
        (2 * p.macro_leakage_uw + p.buffer_leakage_uw) * latency_ns * 1e-3)
    for comp in COMPONENTS:
        assert rep.total_pj[comp] == pytest.approx(sum(d[comp] for d in
                                                       rep.per_layer_pj.values()))
    assert rep.energy_per_inference_uj == pytest.approx(sum(rep.total_pj.values()) * 1e-6)
    assert [pm["row_ops"] for pm in rep.per_macro] == [0.0, 3.0]
    assert rep.per_macro[0]["utilisation"] == 0.0
    assert rep.per_macro[1]["utilisation"] == pytest.approx(1.0)
    assert "total" in rep.table() and rep.to_dict()["format"] == "flexspim-cost"


def test_latency_is_the_sum_of_phase_makespans() -> None:
    """Each phase lasts as long as its slowest macro or the shared buffer/DRAM traffic; phases
    run one after the other; a macro's utilisation is its busy time over that latency."""
    net = conv_net()
    hw = hw_with(3, rows=48, cols=64, buffer_kib=0.5)
    m = compile_network(net, hw, policy="hs-min")
    counts = run_system(net, m, hw, conv_inputs(n=2)).counts
    p = Prices.from_hw(hw)
    tl = timeline(counts, p)
    busy = p.busy_ns(counts.data)                               # [N, T, L, P, M]
    shared = np.maximum(p.buffer_ns(counts.data).sum(axis=-1), p.dram_ns(counts.data).sum(axis=-1))
    assert np.allclose(tl.phase_ns, np.maximum(busy.max(axis=-1), shared))
    assert (tl.phase_ns >= busy.max(axis=-1) - 1e-9).all()
    # with several macros busy at once the makespan is shorter than their sum
    assert tl.phase_ns.sum() < busy.sum()
    rep = system_cost(counts, hw)
    assert rep.latency_per_inference_us == pytest.approx(tl.phase_ns.sum() / 2 * 1e-3)
    assert np.allclose(tl.latency_ns, tl.phase_ns.sum(axis=(1, 2, 3)))
    for m_, pm in enumerate(rep.per_macro):
        assert pm["utilisation"] == pytest.approx(busy[..., m_].sum() / tl.phase_ns.sum())
        assert 0.0 <= pm["utilisation"] <= 1.0
    # the first inference's timeline in the report is that of sample 0
    assert np.allclose(rep.timeline["phase_ns"], tl.phase_ns[0])
    assert np.allclose(rep.timeline["busy_ns"], busy[0])
    assert rep.per_layer_latency_us == pytest.approx(
        {name: tl.phase_ns[:, :, i].sum() / 2 * 1e-3 for i, name in enumerate(counts.layers)})


def test_leakage_is_macros_times_makespan_times_power() -> None:
    net, x = conv_net(), conv_inputs(n=2)
    for n_macros in (1, 2, 4):
        hw = hw_with(n_macros, buffer_kib=64.0)
        rep = system_cost(run_system(net, compile_network(net, hw, policy="os"), hw, x).counts,
                          hw)
        p = Prices.from_hw(hw)
        assert p.buffer_leakage_uw == pytest.approx(
            64.0 * hw.system_energy.buffer_leakage_uw_per_kib)
        per_inference_pj = (n_macros * p.macro_leakage_uw + p.buffer_leakage_uw) \
            * rep.latency_per_inference_us          # uW x us = pJ
        assert rep.total_pj["leakage"] / rep.n_samples == pytest.approx(per_inference_pj)
        # spread over the layers by their time
        share = {k: v / rep.latency_per_inference_us for k, v in rep.per_layer_latency_us.items()}
        for layer, comp in rep.per_layer_pj.items():
            assert comp["leakage"] == pytest.approx(rep.total_pj["leakage"] * share[layer])


@pytest.mark.parametrize("density, order", [(0.05, "arrival"), (0.3, "arrival"),
                                            (0.3, "target")])
def test_more_macros_never_make_a_compute_bound_run_slower(density: float, order: str) -> None:
    """All membranes resident (OS), no DRAM, balanced placement: 1 to 4 macros."""

    net, x = conv_net(), conv_inputs(n=3, t=5, density=density)
    latency = []
    for n in range(1, 5):
        hw = with_controller(hw_with(n, dram=False), event_order=order)
        m = compile_network(net, hw, policy="os", placement="balanced")
        assert all(lm.resident_groups == lm.groups for lm in m.layers)
        rep = system_cost(run_system(net, m, hw, x).counts, hw)
        assert rep.total_pj["dram"] == 0.0
        latency.append(rep.latency_per_inference_us)
    assert all(b <= a * (1 + 1e-12) for a, b in zip(latency, latency[1:], strict=False)), latency
    assert latency[-1] < 0.7 * latency[0], latency


def test_counts_and_cost_documents_through_the_run_document_and_report(tmp_path) -> None:
    net, x = two_layer(), tiny_inputs()
    hw = hw_with(2)
    m = compile_network(net, hw, policy="hs-min", placement="first-fit")
    run = run_system(net, m, hw, x, labels=[1])
    counts = run.counts
    d = counts.to_dict()
    # the summary of WorkCounts: totals equal every breakdown summed
    for key in ("per_macro", "per_timestep"):
        for f in COUNT_FIELDS:
            assert sum(e[f] for e in d[key]) == pytest.approx(d["totals"][f])
    for f in COUNT_FIELDS:
        assert sum(v[f] for v in d["per_layer"].values()) == pytest.approx(d["totals"][f])
    assert (d["n_samples"], d["n_timesteps"], d["n_macros"], d["layers"]) == \
        (1, 2, 2, ["a", "b"])
    assert d["source"] == "engine" and d["policy"] == "hs-min"
    cost = system_cost(counts, hw)
    save_run_document(make_run_document(run.result, mapping=m, cost=cost, hardware=hw),
                      tmp_path / "run.json")
    back = load_run(tmp_path / "run.json")
    assert back.cost == json.loads(json.dumps(cost.to_dict()))
    assert back.cost["counts"] == json.loads(json.dumps(d))
    assert len(back.cost["per_macro"]) == 2 and back.cost["timeline"]["phases"] == list(PHASES)
    assert back.mapping.to_dict() == m.to_dict()
    assert Mapping.from_dict(json.loads(json.dumps(m.to_dict()))).to_dict() == m.to_dict()
    assert cost_difference(cost, cost).energy_rel == 0.0
    html = render_report(back)
    macros = html[html.index('id="macros"'):html.index('id="occupancy"')]
    assert macros.count("data:image/png;base64") == 2      # timeline and utilisation
    assert f"{100 * cost.per_macro[0]['utilisation']:.1f} %" in macros
    assert 'class="missing"' not in macros


def test_work_counts_refuse_a_wrong_shape() -> None:
    with pytest.raises(ValueError, match="not \\[samples, timesteps, 2 layers"):
        WorkCounts(np.zeros((1, 1, 3, len(PHASES), 1, len(COUNT_FIELDS))), ("a", "b"))
