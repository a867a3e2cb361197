"""The system engine (flexspim.system): a compiled mapping executed event by event on N macros.

- counts by hand for small mappings built field by field (both modes);
- the engine's results equal the simulator's, its bit-level mode equals its fast mode in results
  and in every count (hypothesis, over networks, macro sizes, macro counts, controller rules,
  buffer sizes, forced stationarity and shapes incl. multi-row operands and lane packing,
  policies and placements), and every policy on the shipped digits model;
- capacities and the mapping's network/hardware checked before anything runs;
- the controller rules change counts, never results; routing counted per delivery.

``FLEXSPIM_THOROUGH=1`` runs the property tests with many more examples.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from system_cases import (
    conv_inputs,
    conv_net,
    hand_layer,
    hand_mapping,
    hw_with,
    mapped_cases,
    nonzero,
    tiny,
    tiny_inputs,
    totals,
    two_layer,
    with_controller,
)

from flexspim.compile import POLICIES, compile_network
from flexspim.energy.counts import COUNT_FIELDS, FIELD_INDEX, PHASES
from flexspim.energy.system import system_cost
from flexspim.errors import ConfigError, MappingError, NetworkError
from flexspim.hw import default_hardware
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, SpikeMaxPool
from flexspim.sim import simulate
from flexspim.sim.result import result_differences
from flexspim.system import MODES, run_system

THOROUGH = bool(os.environ.get("FLEXSPIM_THOROUGH"))
P_INIT, P_INTEGRATE, P_FIRE = (PHASES.index(p) for p in ("init", "integrate", "fire"))


# --------------------------------------------------------------------------- counts by hand


@pytest.mark.parametrize("mode", MODES)
def test_counts_output_stationary_by_hand(mode: str) -> None:
    hw = hw_with()
    net = tiny()
    # OS: the 3 membranes (8 bits, 8-column lanes) in one row group on macro 1; the 4 weight
    # slices (3 x 4 bits each) streamed from the buffer
    m = hand_mapping(net, hw, hand_layer(net, 0, hw, "membranes", 8, tiles=[(1, 2, 1)],
                                         streamed_buffer=4))
    run = run_system(net, m, hw, tiny_inputs(), mode=mode)
    assert int(run.result.sops.sum()) == 9 and int(run.result.output_spikes.sum()) == 6
    assert nonzero(totals(run, macro=0)) == {}
    assert nonzero(totals(run, macro=1, phase=P_INTEGRATE)) == {
        "row_ops": 3,                  # 3 events x 1 channel group x v_rows = 1
        "active_col_ops": 9 * 8,       # 9 lanes of 8 columns
        "standby_col_ops": 3 * 256 - 72,
        "array_row_writes": 3,         # one weight slice (w_rows = 1) per event
        "buffer_read_bits": 9 * 4,     # the lanes' weights
        "routed_events": 3,            # sensor events: every delivery counts
        "sops": 9, "units": 3}
    assert nonzero(totals(run, macro=1, phase=P_FIRE)) == {
        "compare_row_reads": 2,        # the membrane row, compared in place each timestep
        "array_row_writes": 2}         # reset written back each timestep (all spiked)
    assert nonzero(totals(run, macro=1, phase=P_INIT)) == {"array_row_writes": 1}
    # per timestep: 2 events at t0, 1 at t1
    assert run.counts.field("row_ops").sum(axis=(0, 2, 3, 4)).tolist() == [2, 1]
    assert run.counts.n_samples == 1 and run.counts.layers == ("fc",)


@pytest.mark.parametrize("mode", MODES)
def test_counts_weight_stationary_half_spilled_by_hand(mode: str) -> None:
    """WS, 4 weight groups (one per input), groups 0 and 2 resident on macro 1 (the spread order
    takes every second group), group 1 spilled to the buffer and group 3 to DRAM (run on home
    macro 0). Per timestep the membrane slice comes from DRAM into macro 1 for the resident
    group, then moves to macro 0 over the on-chip bus for the spilled one (a slice lives in one
    macro at a time), which writes it back at the end of the integrate phase."""
    hw = hw_with()
    net = tiny()
    m = hand_mapping(net, hw, hand_layer(net, 0, hw, "weights", 8, tiles=[(1, 2, 2)], home=0,
                                         streamed_buffer=0, spilled_buffer=1))
    (lm,) = m.layers
    assert (lm.groups, lm.memory_groups) == (4, 1)
    run = run_system(net, m, hw, tiny_inputs((1, 2)), mode=mode)   # t0: 0, 1; t1: 2, 3
    assert list(run.program.layers[0].stat_macro) == [1, -1, 1, -1]
    assert int(run.result.sops.sum()) == 12 and int(run.result.output_spikes.sum()) == 6
    v, w = 3 * 8, 3 * 4          # bits of the membrane slice and of one weight group
    assert nonzero(totals(run, macro=0)) == {
        "row_ops": 2, "active_col_ops": 48, "standby_col_ops": 2 * 256 - 48,
        # per timestep: spilled weight group loaded, slice moved in; the slice read out to be
        # stored back
        "array_row_writes": 4, "array_row_reads": 2, "transfer_bits": 2 * v,
        "buffer_read_bits": w,                        # group 1 (t0)
        # group 3 (t1), compare reads the membranes at t0 and t1
        "dram_read_bits": w + 2 * v,
        # slice stored back at t0 and t1, resets at t0 and t1, initial membranes
        "dram_write_bits": 2 * v + 2 * v + v,
        "routed_events": 2, "sops": 6, "units": 2}
    assert nonzero(totals(run, macro=1)) == {
        "row_ops": 2, "active_col_ops": 48, "standby_col_ops": 2 * 256 - 48,
        # slice loaded from DRAM, read out to move to macro 0, at t0 and t1
        "array_row_writes": 2, "array_row_reads": 2, "dram_read_bits": 2 * v,
        "routed_events": 2, "sops": 6, "units": 2}
    assert nonzero(totals(run, macro=0, phase=P_INIT)) == {"dram_write_bits": v}
    assert nonzero(totals(run, macro=0, phase=P_FIRE)) == {"dram_read_bits": 2 * v,
                                                           "dram_write_bits": 2 * v}


def test_scratch_reuse_keeps_a_linear_layers_membranes_in_scratch_rows() -> None:
    """WS linear layer with one channel group: every event updates the same membrane slice, so
    with reuse it is loaded once per timestep, without it once per event."""
    net = tiny()
    x = tiny_inputs((1, 2))          # t0: 2 events, t1: 2 events
    for reuse, loads in ((True, 2), (False, 4)):
        hw = with_controller(hw_with(1), scratch_reuse=reuse)
        m = hand_mapping(net, hw, hand_layer(net, 0, hw, "weights", 8, tiles=[(0, 2, 4)]))
        c = totals(run_system(net, m, hw, x), phase=P_INTEGRATE)
        assert c["array_row_writes"] == c["array_row_reads"] == loads
        assert c["dram_read_bits"] == c["dram_write_bits"] == loads * 24


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize("a_layout, b_from", [
    (dict(stationary="membranes", tiles=[(0, 2, 1)], home=0), 0),   # a's membranes on macro 0
    (dict(stationary="membranes", tiles=[(1, 2, 1)], home=0), 1),   # ... on macro 1
    (dict(stationary="membranes", tiles=[], home=1), 1),            # spilled: from home 1
    (dict(stationary="weights", tiles=[(0, 2, 4)], home=1), 1),     # WS: from home 1
])
def test_routing_counts_deliveries_to_other_macros(a_layout: dict, b_from: int) -> None:
    """An event is delivered to every macro running one of its units except the one it left
    from (the macro holding its neuron's membrane, else the home macro); the first layer's
    events come from the sensor and every delivery counts. b is OS with lanes of 128 columns:
    2 channel groups, group 0 on macro 0 and group 1 on macro 1, so each of its events has a
    unit on both macros."""
    hw = hw_with(2)
    net = two_layer()
    st_a = a_layout.pop("stationary")
    a = hand_layer(net, 0, hw, st_a, 8, **a_layout)
    b = hand_layer(net, 1, hw, "membranes", 128, tiles=[(0, 6, 1), (1, 6, 1)], home=0)
    m = hand_mapping(net, hw, a, b)
    for mode in MODES:
        run = run_system(net, m, hw, tiny_inputs(), mode=mode)
        assert run.result.input_events[1].sum() == 6
        routed = run.counts.field("routed_events").sum(axis=(0, 1, 3))    # [layer, macro]
        a_host = a.tiles[0].macro if a.tiles else a.home_macro
        assert routed[0].tolist() == [3.0 * (a_host == 0), 3.0 * (a_host == 1)]
        # each of b's 6 events reaches the one macro it did not leave from
        assert routed[1].tolist() == [6.0 * (b_from == 1), 6.0 * (b_from == 0)]


def test_routing_through_a_max_pool_leaves_from_the_first_spiking_input() -> None:
    """After a max-pool an event leaves from the macro of the first spiking input of its window
    (row-major). a: 1 x 1 convolution, every input pixel makes both channels spike at that
    position; its position (0, 0) on macro 1, the other three on macro 0. b runs on macro 0."""
    one = dict(w_bits=4, v_bits=8, threshold=1)
    net = IntNetwork(input_shape=(1, 2, 2), layers=(
        Conv2d(name="a", weight=np.ones((2, 1, 1, 1), dtype=np.int64), **one),
        SpikeMaxPool(name="pool", kernel=(2, 2), stride=(2, 2)),
        Flatten(name="flat"),
        Linear(name="b", weight=np.ones((1, 2), dtype=np.int64), **one)), name="pooled")
    hw = hw_with(2)
    m = hand_mapping(net, hw,
                     hand_layer(net, 0, hw, "membranes", 8, tiles=[(1, 2, 1), (0, 2, 3)]),
                     hand_layer(net, 3, hw, "membranes", 8, tiles=[(0, 5, 1)]))
    x = np.zeros((3, 1, 1, 2, 2), dtype=np.int64)
    x[0, 0, 0, 0, 0] = 1                    # window's first spike at (0, 0): from macro 1
    x[1, 0, 0, 0, 1] = 1                    # only (0, 1): from macro 0
    x[2, 0, 0, 0, 0] = x[2, 0, 0, 1, 1] = 1  # (0, 0) comes first: from macro 1
    for mode in MODES:
        run = run_system(net, m, hw, x, mode=mode)
        assert run.result.input_events[3].tolist() == [2, 2, 2]
        routed = run.counts.field("routed_events").sum(axis=(0, 3))   # [T, layer, macro]
        assert routed[:, 0].tolist() == [[0, 1], [1, 0], [1, 1]]      # sensor to a's macros
        assert routed[:, 1].tolist() == [[2, 0], [0, 0], [2, 0]]      # b's 2 events per step


# --------------------------------------------------------------------------- checks before running


def test_mapping_of_another_network_or_hardware_is_refused_before_simulating() -> None:
    hw = hw_with()
    bad_inputs = np.ones((2, 1, 7), dtype=np.int64)  # the wrong shape: refused only later
    m = compile_network(conv_net(), hw, policy="ws")
    with pytest.raises(MappingError, match=r"\[network-match\].*the mapping has 3 spiking "
                                           r"layers, the network 1"):
        run_system(tiny(), m, hw, bad_inputs)
    m = compile_network(tiny(), hw, policy="ws")
    with pytest.raises(MappingError, match=r"\[hardware-match\].*2 macro\(s\) of 512 x 256.*3"):
        run_system(tiny(), m, hw_with(3), bad_inputs)
    with pytest.raises(MappingError, match=r"\[hardware-match\]"):
        run_system(tiny(), m, hw_with(2, rows=256), bad_inputs)
    other = IntNetwork(input_shape=(4,), layers=(
        Linear(name="fc", weight=np.ones((3, 4), dtype=np.int64), w_bits=4, v_bits=9,
               threshold=1),), name="tiny")
    with pytest.raises(MappingError, match=r"\[network-match\] .*layer 'fc'"):
        run_system(other, m, hw, bad_inputs)
    with pytest.raises(NetworkError, match=r"inputs: shape \(2, 1, 7\)"):  # then the inputs
        run_system(tiny(), m, hw, bad_inputs)
    with pytest.raises(ConfigError, match="unknown system-engine mode 'exact'"):
        run_system(tiny(), m, hw, tiny_inputs(), mode="exact")


def test_capacities_are_enforced() -> None:
    net, x = tiny(), tiny_inputs()
    hw = hw_with()
    ok = hand_mapping(net, hw, hand_layer(net, 0, hw, "membranes", 8, tiles=[(0, 2, 1)]))
    assert run_system(net, ok, hw, x).result.output_spikes.sum() == 6
    # scratch rows: a streamed weight (1 row) and membrane (1 row) need 2
    with pytest.raises(MappingError, match=r"\[scratch-rows\] layer 'fc'.*need 2 scratch rows.*"
                                           r"reserves 1"):
        run_system(net, dataclasses.replace(ok, scratch_rows=1), hw, x)
    # macro rows: a tile over the scratch rows, and a macro holding more rows than it has
    over = hand_mapping(net, hw, hand_layer(net, 0, hw, "membranes", 8, tiles=[(0, 1, 1)]))
    with pytest.raises(MappingError, match=r"\[macro-rows\] layer 'fc'.*overlaps the scratch"):
        run_system(net, over, hw, x)
    small = hw_with(2, rows=8, cols=256)
    two = two_layer()
    full = hand_mapping(two, small, hand_layer(two, 0, small, "weights", 8, tiles=[(0, 2, 4)]),
                        hand_layer(two, 1, small, "weights", 8, tiles=[(0, 6, 3)]))
    with pytest.raises(MappingError, match=r"\[macro-rows\] layer 'b': tile .* ends past the "
                                           r"last row of a 8-row macro"):
        run_system(two, full, small, tiny_inputs())
    # two layers' resident weights in the same rows: refused (the bit-level macros would add
    # the second layer's weights into the first layer's membranes)
    shared = hand_mapping(two, hw, hand_layer(two, 0, hw, "weights", 8, tiles=[(0, 2, 4)]),
                          hand_layer(two, 1, hw, "weights", 8, tiles=[(0, 5, 3)]))
    with pytest.raises(MappingError, match=r"\[macro-rows\] layer 'b': tile .* shares rows "
                                           r"with layer 'a' \(rows \[2, 6\) of macro 0\)"):
        run_system(two, shared, hw, tiny_inputs(), mode="bitlevel")
    apart = hand_mapping(two, hw, hand_layer(two, 0, hw, "weights", 8, tiles=[(0, 2, 4)]),
                         hand_layer(two, 1, hw, "weights", 8, tiles=[(0, 6, 3)]))
    ref = simulate(two, tiny_inputs(), return_membranes=True)
    assert result_differences(ref, run_system(two, apart, hw, tiny_inputs(), mode="bitlevel",
                                              return_membranes=True).result) == []
    # buffer: the mapping keeps the weights (48 bits) in the buffer; a smaller buffer refuses it
    buffered = hand_mapping(net, hw, hand_layer(net, 0, hw, "membranes", 8, tiles=[(0, 2, 1)],
                                                streamed_buffer=4))
    with pytest.raises(MappingError, match=r"\[buffer-capacity\].*the hardware has 0.001 KiB"):
        run_system(net, buffered, hw_with(buffer_kib=0.001), x)
    # DRAM disabled: nothing may stay in DRAM (here the streamed weights)
    with pytest.raises(MappingError, match=r"\[buffer-capacity\].*48 bits in DRAM.*disabled"):
        run_system(net, ok, hw_with(dram=False), x)
    assert run_system(net, buffered, hw_with(dram=False), x).result.output_spikes.sum() == 6


@pytest.mark.parametrize("policy", POLICIES)
def test_compiler_refuses_what_does_not_fit_without_dram(policy: str) -> None:
    hw = hw_with(1, rows=16, cols=16, dram=False, buffer_kib=0.0)
    with pytest.raises(MappingError, match=r"\[(buffer-capacity|capacity)\]"):
        compile_network(conv_net(), hw, policy=policy)


# --------------------------------------------------------------------------- results and policies


def test_results_identical_and_only_costs_change_across_policies() -> None:
    """Small macros (24 x 32), 2 of them and a 0.5 KiB buffer: layers spill, shapes span
    several rows; every policy gives the simulator's spikes, SOPs and membranes."""
    net = conv_net()
    hw = hw_with(2, rows=24, cols=32, buffer_kib=0.5)
    x = conv_inputs()
    ref = simulate(net, x, return_membranes=True)
    costs = {}
    for p in POLICIES:
        m = compile_network(net, hw, policy=p)
        run = run_system(net, m, hw, x, return_membranes=True)
        assert result_differences(ref, run.result) == [], p
        per_layer = run.counts.per_layer()
        assert [per_layer[n]["sops"] for n in ("c1", "c2", "fc")] == \
            [float(ref.sops[i].sum()) for i in (0, 1, 3)]
        assert sum(pm["row_ops"] for pm in run.counts.per_macro()) == \
            run.counts.total("row_ops")
        assert run.counts.total("units") <= run.counts.total("sops")
        if p == "hs-min":   # batches of one sample: the same results and counts
            one = run_system(net, m, hw, x, return_membranes=True, batch_size=1)
            assert result_differences(run.result, one.result) == []
            assert np.array_equal(run.counts.data, one.counts.data)
        costs[p] = system_cost(run.counts, hw).energy_per_inference_uj
    assert len({round(v, 9) for v in costs.values()}) > 1


def test_every_policy_gives_the_simulators_results_on_the_shipped_model() -> None:
    from flexspim.compile import Activity
    from flexspim.demo import load_test_split
    from flexspim.dse.networks import shipped_model_path, shipped_time_bins
    from flexspim.net import load_network

    net = load_network(shipped_model_path())
    x, y = load_test_split(shipped_time_bins(), samples=6, seed=1)
    ref = simulate(net, x, labels=y, return_membranes=True)
    hw = default_hardware()
    act = Activity.from_sim_result(net, ref)
    for p in POLICIES:
        run = run_system(net, compile_network(net, hw, policy=p, activity=act), hw, x,
                         labels=y, return_membranes=True)
        assert result_differences(ref, run.result) == [], p
        assert run.result.accuracy == ref.accuracy


# --------------------------------------------------------------------------- property tests


def _counts_differ(a, b, mapping) -> str:
    # a memory group split between the buffer and DRAM moves its bits in that proportion, so bit
    # counts may differ in their last floating-point digits; every other count is exact
    d = np.abs(a.counts.data - b.counts.data) > 1e-9 * (1.0 + np.abs(a.counts.data))
    if not d.any():
        return ""
    idx = tuple(np.argwhere(d)[0])
    layers = [(lm.name, lm.stationary, lm.cols, lm.pack, lm.resident_groups, lm.groups)
              for lm in mapping.layers]
    return (f"counts differ at sample {idx[0]}, t {idx[1]}, layer {a.counts.layers[idx[2]]}, "
            f"phase {PHASES[idx[3]]}, macro {idx[4]}, field {COUNT_FIELDS[idx[5]]}: "
            f"{a.counts.data[idx]} vs {b.counts.data[idx]}; layers (name, stationary, cols, "
            f"pack, resident groups, groups) {layers}")


@settings(max_examples=600 if THOROUGH else 80, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(case=mapped_cases())
def test_fast_and_bitlevel_modes_equal_the_simulator_and_each_other(case) -> None:
    net, x, m, hw = case
    ref = simulate(net, x, return_membranes=True)
    fast = run_system(net, m, hw, x, return_membranes=True)
    assert result_differences(ref, fast.result) == []
    bit = run_system(net, m, hw, x, mode="bitlevel", return_membranes=True)
    assert result_differences(ref, bit.result) == []
    assert fast.counts.data.shape == bit.counts.data.shape
    assert not _counts_differ(fast, bit, m), _counts_differ(fast, bit, m)
    # what the counts must hold whatever the mapping
    c = fast.counts
    per_layer_sops = c.field("sops").sum(axis=(0, 3, 4))           # [T, layer]
    spiking = [i for i, la in enumerate(net.layers) if la.kind in ("conv2d", "linear")]
    assert np.array_equal(per_layer_sops.T, ref.sops[spiking])
    whole = [i for i, f in enumerate(COUNT_FIELDS) if not f.endswith("_bits")]
    assert (c.data >= -1e-9).all()
    assert np.array_equal(c.data[..., whole], np.round(c.data[..., whole]))
    assert np.allclose(c.field("active_col_ops") + c.field("standby_col_ops"),
                       c.field("row_ops") * hw.macro.cols)


def memory_reads(run) -> np.ndarray:
    """Bits each layer read from the buffer and DRAM in the integrate phase (streamed slices and
    spilled groups brought into scratch rows)."""
    d = run.counts.data[:, :, :, P_INTEGRATE].sum(axis=(0, 1, 3))          # [layer, field]
    return d[:, FIELD_INDEX["buffer_read_bits"]] + d[:, FIELD_INDEX["dram_read_bits"]]


@settings(max_examples=300 if THOROUGH else 40, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(case=mapped_cases())
def test_controller_rules_change_counts_never_results(case) -> None:
    """From the same mapping: without scratch reuse no fewer loads from memory; sorted by
    target no more loads than in arrival order in every layer that is wholly resident (each
    slice loaded once per timestep; layers with spilled groups are tiled group by group, so
    their streamed slices may be loaded once per group); compare 'active' no more compare reads
    than 'all' and no change to the integrate phase; the results never change."""
    net, x, m, hw = case
    runs = {}
    for rules in ({}, {"scratch_reuse": True}, {"scratch_reuse": False},
                  {"scratch_reuse": True, "event_order": "arrival"},
                  {"scratch_reuse": True, "event_order": "target"},
                  {"compare": "all"}, {"compare": "active"}):
        key = tuple(sorted(rules.items()))
        runs[key] = run_system(net, m, with_controller(hw, **rules), x, return_membranes=True)
        assert result_differences(runs[()].result, runs[key].result) == []

    def run(**rules):
        return runs[tuple(sorted(rules.items()))]

    reuse, no_reuse = run(scratch_reuse=True), run(scratch_reuse=False)
    assert (memory_reads(reuse) <= memory_reads(no_reuse)).all()
    whole = np.array([lm.resident_groups == lm.groups for lm in m.layers])
    target = memory_reads(run(scratch_reuse=True, event_order="target"))
    arrival = memory_reads(run(scratch_reuse=True, event_order="arrival"))
    assert (target[whole] <= arrival[whole]).all()
    compares = {k: run(compare=k).counts.total("compare_row_reads") for k in ("all", "active")}
    assert compares["active"] <= compares["all"]
    # the compare rule touches only the fire phase
    for k in ("all", "active"):
        assert np.array_equal(runs[()].counts.data[:, :, :, P_INTEGRATE],
                              run(compare=k).counts.data[:, :, :, P_INTEGRATE])


@pytest.mark.parametrize("stationary", ["weights", "membranes"])
def test_each_controller_rule_changes_the_counts(stationary: str) -> None:
    """On a conv network with one scratch slice of each kind per macro (the paper's flow) each
    rule is worth something: reuse and sorting by target lower the loads from memory, comparing
    only active membranes lowers the compare reads (resident membranes) or the memory reads
    (membranes outside the arrays)."""
    net, x = conv_net(), conv_inputs(density=0.1)
    hw = with_controller(hw_with(2), scratch_slices=1)
    m = compile_network(net, hw, policy="ws",
                        stationary=dict.fromkeys(("c1", "c2", "fc"), stationary))
    runs = {rule: run_system(net, m, with_controller(hw, **dict([rule])) if rule else hw, x)
            for rule in (None, ("scratch_reuse", False), ("event_order", "target"),
                         ("compare", "active"))}

    def loads(rule) -> float:
        return float(memory_reads(runs[rule]).sum())

    assert loads(("scratch_reuse", False)) > loads(None)
    assert loads(("event_order", "target")) < loads(None)
    active = totals(runs[("compare", "active")], phase=P_FIRE)
    every = totals(runs[None], phase=P_FIRE)
    if stationary == "membranes":     # resident membranes: rows read in place
        assert 0 < active["compare_row_reads"] < every["compare_row_reads"]
    else:                             # membranes outside the arrays: read from memory
        assert every["compare_row_reads"] == active["compare_row_reads"] == 0
        mem = ("dram_read_bits", "buffer_read_bits")
        assert 0 < sum(active[k] for k in mem) < sum(every[k] for k in mem)


@pytest.mark.parametrize("mode", MODES)
def test_compare_active_compares_every_membrane_at_the_first_timestep(mode: str) -> None:
    """An initial membrane above threshold spikes at t = 0 without any input event: 'active'
    compares every membrane at the first timestep (later only the touched or spiking groups),
    and docs/system-model.md says so."""
    from pathlib import Path

    net = IntNetwork(input_shape=(4,), layers=(
        Linear(name="fc", weight=np.zeros((3, 4), dtype=np.int64), w_bits=4, v_bits=8,
               threshold=5, initial_membrane=np.array([7, 0, 9])),), name="init")
    hw = hw_with(1)
    x = np.zeros((3, 1, 4), dtype=np.int64)
    for stationary in ("ws", "os"):
        m = compile_network(net, hw, policy=stationary)
        for rule in ("all", "active"):
            run = run_system(net, m, with_controller(hw, compare=rule), x, mode=mode)
            assert run.result.output_spikes[0].tolist() == [2, 0, 0], (stationary, rule)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "system-model.md").read_text()
    row = next(line for line in doc.splitlines() if line.startswith("| `compare` |"))
    assert "every membrane at the first timestep" in row and "initial membrane" in row
