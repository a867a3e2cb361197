"""Compiler: policies' invariants, mapping rules, the mapping file, activity and geometry."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.compile import (
    POLICIES,
    Activity,
    Mapping,
    compile_network,
    load_mapping,
    network_geometry,
    plot_mapping,
    save_mapping,
)
from flexspim.compile.rules import BITS_PER_KIB
from flexspim.errors import ConfigError, FormatError, MappingError
from flexspim.hw import default_hardware
from flexspim.mapped import estimate_cost
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear
from flexspim.net.presets import dvs_gesture_scnn


def _hw(n_macros: int = 2, rows: int = 512, cols: int = 256, **system):
    hw = default_hardware()
    return hw.with_(macro=dataclasses.replace(hw.macro, rows=rows, cols=cols),
                    system=dataclasses.replace(hw.system, n_macros=n_macros, **system))


@pytest.fixture(scope="module")
def default_net() -> IntNetwork:
    return dvs_gesture_scnn()


@pytest.fixture(scope="module")
def default_maps(default_net):
    hw = _hw()
    return {p: compile_network(default_net, hw, policy=p) for p in POLICIES}


def check_invariants(net: IntNetwork, hw, m: Mapping) -> None:
    """Capacity respected: tiles inside their macro below the scratch rows, no overlap,
    groups accounted for, off-array bits within buffer + DRAM, buffer within its size."""
    assert m.n_macros == hw.system.n_macros and m.scratch_rows <= hw.macro.rows
    occupied = np.zeros((m.n_macros, hw.macro.rows), dtype=np.int64)
    buffer_bits = 0.0
    for lm, geo in zip(m.layers, network_geometry(net), strict=True):
        assert lm.name == geo.name
        assert 0 <= lm.resident_groups <= lm.groups
        assert sum(t.groups for t in lm.tiles) == lm.resident_groups
        for t in lm.tiles:
            assert m.scratch_rows <= t.row_start < t.row_stop <= hw.macro.rows
            assert t.rows == t.groups * lm.rows_per_group
            # a tile spans one row group's lanes: pack taps/positions x channels per group
            assert t.col_stop - t.col_start == lm.group_lanes * lm.cols <= hw.macro.cols
            assert 1 <= lm.group_lanes <= lm.lanes == hw.macro.cols // lm.cols
            occupied[t.macro, t.row_start:t.row_stop] += 1
        assert lm.weight_shape[0] * lm.cols >= lm.w_bits
        assert lm.membrane_shape[0] * lm.cols >= lm.v_bits
        assert lm.streamed_buffer_bits + lm.streamed_dram_bits == pytest.approx(lm.streamed_bits)
        assert lm.spilled_buffer_bits + lm.spilled_dram_bits == pytest.approx(lm.spilled_bits)
        if not hw.system.dram.enabled:
            assert lm.streamed_dram_bits == 0 and lm.spilled_dram_bits == 0
        buffer_bits += lm.streamed_buffer_bits + lm.spilled_buffer_bits
    assert occupied.max(initial=0) <= 1, "two tiles share a row"
    assert buffer_bits <= hw.system.buffer_kib * BITS_PER_KIB + 1e-6
    assert 0.0 <= m.stationary_fraction <= 1.0


def test_policies_respect_capacity_on_default_network(default_net, default_maps) -> None:
    for m in default_maps.values():
        check_invariants(default_net, _hw(), m)


def test_hs_min_keeps_the_smaller_operand(default_net, default_maps) -> None:
    geos = network_geometry(default_net)
    for lm, geo in zip(default_maps["hs-min"].layers, geos, strict=True):
        smaller = "weights" if geo.weight_bits <= geo.membrane_bits else "membranes"
        assert lm.stationary == smaller
    assert all(lm.stationary == "weights" for lm in default_maps["ws"].layers)
    assert all(lm.stationary == "membranes" for lm in default_maps["os"].layers)


def test_optimal_is_cheapest_and_hs_min_holds_more_than_ws(default_net, default_maps) -> None:
    e = {p: m.search["estimated_energy_pj"] for p, m in default_maps.items()}
    act = Activity.from_sparsity(default_net)
    for p, m in default_maps.items():   # the number the search reports is the estimator's
        assert e[p] == pytest.approx(estimate_cost(default_net, m, _hw(), act).total_energy_pj,
                                     rel=1e-9)
    for p in ("ws", "os", "hs-min"):
        assert e["optimal"] <= e[p] * (1 + 1e-9)
    assert default_maps["optimal"].search["status"] == "Optimal"
    # both fill the arrays; keeping the smaller operand makes more layers wholly stationary
    def whole(m):
        return sum(lm.resident_groups == lm.groups for lm in m.layers)

    assert whole(default_maps["hs-min"]) > whole(default_maps["ws"])


@st.composite
def small_networks(draw):
    c_in = draw(st.integers(1, 3))
    size = draw(st.integers(3, 8))
    layers = []
    c = c_in
    for i in range(draw(st.integers(1, 3))):
        c_out = draw(st.integers(1, 40))
        w_bits = draw(st.integers(1, 12))
        v_bits = draw(st.integers(max(2, w_bits), 24))
        layers.append(Conv2d(name=f"c{i}", weight=np.ones((c_out, c, 3, 3), dtype=np.int64)
                             * (0 if w_bits == 1 else 1), w_bits=w_bits, v_bits=v_bits,
                             threshold=1, stride=(1, 1), padding=(1, 1)))
        c = c_out
    layers.append(Flatten(name="flat"))
    layers.append(Linear(name="fc", weight=np.zeros((draw(st.integers(1, 12)), c * size * size),
                                                    dtype=np.int64), w_bits=4, v_bits=12,
                         threshold=1))
    return IntNetwork(input_shape=(c_in, size, size), layers=tuple(layers), name="rand")


@settings(max_examples=8, deadline=None)
@given(net=small_networks(), n_macros=st.integers(1, 3), rows=st.sampled_from([32, 64, 512]),
       cols=st.sampled_from([16, 64, 256]), buffer_kib=st.sampled_from([0.0, 1.0, 64.0]),
       sparsity=st.floats(0.5, 0.99))
def test_policy_invariants_on_random_networks(net, n_macros, rows, cols, buffer_kib,
                                              sparsity) -> None:
    hw = _hw(n_macros, rows, cols, buffer_kib=buffer_kib)
    act = Activity.from_sparsity(net, input_sparsity=sparsity, n_timesteps=5)
    maps = {p: compile_network(net, hw, policy=p, activity=act) for p in POLICIES}
    for m in maps.values():
        check_invariants(net, hw, m)
    for lm, geo in zip(maps["hs-min"].layers, network_geometry(net), strict=True):
        assert lm.stationary == geo.smaller_operand()
    best = maps["optimal"].search["estimated_energy_pj"]
    assert best == pytest.approx(estimate_cost(net, maps["optimal"], hw, act).total_energy_pj,
                                 rel=1e-9)
    assert maps["optimal"].search["ilp_objective_pj"] > 0


def _one_layer(v_bits: int = 16, w_bits: int = 8) -> IntNetwork:
    w = np.zeros((4, 2, 3, 3), dtype=np.int64)
    return IntNetwork(input_shape=(2, 4, 4), layers=(
        Conv2d(name="conv", weight=w, w_bits=w_bits, v_bits=v_bits, threshold=1,
               padding=(1, 1)),), name="one")


def test_operand_wider_than_macro_is_refused() -> None:
    with pytest.raises(MappingError, match=r"\[operand-fits-macro\] layer 'conv'"):
        compile_network(_one_layer(v_bits=16), _hw(rows=2, cols=4))


def test_no_room_for_scratch_rows_is_refused() -> None:
    with pytest.raises(MappingError, match=r"\[scratch-rows\] layer 'conv'.*12 rows"):
        compile_network(_one_layer(v_bits=16, w_bits=8), _hw(rows=8, cols=2))


@pytest.mark.parametrize("policy", POLICIES)
def test_buffer_too_small_without_dram_is_refused(policy) -> None:
    hw = _hw(1, rows=16, cols=16, buffer_kib=0.0)
    hw = hw.with_(system=dataclasses.replace(
        hw.system, dram=dataclasses.replace(hw.system.dram, enabled=False)))
    with pytest.raises(MappingError, match=r"\[(buffer-capacity|capacity)\]"):
        compile_network(dvs_gesture_scnn(), hw, policy=policy)


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown policy 'wsx'"):
        compile_network(_one_layer(), _hw(), policy="wsx")


def test_mapping_json_round_trip_and_version_error(tmp_path, default_maps) -> None:
    m = default_maps["optimal"]
    path = tmp_path / "m.json"
    save_mapping(m, path)
    back = load_mapping(path)
    assert back.to_dict() == m.to_dict()
    assert back.stationary_fraction == pytest.approx(m.stationary_fraction)
    doc = m.to_dict()
    doc["version"] = 1
    with pytest.raises(FormatError, match="x.json: flexspim-mapping format version 1.*reads "
                                          "version 3"):
        Mapping.from_dict(doc, "x.json")
    doc = m.to_dict()
    doc["format"] = "flexspim-network"
    with pytest.raises(FormatError, match="expected 'flexspim-mapping'"):
        Mapping.from_dict(doc, "x.json")
    doc = m.to_dict()
    doc["layers"][0]["resident_groups"] = doc["layers"][0]["groups"] + 1
    with pytest.raises(FormatError, match="layer 'conv1': resident_groups = "):
        Mapping.from_dict(doc, "x.json")
    for key, bad in (("streamed_buffer_groups", lambda d: d["memory_groups"] + 1),
                     ("group_lanes", lambda d: 0), ("pack", lambda d: d["group_lanes"] + 1)):
        doc = m.to_dict()
        doc["layers"][1][key] = bad(doc["layers"][1])
        with pytest.raises(FormatError, match=rf"layer 'conv2': {key} = -?\d+ outside"):
            Mapping.from_dict(doc, "x.json")


def test_plot_mapping_writes_a_png(tmp_path, default_maps) -> None:
    path = tmp_path / "map.png"
    plot_mapping(default_maps["hs-min"], _hw(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_activity_from_sparsity_and_fan_out() -> None:
    net = _one_layer()
    act = Activity.from_sparsity(net, input_sparsity=0.75, n_timesteps=4, hidden_density=0.5)
    assert act.input_events == (0.25 * 2 * 16 * 4,)
    assert act.last_output_events == 0.5 * 4 * 16 * 4
    (geo,) = network_geometry(net)
    # 3x3 kernel, padding 1 on 4x4: per dimension 2 + 3 + 3 + 2 = 10 valid (output, tap) pairs
    assert geo.fan_out == pytest.approx(4 * 10 * 10 / 16)
    with pytest.raises(ConfigError, match="input_sparsity"):
        Activity.from_sparsity(net, input_sparsity=1.5, n_timesteps=4)
    with pytest.raises(ConfigError, match="one per layer"):
        Activity.from_counts(net, [1.0, 2.0], 4)


def _energy_without_routing(net, hw, m, act) -> float:
    rep = estimate_cost(net, m, hw, act)
    return rep.total_energy_pj - rep.total_pj["routing"]


def test_the_ilp_objective_is_close_to_the_estimate_of_its_mapping(default_net, default_maps) -> None:
    """The ILP weighs each option's energy piecewise linear in its residency and the buffer's
    saving per bit where it is smallest: its objective stays within 10% of the estimated energy
    of the mapping it builds (placement, routing and the makespan's leakage apart); on the
    default network optimal beats hs-min by more than 5%."""
    act = Activity.from_sparsity(default_net)
    search = default_maps["optimal"].search
    assert search["ilp_objective_pj"] == pytest.approx(search["ilp_mapping_energy_pj"], rel=0.1)
    assert search["source"] in ("ilp", "ws", "os", "hs-min", "hs-traffic")
    best = search["estimated_energy_pj"]
    assert best == pytest.approx(_energy_without_routing(
        default_net, _hw(), default_maps["optimal"], act) + estimate_cost(
        default_net, default_maps["optimal"], _hw(), act).total_pj["routing"])
    hs = default_maps["hs-min"].search["estimated_energy_pj"]
    assert best < 0.95 * hs


def test_compile_command_prints_summary_and_writes_files(tmp_path, capsys) -> None:
    import argparse

    from flexspim.cli import compile as cli_compile

    parser = argparse.ArgumentParser()
    cli_compile.register(parser.add_subparsers())
    out, png = tmp_path / "m.json", tmp_path / "m.png"
    args = parser.parse_args(["compile", "dvs-gesture", "--n-macros", "3", "--policy", "ws",
                              "--out", str(out), "--plot", str(png), "--input-sparsity", "0.9"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "conv1" in text and "uJ per inference" in text
    m = load_mapping(out)
    assert m.n_macros == 3 and m.policy == "ws"
    # Fig. 4 in operands and in bits: the counts printed are the mapping's
    assert f"stationary operands in the arrays: {m.resident_operands:.0f}" in text
    assert f"stationary bits: {100 * m.stationary_fraction:.1f}% of all operand bits" in text
    assert png.read_bytes()[:4] == b"\x89PNG"
    bad = parser.parse_args(["compile", "dvs-gesture", "--n-macros", "0", "--out", str(out),
                             "--overwrite"])
    with pytest.raises(ConfigError, match="--n-macros 0"):
        bad.func(bad)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), v_bits=st.integers(3, 12), t=st.integers(1, 6),
       reset=st.sampled_from(["subtract", "zero"]), density=st.floats(0.0, 1.0))
def test_overflow_proof_holds_in_simulation(seed, v_bits, t, reset, density) -> None:
    """Where the bounds prove a layer safe, the simulator sees no overflow and membranes
    inside the bounds; wherever the simulator overflows, the bounds said it could."""
    from flexspim.compile import overflow_bounds
    from flexspim.sim import simulate

    rng = np.random.default_rng(seed)
    w_bits = min(3, v_bits)
    lo_w, hi_w = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    layers = (
        Conv2d(name="c", weight=rng.integers(lo_w, hi_w + 1, (3, 2, 3, 3)), w_bits=w_bits,
               v_bits=v_bits, threshold=int(rng.integers(1, (1 << (v_bits - 1)))), reset=reset,
               padding=(1, 1)),
        Flatten(name="f"),
        Linear(name="fc", weight=rng.integers(lo_w, hi_w + 1, (2, 3 * 4 * 4)), w_bits=w_bits,
               v_bits=v_bits, threshold=1, reset=reset))
    net = IntNetwork(input_shape=(2, 4, 4), layers=layers, name="ovf")
    x = (rng.random((t, 3, 2, 4, 4)) < density).astype(np.int64)
    res = simulate(net, x)
    for b, li in zip(overflow_bounds(net, t), (0, 2), strict=True):
        if res.overflow_events[li].sum() > 0:
            assert b.can_overflow
        if not b.can_overflow:
            assert res.overflow_events[li].sum() == 0
            assert b.lo <= res.membrane_min[li].min() and res.membrane_max[li].max() <= b.hi


def test_overflow_bounds_by_hand() -> None:
    from flexspim.compile import overflow_bounds

    # one neuron, weights [3, -2], threshold 4, subtract reset, 2 timesteps
    net = IntNetwork(input_shape=(2,), layers=(
        Linear(name="fc", weight=np.array([[3, -2]]), w_bits=3, v_bits=4, threshold=4),),
        name="hand")
    (b,) = overflow_bounds(net, 2)
    # t1: peak in [-2, 3], after in [-2, 3]; t2: peak in [-4, 6]
    assert (b.lo, b.hi) == (-4, 6) and not b.can_overflow and b.headroom_bits == 4
    (b3,) = overflow_bounds(net, 2, max_input_count=3)
    # t1: peak in [-6, 9], after_hi = max(min(9, 3), 5) = 5; t2: peak in [-12, 14]
    assert (b3.lo, b3.hi) == (-12, 14) and b3.can_overflow and b3.headroom_bits == 5


def _estimate_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("estimated energy"))


def test_compile_takes_the_time_bins_from_the_models_record(tmp_path, capsys) -> None:
    """The shipped model's record says T = 12: compile estimates at T = 12 and says where T and
    the rest of the assumed activity come from; a copy without its record, or with a record of
    other bytes, falls back to the default and says so."""
    import json
    import shutil
    from pathlib import Path

    from flexspim.cli import main
    from flexspim.compile.activity import DEFAULT_TIMESTEPS

    shipped = Path(__file__).resolve().parents[1] / "src" / "flexspim" / "assets"
    record = json.loads((shipped / "digits_net.json").read_text())
    assert record["n_time_bins"] == 12 != DEFAULT_TIMESTEPS
    assert main(["compile", str(shipped / "digits_net.npz"), "--out",
                 str(tmp_path / "a.json")]) == 0
    text = capsys.readouterr().out
    assert (f"T = 12 from the model's record {shipped / 'digits_net.json'}" in text)
    assert "assumed, not measured: input sparsity 0.95 (default), hidden spike density 0.1 " \
           "(default)" in text
    assert "pass --activity RUN.json" in text and "docs/compiler.md" in text
    assert "(analytic estimate for the assumed activity;" in _estimate_line(text)
    assert main(["compile", str(shipped / "digits_net.npz"), "--time-bins", "12", "--out",
                 str(tmp_path / "b.json")]) == 0
    explicit = capsys.readouterr().out
    assert _estimate_line(explicit) == _estimate_line(text)
    assert "T = 12 from --time-bins" in explicit
    assert load_mapping(tmp_path / "a.json").layers == load_mapping(tmp_path / "b.json").layers
    # the network without its record: the default T, said to be the default
    shutil.copy(shipped / "digits_net.npz", tmp_path / "copy.npz")
    assert main(["compile", str(tmp_path / "copy.npz"), "--out", str(tmp_path / "c.json")]) == 0
    assert f"T = {DEFAULT_TIMESTEPS} (default; no model record beside the network)" in \
        capsys.readouterr().out
    # a record of other bytes is not this network's: default T, and a note saying why
    record["sha256"] = "0" * 64
    (tmp_path / "copy.json").write_text(json.dumps(record))
    assert main(["compile", str(tmp_path / "copy.npz"), "--out", str(tmp_path / "d.json")]) == 0
    captured = capsys.readouterr()
    assert f"T = {DEFAULT_TIMESTEPS} (default;" in captured.out
    assert f"{tmp_path / 'copy.json'}: describes another file than {tmp_path / 'copy.npz'} " \
           f"(its SHA-256 differs)" in captured.err


def test_compile_with_measured_activity_says_so(tmp_path, capsys) -> None:
    import json
    from pathlib import Path

    from flexspim.cli import main

    shipped = Path(__file__).resolve().parents[1] / "src" / "flexspim" / "assets" / \
        "digits_net.npz"
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", (rng.random((12, 3, 2, 20, 20)) < 0.05).astype(np.int64))
    assert main(["simulate", str(shipped), str(tmp_path / "x.npy"), "--json",
                 str(tmp_path / "run.json"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["compile", str(shipped), "--activity", str(tmp_path / "run.json"), "--out",
                 str(tmp_path / "m.json")]) == 0
    text = capsys.readouterr().out
    assert f"(analytic estimate for the activity measured in {tmp_path / 'run.json'};" in \
        _estimate_line(text)
    assert "assumed" not in text
    assert json.loads((tmp_path / "m.json").read_text())["format"] == "flexspim-mapping"
