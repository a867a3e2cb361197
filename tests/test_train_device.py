"""Devices, data-parallel training, checkpoints across devices and the training data pipeline.

Tests parametrized over ``DEVICES`` run on the CPU everywhere and on CUDA where a GPU exists
(marked ``cuda``: skipped and listed in the session summary without one, see conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from strategies import networks_and_inputs
from test_sim import assert_stats_match_reference
from test_train import TINY, synthetic, time_major

from flexspim._device import (
    as_device,
    exact_math,
    parse_device,
    resolve_device,
    training_math,
)
from flexspim.cli import main
from flexspim.errors import ConfigError
from flexspim.net import Conv2d, Flatten, IntNetwork, Leak, Linear, load_network, save_network
from flexspim.net.reference import run_reference
from flexspim.sim import fast, simulate
from flexspim.train import (
    QuantSNN,
    TrainConfig,
    export_network,
    fit,
    integer_counts,
    load_checkpoint,
)
from flexspim.train.distributed import DataParallel, from_env
from flexspim.train.frames import frames_from_arrays, load_frames_file, save_frames
from flexspim.train.loader import BatchPlan, EventDropAugment, EventParts, make_loader
from flexspim.train.loop import Runtime
from flexspim.train.record import network_fingerprint

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
CONFIG = TrainConfig(epochs=2, time_bins=4, batch_size=16, w_bits=4, v_bits=10, lr=1e-2)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


def max_weight_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max(float((sa[k].cpu() - sb[k].cpu()).abs().max()) for k in sa)


# ---------------------------------------------------------------------------- device choice


def test_device_spelling() -> None:
    assert [parse_device(s) for s in ("auto", "CPU", "cuda", "cuda:3")] == [
        "auto", "cpu", "cuda", "cuda:3"]
    for bad in ("gpu", "cpu:0", "cuda:", "cuda:x", ""):
        with pytest.raises(ConfigError, match="auto .* cpu, cuda or cuda:N"):
            parse_device(bad)


def test_device_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` follows what torch sees; CUDA requests fail in one line where there is none."""
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device(None) == torch.device("cpu")
    with pytest.raises(ConfigError, match="--device cuda: no CUDA device is available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="2 CUDA device.*cuda:0 to cuda:1"):
        resolve_device("cuda:2")
    # torchrun: each process takes its own GPU; a fixed index is refused
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert resolve_device("auto") == resolve_device("cuda") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match="torchrun starts one process per GPU"):
        resolve_device("cuda:0")
    assert as_device(torch.device("cuda", 0)) == torch.device("cuda", 0)  # resolved already
    assert as_device("auto") == torch.device("cuda", 1)


def test_math_settings_are_restored() -> None:
    before = (torch.backends.cudnn.enabled, torch.backends.cudnn.deterministic,
              torch.backends.cuda.matmul.fp32_precision)
    with exact_math("cuda:0"):
        assert not torch.backends.cudnn.enabled
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    with training_math("cuda:0"):
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
    with exact_math("cpu"), training_math("cpu"):
        assert torch.backends.cudnn.enabled == before[0]
    assert (torch.backends.cudnn.enabled, torch.backends.cudnn.deterministic,
            torch.backends.cuda.matmul.fp32_precision) == before


def test_cli_train_on_missing_cuda_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    x, y = synthetic(4, 6)
    save_frames(tmp_path / "f.npz", frames_from_arrays(x, y, x, y))
    assert main(["train", "--data", str(tmp_path / "f.npz"), "--time-bins", "4", "--device",
                 "cuda", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device cuda: no CUDA device" in err[0]
    assert not (tmp_path / "o").exists()  # refused before any work
    with pytest.raises(SystemExit) as usage:
        main(["train", "--device", "gpu", "--out", str(tmp_path / "o")])
    assert usage.value.code == 2 and "cuda or cuda:N" in capsys.readouterr().err


# ------------------------------------------------------------ exact integer math on a device


def wide_network(seed: int) -> IntNetwork:
    """Weights and widths past float64's exact range: the int64 paths of every engine run."""
    rng = np.random.default_rng(seed)
    big = 1 << 47
    return IntNetwork(input_shape=(2, 6, 6), layers=(
        Conv2d(name="c1", weight=rng.integers(-big, big, (3, 2, 3, 3)), w_bits=48, v_bits=60,
               threshold=big, stride=(1, 1), padding=(1, 1)),
        Conv2d(name="c2", weight=rng.integers(-9, 10, (4, 3, 3, 3)), w_bits=5, v_bits=6,
               threshold=3, stride=(2, 2), padding=(1, 1)),
        Flatten(name="f"),
        Linear(name="fc", weight=rng.integers(-4 * big, 4 * big, (3, 36)), w_bits=50,
               v_bits=60, threshold=big),
    ))


def test_int64_products_without_a_matrix_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """The elementwise int64 products that replace CUDA's missing int64 matrix product equal
    the matrix product, near the int64 limit and across output chunks."""
    import flexspim.net.reference as ref

    monkeypatch.setattr(ref, "INT64_MATMUL_CHUNK", 64)  # many chunks
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(-(1 << 29), 1 << 29, (7, 5), generator=gen)
    w = torch.randint(-(1 << 30), 1 << 30, (11, 5), generator=gen)
    assert torch.equal(ref.int64_matmul(x, w, elementwise=True), x @ w.T)
    tap = torch.randint(0, 9, (3, 5, 4, 6), generator=gen)
    assert torch.equal(ref.channel_mix(tap, w, elementwise=True),
                       torch.einsum("nchw,oc->nohw", tap, w))


@pytest.mark.parametrize("device", DEVICES)
def test_reference_and_torch_backend_exact_on_device(device: str) -> None:
    """The int64 reference and the fast engine's torch backend on ``device`` equal the CPU
    reference bit for bit (int64 tap sums, float paths under their bounds, wrapping)."""
    x = time_major(synthetic(5, 3, t=3)[0][:, :, :, :6, :6] * 3)
    for net in (wide_network(1), export_network(QuantSNN(TINY, w_bits=6, v_bits=7)),
                export_network(QuantSNN(TINY, w_bits=6, v_bits=7, leaks=Leak("shift", 2)))):
        xin = x if net.input_shape == (2, 6, 6) else time_major(synthetic(5, 3, t=3)[0])
        cpu = run_reference(net, xin, return_membranes=True)
        dev = run_reference(net, xin, return_membranes=True, device=device)
        for a, b in zip(cpu.spikes + cpu.final_membranes, dev.spikes + dev.final_membranes,
                        strict=True):
            assert np.array_equal(a, b)
        assert np.array_equal(cpu.step_overflow, dev.step_overflow)
        assert np.array_equal(cpu.step_membrane_max, dev.step_membrane_max)
        stats = fast.run_batch(net, xin, return_membranes=True, backend="torch", device=device)
        assert np.array_equal(stats.output_counts, cpu.output_counts)
        for a, b in zip(stats.final_membranes, cpu.final_membranes, strict=True):
            assert np.array_equal(a, b)
        sim = simulate(net, xin, device=device)
        assert np.array_equal(sim.output_counts, cpu.output_counts)
        assert np.array_equal(sim.sops, cpu.step_sops.sum(axis=1).T)
        assert np.array_equal(sim.overflow_events, cpu.step_overflow.sum(axis=1).T)


@pytest.mark.cuda
@settings(max_examples=100, deadline=None)
@given(case=networks_and_inputs(leaky=True))
def test_cuda_engines_equal_the_cpu_reference(case: tuple[IntNetwork, np.ndarray]) -> None:
    """Property: on random networks (every layer type, 1-32-bit weights, wrapping membranes),
    the reference and the torch backend on CUDA equal the CPU reference."""
    net, x = case
    ref = run_reference(net, x)
    assert_stats_match_reference(fast.run_batch(net, x, return_membranes=True,
                                                backend="torch", device="cuda"), ref)
    on_gpu = run_reference(net, x, return_membranes=True, device="cuda")
    for a, b in zip(ref.spikes + ref.final_membranes, on_gpu.spikes + on_gpu.final_membranes,
                    strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(ref.step_sops, on_gpu.step_sops)
    assert np.array_equal(ref.step_overflow, on_gpu.step_overflow)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("leak", [None, Leak("shift", 1), Leak("constant", 2)])
def test_export_guarantee_on_device(device: str, leak: Leak | None) -> None:
    """A model (IF or LIF) on ``device``: exact evaluation = integer reference = fast
    simulator, and its export is the same network as the CPU copy's."""
    torch.manual_seed(4)
    model = QuantSNN(TINY, w_bits=3, v_bits=5, threshold_init=0.3, leaks=leak)
    x, _ = synthetic(8, 7)
    net_cpu = export_network(model)
    on_dev = model.to(device)
    net = export_network(on_dev)
    assert network_fingerprint(net) == network_fingerprint(net_cpu)
    counts = integer_counts(on_dev, x)
    assert np.array_equal(counts, run_reference(net, time_major(x)).output_counts)
    assert np.array_equal(counts, simulate(net, time_major(x), device=device).output_counts)


def test_bitlevel_engine_refuses_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    net = export_network(QuantSNN(TINY))
    with pytest.raises(ConfigError, match="'bitlevel' engine runs on the CPU only"):
        simulate(net, time_major(synthetic(1, 0)[0]), engine="bitlevel", device="cuda")
    with pytest.raises(ConfigError, match="runs on the CPU only"):
        fast.run_batch(net, time_major(synthetic(1, 0)[0]), backend="numba", device="cuda")


# ------------------------------------------------------------------ training on a device


@pytest.fixture(scope="module")
def train_data() -> tuple[np.ndarray, np.ndarray]:
    return synthetic(49, 1)  # 49 = 3 x 16 + 1: the last step has one sample


@pytest.mark.parametrize("device", DEVICES)
def test_resume_is_exact_on_device(tmp_path: Path, train_data: tuple, device: str) -> None:
    rt = Runtime(device=device)
    full = fit(CONFIG, train_data, None, arch=TINY, out=tmp_path / "a", runtime=rt)
    one = TrainConfig(**{**CONFIG.to_dict(), "epochs": 1})
    fit(one, train_data, None, arch=TINY, out=tmp_path / "b", runtime=rt)
    resumed = fit(CONFIG, train_data, None, arch=TINY, out=tmp_path / "b", resume=True,
                  runtime=rt)
    assert same_weights(full.model, resumed.model)
    assert next(resumed.model.parameters()).device.type == device
    ck = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert ck.state["written_by"]["device"].startswith(device)
    assert all(t.device.type == "cpu" for t in ck.state["model"].values())


@pytest.mark.cuda
def test_training_on_cuda_matches_cpu(train_data: tuple) -> None:
    """Another device changes only float rounding: the weights stay within float32 noise."""
    cpu = fit(CONFIG, train_data, None, arch=TINY)
    dev = fit(CONFIG, train_data, None, arch=TINY, runtime=Runtime(device="cuda"))
    assert max_weight_difference(cpu.model, dev.model) < 1e-4


def save_as_if_on_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``torch.save`` tag every CPU tensor as stored on ``cuda:0``, as a file written on a
    GPU is: such a file loads on a CPU-only machine only through ``map_location``."""
    import torch.serialization as ser

    registry = [(0, lambda s: "cuda:0" if s.device.type == "cpu" else None, lambda s, loc: None),
                *ser._package_registry]
    monkeypatch.setattr(ser, "_package_registry", registry)


def test_checkpoint_written_on_a_gpu_resumes_on_cpu(tmp_path: Path, train_data: tuple,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    one = TrainConfig(**{**CONFIG.to_dict(), "epochs": 1})
    fit(one, train_data, None, arch=TINY, out=tmp_path / "ref")
    doc = torch.load(tmp_path / "ref" / "checkpoint.pt", weights_only=True)
    with monkeypatch.context() as m:
        save_as_if_on_gpu(m)
        (tmp_path / "gpu").mkdir()
        torch.save(doc, tmp_path / "gpu" / "checkpoint.pt")
    if not torch.cuda.is_available():  # the file really is GPU-tagged
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "gpu" / "checkpoint.pt", weights_only=True)
    resumed = fit(CONFIG, train_data, None, arch=TINY, out=tmp_path / "gpu", resume=True)
    straight = fit(CONFIG, train_data, None, arch=TINY)
    assert same_weights(resumed.model, straight.model)


@pytest.mark.parametrize(("first", "second"), [
    pytest.param("cuda", "cpu", marks=pytest.mark.cuda),
    pytest.param("cpu", "cuda", marks=pytest.mark.cuda)])
def test_cross_device_resume(tmp_path: Path, train_data: tuple, first: str, second: str) -> None:
    one = TrainConfig(**{**CONFIG.to_dict(), "epochs": 1})
    fit(one, train_data, None, arch=TINY, out=tmp_path, runtime=Runtime(device=first))
    resumed = fit(CONFIG, train_data, None, arch=TINY, out=tmp_path, resume=True,
                  runtime=Runtime(device=second))
    assert next(resumed.model.parameters()).device.type == second
    straight = fit(CONFIG, train_data, None, arch=TINY, runtime=Runtime(device=second))
    assert max_weight_difference(resumed.model, straight.model) < 1e-4


def test_micro_batches_take_the_same_step(train_data: tuple) -> None:
    """K micro-batches per step: the gradient of the same batch (equal up to float rounding),
    with an empty last part (49 samples, the last step holds one)."""
    one = fit(CONFIG, train_data, None, arch=TINY)
    two = fit(CONFIG, train_data, None, arch=TINY, runtime=Runtime(micro_batches=2))
    assert 0 < max_weight_difference(one.model, two.model) < 1e-5
    with pytest.raises(ConfigError, match="batch size 16 cannot be split"):
        fit(CONFIG, train_data, None, arch=TINY, runtime=Runtime(micro_batches=17))


# ---------------------------------------------------------------------------- data loading


def test_batch_plan_splits_each_batch_over_processes() -> None:
    """The parts of all processes are the single process's batch, in order, once each."""
    single = list(BatchPlan(37, 8, 5, DataParallel()))
    plans = [BatchPlan(37, 8, 5, DataParallel(rank=r, world_size=3), micro_batches=2)
             for r in range(3)]
    for plan in [*plans]:
        plan.set_epoch(0)
    parts = [list(p) for p in plans]
    assert len(single) == 5 and all(len(p) == 10 for p in parts)
    for step, (_, batch) in enumerate(single):
        mine = [parts[r][2 * step + k][1] for r in range(3) for k in range(2)]
        assert np.array_equal(np.concatenate(mine), batch)
    again = BatchPlan(37, 8, 5, DataParallel())
    again.set_epoch(1)
    assert not np.array_equal(np.concatenate([b for _, b in again]),
                              np.concatenate([b for _, b in single]))


def test_data_parallel_from_env() -> None:
    assert from_env({}) == DataParallel()
    dp = from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (dp.rank, dp.world_size, dp.local_rank, dp.is_main, dp.active) == (3, 4, 1, False,
                                                                              True)
    with pytest.raises(ConfigError, match="RANK"):
        from_env({"RANK": "x"})
    with pytest.raises(ConfigError, match="out of range"):
        from_env({"RANK": "2", "WORLD_SIZE": "2"})


def test_loader_pins_memory_for_cuda() -> None:
    x, y = synthetic(6, 0)
    plan = BatchPlan(6, 4, 0, DataParallel())
    from flexspim.train.loader import FrameParts

    assert make_loader(FrameParts(x, y), plan, torch.device("cuda", 0), 0).pin_memory
    loader = make_loader(FrameParts(x, y), plan, torch.device("cpu"), 2)
    assert not loader.pin_memory and loader.num_workers == 2
    state = torch.get_rng_state()
    got = [(xb.clone(), yb.clone()) for xb, yb in loader]  # through two worker processes
    assert torch.equal(state, torch.get_rng_state())  # workers seeded without the global RNG
    order = np.concatenate([b for _, b in plan])
    assert np.array_equal(torch.cat([xb for xb, _ in got]).numpy(), x[order])


def gesture_folder(root: Path, n_train: int = 6, n_test: int = 3) -> Path:
    """A small DVS Gesture folder in Tonic's layout: per sample a blob of events that moves
    across the 128 x 128 sensor for 300 ms, its row set by the class."""
    rng = np.random.default_rng(0)
    for split, n in (("ibmGestureTrain", n_train), ("ibmGestureTest", n_test)):
        for i in range(n):
            label = i % 3
            folder = root / split / f"user{i + 1:02d}_natural"
            folder.mkdir(parents=True, exist_ok=True)
            t = np.sort(rng.uniform(0, 300, 3000))  # ms
            x = np.clip(10 + t / 3 + rng.normal(0, 2, t.size), 0, 127).astype(int)
            y = np.clip(20 + 40 * label + rng.normal(0, 2, t.size), 0, 127).astype(int)
            np.save(folder / f"{label}.npy", np.stack([x, y, rng.integers(0, 2, t.size), t], 1))
    return root


def test_gesture_frames_are_cached(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = gesture_folder(tmp_path / "gesture")
    out = tmp_path / "run"
    args = ["train", "--data", str(folder), "--time-bins", "3", "--epochs", "1",
            "--batch-size", "4", "--out", str(out), "--device", "cpu"]
    assert main(args) == 0
    cache = out / "cache" / "gesture-frames-T3.npz"
    frames = load_frames_file(cache)
    assert frames.x_train.shape == (6, 3, 2, 32, 32) and frames.x_test.shape[0] == 3
    assert frames.source["folder"] == str(folder.resolve())
    assert frames.source["downsample"] == 4 and frames.source["denoise_us"] == 10_000
    stamp = cache.stat().st_mtime_ns
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert cache.stat().st_mtime_ns == stamp  # read, not rebuilt
    doc = dict(np.load(cache))
    header = json.loads(str(doc["header"]))
    header["source"]["n_train"] = 5
    doc["header"] = np.array(json.dumps(header))
    np.savez(cache, **doc)
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "other"), "--cache", str(out / "cache")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another recipe (n_train differ)" in err[0]


def test_augmented_training_from_event_store(tmp_path: Path) -> None:
    """--augment: events cached once, augmented per (seed, epoch, sample) and binned."""
    folder = gesture_folder(tmp_path / "gesture")
    out = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--time-bins", "3", "--epochs", "1",
                 "--batch-size", "4", "--augment", "--workers", "0", "--out", str(out),
                 "--device", "cpu"]) == 0
    from flexspim.train.prepare import open_event_store

    store = open_event_store(out / "cache" / "gesture-events-train")
    assert len(store) == 6 and store.sensor_size == (32, 32, 2)
    assert store.source["split"] == "train" and store.labels.tolist() == [0, 1, 2, 0, 1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["augment"] and "--augment" in summary["command"]
    parts = EventParts(store, 3, seed=0, augment=EventDropAugment((32, 32, 2)))
    plain = EventParts(store, 3, seed=0)
    idx = np.arange(6)
    a, b, c = parts[(0, idx)][0], parts[(0, idx)][0], parts[(1, idx)][0]
    assert torch.equal(a, b) and not torch.equal(a, c)  # seeded per epoch
    assert int(a.sum()) <= int(plain[(0, idx)][0].sum())  # EventDrop only drops
    with pytest.raises(ConfigError, match="needs the training events"):
        fit(TrainConfig(augment=True, time_bins=4), synthetic(4, 0), None, arch=TINY)


# ------------------------------------------------------------------ torchrun, two processes


def torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 -m flexspim train ARGS`` on CPUs (gloo)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "flexspim", "train", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not torch.distributed.is_available()
                    or not torch.distributed.is_gloo_available(), reason="torch without gloo")
def test_two_process_training_with_gloo(tmp_path: Path) -> None:
    """One process (2 micro-batches) trains epoch 1, two processes resume it for epoch 2, one
    process resumes theirs for epoch 3: bit for bit the network of one process that splits
    every batch in two, with the files written once, by process 0."""
    xtr, ytr = synthetic(33, 4)  # the last step holds one sample: one process gets none
    xte, yte = synthetic(10, 5)
    save_frames(tmp_path / "f.npz", frames_from_arrays(xtr, ytr, xte, yte))
    out = tmp_path / "run"
    common = ["--data", str(tmp_path / "f.npz"), "--time-bins", "4", "--w-bits", "6",
              "--v-bits", "12", "--threads", "1", "--device", "cpu", "--out", str(out)]
    assert main(["train", *common, "--epochs", "1", "--micro-batches", "2"]) == 0
    config = load_checkpoint(out / "checkpoint.pt").config
    run = torchrun([*common, "--epochs", "2", "--resume"], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("test accuracy") == 1  # only process 0 reports and writes
    ck = load_checkpoint(out / "checkpoint.pt")
    assert ck.epoch == 2
    assert ck.state["written_by"] == {"device": "cpu", "processes": 2, "micro_batches": 1}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["command"].startswith("torchrun --nproc_per_node 2 -m flexspim train ")
    assert summary["processes"] == 2 and summary["epochs_run"] == 2
    data, split = (xtr, ytr), Runtime(micro_batches=2)
    two = fit(TrainConfig(**{**config.to_dict(), "epochs": 2}), data, (xte, yte), runtime=split)
    assert same_weights(ck.model, two.model)
    assert ck.history == [{**row, "time_s": ck.history[i]["time_s"]}
                          for i, row in enumerate(two.history)]
    whole = fit(TrainConfig(**{**config.to_dict(), "epochs": 2}), data, None)
    assert 0 < max_weight_difference(ck.model, whole.model) < 1e-5  # float rounding apart
    assert main(["train", *common, "--epochs", "3", "--resume", "--micro-batches", "2"]) == 0
    three = fit(TrainConfig(**{**config.to_dict(), "epochs": 3}), data, None, runtime=split)
    final = load_checkpoint(out / "checkpoint.pt")
    assert final.epoch == 3 and same_weights(final.model, three.model)


@pytest.mark.parametrize("device", DEVICES)
def test_cli_export_and_simulate_on_device(tmp_path: Path, device: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    one = TrainConfig(**{**CONFIG.to_dict(), "epochs": 1})
    x, y = synthetic(20, 3)
    fit(one, (x, y), None, arch=TINY, out=tmp_path)
    save_frames(tmp_path / "f.npz", frames_from_arrays(x, y, x[:6], y[:6]))
    nets, docs = [], []
    for i, dev in enumerate(("cpu", device)):
        net_file, sim_file = tmp_path / f"net{i}-{dev}.npz", tmp_path / f"sim{i}-{dev}.json"
        assert main(["export", str(tmp_path / "checkpoint.pt"), "--out", str(net_file),
                     "--device", dev]) == 0
        assert main(["simulate", str(net_file), str(tmp_path / "f.npz"), "--json",
                     str(sim_file), "--device", dev]) == 0
        nets.append(network_fingerprint(load_network(net_file)))
        docs.append(json.loads(sim_file.read_text())["simulation"])
    assert nets[0] == nets[1]
    for key in ("output_counts", "sops", "output_spikes", "overflow_events", "membrane_min",
                "membrane_max", "predictions"):
        assert docs[0][key] == docs[1][key], key


def test_cli_simulate_on_missing_cuda_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    x, y = synthetic(3, 3)
    save_frames(tmp_path / "f.npz", frames_from_arrays(x, y, x, y))
    save_network(export_network(QuantSNN(TINY)), tmp_path / "n.npz")
    for argv in (["simulate", str(tmp_path / "n.npz"), str(tmp_path / "f.npz")],
                 ["export", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "m.npz")]):
        assert main([*argv, "--device", "cuda"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--device cuda: no CUDA device" in err[0]
