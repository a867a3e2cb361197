"""Mapping-aware counts (sim.system) and system energy/latency (energy.system)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from flexspim.sim.system import system_counts

from flexspim.compile import (
    COMPONENTS,
    POLICIES,
    Activity,
    LayerMapping,
    Mapping,
    Prices,
    Tile,
    compile_network,
)
from flexspim.energy.system import estimate_cost, system_cost
from flexspim.errors import MappingError
from flexspim.hw import default_hardware
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear
from flexspim.sim import simulate


def _tiny() -> IntNetwork:
    """4 inputs -> 3 IF neurons, all weights 1, threshold 1, subtract reset."""
    return IntNetwork(input_shape=(4,), layers=(
        Linear(name="fc", weight=np.ones((3, 4), dtype=np.int64), w_bits=4, v_bits=8,
               threshold=1),), name="tiny")


def _inputs() -> np.ndarray:
    x = np.zeros((2, 1, 4), dtype=np.int64)  # [T, N, 4]
    x[0, 0, :2] = 1   # t0: 2 events -> every membrane 2 -> spike, membrane 1
    x[1, 0, 3] = 1    # t1: 1 event  -> every membrane 2 -> spike again
    return x


def _mapping(stationary: str, resident: int, groups: int, streamed_buf: float,
             spilled_buf: float, spilled: float, streamed: float) -> Mapping:
    tiles = (Tile(0, 2, 2 + resident, 0, 256, resident),) if resident else ()
    lm = LayerMapping(name="fc", index=0, stationary=stationary, cols=8, weight_shape=(1, 8),
                      membrane_shape=(1, 8), lanes=32, n_weights=12, n_neurons=3, w_bits=4,
                      v_bits=8, groups=groups, rows_per_group=1, resident_groups=resident,
                      tiles=tiles, home_macro=0, streamed_buffer_bits=streamed_buf,
                      streamed_dram_bits=streamed - streamed_buf,
                      spilled_buffer_bits=spilled_buf, spilled_dram_bits=spilled - spilled_buf)
    return Mapping(policy="hand", n_macros=2, rows=512, cols=256, scratch_rows=2,
                   layers=(lm,), network="tiny")


@pytest.fixture(scope="module")
def tiny_result():
    res = simulate(_tiny(), _inputs())
    assert int(res.sops.sum()) == 9 and int(res.output_spikes.sum()) == 6
    return res


def test_counts_output_stationary_by_hand(tiny_result) -> None:
    hw = default_hardware()
    # OS: membranes (3 x 8 bits) in one row group, resident; weights (48 bits) streamed
    c = system_counts(_tiny(), _mapping("membranes", 1, 1, 48.0, 0.0, 0.0, 48.0), hw,
                      tiny_result)
    (lc,) = c.layers
    assert (lc.sops, lc.input_events, lc.output_events) == (9, 3, 6)
    assert lc.row_ops == 3                    # 3 events x ceil(3/32) groups x 1 row
    assert lc.active_col_ops == 9 * 8         # 9 lanes of 8 columns
    assert lc.standby_col_ops == 3 * 256 - 72
    assert lc.compares == 3 * 2 and lc.compare_bits == 48
    assert lc.array_read_bits == 0
    assert lc.array_write_bits == 9 * 4 + 6 * 8 + 3 * 8   # weights in, resets, init
    assert (lc.buffer_read_bits, lc.buffer_write_bits) == (9 * 4, 0)
    assert lc.dram_read_bits == 0 and lc.routed_events == 0
    assert c.macros[0].row_ops == 3 and c.macros[1].row_ops == 0


def test_counts_weight_stationary_half_spilled_by_hand(tiny_result) -> None:
    hw = default_hardware()
    # WS: 4 row groups of weights, 2 resident; membranes (24 bits) half in DRAM
    m = _mapping("weights", 2, 4, 12.0, 24.0, 24.0, 24.0)
    (lc,) = system_counts(_tiny(), m, hw, tiny_result).layers
    assert lc.array_read_bits == 9 * 8
    assert lc.array_write_bits == 9 * 8 + 0.5 * 9 * 4
    mem_read, mem_write = 9 * 8 + 6 * 8, 9 * 8 + 6 * 8 + 3 * 8
    assert lc.buffer_read_bits == pytest.approx(mem_read / 2 + 0.5 * 9 * 4)
    assert lc.buffer_write_bits == pytest.approx(mem_write / 2)
    assert lc.dram_read_bits == pytest.approx(mem_read / 2)
    assert lc.dram_write_bits == pytest.approx(mem_write / 2)


def test_cost_report_sums_and_latency(tiny_result) -> None:
    hw = default_hardware()
    m = _mapping("membranes", 1, 1, 48.0, 0.0, 0.0, 48.0)
    counts = system_counts(_tiny(), m, hw, tiny_result)
    rep = system_cost(_tiny(), m, hw, counts)
    assert rep.components == COMPONENTS
    for comp in COMPONENTS:
        assert rep.total_pj[comp] == pytest.approx(sum(d[comp] for d in
                                                       rep.per_layer_pj.values()))
    p = Prices.from_hw(hw)
    (lc,) = counts.layers
    assert rep.total_pj["buffer"] == pytest.approx(36 * hw.system_energy.buffer_pj_per_bit)
    assert rep.total_pj["macro_compute"] == pytest.approx(
        3 * p.row_pj + 72 * p.active_col_pj + 696 * p.standby_col_pj + 48 * p.compare_bit_pj)
    assert rep.energy_per_inference_uj == pytest.approx(sum(rep.total_pj.values()) * 1e-6)
    assert rep.latency_per_inference_us == pytest.approx(p.time_ns(lc) * 1e-3)
    assert rep.latency_per_timestep_us == pytest.approx(rep.latency_per_inference_us / 2)
    assert rep.total_pj["leakage"] == pytest.approx(p.leakage_uw * p.time_ns(lc) * 1e-3)
    assert "total" in rep.table() and rep.to_dict()["format"] == "flexspim-cost"


def test_estimate_equals_simulated_cost_when_fan_out_is_exact(tiny_result) -> None:
    hw = default_hardware()
    net = _tiny()
    m = compile_network(net, hw, policy="hs-min")
    sim = system_cost(net, m, hw, system_counts(net, m, hw, tiny_result))
    act = Activity.from_result(net, tiny_result.input_events.sum(axis=1),
                               tiny_result.output_spikes.sum(axis=1), 1, 2)
    est = estimate_cost(net, m, hw, act)
    assert est.energy_per_inference_uj == pytest.approx(sim.energy_per_inference_uj)


def _conv_net() -> IntNetwork:
    rng = np.random.default_rng(3)
    return IntNetwork(input_shape=(2, 8, 8), layers=(
        Conv2d(name="c1", weight=rng.integers(-3, 4, (8, 2, 3, 3)), w_bits=3, v_bits=10,
               threshold=3, padding=(1, 1)),
        Conv2d(name="c2", weight=rng.integers(-3, 4, (16, 8, 3, 3)), w_bits=3, v_bits=10,
               threshold=3, stride=(2, 2), padding=(1, 1)),
        Flatten(name="flat"),
        Linear(name="fc", weight=rng.integers(-3, 4, (4, 256)), w_bits=3, v_bits=10,
               threshold=2)), name="conv")


def test_results_identical_and_only_costs_change_across_policies() -> None:
    net = _conv_net()
    hw = default_hardware()
    hw = hw.with_(macro=dataclasses.replace(hw.macro, rows=24, cols=32),
                  system=dataclasses.replace(hw.system, n_macros=2, buffer_kib=0.5))
    x = (np.random.default_rng(0).random((4, 3, 2, 8, 8)) < 0.3).astype(np.int64)
    costs, first = {}, None
    for p in POLICIES:
        res = simulate(net, x)
        if first is None:
            first = res
        assert np.array_equal(res.output_counts, first.output_counts)
        assert np.array_equal(res.sops, first.sops)
        m = compile_network(net, hw, policy=p)
        counts = system_counts(net, m, hw, res)
        assert [lc.sops for lc in counts.layers] == [float(first.sops[i].sum())
                                                     for i in (0, 1, 3)]
        assert sum(mc.row_ops for mc in counts.macros) == pytest.approx(
            counts.total("row_ops"))
        costs[p] = system_cost(net, m, hw, counts).energy_per_inference_uj
    assert len({round(v, 9) for v in costs.values()}) > 1


def test_routing_counts_events_between_macros(tiny_result) -> None:
    net = IntNetwork(input_shape=(4,), layers=(
        Linear(name="a", weight=np.ones((3, 4), dtype=np.int64), w_bits=4, v_bits=8,
               threshold=1),
        Linear(name="b", weight=np.ones((2, 3), dtype=np.int64), w_bits=4, v_bits=8,
               threshold=1)), name="two")
    res = simulate(net, _inputs())

    def lm(name, idx, n_w, n_n, macro):
        return LayerMapping(name=name, index=idx, stationary="membranes", cols=8,
                            weight_shape=(1, 8), membrane_shape=(1, 8), lanes=32, n_weights=n_w,
                            n_neurons=n_n, w_bits=4, v_bits=8, groups=1, rows_per_group=1,
                            resident_groups=1, tiles=(Tile(macro, 2, 3, 0, 256, 1),),
                            home_macro=macro, streamed_buffer_bits=n_w * 4)
    m = Mapping(policy="hand", n_macros=2, rows=512, cols=256, scratch_rows=2,
                layers=(lm("a", 0, 12, 3, 0), lm("b", 1, 6, 2, 1)), network="two")
    c = system_counts(net, m, default_hardware(), res)
    assert c.layers[0].routed_events == 0
    assert c.layers[1].routed_events == float(res.input_events[1].sum()) == 6


def test_mapping_of_another_network_or_hardware_is_refused(tiny_result) -> None:
    hw = default_hardware()
    m = compile_network(_conv_net(), hw, policy="ws")
    with pytest.raises(MappingError, match=r"\[network-match\]"):
        system_counts(_tiny(), m, hw, tiny_result)
    m = compile_network(_tiny(), hw, policy="ws")
    hw3 = hw.with_(system=dataclasses.replace(hw.system, n_macros=3))
    with pytest.raises(MappingError, match=r"\[hardware-match\].*2 macro"):
        system_counts(_tiny(), m, hw3, tiny_result)


def test_cli_simulate_with_mapping_prices_the_run(tmp_path, capsys) -> None:
    """`flexspim simulate --mapping` prints the breakdown, writes a run document and a plot, and
    the report command reads that document; its cost equals the Python API's."""
    import json

    from flexspim.cli import main
    from flexspim.compile import save_mapping
    from flexspim.net import save_network
    from flexspim.report import load_run

    net = IntNetwork(input_shape=(2, 6, 6), layers=(
        Conv2d(name="c1", weight=np.random.default_rng(1).integers(-8, 8, (4, 2, 3, 3)),
               w_bits=4, v_bits=10, threshold=6, padding=(1, 1)),
        Flatten(name="flat"),
        Linear(name="fc", weight=np.random.default_rng(2).integers(-8, 8, (3, 144)),
               w_bits=4, v_bits=10, threshold=5)), name="small")
    hw = default_hardware()
    mapping = compile_network(net, hw, policy="hs-min")
    save_network(net, tmp_path / "n.npz")
    save_mapping(mapping, tmp_path / "m.json")
    x = (np.random.default_rng(3).random((5, 4, 2, 6, 6)) < 0.2).astype(np.int64)
    np.save(tmp_path / "x.npy", x)
    code = main(["simulate", str(tmp_path / "n.npz"), str(tmp_path / "x.npy"), "--labels",
                 "0,1,2,0", "--mapping", str(tmp_path / "m.json"), "--json",
                 str(tmp_path / "run.json"), "--plot", str(tmp_path / "e.png")])
    out = capsys.readouterr().out
    assert code == 0 and "macro_compute" in out and "energy per inference" in out
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((tmp_path / "run.json").read_text())
    assert doc["format"] == "flexspim-run" and doc["mapping"]["policy"] == "hs-min"
    expected = system_cost(net, mapping, hw, system_counts(net, mapping, hw, simulate(net, x)))
    assert doc["cost"]["energy_per_inference_uj"] == pytest.approx(
        expected.energy_per_inference_uj, rel=1e-12)
    assert load_run(tmp_path / "run.json").cost is not None
    assert main(["report", str(tmp_path / "run.json"), "--out", str(tmp_path / "r.html")]) == 0
    assert "data:image/png;base64" in (tmp_path / "r.html").read_text()


def test_cli_simulate_plot_without_mapping_is_a_clear_error(tmp_path, capsys) -> None:
    from flexspim.cli import main

    code = main(["simulate", "n.npz", "x.npy", "--plot", str(tmp_path / "e.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--mapping" in err[0]
