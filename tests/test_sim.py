"""Simulator: bit-exactness of the engines against the PyTorch integer reference (DESIGN.md §3),
batching, inputs, and the result JSON format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from strategies import networks_and_inputs

from flexspim.errors import ConfigError, FormatError, NetworkError
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, SpikeMaxPool
from flexspim.net.reference import ReferenceResult, run_reference
from flexspim.sim import (
    ENGINES,
    SimResult,
    load_result,
    prepare_inputs,
    result_differences,
    simulate,
)
from flexspim.sim.bitlevel import conv_sops, rounds
from flexspim.sim.common import conv_fanout


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


@settings(max_examples=400, deadline=None)
@given(networks_and_inputs())
def test_fast_engine_equals_reference(case: tuple[IntNetwork, np.ndarray]) -> None:
    net, x = case
    ref = run_reference(net, x)
    res = simulate(net, x, engine="fast", return_membranes=True, batch_size=2)
    assert_matches_reference(res, ref)


@settings(max_examples=150, deadline=None)
@given(networks_and_inputs(max_feature_layers=2, max_linear=1))
def test_bitlevel_engine_equals_reference_and_fast(case: tuple[IntNetwork, np.ndarray]) -> None:
    pytest.importorskip("flexspim.macro")
    net, x = case
    ref = run_reference(net, x)
    bit = simulate(net, x, engine="bitlevel", return_membranes=True)
    assert_matches_reference(bit, ref)
    assert result_differences(bit, simulate(net, x, return_membranes=True)) == []


def test_bitlevel_splits_rounds_larger_than_a_macro() -> None:
    pytest.importorskip("flexspim.macro")
    from flexspim.sim.bitlevel import macro_lanes

    n_out = macro_lanes(24, 32) + 5  # one event reaches more neurons than one macro holds
    w = np.random.default_rng(8).integers(-(2**23), 2**23, (n_out, 2))
    fc = Linear(name="fc", weight=w, w_bits=24, v_bits=32, threshold=2**24)
    net = IntNetwork(input_shape=(2,), layers=(fc,))
    x = np.array([[[1, 1]], [[2, 0]]], dtype=np.int64)
    res = simulate(net, x, engine="bitlevel", return_membranes=True)
    assert_matches_reference(res, run_reference(net, x))


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
    assert set(ENGINES) == {"fast", "bitlevel"}


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
    rows = {line.split()[0]: line.split() for line in text.splitlines()[4:-1]}
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
    from flexspim.cli.simulate import _folder_labels

    files = sorted(folder.glob("*.npy"))
    assert _folder_labels(folder, files).tolist() == [3, 1]
    (folder / "labels.csv").write_text("file,label\ns0_label3.npy,7\ns1_label1,8\n")
    assert _folder_labels(folder, files).tolist() == [7, 8]
    (folder / "labels.csv").write_text("s0_label3.npy,7\n")
    with pytest.raises(FormatError, match="no label for s1_label1.npy"):
        _folder_labels(folder, files)
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
