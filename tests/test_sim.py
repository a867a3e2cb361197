"""Simulator: bit-exactness of the engines against the PyTorch integer reference (docs/design.md §3),
batching, inputs, and the result JSON format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from strategies import networks_and_inputs

from flexspim.errors import ConfigError, FormatError, NetworkError
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, SpikeMaxPool, int_range
from flexspim.net.reference import ReferenceResult, run_reference
from flexspim.sim import (
    ENGINES,
    SimResult,
    compiled,
    fast,
    load_result,
    prepare_inputs,
    result_differences,
    simulate,
)
from flexspim.sim.bitcell import conv_sops, rounds
from flexspim.sim.common import FLOAT32_EXACT, BatchStats, conv_fanout, layer_input_bounds

#: Backends of the fast engine present here (numba only where Numba is installed).
BACKENDS = [b for b in fast.BACKENDS if b != "numba" or compiled.numba is not None]


@pytest.fixture(autouse=True)
def _one_numba_thread():
    """Numba's kernels on one thread in these tests (the machine's cores are shared)."""
    if compiled.numba is None:
        yield
        return
    before = compiled.numba.get_num_threads()
    compiled.numba.set_num_threads(1)
    yield
    compiled.numba.set_num_threads(before)


def assert_matches_reference(res: SimResult, ref: ReferenceResult) -> None:
    """Every count, prediction and final membrane of ``res`` equals the reference's."""
    spiking = [m for m in ref.final_membranes]
    np.testing.assert_array_equal(res.output_counts, ref.output_counts)
    np.testing.assert_array_equal(res.predictions, ref.predictions)
    np.testing.assert_array_equal(res.input_events, ref.step_input_events.sum(axis=1).T)
    np.testing.assert_array_equal(res.sops, ref.step_sops.sum(axis=1).T)
    np.testing.assert_array_equal(res.output_spikes, ref.step_output_spikes.sum(axis=1).T)
    np.testing.assert_array_equal(res.overflow_events, ref.step_overflow.sum(axis=1).T)
    np.testing.assert_array_equal(res.membrane_min, ref.step_membrane_min.min(axis=1).T)
    np.testing.assert_array_equal(res.membrane_max, ref.step_membrane_max.max(axis=1).T)
    np.testing.assert_array_equal(res.sample_sops, ref.sops)
    np.testing.assert_array_equal(res.sample_spikes, ref.output_spikes)
    np.testing.assert_array_equal(res.sample_input_events, ref.input_events)
    assert res.final_membranes is not None and len(res.final_membranes) == len(spiking)
    for got, want in zip(res.final_membranes, spiking, strict=True):
        np.testing.assert_array_equal(got, want)


def assert_stats_match_reference(st: BatchStats, ref: ReferenceResult) -> None:
    """One engine batch (:class:`BatchStats`) equals the reference: spikes, membranes, counts."""
    np.testing.assert_array_equal(st.output_counts, ref.output_counts)
    for got, want in (
        (st.step_input_events, ref.step_input_events.sum(axis=1).T),
        (st.step_sops, ref.step_sops.sum(axis=1).T),
        (st.step_output_spikes, ref.step_output_spikes.sum(axis=1).T),
        (st.step_overflow, ref.step_overflow.sum(axis=1).T),
        (st.membrane_min, ref.step_membrane_min.min(axis=1).T),
        (st.membrane_max, ref.step_membrane_max.max(axis=1).T),
        (st.sample_sops, ref.sops), (st.sample_spikes, ref.output_spikes),
        (st.sample_input_events, ref.input_events),
    ):
        np.testing.assert_array_equal(got, want)
    assert st.final_membranes is not None
    assert len(st.final_membranes) == len(ref.final_membranes)
    for got, want in zip(st.final_membranes, ref.final_membranes, strict=True):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=300, deadline=None)
@given(networks_and_inputs(leaky=True))
def test_fast_engine_equals_reference(case: tuple[IntNetwork, np.ndarray]) -> None:
    net, x = case
    ref = run_reference(net, x)
    res = simulate(net, x, engine="fast", return_membranes=True, batch_size=2)
    assert_matches_reference(res, ref)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=200, deadline=None)
@given(case=networks_and_inputs(leaky=True))
def test_every_fast_backend_equals_reference(backend: str,
                                             case: tuple[IntNetwork, np.ndarray]) -> None:
    net, x = case
    st = fast.run_batch(net, x, return_membranes=True, backend=backend)
    assert_stats_match_reference(st, run_reference(net, x))


@pytest.mark.skipif(compiled.numba is None, reason="the compiled backend needs Numba")
@settings(max_examples=120, deadline=None)
@given(case=networks_and_inputs(leaky=True), grouped=st.booleans())
def test_compiled_weight_row_forms_equal_reference(case: tuple[IntNetwork, np.ndarray],
                                                  grouped: bool) -> None:
    """Both forms of the compiled backend's weight rows (per channel; grouped by 4 channels)
    give the reference's spikes, membranes and counts, whatever form the size rule picks."""
    net, x = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compiled, "GROUP_TABLE_BYTES", 1 << 40 if grouped else 0)
        st_ = fast.run_batch(net, x, return_membranes=True, backend="numba")
    assert_stats_match_reference(st_, run_reference(net, x))


def test_grouped_rows_hold_the_subset_sums() -> None:
    """Row 16*g + s of the grouped weights is the sum of the weights of subset s of the
    channels 4g..4g+3 (row 0: zeros), per kernel row and column."""
    rng = np.random.default_rng(2)
    conv = Conv2d(name="c", weight=rng.integers(-8, 8, (3, 6, 2, 3)), w_bits=4, v_bits=8,
                  threshold=1, padding=(1, 1))
    form = compiled.conv_form(conv, (6, 5, 5))
    lanes = np.arange(3)
    rows = compiled.weight_rows(form, lanes, grouped=True)
    per = compiled.weight_rows(form, lanes, grouped=False)
    assert rows.shape == (2, 2 * 16, 3, 3) and per.shape == (2, 7, 3, 3)
    np.testing.assert_array_equal(rows[:, 0], 0)
    np.testing.assert_array_equal(per[:, 6], 0)
    np.testing.assert_array_equal(rows[:, 16 + 0b0011], per[:, 4] + per[:, 5])
    np.testing.assert_array_equal(rows[:, 0b1010], per[:, 1] + per[:, 3])
    np.testing.assert_array_equal(rows[:, 16 + 0b0100], 0)  # channel 6 does not exist


def _edge_net(weights: list[int], v_bits: int, init: int | None, threshold: int) -> IntNetwork:
    """One linear neuron with the given fan-in weights (w_bits = v_bits)."""
    fc = Linear(name="fc", weight=np.array([weights], dtype=np.int64), w_bits=v_bits,
                v_bits=v_bits, threshold=threshold,
                initial_membrane=None if init is None else np.array([init], dtype=np.int64))
    return IntNetwork(input_shape=(len(weights),), layers=(fc,))


@settings(max_examples=40, deadline=None)
@given(offset=st.integers(-3, 3), negative=st.booleans(), count=st.integers(1, 2))
def test_torch_exact_bounds_on_both_sides(offset: int, negative: bool, count: int) -> None:
    """Synaptic sums and membranes right below and above the torch backend's exact bound 2**24
    (float32; above it float64): sums of 2**24 + 1 are not float32 numbers, so choosing float32
    one step too far gives wrong spikes, membranes or counts."""
    bound = FLOAT32_EXACT
    # synaptic side: two weights whose sum is bound + offset (times the count)
    total = (bound + offset) // count
    half = total // 2
    sign = -1 if negative else 1
    net = _edge_net([sign * half, sign * (total - half)], 34, None, 1)
    x = np.array([[[count, count]], [[count, 0]], [[0, count]]], dtype=np.int64)
    st_ = fast.run_batch(net, x, return_membranes=True, backend="torch")
    assert_stats_match_reference(st_, run_reference(net, x))
    # membrane side: a membrane at its range limit plus inputs that take the exact sum to the
    # bound + offset
    v_bits = 24
    lo, hi = -(1 << (v_bits - 1)), (1 << (v_bits - 1)) - 1
    total = max(0, bound - (1 << (v_bits - 1)) + offset) // count
    half = total // 2
    net = _edge_net([sign * half, sign * (total - half)], v_bits, lo if negative else hi, hi)
    x = np.array([[[count, count]], [[count, 0]]], dtype=np.int64)
    assert_stats_match_reference(fast.run_batch(net, x, return_membranes=True,
                                                backend="torch"), run_reference(net, x))


@pytest.mark.skipif(compiled.numba is None, reason="the compiled backend needs Numba")
@settings(max_examples=60, deadline=None)
@given(offset=st.integers(-3, 3), negative=st.booleans(), count=st.integers(1, 2),
       lane_bits=st.sampled_from([16, 32]), at_limit=st.booleans())
def test_compiled_lane_bounds_on_both_sides(offset: int, negative: bool, count: int,
                                            lane_bits: int, at_limit: bool) -> None:
    """Timestep inputs right below and above the compiled backend's lane bound 2**(L-1) - 1
    (int16 lanes for 16-bit membranes, int32 for 32-bit; above it the next wider lane), with
    membranes of exactly L bits that start at a range limit or at 0 and wrap: an input of
    2**(L-1) is not an L-bit number, so a lane chosen one step too narrow gives wrong membranes
    or overflow counts."""
    v_bits = lane_bits
    lo, hi = int_range(v_bits)
    total = ((1 << (lane_bits - 1)) - 1 + offset) // count
    half = total // 2
    sign = -1 if negative else 1
    init = (lo if negative else hi) if at_limit else None
    net = _edge_net([sign * half, sign * (total - half)], v_bits, init, hi)
    x = np.array([[[count, count]], [[count, 0]], [[0, count]], [[count, count]]],
                 dtype=np.int64)
    bound = layer_input_bounds(net, count)[0]
    wide = np.dtype(np.int32 if lane_bits == 16 else np.int64)
    assert compiled.lane_dtype(net.layers[0], bound) == (
        np.dtype(f"int{lane_bits}") if bound <= (1 << (lane_bits - 1)) - 1 else wide)
    st_ = fast.run_batch(net, x, return_membranes=True, backend="numba")
    assert_stats_match_reference(st_, run_reference(net, x))


def test_arithmetic_switches_at_the_bounds() -> None:
    """The narrow arithmetic is chosen exactly while the bound holds, on both sides."""
    net = _edge_net([(1 << 23) - 1, (1 << 23) - 1], 32, None, 1)  # fan-in sum 2**24 - 2
    assert fast._dtype_for(layer_input_bounds(net, 1)[0]) == torch.float32
    assert fast._dtype_for(layer_input_bounds(net, 2)[0]) == torch.float64
    assert fast._dtype_for(FLOAT32_EXACT - 1) == torch.float32
    assert fast._dtype_for(FLOAT32_EXACT) == torch.float64
    assert fast._dtype_for(1 << 53) == torch.int64
    # compiled lanes: int16 while v_bits <= 16 and the input bound <= 2**15 - 1, int32 likewise
    # at 32 bits, else int64
    for v_bits, bound, lane in [(16, (1 << 15) - 1, np.int16), (16, 1 << 15, np.int32),
                                (17, 0, np.int32), (2, 5, np.int16),
                                (32, (1 << 31) - 1, np.int32), (32, 1 << 31, np.int64),
                                (33, 0, np.int64)]:
        layer = _edge_net([1], v_bits, None, 1).layers[0]
        assert compiled.lane_dtype(layer, bound) == lane, (v_bits, bound)


def test_tap_and_run_tables_match_the_convolution() -> None:
    # 5 inputs, kernel 3, stride 2, padding 1 -> 3 outputs: q*2 - 1 + i == p
    table = compiled.tap_table(5, 3, 3, 2, 1)
    assert table[0].tolist()[:3] == [1, 1, 0]  # p=0: tap 1 of output 0
    assert table[1, 0] == 2 and sorted(table[1, 1:5].reshape(2, 2).tolist()) == [[0, 1], [2, 0]]
    assert compiled.tap_table(1, 1, 1, 1, 0).tolist() == [[1, 0, 0]]


@settings(max_examples=200, deadline=None)
@given(n_in=st.integers(1, 9), k=st.integers(1, 5), stride=st.integers(1, 3),
       pad=st.integers(0, 2))
def test_column_runs_cover_the_taps(n_in: int, k: int, stride: int, pad: int) -> None:
    """Each input column's taps, in the stored column order, are one run whose outputs are
    consecutive, and they are exactly the taps of :func:`tap_table`."""
    n_out = (n_in + 2 * pad - k) // stride + 1
    if n_out < 1:
        return
    taps = compiled.tap_table(n_in, n_out, k, stride, pad)
    order = compiled.column_order(k, stride)
    assert sorted(order.tolist()) == list(range(k))
    runs = compiled.column_runs(n_in, n_out, k, stride, pad)
    for x in range(n_in):
        want = {(int(taps[x, 1 + 2 * a]), int(taps[x, 2 + 2 * a])) for a in range(taps[x, 0])}
        m, first, q = (int(v) for v in runs[x])
        got = {(int(order[first + r]), q + r) for r in range(m)}
        assert got == want


def test_unknown_backend_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown fast-engine backend"):
        fast.run_batch(_wrapping_net(), np.zeros((1, 1, 2, 6, 6), dtype=np.int64),
                       backend="nope")


@settings(max_examples=250, deadline=None)
@given(networks_and_inputs(leaky=True))
def test_bitlevel_engine_equals_reference_and_fast(case: tuple[IntNetwork, np.ndarray]) -> None:
    """The bit-sliced macro engine: every spike, membrane and count as the reference and the
    fast engine (overflow and wrap included)."""
    net, x = case
    ref = run_reference(net, x)
    bit = simulate(net, x, engine="bitlevel", return_membranes=True)
    assert_matches_reference(bit, ref)
    assert result_differences(bit, simulate(net, x, return_membranes=True)) == []


@settings(max_examples=100, deadline=None)
@given(networks_and_inputs(max_feature_layers=2, max_linear=1, leaky=True))
def test_bitcell_engine_equals_bitlevel_and_reference(case: tuple[IntNetwork, np.ndarray]
                                                      ) -> None:
    """The per-cell macro model (the specification) and the bit-sliced engine agree on random
    networks: fast == bit-sliced == per-cell == reference."""
    net, x = case
    cell = simulate(net, x, engine="bitcell", return_membranes=True)
    assert_matches_reference(cell, run_reference(net, x))
    assert result_differences(cell, simulate(net, x, engine="bitlevel",
                                             return_membranes=True)) == []


@pytest.mark.parametrize("engine", ["bitcell", "bitlevel"])
def test_macro_engines_split_rounds_larger_than_a_macro(engine: str) -> None:
    from flexspim.sim.bitcell import macro_lanes

    n_out = macro_lanes(24, 32) + 5  # one event reaches more neurons than one macro holds
    w = np.random.default_rng(8).integers(-(2**23), 2**23, (n_out, 2))
    fc = Linear(name="fc", weight=w, w_bits=24, v_bits=32, threshold=2**24)
    net = IntNetwork(input_shape=(2,), layers=(fc,))
    x = np.array([[[1, 1]], [[2, 0]]], dtype=np.int64)
    res = simulate(net, x, engine=engine, return_membranes=True)
    assert_matches_reference(res, run_reference(net, x))


@pytest.mark.parametrize("engine", ["bitlevel", "bitcell", "fast"])
def test_wrap_at_61_bits_over_two_words_of_lanes(engine: str) -> None:
    """Wide membranes (61 bits: the widest exact simulation) and more than 64 output channels
    (two words of lanes) wrap and count overflow like the reference."""
    rng = np.random.default_rng(11)
    w = rng.integers(-(2**59), 2**59, (70, 3))
    fc = Linear(name="fc", weight=w, w_bits=61, v_bits=61, threshold=2**58, reset="zero",
                initial_membrane=rng.integers(-(2**60), 2**60, 70))
    net = IntNetwork(input_shape=(3,), layers=(fc,))
    x = rng.integers(0, 3, (3, 2, 3))
    res = simulate(net, x, engine=engine, return_membranes=True)
    ref = run_reference(net, x)
    assert ref.step_overflow.sum() > 0
    assert_matches_reference(res, ref)


def _wrapping_net() -> IntNetwork:
    """Conv (4-bit membranes, 4-bit weights) -> maxpool -> flatten -> linear: wraps a lot."""
    rng = np.random.default_rng(3)
    conv = Conv2d(name="c", weight=rng.integers(-8, 8, (3, 2, 3, 3)), w_bits=4, v_bits=4,
                  threshold=3, padding=(1, 1))
    fc = Linear(name="fc", weight=rng.integers(-8, 8, (5, 3 * 3 * 3)), w_bits=4, v_bits=5,
                threshold=2, reset="zero")
    return IntNetwork(input_shape=(2, 6, 6), layers=(conv, SpikeMaxPool(name="p", kernel=2),
                                                     Flatten(name="f"), fc))


def test_overflow_is_counted_and_engines_agree() -> None:
    net = _wrapping_net()
    x = (np.random.default_rng(0).random((5, 4, 2, 6, 6)) < 0.6).astype(np.int64) * 2
    ref = run_reference(net, x)
    res = simulate(net, x, return_membranes=True)
    assert res.overflow_events.sum() > 0
    assert_matches_reference(res, ref)


def test_int64_path_for_wide_weights() -> None:
    """Weights of 60 bits leave float64's exact range: the fast engine sums in int64."""
    w = np.array([[[[2**59 - 1, -(2**59)], [2**58, 3]]]], dtype=np.int64)
    conv = Conv2d(name="c", weight=w, w_bits=60, v_bits=61, threshold=2**58, padding=(1, 0))
    fc = Linear(name="fc", weight=np.array([[1, -1, 1, 1, 0, 1]]), w_bits=2, v_bits=3, threshold=1)
    net = IntNetwork(input_shape=(1, 2, 3), layers=(conv, Flatten(name="f"), fc))
    x = np.random.default_rng(1).integers(0, 2, (6, 3, 1, 2, 3))
    assert_matches_reference(simulate(net, x, return_membranes=True), run_reference(net, x))


def test_huge_event_counts_stay_exact() -> None:
    """Counts above 2**24 leave float32's exact range: inputs and sums go to float64."""
    fc = Linear(name="fc", weight=np.array([[1, -1], [1, 1]]), w_bits=2, v_bits=40,
                threshold=2**30)
    net = IntNetwork(input_shape=(2,), layers=(fc,))
    x = np.array([[[2**25 + 1, 3]], [[2**30 - 7, 2**24 + 3]]], dtype=np.int64)
    assert_matches_reference(simulate(net, x, return_membranes=True), run_reference(net, x))


def test_batching_does_not_change_results() -> None:
    net = _wrapping_net()
    x = (np.random.default_rng(5).random((3, 7, 2, 6, 6)) < 0.3).astype(np.int64)
    a = simulate(net, x, batch_size=1, return_membranes=True)
    b = simulate(net, x, batch_size=64, return_membranes=True)
    assert result_differences(a, b) == []


def test_conv_fanout_counts_border_synapses() -> None:
    w = np.ones((2, 1, 3, 3), dtype=np.int64)
    conv = Conv2d(name="c", weight=w, w_bits=2, v_bits=4, threshold=1, padding=(1, 1))
    fan = conv_fanout(conv, (4, 4))
    # 3x3 'same' conv: corner pixel reaches 2x2 outputs, edge 2x3, interior 3x3; times 2 channels
    assert fan[0, 0] == 8 and fan[0, 1] == 12 and fan[1, 1] == 18
    strided = Conv2d(name="s", weight=w, w_bits=2, v_bits=4, threshold=1, stride=2)
    # 5x5 input, no padding, stride 2 -> 2x2 outputs; pixel (2, 2) is in all four windows
    assert conv_fanout(strided, (5, 5))[2, 2] == 8 and conv_fanout(strided, (5, 5))[0, 0] == 2


def test_bitlevel_sop_expansion_matches_fanout() -> None:
    w = np.arange(18, dtype=np.int64).reshape(2, 1, 3, 3) - 9
    conv = Conv2d(name="c", weight=w, w_bits=5, v_bits=8, threshold=1, padding=(1, 1), stride=2)
    x = np.zeros((1, 1, 5, 5), dtype=np.int64)
    x[0, 0, 0, 0], x[0, 0, 2, 3] = 2, 1
    targets, weights = conv_sops(conv, x)
    fan = conv_fanout(conv, (5, 5))
    assert targets.size == 2 * fan[0, 0] + fan[2, 3]
    # the pixel (0, 0) reaches output (0, 0) through tap (1, 1) only, twice per channel
    assert sorted(weights[targets == 0].tolist()) == [w[0, 0, 1, 1]] * 2
    assert rounds(np.array([4, 1, 4, 4, 1])).tolist() == [0, 0, 1, 2, 1]


def test_result_json_round_trip(tmp_path: Path) -> None:
    net = _wrapping_net()
    x = (np.random.default_rng(2).random((3, 4, 2, 6, 6)) < 0.4).astype(np.int64)
    res = simulate(net, x, labels=[0, 1, 2, 3], return_membranes=True)
    path = tmp_path / "out" / "res.json"
    res.save_json(path)
    back = load_result(path)
    assert result_differences(res, back) == []
    assert back.accuracy == res.accuracy and back.labels is not None
    assert back.layer_neurons == res.layer_neurons and back.network == res.network
    np.testing.assert_allclose(back.spike_density, res.spike_density)
    doc = json.loads(path.read_text())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="version 99"):
        load_result(path)
    doc["version"], doc["sops"] = 1, [[1, 2]]
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="'sops' has shape"):
        load_result(path)
    path.write_text('{"format": "flexspim-network", "version": 1}')
    with pytest.raises(FormatError, match="expected 'flexspim-sim-result'"):
        load_result(path)
    path.write_text('{"format": "flexspim-sim-res')
    with pytest.raises(FormatError, match="not valid JSON"):
        load_result(path)


def test_accuracy_and_predictions_ties_lowest_index() -> None:
    fc = Linear(name="fc", weight=np.array([[1], [1], [0]]), w_bits=2, v_bits=4, threshold=1)
    net = IntNetwork(input_shape=(1,), layers=(fc,))
    x = np.array([[[1]], [[0]]])  # T=2, N=1: classes 0 and 1 spike once each
    res = simulate(net, x, labels=[0])
    assert res.predictions.tolist() == [0] and res.accuracy == 1.0
    assert simulate(net, x).accuracy is None


def test_input_errors() -> None:
    net = _wrapping_net()
    with pytest.raises(NetworkError, match="does not match"):
        simulate(net, np.zeros((2, 1, 2, 5, 6), dtype=np.int64))
    with pytest.raises(FormatError, match="negative"):
        simulate(net, -np.ones((2, 1, 2, 6, 6), dtype=np.int64))
    with pytest.raises(FormatError, match="2\\*\\*31"):
        simulate(net, np.full((2, 1, 2, 6, 6), 2**31, dtype=np.int64))
    with pytest.raises(FormatError, match="dtype float"):
        simulate(net, np.zeros((2, 1, 2, 6, 6)))
    with pytest.raises(ConfigError, match="unknown engine"):
        simulate(net, np.zeros((2, 1, 2, 6, 6), dtype=np.int64), engine="nope")
    with pytest.raises(ConfigError, match="labels"):
        simulate(net, np.zeros((2, 1, 2, 6, 6), dtype=np.int64), labels=[1, 2])
    with pytest.raises(ConfigError, match="n_time_bins"):
        simulate(net, np.zeros((2, 1, 2, 6, 6), dtype=np.int64), n_time_bins=3)
    assert set(ENGINES) == {"fast", "bitlevel", "bitcell"}


def test_torch_and_bool_inputs_are_accepted() -> None:
    net = _wrapping_net()
    x = np.random.default_rng(4).random((2, 2, 2, 6, 6)) < 0.5
    a = simulate(net, torch.from_numpy(x))
    b = simulate(net, x.astype(np.int16))
    assert result_differences(a, b) == []
    assert prepare_inputs(net, x).dtype == np.int64


def test_event_streams_are_binned_like_bin_events() -> None:
    data = pytest.importorskip("flexspim.data")
    if not hasattr(data, "bin_events"):
        pytest.skip("flexspim.data.bin_events is not available")
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])
    rng = np.random.default_rng(6)
    streams = []
    for _ in range(3):
        ev = np.zeros(40, dtype=dtype)
        ev["x"], ev["y"] = rng.integers(0, 6, 40), rng.integers(0, 6, 40)
        ev["p"], ev["t"] = rng.integers(0, 2, 40) > 0, np.sort(rng.integers(0, 10_000, 40))
        streams.append(ev)
    net = _wrapping_net()
    res = simulate(net, streams, n_time_bins=4, labels=[0, 1, 2])
    binned = np.stack([data.bin_events(ev, (6, 6, 2), 4) for ev in streams], axis=1)
    assert result_differences(res, simulate(net, binned.astype(np.int64))) == []
    with pytest.raises(ConfigError, match="n_time_bins"):
        simulate(net, streams)
    with pytest.raises(ConfigError, match="sensor size"):
        simulate(net, streams, n_time_bins=4, sensor_size=(128, 128))


def _cli(argv: list[str]) -> int:
    """Run ``flexspim simulate`` through its own parser (independent of other subcommands)."""
    from flexspim.cli import _Parser
    from flexspim.cli import simulate as simulate_cmd

    parser = _Parser(prog="flexspim")
    simulate_cmd.register(parser.add_subparsers(parser_class=_Parser))
    args = parser.parse_args(["simulate", *argv])
    return int(args.func(args))


def test_cli_binned_spikes_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flexspim.net import save_network

    net = _wrapping_net()
    save_network(net, tmp_path / "net.npz")
    x = (np.random.default_rng(9).random((4, 3, 2, 6, 6)) < 0.3).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "res.json"
    assert _cli([str(tmp_path / "net.npz"), str(tmp_path / "x.npy"), "--labels", "0,1,2",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    res = load_result(out)
    assert result_differences(res, simulate(net, x.astype(np.int64), labels=[0, 1, 2])) == []
    assert f"accuracy: {res.accuracy:.4f}" in text
    assert text.splitlines()[-2].startswith("NeuroBench: ")
    rows = {line.split()[0]: line.split() for line in text.splitlines()[4:-2]}
    assert set(rows) == set(res.layer_names)
    assert int(rows["c"][2]) == res.layer_sops[0] and int(rows["fc"][3]) == res.output_counts.sum()


def test_cli_event_folder_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flexspim.net import save_network

    save_network(_wrapping_net(), tmp_path / "net.npz")
    folder = tmp_path / "ev"
    folder.mkdir()
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])
    for i, label in enumerate([3, 1]):
        ev = np.zeros(5, dtype=dtype)
        ev["x"], ev["y"], ev["t"] = np.arange(5), np.arange(5), np.arange(5) * 10
        np.save(folder / f"s{i}_label{label}.npy", ev)
    from flexspim.cli.recording_options import _table
    from flexspim.data import Preprocess, make_samples, read_events

    recs = read_events(folder)

    def labels() -> list[int]:
        table, name = _table(folder, None)
        return make_samples(recs, (6, 6, 2), Preprocess(), table=table,
                            table_name=name).labels.tolist()

    assert labels() == [3, 1]
    (folder / "labels.csv").write_text("file,label\ns0_label3.npy,7\ns1_label1,8\n")
    assert labels() == [7, 8]
    (folder / "labels.csv").write_text("s0_label3.npy,7\n")
    with pytest.raises(FormatError, match="no label for s1_label1.npy"):
        labels()
    (folder / "labels.csv").unlink()
    data = pytest.importorskip("flexspim.data")
    if not hasattr(data, "bin_events"):
        pytest.skip("flexspim.data.bin_events is not available")
    assert _cli([str(tmp_path / "net.npz"), str(folder), "--time-bins", "3"]) == 0
    assert "accuracy:" in capsys.readouterr().out


def test_cli_errors(tmp_path: Path) -> None:
    from flexspim.net import save_network

    save_network(_wrapping_net(), tmp_path / "net.npz")
    with pytest.raises(FormatError, match="no such events file"):
        _cli([str(tmp_path / "net.npz"), str(tmp_path / "none.npy")])
    (tmp_path / "bad.npy").write_text("not numpy")
    with pytest.raises(FormatError, match="not a readable .npy"):
        _cli([str(tmp_path / "net.npz"), str(tmp_path / "bad.npy")])
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 2, 6, 6), dtype=np.int8))
    with pytest.raises(ConfigError, match="--sensor-size"):
        _cli([str(tmp_path / "net.npz"), str(tmp_path / "x.npy"), "--sensor-size", "3"])
    with pytest.raises(ConfigError, match="--labels"):
        _cli([str(tmp_path / "net.npz"), str(tmp_path / "x.npy"), "--labels", "a,b"])


#: Search settings of the coverage tests: the first example found is enough (no shrinking).
_FIND = settings(max_examples=3000, database=None, phases=[Phase.generate])

_FEATURES = {
    "conv2d": lambda n: any(isinstance(la, Conv2d) for la in n.layers),
    "strided padded conv": lambda n: any(isinstance(la, Conv2d) and max(la.stride) == 2
                                         and max(la.padding) == 1 for la in n.layers),
    "maxpool": lambda n: any(isinstance(la, SpikeMaxPool) for la in n.layers),
    "flatten": lambda n: any(isinstance(la, Flatten) for la in n.layers),
    "two linear": lambda n: sum(isinstance(la, Linear) for la in n.layers) == 2,
    "1-bit weights": lambda n: any(la.w_bits == 1 for la in n.spiking_layers),
    "32-bit weights": lambda n: any(la.w_bits == 32 for la in n.spiking_layers),
    "2-bit membranes": lambda n: any(la.v_bits == 2 for la in n.spiking_layers),
    "32-bit membranes": lambda n: any(la.v_bits == 32 for la in n.spiking_layers),
    "zero reset": lambda n: any(la.reset == "zero" for la in n.spiking_layers),
    "subtract reset": lambda n: any(la.reset == "subtract" for la in n.spiking_layers),
    "initial membrane": lambda n: any(la.initial_membrane is not None
                                      for la in n.spiking_layers),
    "shift leak": lambda n: any(la.leak is not None and la.leak.kind == "shift"
                                for la in n.spiking_layers),
    "constant leak": lambda n: any(la.leak is not None and la.leak.kind == "constant"
                                   for la in n.spiking_layers),
    "largest shift": lambda n: any(la.leak is not None and la.leak.kind == "shift"
                                   and la.leak.amount == la.v_bits - 1
                                   for la in n.spiking_layers),
    "largest constant": lambda n: any(la.leak is not None and la.leak.kind == "constant"
                                      and la.leak.amount == int_range(la.v_bits)[1]
                                      for la in n.spiking_layers),
    "IF and LIF layers": lambda n: len({la.leak is None for la in n.spiking_layers}) == 2,
}


@pytest.mark.parametrize("feature", sorted(_FEATURES))
def test_random_networks_cover(feature: str) -> None:
    """The property tests' strategy reaches every layer type, width and neuron option."""
    from hypothesis import find
    from strategies import int_networks

    find(int_networks(leaky=True), _FEATURES[feature], settings=_FIND)


def _without_leaks(net: IntNetwork) -> IntNetwork:
    import dataclasses

    return dataclasses.replace(net, layers=tuple(
        dataclasses.replace(la, leak=None) if hasattr(la, "leak") else la for la in net.layers))


@pytest.mark.parametrize("what", ["overflow", "deep spikes", "float32 path", "wide path",
                                  "counts above one", "leak changes membranes",
                                  "leak with overflow"])
def test_random_cases_cover(what: str) -> None:
    """Random cases overflow, spike in the last layer, and take both sides of the exact
    bounds (float32 / wider synaptic sums) of the fast engine."""
    from hypothesis import find

    def bounds(c: tuple[IntNetwork, np.ndarray]) -> list[int]:
        return [b for b, la in zip(layer_input_bounds(c[0], int(c[1].max())), c[0].layers,
                                   strict=True) if la in c[0].spiking_layers]

    checks = {
        "overflow": lambda c: run_reference(*c).step_overflow.sum() > 0,
        "deep spikes": lambda c: len(c[0].spiking_layers) >= 3
        and run_reference(*c).output_counts.sum() > 0,
        "float32 path": lambda c: all(b < FLOAT32_EXACT for b in bounds(c)),
        "wide path": lambda c: any(b >= FLOAT32_EXACT for b in bounds(c)),
        "counts above one": lambda c: int(c[1].max()) > 1,
        "leak changes membranes": lambda c: any(
            not np.array_equal(a, b) for a, b in zip(
                run_reference(*c).final_membranes,
                run_reference(_without_leaks(c[0]), c[1]).final_membranes, strict=True)),
        "leak with overflow": lambda c: any(la.leak is not None for la in c[0].spiking_layers)
        and run_reference(*c).step_overflow.sum() > 0,
    }
    find(networks_and_inputs(leaky=True), checks[what], settings=_FIND)


def test_inputs_of_another_shape_are_named_before_the_time_bins() -> None:
    """An array that is no [T, N, *input_shape] gets the shape message (not advice about the
    time bins that then fails); binned spikes of other T get advice that works."""
    from flexspim.sim.engine import prepare_inputs

    net = IntNetwork(input_shape=(4,), layers=(
        Linear(name="fc", weight=np.ones((2, 4), dtype=np.int64), w_bits=4, v_bits=8,
               threshold=2),), name="n")
    with pytest.raises(NetworkError, match=r"shape \(100, 4\) does not match \[T, N, 4\]"):
        prepare_inputs(net, np.zeros((100, 4), dtype=np.int64), n_time_bins=12)
    spikes = np.ones((5, 3, 4), dtype=np.int64)
    with pytest.raises(ConfigError, match="inputs are binned into 5 time bins, n_time_bins is "
                                          "12: leave n_time_bins out"):
        prepare_inputs(net, spikes, n_time_bins=12)
    assert prepare_inputs(net, spikes).shape == (5, 3, 4)  # the advice, followed


def _leaky_net() -> IntNetwork:
    import dataclasses

    from flexspim.net import Leak

    net = _wrapping_net()
    conv, pool, flat, fc = net.layers
    return dataclasses.replace(net, layers=(dataclasses.replace(conv, leak=Leak("shift", 1)),
                                            pool, flat, fc))


def test_result_counts_leaked_membranes_every_timestep(tmp_path: Path) -> None:
    """leak_ops[l, t]: every membrane of a leaky layer, every timestep and sample (the leak is
    time-driven); 0 elsewhere; kept by the JSON file; absent in older files: zeros."""
    net = _leaky_net()
    x = (np.random.default_rng(2).random((3, 4, 2, 6, 6)) < 0.4).astype(np.int64)
    res = simulate(net, x)
    assert res.leak_ops.tolist() == [[3 * 6 * 6 * 4] * 3] + [[0] * 3] * 3
    res.save_json(tmp_path / "r.json")
    assert result_differences(res, load_result(tmp_path / "r.json")) == []
    doc = json.loads((tmp_path / "r.json").read_text())
    del doc["leak_ops"]
    old = SimResult.from_dict(doc)
    assert old.leak_ops.shape == (4, 3) and not old.leak_ops.any()
    assert simulate(_wrapping_net(), x).leak_ops.sum() == 0


def test_system_engine_executes_leaky_layers() -> None:
    """A leaky layer runs on the system engine: its results are the simulator's, and the leak
    phase counts every membrane group every timestep."""
    from flexspim.compile import Activity, compile_network
    from flexspim.energy.counts import PHASES
    from flexspim.hw import default_hardware
    from flexspim.system import run_system

    net = _leaky_net()
    hw = default_hardware()
    mapping = compile_network(net, hw, policy="hs-min",
                              activity=Activity.from_sparsity(net, input_sparsity=0.9,
                                                              n_timesteps=3))
    x = (np.random.default_rng(5).random((3, 2, 2, 6, 6)) < 0.3).astype(np.int64)
    run = run_system(net, mapping, hw, x, return_membranes=True)
    assert result_differences(simulate(net, x, return_membranes=True), run.result) == []
    leak = run.counts.data[:, :, :, PHASES.index("leak")]
    assert (leak[:, :, 0].sum(axis=(2, 3)) > 0).all()          # the leaky layer, every step
    assert leak[:, :, 1:].sum() == 0                            # the others never leak
