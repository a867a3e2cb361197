"""Training: quantizers, integer-exact evaluation (export guarantee), checkpoints and resume, CLI."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.cli import build_parser, main
from flexspim.errors import ConfigError, FormatError
from flexspim.net import Leak, load_network
from flexspim.net.presets import dvs_gesture_scnn
from flexspim.net.reference import run_reference
from flexspim.sim import simulate
from flexspim.train import (
    Architecture,
    ConvSpec,
    FlattenSpec,
    LinearSpec,
    PoolSpec,
    QuantSNN,
    TrainConfig,
    export_network,
    fit,
    integer_counts,
    integer_predictions,
    load_checkpoint,
    preset,
    quantize_weight,
    weight_levels,
)
from flexspim.train.frames import frames_from_arrays, load_frames_file, save_frames
from flexspim.train.record import file_sha256, network_fingerprint

TINY = Architecture("tiny", (2, 8, 8), (ConvSpec("conv1", 4), PoolSpec("pool1"),
                                         ConvSpec("conv2", 6, 3, 2, 1), FlattenSpec("flatten"),
                                         LinearSpec("fc", 3)))


def synthetic(n: int, seed: int, t: int = 4, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Class k lights up rows 2k..2k+2 in polarity k % 2, plus sparse noise (counts)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = rng.poisson(0.05, (n, t, 2, 8, 8))
    for i in range(n):
        x[i, :, y[i] % 2, 2 * y[i] : 2 * y[i] + 3, 1:7] += rng.poisson(0.8, (t, 3, 6))
    return x.astype(np.int16), y.astype(np.int64)


def time_major(x: np.ndarray) -> np.ndarray:
    return np.transpose(x, (1, 0, 2, 3, 4)).astype(np.int64)


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_weight_quantizer_levels_and_error(bits: int, seed: int) -> None:
    w = torch.from_numpy(np.random.default_rng(seed).normal(size=50)).float()
    q, scale = quantize_weight(w, bits)
    lo, hi = weight_levels(bits)
    assert torch.equal(q, q.round()) and int(q.min()) >= lo and int(q.max()) <= hi
    if bits >= 2:  # symmetric rounding: at most half a step from the float weight
        assert float((q * scale - w).abs().max()) <= float(scale) / 2 + 1e-5
    assert lo >= -(1 << (bits - 1)) and hi <= (1 << (bits - 1)) - 1  # fits two's complement


def test_straight_through_gradient() -> None:
    w = torch.tensor([0.3, -1.0, 0.7], requires_grad=True)
    q, _ = quantize_weight(w, 4)
    q.sum().backward()
    assert w.grad is not None and torch.all(w.grad > 0)


@settings(max_examples=20, deadline=None)
@given(w_bits=st.integers(1, 6), extra=st.integers(0, 6), reset=st.sampled_from(["subtract",
       "zero"]), thr=st.floats(0.05, 3.0), seed=st.integers(0, 1000),
       leak=st.sampled_from(["if", "shift", "constant", "per layer"]), data=st.data())
def test_exact_eval_equals_reference_and_fast_sim(w_bits: int, extra: int, reset: str,
                                                   thr: float, seed: int, leak: str,
                                                   data: st.DataObject) -> None:
    """Export guarantee on random IF and LIF models (shift and constant leaks over their whole
    range, per layer), narrow membranes included (wrap-around happens)."""
    torch.manual_seed(seed)
    v_bits = max(2, w_bits + extra)
    leaks = {"if": None,
             "shift": Leak("shift", data.draw(st.integers(1, v_bits - 1))),
             "constant": Leak("constant", data.draw(st.integers(1, (1 << (v_bits - 1)) - 1))),
             "per layer": [None, Leak("shift", 1), Leak("constant", 1)]}[leak]
    model = QuantSNN(TINY, w_bits=w_bits, v_bits=v_bits, reset=reset, threshold_init=thr,
                     leaks=leaks)
    x, _ = synthetic(6, seed)
    net = export_network(model)
    assert [la.leak for la in net.spiking_layers] == model.leaks
    counts = integer_counts(model, x)
    ref = run_reference(net, time_major(x))
    sim = simulate(net, time_major(x), engine="fast")
    assert np.array_equal(counts, ref.output_counts)
    assert np.array_equal(counts, sim.output_counts)
    assert np.array_equal(integer_predictions(model, x), sim.predictions)
    # the float32 training forward computes the same integers
    with torch.no_grad():
        train_counts = model(torch.from_numpy(time_major(x)))
    assert np.array_equal(train_counts.numpy().astype(np.int64), counts)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("fit")
    xtr, ytr = synthetic(192, 1)
    xte, yte = synthetic(60, 2)
    cfg = TrainConfig(epochs=6, time_bins=4, batch_size=16, w_bits=(4, 4, 4), v_bits=10,
                      lr=1e-2)
    result = fit(cfg, (xtr, ytr), (xte, yte), arch=TINY, out=out)
    return result, cfg, (xtr, ytr), (xte, yte), out


def test_training_learns_and_export_is_exact(trained: tuple) -> None:
    """Export guarantee (issue 4 §2): on every test sample of a trained model, the integer
    reference and the fast simulator give the quantized model's class and spike counts."""
    result, _, _, (xte, yte), _ = trained
    assert result.history[-1]["test_acc"] >= 0.8  # chance is 1/3
    net = export_network(result.model)
    assert [la.w_bits for la in net.spiking_layers] == [4, 4, 4]
    counts = integer_counts(result.model, xte)
    pred = integer_predictions(result.model, xte)
    ref = run_reference(net, time_major(xte))
    sim = simulate(net, time_major(xte), engine="fast", labels=yte)
    assert np.array_equal(pred, ref.predictions) and np.array_equal(pred, sim.predictions)
    assert np.array_equal(counts, ref.output_counts)
    assert np.array_equal(counts, sim.output_counts)
    assert sim.accuracy == pytest.approx(result.history[-1]["test_acc"])
    assert len(set(pred.tolist())) == 3  # a real classifier, not one class everywhere


def test_lif_training_learns_and_export_is_exact(tmp_path) -> None:
    """The export guarantee for LIF: trained with the integer leak in the loop, the exported
    network (which keeps that leak) gives the quantized model's classes and spike counts."""
    torch.set_num_threads(1)
    xtr, ytr = synthetic(192, 1)
    xte, yte = synthetic(60, 2)
    cfg = TrainConfig(epochs=6, time_bins=4, batch_size=16, w_bits=4, v_bits=10, lr=1e-2,
                      neuron="lif", leak_shift=(2, 3, 1))
    result = fit(cfg, (xtr, ytr), (xte, yte), arch=TINY, out=tmp_path)
    assert result.history[-1]["test_acc"] >= 0.8
    net = export_network(result.model)
    assert [la.leak for la in net.spiking_layers] == [Leak("shift", 2), Leak("shift", 3),
                                                      Leak("shift", 1)]
    counts = integer_counts(result.model, xte)
    sim = simulate(net, time_major(xte), engine="fast", labels=yte)
    assert np.array_equal(counts, run_reference(net, time_major(xte)).output_counts)
    assert np.array_equal(counts, sim.output_counts)
    assert sim.accuracy == pytest.approx(result.history[-1]["test_acc"])
    ck = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ck.config.neuron == "lif" and ck.model.leaks == result.model.leaks


def test_lif_options_are_checked() -> None:
    assert TrainConfig(neuron="lif").leak_shift == (4,)
    assert TrainConfig(neuron="lif", leak_constant=3).leaks() == Leak("constant", 3)
    with pytest.raises(ConfigError, match="needs neuron 'lif'"):
        TrainConfig(leak_shift=2)
    with pytest.raises(ConfigError, match="not both"):
        TrainConfig(neuron="lif", leak_shift=2, leak_constant=2)
    with pytest.raises(ConfigError, match=r"--leak-shift 10 must be in \[1, 9\] for the "
                                          r"10-bit membranes of spiking layer 2"):
        TrainConfig(neuron="lif", leak_shift=(2, 10), v_bits=(12, 10)).leaks()
    with pytest.raises(ConfigError, match="neuron = 'alif'"):
        TrainConfig(neuron="alif")
    with pytest.raises(ConfigError, match="leaks: 2 given, the network has 3 spiking layers"):
        QuantSNN(TINY, leaks=[Leak("shift", 1)] * 2)
    with pytest.raises(ConfigError, match="layer 'conv1': leak shift = 9"):
        QuantSNN(TINY, v_bits=9, leaks=Leak("shift", 9))


def test_metrics_files(trained: tuple) -> None:
    result, _, _, _, out = trained
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["format"] == "flexspim-train-metrics" and doc["version"] == 1
    assert [r["epoch"] for r in doc["epochs"]] == list(range(1, 7))
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,train_loss,train_acc,test_acc") and len(lines) == 7


def test_resume_continues_exactly(tmp_path, trained: tuple) -> None:
    _, _, train_data, _, _ = trained
    cfg2 = TrainConfig(epochs=2, time_bins=4, batch_size=32, w_bits=4, v_bits=10, lr=1e-2)
    full = fit(cfg2, train_data, None, arch=TINY, out=tmp_path / "a")
    cfg1 = TrainConfig(epochs=1, time_bins=4, batch_size=32, w_bits=4, v_bits=10, lr=1e-2)
    fit(cfg1, train_data, None, arch=TINY, out=tmp_path / "b")
    resumed = fit(cfg2, train_data, None, arch=TINY, out=tmp_path / "b", resume=True)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ca, cb = load_checkpoint(tmp_path / "a" / "checkpoint.pt"), load_checkpoint(
        tmp_path / "b" / "checkpoint.pt")
    assert ca.epoch == cb.epoch == 2
    sa, sb = ca.state["optimizer"]["state"], cb.state["optimizer"]["state"]
    assert all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)
    with pytest.raises(ConfigError, match="lr"):
        fit(TrainConfig(epochs=3, time_bins=4, batch_size=32, w_bits=4, v_bits=10, lr=0.5),
            train_data, None, arch=TINY, out=tmp_path / "b", resume=True)


def test_checkpoint_errors(tmp_path, trained: tuple) -> None:
    _, _, _, _, out = trained
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(FormatError, match="bad.pt"):
        load_checkpoint(bad)
    doc = torch.load(out / "checkpoint.pt", weights_only=True)
    doc["version"] = 99
    torch.save(doc, tmp_path / "v99.pt")
    with pytest.raises(FormatError, match="version 99"):
        load_checkpoint(tmp_path / "v99.pt")


def test_invalid_widths_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="w_bits <= v_bits"):
        QuantSNN(TINY, w_bits=8, v_bits=6)
    with pytest.raises(ConfigError, match="3 spiking layers"):
        QuantSNN(TINY, w_bits=(4, 4), v_bits=8)


def test_dvs_gesture_preset_matches_the_integer_preset() -> None:
    arch = preset("dvs_gesture")
    net = export_network(QuantSNN(arch, w_bits=8, v_bits=16))
    ref = dvs_gesture_scnn()
    assert [la.name for la in net.layers] == [la.name for la in ref.layers]
    assert net.shapes == ref.shapes
    for a, b in zip(net.spiking_layers, ref.spiking_layers, strict=True):
        assert a.weight.shape == b.weight.shape
        assert getattr(a, "stride", None) == getattr(b, "stride", None)


def test_frames_file_round_trip(tmp_path) -> None:
    x, y = synthetic(5, 3)
    frames = frames_from_arrays(x, y, x[:2], y[:2], name="toy", classes=["a", "b", "c"])
    save_frames(tmp_path / "f.npz", frames)
    back = load_frames_file(tmp_path / "f.npz")
    assert np.array_equal(back.x_train, x) and back.classes == ("a", "b", "c")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(FormatError, match="not a flexspim frames file"):
        load_frames_file(tmp_path / "other.npz")


@pytest.fixture
def own_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the subcommands under test (the others are registered by their own modules)."""
    import flexspim.cli

    monkeypatch.setattr(flexspim.cli, "SUBCOMMAND_MODULES", (
        "flexspim.cli.train", "flexspim.cli.export", "flexspim.cli.import_nir"))


def test_cli_train_export_resume(tmp_path, capsys: pytest.CaptureFixture[str], own_cli) -> None:
    xtr, ytr = synthetic(48, 4)
    xte, yte = synthetic(12, 5)
    save_frames(tmp_path / "f.npz", frames_from_arrays(xtr, ytr, xte, yte))
    out = tmp_path / "run"
    args = ["train", "--data", str(tmp_path / "f.npz"), "--time-bins", "4", "--epochs", "1",
            "--w-bits", "6", "--v-bits", "12", "--out", str(out), "--threads", "1"]
    assert main(args) == 0
    assert main([*args[:5], "--epochs", "2", *args[7:], "--resume"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and 0 <= summary["test_accuracy_fast_sim"] <= 1
    assert summary["test_accuracy_fast_sim"] == pytest.approx(
        summary["test_accuracy_integer_model"], abs=1e-6)
    # the summary's command reproduces the run: every option spelled out
    parsed = build_parser().parse_args(shlex.split(summary["command"])[1:])
    assert (parsed.epochs, parsed.seed, parsed.time_bins, parsed.w_bits, parsed.v_bits,
            parsed.data, parsed.out, parsed.resume) == (2, 0, 4, (6,), (12,),
                                                        tmp_path / "f.npz", out, False)
    assert main(["export", str(out / "checkpoint.pt"), "--out", str(tmp_path / "n.npz"),
                 "--nir", str(tmp_path / "n.nir"), "--record", str(tmp_path / "n.json")]) == 0
    net = load_network(tmp_path / "n.npz")
    assert [la.w_bits for la in net.spiking_layers] == [6, 6, 6]
    assert (tmp_path / "n.nir").is_file()
    rec = json.loads((tmp_path / "n.json").read_text())
    assert (rec["format"], rec["version"]) == ("flexspim-model-record", 1)
    assert rec["sha256"] == file_sha256(tmp_path / "n.npz")
    assert rec["network_fingerprint"] == network_fingerprint(net)
    assert (rec["epochs"], rec["n_time_bins"], rec["seed"]) == (2, 4, 0)
    assert (rec["w_bits"], rec["v_bits"]) == ([6, 6, 6], [12, 12, 12])
    for key in ("test_accuracy_fast_sim", "test_accuracy_integer_model", "train_seconds"):
        assert rec[key] == summary[key]
    assert rec["commands"][0] == summary["command"]
    assert rec["commands"][1].startswith("flexspim export ") and "--record" in rec["commands"][1]
    capsys.readouterr()
    assert main(["export", str(tmp_path / "f.npz"), "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint" in err[0]
    # a summary that describes another network: no record, and no network file either
    summary["network_fingerprint"] = "0" * 64
    (out / "summary.json").write_text(json.dumps(summary))
    assert main(["export", str(out / "checkpoint.pt"), "--out", str(tmp_path / "m.npz"),
                 "--record", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another network" in err[0] and "summary.json" in err[0]
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "m.json").exists()


def test_cli_train_lif_records_its_leak(tmp_path, capsys, own_cli) -> None:
    xtr, ytr = synthetic(32, 4)
    save_frames(tmp_path / "f.npz", frames_from_arrays(xtr, ytr, xtr[:8], ytr[:8]))
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "f.npz"), "--time-bins", "4", "--epochs",
                 "1", "--w-bits", "6", "--v-bits", "12", "--neuron", "lif", "--leak-shift",
                 "3", "--out", str(out), "--threads", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "--neuron lif --leak-shift 3" in summary["command"]
    parsed = build_parser().parse_args(shlex.split(summary["command"])[1:])
    assert (parsed.neuron, parsed.leak_shift, parsed.leak_constant) == ("lif", (3,), ())
    assert main(["export", str(out / "checkpoint.pt"), "--out", str(tmp_path / "n.npz"),
                 "--record", str(tmp_path / "n.json")]) == 0
    lif = load_network(tmp_path / "n.npz")
    assert {la.leak for la in lif.spiking_layers} == {Leak("shift", 3)}
    assert lif.name == "digits_lif_net"  # the name train gave it: the record's fingerprint
    rec = json.loads((tmp_path / "n.json").read_text())
    assert rec["neuron"] == "lif" and rec["leaks"] == [{"kind": "shift", "amount": 3}] * 3
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "f.npz"), "--time-bins", "4",
                 "--leak-shift", "3", "--out", str(tmp_path / "o")]) == 2
    assert "needs neuron 'lif'" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "f.npz"), "--time-bins", "4", "--neuron",
                 "lif", "--leak-shift", "20", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--leak-shift 20 must be in [1, 15]" in err[0]


def test_cli_train_rejects_mismatched_time_bins(tmp_path, capsys, own_cli) -> None:
    x, y = synthetic(4, 6)
    save_frames(tmp_path / "f.npz", frames_from_arrays(x, y, x, y))
    assert main(["train", "--data", str(tmp_path / "f.npz"), "--time-bins", "7",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--time-bins 4" in capsys.readouterr().err


def test_shipped_digits_model_matches_its_record() -> None:
    """The shipped model is the file its record describes, made at 8/16 bits by the recorded
    commands, and the record's fast-simulator accuracy is what the file gives on the whole
    digits test split (re-measured here)."""
    from flexspim.demo import load_test_split
    from flexspim.dse.networks import shipped_model_info, shipped_model_path, shipped_time_bins

    path = shipped_model_path()
    info = shipped_model_info()
    assert (info["format"], info["version"]) == ("flexspim-model-record", 1)
    assert path.stat().st_size < 1_000_000 and info["sha256"] == file_sha256(path)
    net = load_network(path)
    assert info["network_fingerprint"] == network_fingerprint(net)
    assert shipped_time_bins() == info["n_time_bins"] == net_time_bins(info)
    assert {(la.w_bits, la.v_bits) for la in net.spiking_layers} == {(8, 16)}
    assert info["command"].startswith("flexspim train --preset digits --seed 0 ")
    assert isinstance(info["train_seconds"], float) and info["test_accuracy_fast_sim"] >= 0.95
    spikes, labels = load_test_split(info["n_time_bins"])
    assert labels.size == info["n_test"]
    sim = simulate(net, spikes, engine="fast", labels=labels)
    assert sim.accuracy == pytest.approx(info["test_accuracy_fast_sim"], abs=1e-9)
    assert sim.accuracy == pytest.approx(info["test_accuracy_integer_model"], abs=1e-6)


def test_shipped_lif_digits_model_matches_its_record() -> None:
    """The LIF digits model beside the IF one: the same recipe with --neuron lif --leak-shift 4,
    its file (network format 2) keeps that leak in every layer, and its record's accuracies
    are what the file gives on the whole digits test split."""
    from importlib.resources import files

    from flexspim.demo import load_test_split

    assets = files("flexspim") / "assets"
    path = assets / "digits_lif_net.npz"
    info = json.loads((assets / "digits_lif_net.json").read_text())
    assert (info["format"], info["version"]) == ("flexspim-model-record", 1)
    assert info["sha256"] == file_sha256(str(path))
    net = load_network(str(path))
    assert info["network_fingerprint"] == network_fingerprint(net)
    assert {la.leak for la in net.spiking_layers} == {Leak("shift", 4)}
    assert {(la.w_bits, la.v_bits) for la in net.spiking_layers} == {(8, 16)}
    assert info["neuron"] == "lif" and info["leaks"] == [{"kind": "shift", "amount": 4}] * 3
    assert info["command"].startswith("flexspim train --preset digits --seed 0 --epochs 15 "
                                      "--time-bins 12 ")
    assert "--neuron lif --leak-shift 4" in info["command"]
    spikes, labels = load_test_split(info["n_time_bins"])
    sim = simulate(net, spikes, engine="fast", labels=labels)
    assert sim.accuracy == pytest.approx(info["test_accuracy_fast_sim"], abs=1e-9)
    assert sim.accuracy == pytest.approx(info["test_accuracy_integer_model"], abs=1e-6)
    assert sim.leak_ops.sum() > 0


def net_time_bins(info: dict) -> int:
    """The time bins written in the recorded training command."""
    argv = shlex.split(info["commands"][0])
    return int(argv[argv.index("--time-bins") + 1])
