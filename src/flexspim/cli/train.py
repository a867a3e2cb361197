"""``flexspim train``: quantization-aware SNN training with checkpoints, resume and metrics.

Data: the preset's own dataset (``digits``: the offline digits event dataset, no download), a
DVS Gesture folder (``--data DIR``, original release or Tonic's layout), or a frames file
(``--data FILE.npz``, format ``flexspim-frames``). After the last epoch the exported integer
network is simulated with ``flexspim.sim.simulate(engine="fast")`` on the test split and the
result is written to ``OUT/summary.json`` (format ``flexspim-train-summary`` version 1,
:mod:`flexspim.train.record`), with the full command line that reproduces the run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from flexspim._io import versioned, write_json
from flexspim.cli._common import OUT_ROOT, add_no_progress, check_train_out, progress_enabled
from flexspim.errors import ConfigError

#: Per-preset defaults (``None`` options of the command take these). Digits: tuned to reach
#: >= 95% in under 10 minutes on 2 cores; DVS Gesture: the recipe of docs/training.md.
PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"epochs": 15, "time_bins": 12, "batch_size": 16, "lr": 3e-3},
    "dvs_gesture": {"epochs": 60, "time_bins": 20, "batch_size": 16, "lr": 1e-3},
}


def _bits(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer or a comma-separated list "
                                         f"of integers (one per spiking layer)") from None
    if any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"bit widths must be >= 1, got '{text}'")
    return vals


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="train a quantized IF SNN (needs torch)",
                              description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=("digits", "dvs_gesture"), default="digits",
                   help="network, dataset and recipe: digits (offline, no download; default) or "
                        "dvs_gesture (needs --data; docs/training.md)")
    p.add_argument("--data", type=Path, help="DVS Gesture folder or frames file (.npz)")
    p.add_argument("--epochs", type=int, help="epochs (preset default)")
    p.add_argument("--w-bits", type=_bits, default=(8,), help="weight bits: W or W1,W2,.. "
                   "(default 8)")
    p.add_argument("--v-bits", type=_bits, default=(16,), help="membrane bits: V or V1,V2,.. "
                   "(default 16)")
    p.add_argument("--time-bins", type=int, help="timesteps per sample (preset default)")
    p.add_argument("--batch-size", type=int, help="samples per step (preset default)")
    p.add_argument("--lr", type=float, help="Adam learning rate (preset default)")
    p.add_argument("--reset", choices=("subtract", "zero"), default="subtract",
                   help="membrane reset on a spike: subtract the threshold (default) or set to 0")
    p.add_argument("--fixed-threshold", action="store_true",
                   help="keep thresholds fixed at their initial value (default: learned)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights and of the shuffling per epoch (default 0)")
    p.add_argument("--out", type=Path, default=OUT_ROOT / "train",
                   help=f"output folder (default {OUT_ROOT}/train); one holding a run is kept "
                        f"unless --resume or --overwrite")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in OUT (its checkpoint, network and summary)")
    add_no_progress(p)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.set_defaults(func=run, interrupted="interrupted; the last finished epoch is in "
                   "OUT/checkpoint.pt: add --resume to the same command to continue")


#: DVS Gesture preprocessing (docs/training.md): denoise with a 10 ms window (Tonic's default),
#: then down-sample the 128 x 128 sensor by 4 to the preset's 32 x 32 input (paper §IV).
GESTURE_DOWNSAMPLE = 4
GESTURE_DENOISE_US = 10_000


class _Resized:
    """A dataset seen through denoise + down-sampling, with the down-sampled sensor size."""

    def __init__(self, dataset: Any, factor: int) -> None:
        from flexspim import data as fdata

        self.dataset = dataset
        self.sensor_size = fdata.downsampled_size(dataset.sensor_size, factor)
        self.classes = getattr(dataset, "classes", ())
        self.transform = fdata.Compose((fdata.Denoise(GESTURE_DENOISE_US),
                                        fdata.Downsample(factor)))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        events, label = self.dataset[i]
        return self.transform(events), label


def load_training_data(preset: str, data: Path | None, time_bins: int) -> Any:
    """The :class:`~flexspim.train.frames.Frames` to train on (see the module docstring)."""
    from flexspim.train.frames import frames_from_arrays, load_frames_file

    if data is not None and data.suffix == ".npz":
        frames = load_frames_file(data)
        if frames.x_train.shape[1] != time_bins:
            raise ConfigError(f"{data}: frames have {frames.x_train.shape[1]} time bins, "
                              f"--time-bins is {time_bins}; pass --time-bins "
                              f"{frames.x_train.shape[1]}")
        return frames
    from flexspim import data as fdata

    if data is not None:
        if not data.is_dir() or fdata.detect_layout(data) is None:
            raise ConfigError(f"--data {data}: neither a DVS Gesture folder nor a frames .npz "
                              f"file; for your own recordings make a frames file first: "
                              f"flexspim data frames {data} --labels TABLE.csv --time-bins "
                              f"{time_bins} --out FILE.npz")
        splits = {s: _Resized(fdata.DVSGesture(data, split=s), GESTURE_DOWNSAMPLE)
                  for s in ("train", "test")}
    elif preset == "digits":
        splits = {s: fdata.DigitsEvents(split=s, seed=0) for s in ("train", "test")}
    else:
        raise ConfigError(f"preset '{preset}' needs --data: the DVS Gesture folder (see "
                          f"docs/training.md)")
    xs = {s: fdata.load_frames(ds, time_bins, progress=True) for s, ds in splits.items()}
    classes = getattr(splits["train"], "classes", ())
    return frames_from_arrays(xs["train"][0], xs["train"][1], xs["test"][0], xs["test"][1],
                              name=preset if data is None else data.name, classes=classes)


def _host() -> dict[str, Any]:
    """Where the run was measured (wall times depend on it)."""
    import os
    import platform

    import torch

    return {"cpus": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__}


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from flexspim.net import save_network
    from flexspim.sim import simulate
    from flexspim.train import TrainConfig, export_network, fit
    from flexspim.train.record import (
        SUMMARY_FORMAT,
        SUMMARY_NAME,
        SUMMARY_VERSION,
        network_fingerprint,
        train_command,
    )

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads {args.threads} must be >= 1")
        torch.set_num_threads(args.threads)
    check_train_out(args.out, resume=args.resume, overwrite=args.overwrite)
    defaults = PRESET_DEFAULTS[args.preset]
    opts = {k: getattr(args, k) if getattr(args, k) is not None else v
            for k, v in defaults.items()}
    config = TrainConfig(preset=args.preset, w_bits=args.w_bits, v_bits=args.v_bits,
                         seed=args.seed, reset=args.reset,
                         learn_threshold=not args.fixed_threshold, **opts)
    t0 = time.perf_counter()
    frames = load_training_data(args.preset, args.data, config.time_bins)
    t_data = time.perf_counter() - t0
    result = fit(config, (frames.x_train, frames.y_train), (frames.x_test, frames.y_test),
                 out=args.out, resume=args.resume, progress=progress_enabled(args))
    t_train = time.perf_counter() - t0 - t_data
    net = export_network(result.model, name=f"{args.preset}_net")
    save_network(net, args.out / "network.npz")
    sim = simulate(net, np.transpose(frames.x_test, (1, 0, 2, 3, 4)), engine="fast",
                   labels=frames.y_test, progress=progress_enabled(args))
    acc = float(np.mean(sim.predictions == frames.y_test))
    threads = torch.get_num_threads()
    summary = versioned(SUMMARY_FORMAT, SUMMARY_VERSION, {
        "command": train_command(config, data=args.data, out=args.out, threads=threads),
        "preset": args.preset, "seed": config.seed, "config": config.to_dict(),
        "data": str(args.data or f"flexspim.data.DigitsEvents(seed=0), {config.time_bins} bins"),
        "n_train": int(frames.y_train.size), "n_test": int(frames.y_test.size),
        "input_shape": list(net.input_shape), "epochs_run": len(result.history),
        "test_accuracy_fast_sim": acc,
        "test_accuracy_integer_model": result.history[-1].get("test_acc"),
        "data_seconds": round(t_data, 2), "train_seconds": round(t_train, 2),
        "epoch_seconds_total": round(sum(float(r["time_s"]) for r in result.history), 2),
        "resumed": bool(args.resume), "torch_threads": threads, "host": _host(),
        "network": str(args.out / "network.npz"), "network_fingerprint": network_fingerprint(net),
    })
    write_json(args.out / SUMMARY_NAME, summary)
    print(f"test accuracy {acc:.4f} (fast simulator, {frames.y_test.size} samples); "
          f"trained in {t_train:.1f} s; checkpoint {args.out / 'checkpoint.pt'}")
    return 0
