"""Benchmark of training throughput: samples per second of ``flexspim.train.fit`` on the CPU, on
a CUDA GPU where one is present, and with two data-parallel CPU processes (torchrun, gloo).

Presets (the recipes of docs/training.md):

- ``digits``: the offline digits dataset (real data: 2 x 20 x 20, T = 12), its small SCNN,
  8-bit weights / 16-bit membranes, batch 16;
- ``dvs_gesture``: synthetic recordings of DVS Gesture's size (128 x 128 sensor, 6 s each, a
  blob of events circling like a hand plus uniform background noise at ``--event-rate``
  events/s), preprocessed as the recipe does (denoise 10 ms, down-sample by 4 to 32 x 32,
  T = 20), the paper's 6-conv SCNN, 8 / 16 bits, batch 16. The event rate is an assumption
  of this benchmark, not a figure of the dataset: preprocessing time scales with it, the
  training steps do not (frames are dense).

Every measurement trains ``--epochs`` + 1 epochs over the same samples and reports the
samples/s of each epoch after the first (the first includes one-off start-up work): median and
range. The single-process CPU figure is the better of one torch thread and one per core (on
a shared machine, OpenMP threads that wait for a busy core can cost far more than they give;
both are in the JSON). The data-parallel figure runs this script under ``torchrun
--nproc_per_node 2`` (one torch thread per process). Also
measured for ``dvs_gesture``: preprocessing (the frames cache's build rate) and the augmented
loader (Tonic EventDrop + binning of one sample, in the main process), and for both presets the
per-epoch test evaluation (the exact float64 model) on the CPU.

    python benchmarks/bench_train.py [--json FILE] [--presets digits,dvs_gesture] [--epochs 3]

JSON keys: ``cpu_samples_per_s``, ``cuda_samples_per_s`` (null without a GPU) and
``ddp_2proc_cpu_samples_per_s`` of the ``dvs_gesture`` preset (the paper's task) at the top,
every figure of both presets under ``presets``, and ``machine``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from machine import machine_info

from flexspim._io import write_json
from flexspim.data import EVENT_DTYPE, Compose, Denoise, Downsample, bin_events
from flexspim.train import TrainConfig, fit
from flexspim.train.frames import frames_from_arrays, load_frames_file, save_frames
from flexspim.train.loader import EventDropAugment, EventParts
from flexspim.train.loop import Runtime

SENSOR = (128, 128, 2)  # DVS128 (W, H, P)
DURATION_US = 6_000_000  # about 6 s per DVS Gesture sample
GESTURE_TRAIN = 1077  # DVS Gesture training samples (users 1-23), for the epoch estimate
#: Preset -> (TrainConfig options, training samples per measured epoch).
PRESETS: dict[str, tuple[dict[str, Any], int]] = {
    "digits": ({"preset": "digits", "time_bins": 12, "batch_size": 16, "lr": 3e-3}, 160),
    "dvs_gesture": ({"preset": "dvs_gesture", "time_bins": 20, "batch_size": 16, "lr": 1e-3},
                    64),
}


def synthetic_recording(rng: np.random.Generator, rate: float) -> np.ndarray:
    """One 6 s, 128 x 128 recording: 90% of the events around a point circling the sensor
    centre once per 1.5 s (radius 30 px, spread 6 px), 10% uniform noise; sorted by time."""
    n = int(rate * DURATION_US / 1e6)
    t = np.sort(rng.integers(0, DURATION_US, n))
    angle = 2 * np.pi * t / 1.5e6 + rng.uniform(0, 2 * np.pi)
    x = 64 + 30 * np.cos(angle) + rng.normal(0, 6, n)
    y = 64 + 30 * np.sin(angle) + rng.normal(0, 6, n)
    noise = rng.random(n) < 0.1
    x[noise], y[noise] = rng.uniform(0, 128, noise.sum()), rng.uniform(0, 128, noise.sum())
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"], ev["y"] = np.clip(x, 0, 127), np.clip(y, 0, 127)
    ev["p"], ev["t"] = rng.random(n) < 0.5, t
    return ev


def gesture_data(n_rec: int, n_train: int, rate: float, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], float]:
    """(frames [n_train, 20, 2, 32, 32], labels, preprocessed events, preprocessing samples/s)
    from ``n_rec`` synthetic recordings, tiled up to ``n_train`` samples."""
    rng = np.random.default_rng(seed)
    raw = [synthetic_recording(rng, rate) for _ in range(n_rec)]
    prep = Compose((Denoise(10_000), Downsample(4)))
    t0 = time.perf_counter()
    events = [prep(ev) for ev in raw]
    frames = np.stack([bin_events(ev, (32, 32, 2), 20) for ev in events])
    prep_rate = n_rec / (time.perf_counter() - t0)
    reps = -(-n_train // n_rec)
    x = np.tile(frames, (reps, 1, 1, 1, 1))[:n_train]
    return x, rng.integers(0, 11, n_train), events, prep_rate


def digits_data(n_train: int) -> tuple[np.ndarray, np.ndarray]:
    from flexspim.train.prepare import digits_frames

    frames = digits_frames(12)
    return frames.x_train[:n_train], frames.y_train[:n_train]


def epoch_rates(config: TrainConfig, x: np.ndarray, y: np.ndarray, runtime: Runtime
                ) -> list[float]:
    """Samples/s of every epoch after the first."""
    result = fit(config, (x, y), None, runtime=runtime)
    return [len(y) / float(row["time_s"]) for row in result.history[1:]]


def eval_rate(config: TrainConfig, x: np.ndarray, y: np.ndarray) -> float:
    """Samples/s of the per-epoch test evaluation (exact float64 model, CPU)."""
    from flexspim.train import build_model, integer_counts, preset

    model = build_model(config, preset(config.preset, tuple(x.shape[2:]), 11))
    t0 = time.perf_counter()
    integer_counts(model, x)
    return len(x) / (time.perf_counter() - t0)


def summary(rates: list[float] | None) -> dict[str, Any] | None:
    if not rates:
        return None
    return {"median": round(statistics.median(rates), 2),
            "range": [round(min(rates), 2), round(max(rates), 2)], "epochs": len(rates)}


def ddp_rates(frames_file: Path, preset: str, epochs: int) -> list[float]:
    """Samples/s of two gloo processes (one thread each), this script under torchrun."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ddp.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", __file__, "--ddp-worker", str(frames_file),
               "--presets", preset, "--epochs", str(epochs), "--json", str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"torchrun failed:\n{run.stderr[-3000:]}")
        return json.loads(out.read_text())["rates"]


def ddp_worker(args: argparse.Namespace) -> int:
    """One process of :func:`ddp_rates` (started by torchrun)."""
    from flexspim.train import distributed

    torch.set_num_threads(1)
    dp = distributed.from_env()
    distributed.start(dp, torch.device("cpu"))
    frames = load_frames_file(args.ddp_worker)
    opts, _ = PRESETS[args.presets]
    config = TrainConfig(**opts, epochs=args.epochs + 1)
    try:
        rates = epoch_rates(config, frames.x_train, frames.y_train, Runtime(dp=dp))
    finally:
        distributed.stop(dp)
    if dp.is_main:
        write_json(args.json, {"rates": rates})
    return 0


def augment_rate(events: list[np.ndarray], n: int) -> float:
    """Samples/s of the augmented loader's work (EventDrop + binning), one process."""
    store = _EventList(events)
    parts = EventParts(store, 20, seed=0, augment=EventDropAugment((32, 32, 2)))
    idx = np.arange(n) % len(events)
    t0 = time.perf_counter()
    parts[(0, idx)]
    return n / (time.perf_counter() - t0)


class _EventList:
    """Preprocessed events in memory, seen as an event dataset."""

    sensor_size = (32, 32, 2)

    def __init__(self, events: list[np.ndarray]) -> None:
        self.events = events

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.events[i], 0


def measure_preset(name: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    opts, n_train = PRESETS[name]
    config = TrainConfig(**opts, epochs=args.epochs + 1)
    doc: dict[str, Any] = {"samples_per_epoch": n_train, "batch_size": config.batch_size,
                           "time_bins": config.time_bins}
    if name == "digits":
        x, y = digits_data(n_train)
    else:
        x, y, events, prep = gesture_data(8, n_train, args.event_rate)
        doc["event_rate_per_s"] = args.event_rate
        doc["prep_samples_per_s"] = round(prep, 2)
        doc["augmented_loader_samples_per_s_per_core"] = round(augment_rate(events, 16), 2)
    doc["cpu_by_threads"] = {}
    for threads in sorted({1, args.threads}):
        torch.set_num_threads(threads)
        doc["cpu_by_threads"][threads] = summary(epoch_rates(config, x, y, Runtime()))
    best = max(doc["cpu_by_threads"], key=lambda th: doc["cpu_by_threads"][th]["median"])
    doc["cpu_threads"], doc["cpu"] = best, doc["cpu_by_threads"][best]
    torch.set_num_threads(best)
    doc["eval_cpu_samples_per_s"] = round(eval_rate(config, x[:32], y[:32]), 2)
    torch.set_num_threads(args.threads)
    doc["cuda"] = (summary(epoch_rates(config, x, y, Runtime(device="cuda")))
                   if torch.cuda.is_available() else None)
    if torch.cuda.is_available():
        doc["cuda_device"] = torch.cuda.get_device_name(0)
    save_frames(tmp / f"{name}.npz", frames_from_arrays(x, y, x[:1], y[:1]))
    doc["ddp_2proc_cpu"] = summary(ddp_rates(tmp / f"{name}.npz", name, args.epochs))
    return doc


def median(doc: dict[str, Any] | None) -> float | None:
    return None if doc is None else doc["median"]


def report(presets: dict[str, dict[str, Any]]) -> None:
    print(f"{'preset':<12}{'CPU samples/s':>22}{'CUDA samples/s':>22}{'2 procs CPU':>22}")
    for name, doc in presets.items():
        cells = []
        for key in ("cpu", "cuda", "ddp_2proc_cpu"):
            d = doc[key]
            cells.append("n/a" if d is None else f"{d['median']} [{d['range'][0]}-"
                         f"{d['range'][1]}]")
        print(f"{name:<12}" + "".join(f"{c:>22}" for c in cells))
    if "dvs_gesture" in presets:
        g = presets["dvs_gesture"]
        print(f"dvs_gesture: test evaluation {g['eval_cpu_samples_per_s']} samples/s; "
              f"preprocessing {g['prep_samples_per_s']} samples/s; augmented "
              f"loader {g['augmented_loader_samples_per_s_per_core']} samples/s per core; "
              f"one epoch of {GESTURE_TRAIN} samples on this CPU: "
              f"{GESTURE_TRAIN / g['cpu']['median']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the figures as JSON")
    ap.add_argument("--presets", default="digits,dvs_gesture")
    ap.add_argument("--epochs", type=int, default=3, help="measured epochs (after one warm-up)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--event-rate", type=float, default=150_000.0,
                    help="synthetic DVS Gesture events per second (an assumption)")
    ap.add_argument("--ddp-worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.ddp_worker is not None:
        return ddp_worker(args)
    machine = machine_info()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        presets = {name: measure_preset(name, args, Path(tmp))
                   for name in args.presets.split(",")}
    report(presets)
    top = presets.get("dvs_gesture", next(iter(presets.values())))
    doc = {"benchmark": "train", "cpu_samples_per_s": median(top["cpu"]),
           "cuda_samples_per_s": median(top["cuda"]),
           "ddp_2proc_cpu_samples_per_s": median(top["ddp_2proc_cpu"]),
           "top_level_preset": "dvs_gesture" if "dvs_gesture" in presets else args.presets,
           "presets": presets, "machine": machine}
    if "dvs_gesture" in presets:
        doc["gesture_epoch_s_cpu"] = round(GESTURE_TRAIN / top["cpu"]["median"], 1)
    if args.json:
        write_json(args.json, doc)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
