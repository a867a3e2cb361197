"""Training loop, checkpoints that resume exactly, and metrics files (docs/design.md §4 ``train``).

:func:`fit` trains a :class:`~flexspim.train.model.QuantSNN` on event-count frames
``[N, T, C, H, W]`` with Adam and a per-epoch exponential learning-rate decay, loss = cross-entropy on the
output layer's spike counts (the quantity whose argmax is the prediction). After every epoch it
evaluates the exact integer model on the test frames and writes, atomically, into ``out``:

- ``checkpoint.pt``: format ``flexspim-checkpoint`` version 1 (a ``torch.save`` dict of plain
  data and tensors, readable with ``weights_only=True``): config, architecture, epoch, model,
  optimiser and schedule states, torch RNG state, metrics history;
- ``metrics.csv`` and ``metrics.json`` (format ``flexspim-train-metrics`` version 1).

Resuming loads ``checkpoint.pt`` and continues with the next epoch; the per-epoch shuffling is
drawn from ``seed`` and the epoch number, so 1 epoch + resume 1 epoch gives the same weights as
2 epochs in one run.

Where a run executes is its :class:`Runtime`, not part of its config: the device (CPU or a CUDA
GPU), the data-parallel process layout (:mod:`flexspim.train.distributed`, ``torchrun``), the
micro-batches per process and the DataLoader workers (:mod:`flexspim.train.loader`). Checkpoints
hold host (CPU) tensors and are read with ``map_location="cpu"`` (files other tools wrote on a
GPU included), so a run resumes on any device and with any number of processes. Exact resume
holds for the same device type and process layout; across them the next epochs differ by float
rounding (other kernels, another order of additions).
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from flexspim._device import resolve_device, training_math
from flexspim._io import check_versioned, stamped, write_json, write_text_atomic, write_with
from flexspim.errors import ConfigError, FormatError
from flexspim.macro.leak import leak_range
from flexspim.net import Leak
from flexspim.train import distributed
from flexspim.train.arch import Architecture, preset
from flexspim.train.distributed import DataParallel
from flexspim.train.loader import (
    BatchPlan,
    EventDropAugment,
    EventParts,
    FrameParts,
    default_workers,
    make_loader,
)
from flexspim.train.model import (
    DEFAULT_SURROGATE_SLOPE,
    DEFAULT_THRESHOLD_INIT,
    QuantSNN,
    integer_predictions,
)

CHECKPOINT_FORMAT = "flexspim-checkpoint"
CHECKPOINT_VERSION = 1
METRICS_FORMAT = "flexspim-train-metrics"
METRICS_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
#: Neuron models ``train`` trains: integrate-and-fire, or leaky (an integer leak per layer).
NEURONS = ("if", "lif")
#: Default leak of ``neuron="lif"`` without an amount: shift 4, a decay of 15/16 per timestep
#: (time constant 16 timesteps; snnTorch's tutorials train with beta = 0.9-0.95).
DEFAULT_LEAK_SHIFT = 4


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint).

    ``w_bits`` / ``v_bits``: one width for every spiking layer or one per layer (bits).
    ``time_bins``: timesteps T per sample. ``lr``: Adam learning rate (default 3e-3, tuned on the
    digits preset), multiplied by ``lr_decay`` after every epoch (default 0.85, tuned on the digits
    preset; a schedule that does not depend on ``epochs``, so a run can be extended with
    ``--resume --epochs N``). ``batch_size``: samples per step (default 16, tuned on the digits
    preset), whatever the number of processes (each takes a share). ``augment``: augment the
    training events anew every epoch (Tonic's ``EventDrop``, :mod:`flexspim.train.loader`;
    needs event data). ``neuron``: ``if`` or ``lif``; a LIF network leaks by ``leak_shift``
    (shift k, one for every spiking layer or one per layer; default
    :data:`DEFAULT_LEAK_SHIFT`) or ``leak_constant`` (c integer membrane units), the integer
    leak the exported network keeps (:class:`~flexspim.net.Leak`).
    """

    preset: str = "digits"
    epochs: int = 20
    w_bits: tuple[int, ...] = (8,)
    v_bits: tuple[int, ...] = (16,)
    time_bins: int = 12
    batch_size: int = 16
    lr: float = 3e-3
    lr_decay: float = 0.85
    seed: int = 0
    reset: str = "subtract"
    learn_threshold: bool = True
    threshold_init: float = DEFAULT_THRESHOLD_INIT
    surrogate_slope: float = DEFAULT_SURROGATE_SLOPE
    augment: bool = False
    neuron: str = "if"
    leak_shift: tuple[int, ...] = ()
    leak_constant: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for key in ("w_bits", "v_bits", "leak_shift", "leak_constant"):
            val = getattr(self, key)
            object.__setattr__(self, key, (int(val),) if isinstance(val, (int, np.integer))
                               else tuple(int(v) for v in val))
        self._check_neuron()
        for key in ("epochs", "time_bins", "batch_size"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"training option {key} = {getattr(self, key)} must be >= 1")
        if self.lr <= 0:
            raise ConfigError(f"training option lr = {self.lr} must be > 0")

    def _check_neuron(self) -> None:
        if self.neuron not in NEURONS:
            raise ConfigError(f"training option neuron = {self.neuron!r}; use one of "
                              f"{', '.join(NEURONS)}")
        if self.neuron == "if" and (self.leak_shift or self.leak_constant):
            raise ConfigError("a leak (--leak-shift / --leak-constant) needs neuron 'lif' "
                              "(--neuron lif)")
        if self.leak_shift and self.leak_constant:
            raise ConfigError("give either a leak shift or a leak constant, not both")
        if self.neuron == "lif" and not (self.leak_shift or self.leak_constant):
            object.__setattr__(self, "leak_shift", (DEFAULT_LEAK_SHIFT,))

    @property
    def network_name(self) -> str:
        """Default name of the exported network: ``<preset>_net``, ``<preset>_lif_net`` for
        leaky neurons (``flexspim train`` and ``flexspim export`` agree on it)."""
        return f"{self.preset}_net" if self.neuron == "if" else f"{self.preset}_{self.neuron}_net"

    def bits(self, key: str) -> int | tuple[int, ...]:
        val = getattr(self, key)
        return val[0] if len(val) == 1 else val

    def leaks(self) -> Leak | list[Leak] | None:
        """The leak of every spiking layer (one for all, or one per layer; None for IF).

        ConfigError (one line) when an amount does not fit the membranes it leaks."""
        kind, amounts = (("shift", self.leak_shift) if self.leak_shift else
                         ("constant", self.leak_constant))
        if self.neuron == "if":
            return None
        n = max(len(amounts), len(self.v_bits))
        pairs = [(amounts[i % len(amounts)], self.v_bits[i % len(self.v_bits)], i)
                 for i in range(n)]
        for a, v_bits, i in pairs:
            lo, hi = leak_range(kind, v_bits)
            if not lo <= a <= hi:
                raise ConfigError(f"--leak-{kind} {a} must be in [{lo}, {hi}] for the "
                                  f"{v_bits}-bit membranes of spiking layer {i + 1}")
        out = [Leak(kind, a) for a in amounts]
        return out[0] if len(out) == 1 else out

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        for key in ("w_bits", "v_bits", "leak_shift", "leak_constant"):
            doc[key] = list(getattr(self, key))
        return doc

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in doc.items() if k in known})


def build_model(config: TrainConfig, arch: Architecture) -> QuantSNN:
    """The untrained model of ``config`` (seeded by ``config.seed``)."""
    torch.manual_seed(config.seed)
    return QuantSNN(arch, w_bits=config.bits("w_bits"), v_bits=config.bits("v_bits"),
                    reset=config.reset, learn_threshold=config.learn_threshold,
                    threshold_init=config.threshold_init, surrogate_slope=config.surrogate_slope,
                    leaks=config.leaks())


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A loaded checkpoint: the model (weights restored), its config and its state."""

    config: TrainConfig
    arch: Architecture
    model: QuantSNN
    epoch: int
    history: list[dict[str, Any]]
    state: dict[str, Any]


def _host(obj: Any) -> Any:
    """``obj`` with every tensor (in dicts, lists, tuples) copied to host memory."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _host(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_host(v) for v in obj)
    return obj


def _checkpoint_doc(config: TrainConfig, model: QuantSNN, optimizer: torch.optim.Optimizer,
                    scheduler: Any, epoch: int, history: list[dict[str, Any]],
                    written_by: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint document (host tensors); ``written_by``: the device and process count
    that wrote it (for the record only; any runtime resumes it)."""
    return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "config": config.to_dict(), "architecture": model.arch.to_dict(), "epoch": epoch,
            "model": _host(model.state_dict()), "optimizer": _host(optimizer.state_dict()),
            "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
            "history": history, "written_by": dict(written_by or {})}


def save_checkpoint(path: str | os.PathLike[str], doc: dict[str, Any]) -> None:
    """Write a checkpoint document atomically."""
    write_with(path, lambda tmp: torch.save(stamped(doc), tmp))


def load_checkpoint(path: str | os.PathLike[str], device: Any = None) -> Checkpoint:
    """Read a checkpoint; a wrong file, format or version raises FormatError naming the file.

    Tensors are mapped to the CPU whatever device wrote them; the model then moves to
    ``device`` (a ``torch.device`` or its name; default the CPU).
    """
    p = Path(path)
    if not p.is_file():
        raise FormatError(f"{p}: no such checkpoint file; train one with 'flexspim train'")
    try:
        doc = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a non-checkpoint file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(f"{p}: not a readable flexspim checkpoint ({first[:120]})") from None
    check_versioned(doc, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, p,
                    what="flexspim checkpoint", fix_format="give a checkpoint.pt of 'flexspim train'",
                    fix="retrain with this version of flexspim")
    config = TrainConfig.from_dict(doc["config"])
    arch = Architecture.from_dict(doc["architecture"])
    model = build_model(config, arch)
    model.load_state_dict(doc["model"])
    if device is not None:
        model = model.to(device)
    return Checkpoint(config=config, arch=arch, model=model, epoch=int(doc["epoch"]),
                      history=list(doc["history"]), state=doc)


def _write_metrics(out: Path, config: TrainConfig, history: list[dict[str, Any]]) -> None:
    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(out / "metrics.csv", buf.getvalue())
    write_json(out / "metrics.json", {"format": METRICS_FORMAT, "version": METRICS_VERSION,
                                      "config": config.to_dict(), "epochs": history})




@dataclass(frozen=True)
class Runtime:
    """Where and how a run executes (module docstring); not part of :class:`TrainConfig`.

    ``device``: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``, or a
    ``torch.device``.
    ``dp``: this process's place in a data-parallel run (:func:`flexspim.train.distributed.
    from_env` under torchrun). ``micro_batches``: parts each process runs one after the other
    per step (less memory; the same gradient). ``workers``: DataLoader worker processes (None:
    :func:`flexspim.train.loader.default_workers`).
    """

    device: Any = "cpu"
    dp: DataParallel = field(default_factory=DataParallel)
    micro_batches: int = 1
    workers: int | None = None


@dataclass(frozen=True, eq=False)
class FitResult:
    """What :func:`fit` returns: the trained model and its per-epoch metrics."""

    model: QuantSNN
    history: list[dict[str, Any]]
    checkpoint: Path | None


@dataclass(eq=False)
class _Run:
    """The state a run carries from epoch to epoch."""

    model: QuantSNN
    optimizer: torch.optim.Optimizer
    scheduler: Any
    history: list[dict[str, Any]]
    start: int


def _new_run(config: TrainConfig, model: QuantSNN) -> _Run:
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad],
                                 lr=config.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
    return _Run(model, optimizer, scheduler, [], 0)


def _resumed_run(config: TrainConfig, out_dir: Path | None, device: Any) -> _Run:
    """The run continued from ``out_dir/checkpoint.pt`` (its config must match but epochs)."""
    if out_dir is None or not (out_dir / CHECKPOINT_NAME).is_file():
        raise ConfigError(f"--resume: no checkpoint at {out_dir}/{CHECKPOINT_NAME}; run "
                          f"without --resume to start")
    ck = load_checkpoint(out_dir / CHECKPOINT_NAME, device)
    mine = {k: v for k, v in config.to_dict().items() if k != "epochs"}
    theirs = {k: v for k, v in ck.config.to_dict().items() if k != "epochs"}
    if mine != theirs:
        diff = sorted(k for k in mine if mine[k] != theirs.get(k))
        raise ConfigError(f"--resume: options {', '.join(diff)} differ from the checkpoint in "
                          f"{out_dir}; use the same options or a new --out")
    run = _new_run(config, ck.model)
    run.optimizer.load_state_dict(ck.state["optimizer"])  # moves its state to the device
    run.scheduler.load_state_dict(ck.state["scheduler"])
    torch.set_rng_state(ck.state["torch_rng"])
    run.history, run.start = ck.history, ck.epoch
    return run


def _training_set(config: TrainConfig, train_data: Any) -> tuple[Any, np.ndarray, tuple]:
    """(loader dataset, labels, sample shape (C, H, W)) of ``train_data``: frames and labels
    ``(x [N, T, C, H, W], y [N])``, or an event dataset (``sensor_size``, ``labels`` or
    ``targets``, items ``(events, label)``) binned every epoch, augmented with ``augment``."""
    if isinstance(train_data, (tuple, list)):
        if config.augment:
            raise ConfigError("augment: event augmentation needs the training events (a DVS "
                              "Gesture folder), not frames; drop --augment")
        x = np.asarray(train_data[0])
        y = np.asarray(train_data[1]).astype(np.int64).reshape(-1)
        if x.ndim != 5 or x.shape[0] != y.shape[0]:
            raise ConfigError(f"training frames must be [N, T, C, H, W] with one label each; "
                              f"got {tuple(x.shape)} and {tuple(y.shape)} labels")
        if x.shape[1] != config.time_bins:
            raise ConfigError(f"training frames have {x.shape[1]} time bins, config.time_bins "
                              f"= {config.time_bins}; re-bin the data or change --time-bins")
        return FrameParts(x, y), y, tuple(x.shape[2:])
    labels = getattr(train_data, "labels", getattr(train_data, "targets", None))
    size = getattr(train_data, "sensor_size", None)
    if labels is None or size is None:
        raise ConfigError(f"training data {type(train_data).__name__}: pass frames (x, y) or an "
                          f"event dataset with sensor_size and labels")
    w, h, p = (int(s) for s in size)
    augment = EventDropAugment((w, h, p)) if config.augment else None
    parts = EventParts(train_data, config.time_bins, config.seed, augment)
    return parts, np.asarray(labels, dtype=np.int64), (p, h, w)


def fit(config: TrainConfig, train_data: Any, test_data: tuple[Any, Any] | None,
        *, out: str | os.PathLike[str] | None = None, resume: bool = False,
        arch: Architecture | None = None, progress: bool = False,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        runtime: Runtime | None = None) -> FitResult:
    """Train ``config`` on ``train_data``: frames (counts ``[N, T, C, H, W]``, labels ``[N]``) or
    an event dataset (see :func:`_training_set`).

    ``test_data`` is evaluated after each epoch with the exact integer model (``test_acc``).
    ``out``: folder for the checkpoint and metrics (none written when None; only rank 0
    writes). ``resume``: continue from ``out/checkpoint.pt`` (its config must equal ``config``
    except ``epochs``). ``arch`` defaults to the preset of ``config`` for the data's input
    shape and class count. ``runtime``: device, processes, micro-batches, workers.
    """
    rt = runtime or Runtime()
    dataset, labels, shape = _training_set(config, train_data)
    if arch is None:
        arch = preset(config.preset, shape, int(labels.max()) + 1)  # type: ignore[arg-type]
    device = (rt.device if isinstance(rt.device, torch.device) else
              resolve_device(rt.device, local_rank=rt.dp.local_rank if rt.dp.active else None))
    out_dir = Path(out) if out is not None else None
    run = (_resumed_run(config, out_dir, device) if resume
           else _new_run(config, build_model(config, arch).to(device)))
    plan = BatchPlan(labels.size, config.batch_size, config.seed, rt.dp, rt.micro_batches)
    workers = default_workers(dataset) if rt.workers is None else rt.workers
    loader = make_loader(dataset, plan, device, workers)
    net = distributed.wrap(run.model, rt.dp, device)
    written_by = {"device": str(device), "processes": rt.dp.world_size,
                  "micro_batches": rt.micro_batches}

    total = max(0, config.epochs - run.start) * plan.steps
    with tqdm(total=total, desc="train", unit="batch", disable=not (progress and rt.dp.is_main)
              ) as bar, training_math(device):
        for epoch in range(run.start, config.epochs):
            t0 = time.perf_counter()
            plan.set_epoch(epoch)
            bar.set_postfix(epoch=epoch + 1)
            loss_sum, correct = _train_epoch(run, net, loader, plan, labels.size, device, bar)
            loss_sum, correct = distributed.all_sum([loss_sum, correct], rt.dp, device)
            row: dict[str, Any] = {"epoch": epoch + 1,
                                   "train_loss": round(loss_sum / labels.size, 6),
                                   "train_acc": round(correct / labels.size, 6)}
            if test_data is not None:
                row["test_acc"] = _test_accuracy(run.model, test_data, rt.dp, device)
            run.scheduler.step()
            row["time_s"] = round(time.perf_counter() - t0, 3)
            run.history.append(row)
            if on_epoch is not None and rt.dp.is_main:
                on_epoch(row)
            if out_dir is not None and rt.dp.is_main:
                save_checkpoint(out_dir / CHECKPOINT_NAME, _checkpoint_doc(
                    config, run.model, run.optimizer, run.scheduler, epoch + 1, run.history,
                    written_by))
                _write_metrics(out_dir, config, run.history)
    run.model.eval()
    return FitResult(model=run.model, history=run.history,
                     checkpoint=out_dir / CHECKPOINT_NAME if out_dir is not None else None)


def _train_epoch(run: _Run, net: Any, loader: Any, plan: BatchPlan, n: int, device: Any,
                 bar: Any) -> tuple[float, float]:
    """One epoch of steps; returns this process's (summed loss, correct count) over its parts.

    A step's parts each add ``cross-entropy summed over the part / batch size`` to the
    gradient; under DDP the last part of a step synchronises the sum over processes.
    """
    k = plan.micro_batches
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    parts = iter(loader)
    run.model.train()
    for b in range(plan.steps):
        batch = min(plan.batch_size, n - b * plan.batch_size)
        run.optimizer.zero_grad(set_to_none=True)
        for j in range(k):
            xb, yb = next(parts)
            xb = xb.to(device, non_blocking=True).transpose(0, 1).to(torch.float32)
            yb = yb.to(device, non_blocking=True)
            sync = net.no_sync() if j < k - 1 and hasattr(net, "no_sync") else nullcontext()
            with sync:
                counts = net(xb)
                part_loss = F.cross_entropy(counts, yb, reduction="sum")
                (part_loss / batch).backward()
            loss_sum += part_loss.detach()
            correct += (counts.detach().argmax(1) == yb).sum()
        run.optimizer.step()
        bar.update(1)
    return float(loss_sum), float(correct)


def _test_accuracy(model: QuantSNN, test_data: tuple[Any, Any], dp: DataParallel,
                   device: Any) -> float:
    """Accuracy of the exact integer model on the test split; with several processes each
    evaluates every W-th sample and the counts are summed."""
    x, y = np.asarray(test_data[0]), np.asarray(test_data[1])
    mine = x[dp.rank :: dp.world_size]
    hits = (float(np.sum(integer_predictions(model, mine) == y[dp.rank :: dp.world_size]))
            if len(mine) else 0.0)
    hits = distributed.all_sum([hits], dp, device)[0]
    return round(hits / max(1, y.size), 6)
