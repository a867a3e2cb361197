"""``flexspim train``: quantization-aware SNN training with checkpoints, resume and metrics.

Data: the preset's own dataset (``digits``: the offline digits event dataset, no download), a
DVS Gesture folder (``--data DIR``, original release or Tonic's layout), or a frames file
(``--data FILE.npz``, format ``flexspim-frames``). After the last epoch the exported integer
network is simulated with ``flexspim.sim.simulate(engine="fast")`` on the test split and the
result is written to ``OUT/summary.json`` (format ``flexspim-train-summary`` version 1,
:mod:`flexspim.train.record`), with the full command line that reproduces the run.

``--device auto|cpu|cuda[:N]`` (default auto: CUDA when present) chooses where the model trains;
``torchrun --nproc_per_node K -m flexspim train ...`` trains with K data-parallel processes
(:mod:`flexspim.train.distributed`; only process 0 writes files). A DVS Gesture folder is
prepared once and cached in ``--cache`` (default ``OUT/cache``; :mod:`flexspim.train.prepare`).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from flexspim import data as fdata
from flexspim._device import DEVICE_HELP, resolve_device
from flexspim._io import versioned, write_json
from flexspim.cli._common import (
    OUT_ROOT,
    add_no_progress,
    add_overwrite,
    check_train_out,
    description,
    progress_enabled,
)
from flexspim.cli.export import device_option
from flexspim.errors import ConfigError
from flexspim.net import save_network
from flexspim.sim import simulate

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
    p = subparsers.add_parser("train", help="train a quantized IF or LIF SNN (needs torch)",
                              description=description(__doc__))
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
    p.add_argument("--batch-size", type=int, help="samples per step, over all processes "
                   "(preset default)")
    p.add_argument("--lr", type=float, help="Adam learning rate (preset default)")
    p.add_argument("--reset", choices=("subtract", "zero"), default="subtract",
                   help="membrane reset on a spike: subtract the threshold (default) or set to 0")
    p.add_argument("--neuron", choices=("if", "lif"), default="if",
                   help="integrate-and-fire (default) or leaky: an integer leak every timestep, "
                        "trained as the exported network computes it (docs/training.md)")
    p.add_argument("--leak-shift", type=_bits, metavar="K", default=(),
                   help="LIF leak v -= trunc(v / 2**K): K or K1,K2,.. per spiking layer "
                        "(default 4 with --neuron lif)")
    p.add_argument("--leak-constant", type=_bits, metavar="C", default=(),
                   help="LIF leak of C membrane units toward zero per timestep instead: C or "
                        "C1,C2,..")
    p.add_argument("--fixed-threshold", action="store_true",
                   help="keep thresholds fixed at their initial value (default: learned)")
    p.add_argument("--augment", action="store_true", help="augment the training events every "
                   "epoch (Tonic's EventDrop; needs a DVS Gesture folder)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights and of the shuffling per epoch (default 0)")
    p.add_argument("--out", type=Path, default=OUT_ROOT / "train",
                   help=f"output folder (default {OUT_ROOT}/train); one holding a run is kept "
                        f"unless --resume or --overwrite")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint.pt in --out")
    add_overwrite(p, "the run in --out (its checkpoint, network and summary)")
    add_no_progress(p)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (per process)")
    p.add_argument("--device", type=device_option, default="auto", help=f"{DEVICE_HELP} (default "
                   f"auto); under torchrun each process takes cuda:LOCAL_RANK")
    p.add_argument("--micro-batches", type=int, default=1, metavar="K", help="parts of each "
                   "process's share of a batch run one after the other (less memory, the same "
                   "gradient; default 1)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader worker processes "
                   "(default: 0 for frames, one per core but one with --augment)")
    p.add_argument("--cache", type=Path, default=None, help="folder of the prepared DVS Gesture "
                   "data (default OUT/cache)")
    p.set_defaults(func=run, interrupted=interrupted)


def interrupted(args: argparse.Namespace) -> str:
    """What Ctrl-C keeps: the checkpoint of the last finished epoch in ``--out`` (resume it), or,
    during the first epoch, nothing to resume."""
    checkpoint = Path(args.out) / "checkpoint.pt"
    if checkpoint.is_file():
        return (f"interrupted; the last finished epoch is in {checkpoint}: add --resume to the "
                f"same command to continue")
    return (f"interrupted before the first epoch finished: no checkpoint in {args.out}, nothing "
            f"to resume; run the same command again (without --resume) to start over")


def load_training_data(preset: str, data: Path | None, time_bins: int, *,
                       cache: Path | None = None, builder: bool = True,
                       progress: bool = True) -> Any:
    """The :class:`~flexspim.train.frames.Frames` to train on (see the module docstring);
    a DVS Gesture folder is cached in ``cache`` when given (:mod:`flexspim.train.prepare`)."""
    # flexspim.train imports torch: loaded when the command runs, not by the parser
    from flexspim.train.frames import load_frames_file
    from flexspim.train.prepare import digits_frames, gesture_frames

    if data is not None and data.suffix == ".npz":
        frames = load_frames_file(data)
        if frames.x_train.shape[1] != time_bins:
            raise ConfigError(f"{data}: frames have {frames.x_train.shape[1]} time bins, "
                              f"--time-bins is {time_bins}; pass --time-bins "
                              f"{frames.x_train.shape[1]}")
        return frames
    if data is not None:
        return gesture_frames(data, time_bins, cache, builder=builder, progress=progress)
    if preset == "digits":
        return digits_frames(time_bins, progress=progress)
    raise ConfigError(f"preset '{preset}' needs --data: the DVS Gesture folder (see "
                      f"docs/training.md)")


def _training_inputs(args: argparse.Namespace, time_bins: int, builder: bool
                     ) -> tuple[Any, tuple[Any, Any]]:
    """(training data, test frames and labels): frames, or with ``--augment`` the training
    split's event store (augmented and binned every epoch) and the test split binned once."""
    cache = args.cache if args.cache is not None else args.out / "cache"
    if not args.augment:
        frames = load_training_data(args.preset, args.data, time_bins, cache=cache,
                                    builder=builder, progress=builder)
        return (frames.x_train, frames.y_train), (frames.x_test, frames.y_test)
    if args.data is None or args.data.suffix == ".npz":
        raise ConfigError("--augment augments events: pass a DVS Gesture folder as --data (frames "
                          "hold no events)")
    from flexspim.train.prepare import gesture_events  # flexspim.train imports torch

    stores = gesture_events(args.data, cache, builder=builder, progress=builder)
    return stores["train"], fdata.load_frames(stores["test"], time_bins, progress=builder)


def _host() -> dict[str, Any]:
    """Where the run was measured (wall times depend on it)."""
    import torch

    return {"cpus": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__}


def _config(args: argparse.Namespace) -> Any:
    from flexspim.train import TrainConfig  # flexspim.train imports torch

    defaults = PRESET_DEFAULTS[args.preset]
    opts = {k: getattr(args, k) if getattr(args, k) is not None else v
            for k, v in defaults.items()}
    return TrainConfig(preset=args.preset, w_bits=args.w_bits, v_bits=args.v_bits,
                       seed=args.seed, reset=args.reset, augment=args.augment,
                       learn_threshold=not args.fixed_threshold, neuron=args.neuron,
                       leak_shift=args.leak_shift, leak_constant=args.leak_constant, **opts)


def run(args: argparse.Namespace) -> int:
    import torch

    from flexspim.train import distributed  # flexspim.train imports torch

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads {args.threads} must be >= 1")
        torch.set_num_threads(args.threads)
    for key in ("micro_batches", "workers"):
        if getattr(args, key) is not None and getattr(args, key) < (1 if key != "workers" else 0):
            raise ConfigError(f"--{key.replace('_', '-')} {getattr(args, key)} is out of range")
    config = _config(args)
    config.leaks()  # a leak out of range stops here, before the data is read
    dp = distributed.from_env()
    if dp.local_rank == 0:
        check_train_out(args.out, resume=args.resume, overwrite=args.overwrite)
    device = resolve_device(args.device, local_rank=dp.local_rank if dp.active else None)
    t0 = time.perf_counter()
    train_data, test = _training_inputs(args, config.time_bins, builder=dp.local_rank == 0)
    t_data = time.perf_counter() - t0
    distributed.start(dp, device)
    try:
        return _train_and_report(args, config, dp, device, train_data, test, t_data)
    finally:
        distributed.stop(dp)


def _train_and_report(args: argparse.Namespace, config: Any, dp: Any, device: Any,
                      train_data: Any, test: tuple[Any, Any], t_data: float) -> int:
    """Train; on process 0 export, simulate the test split and write the summary."""
    import torch

    from flexspim.train import export_network, fit  # flexspim.train imports torch
    from flexspim.train.loop import Runtime
    from flexspim.train.record import (
        SUMMARY_FORMAT,
        SUMMARY_NAME,
        SUMMARY_VERSION,
        network_fingerprint,
        train_command,
    )

    runtime = Runtime(device=device, dp=dp, micro_batches=args.micro_batches,
                      workers=args.workers)
    t1 = time.perf_counter()
    result = fit(config, train_data, test, out=args.out, resume=args.resume,
                 progress=dp.is_main and progress_enabled(args), runtime=runtime)
    t_train = time.perf_counter() - t1
    if not dp.is_main:
        return 0
    net = export_network(result.model, name=config.network_name)
    save_network(net, args.out / "network.npz")
    x_test, y_test = test
    sim = simulate(net, np.transpose(x_test, (1, 0, 2, 3, 4)), engine="fast", labels=y_test,
                   progress=progress_enabled(args), device=device)
    acc = float(np.mean(sim.predictions == y_test))
    threads = torch.get_num_threads()
    device_arg = "cuda" if dp.active and device.type == "cuda" else str(device)
    summary = versioned(SUMMARY_FORMAT, SUMMARY_VERSION, {
        "command": train_command(config, data=args.data, out=args.out, threads=threads,
                                 device=device_arg, processes=dp.world_size,
                                 micro_batches=args.micro_batches),
        "preset": args.preset, "seed": config.seed, "config": config.to_dict(),
        "data": str(args.data or f"flexspim.data.DigitsEvents(seed=0), {config.time_bins} bins"),
        "n_train": int(len(train_data[1]) if isinstance(train_data, tuple) else len(train_data)),
        "n_test": int(y_test.size),
        "input_shape": list(net.input_shape), "epochs_run": len(result.history),
        "test_accuracy_fast_sim": acc,
        "test_accuracy_integer_model": result.history[-1].get("test_acc"),
        "data_seconds": round(t_data, 2), "train_seconds": round(t_train, 2),
        "epoch_seconds_total": round(sum(float(r["time_s"]) for r in result.history), 2),
        "resumed": bool(args.resume), "torch_threads": threads, "host": _host(),
        "device": str(device), "device_name": _device_name(device),
        "processes": dp.world_size, "micro_batches": args.micro_batches,
        "network": str(args.out / "network.npz"), "network_fingerprint": network_fingerprint(net),
    })
    write_json(args.out / SUMMARY_NAME, summary)
    print(f"test accuracy {acc:.4f} (fast simulator, {y_test.size} samples); trained in "
          f"{t_train:.1f} s on {device} x {dp.world_size} process(es); checkpoint "
          f"{args.out / 'checkpoint.pt'}")
    return 0


def _device_name(device: Any) -> str:
    """The GPU's model name, or ``cpu``."""
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
