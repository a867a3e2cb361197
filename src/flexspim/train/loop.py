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
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from flexspim._io import stamped, write_json, write_text_atomic, write_with
from flexspim.errors import ConfigError, FormatError
from flexspim.train.arch import Architecture, preset
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


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint).

    ``w_bits`` / ``v_bits``: one width for every spiking layer or one per layer (bits).
    ``time_bins``: timesteps T per sample. ``lr``: Adam learning rate (default 3e-3, tuned on the
    digits preset), multiplied by ``lr_decay`` after every epoch (default 0.85, tuned on the digits
    preset; a schedule that does not depend on ``epochs``, so a run can be extended with
    ``--resume --epochs N``). ``batch_size``: samples per step (default 16, tuned on the digits preset).
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

    def __post_init__(self) -> None:
        for key in ("w_bits", "v_bits"):
            val = getattr(self, key)
            object.__setattr__(self, key, (int(val),) if isinstance(val, (int, np.integer))
                               else tuple(int(v) for v in val))
        for key in ("epochs", "time_bins", "batch_size"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"training option {key} = {getattr(self, key)} must be >= 1")
        if self.lr <= 0:
            raise ConfigError(f"training option lr = {self.lr} must be > 0")

    def bits(self, key: str) -> int | tuple[int, ...]:
        val = getattr(self, key)
        return val[0] if len(val) == 1 else val

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["w_bits"], doc["v_bits"] = list(self.w_bits), list(self.v_bits)
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
                    threshold_init=config.threshold_init, surrogate_slope=config.surrogate_slope)


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A loaded checkpoint: the model (weights restored), its config and its state."""

    config: TrainConfig
    arch: Architecture
    model: QuantSNN
    epoch: int
    history: list[dict[str, Any]]
    state: dict[str, Any]


def _checkpoint_doc(config: TrainConfig, model: QuantSNN, optimizer: torch.optim.Optimizer,
                    scheduler: Any, epoch: int, history: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "config": config.to_dict(), "architecture": model.arch.to_dict(), "epoch": epoch,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
            "history": history}


def save_checkpoint(path: str | os.PathLike[str], doc: dict[str, Any]) -> None:
    """Write a checkpoint document atomically."""
    write_with(path, lambda tmp: torch.save(stamped(doc), tmp))


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint; a wrong file, format or version raises FormatError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise FormatError(f"{p}: no such checkpoint file; train one with 'flexspim train'")
    try:
        doc = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a non-checkpoint file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(f"{p}: not a readable flexspim checkpoint ({first[:120]})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise FormatError(f"{p}: not a flexspim checkpoint (format "
                          f"{doc.get('format') if isinstance(doc, dict) else None!r})")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise FormatError(f"{p}: checkpoint format version {doc.get('version')!r}, this flexspim "
                          f"reads version {CHECKPOINT_VERSION}; retrain with this version")
    config = TrainConfig.from_dict(doc["config"])
    arch = Architecture.from_dict(doc["architecture"])
    model = build_model(config, arch)
    model.load_state_dict(doc["model"])
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


@dataclass(frozen=True, eq=False)
class FitResult:
    """What :func:`fit` returns: the trained model and its per-epoch metrics."""

    model: QuantSNN
    history: list[dict[str, Any]]
    checkpoint: Path | None


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
    return torch.randperm(n, generator=gen)


def fit(config: TrainConfig, train_data: tuple[Any, Any], test_data: tuple[Any, Any] | None,
        *, out: str | os.PathLike[str] | None = None, resume: bool = False,
        arch: Architecture | None = None, progress: bool = False,
        on_epoch: Callable[[dict[str, Any]], None] | None = None) -> FitResult:
    """Train ``config`` on ``train_data`` = (frames ``[N, T, C, H, W]`` counts, labels ``[N]``).

    ``test_data`` is evaluated after each epoch with the exact integer model (``test_acc``).
    ``out``: folder for the checkpoint and metrics (none written when None). ``resume``:
    continue from ``out/checkpoint.pt`` (its config must equal ``config`` except ``epochs``).
    ``arch`` defaults to the preset of ``config`` for the data's input shape and class count.
    """
    from tqdm import tqdm

    x_train = torch.as_tensor(np.asarray(train_data[0]))
    y_train = torch.as_tensor(np.asarray(train_data[1]), dtype=torch.int64)
    if x_train.ndim != 5 or x_train.shape[0] != y_train.shape[0]:
        raise ConfigError(f"training frames must be [N, T, C, H, W] with one label each; got "
                          f"{tuple(x_train.shape)} and {tuple(y_train.shape)} labels")
    if x_train.shape[1] != config.time_bins:
        raise ConfigError(f"training frames have {x_train.shape[1]} time bins, config.time_bins "
                          f"= {config.time_bins}; re-bin the data or change --time-bins")
    n_classes = int(y_train.max()) + 1
    if arch is None:
        arch = preset(config.preset, tuple(x_train.shape[2:]), n_classes)  # type: ignore[arg-type]
    out_dir = Path(out) if out is not None else None
    model = build_model(config, arch)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad],
                                 lr=config.lr)
    steps = -(-x_train.shape[0] // config.batch_size)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
    history: list[dict[str, Any]] = []
    start = 0
    if resume:
        if out_dir is None or not (out_dir / CHECKPOINT_NAME).is_file():
            raise ConfigError(f"--resume: no checkpoint at {out_dir}/{CHECKPOINT_NAME}; run "
                              f"without --resume to start")
        ck = load_checkpoint(out_dir / CHECKPOINT_NAME)
        mine = {k: v for k, v in config.to_dict().items() if k != "epochs"}
        theirs = {k: v for k, v in ck.config.to_dict().items() if k != "epochs"}
        if mine != theirs:
            diff = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise ConfigError(f"--resume: options {', '.join(diff)} differ from the checkpoint in "
                              f"{out_dir}; use the same options or a new --out")
        model = ck.model
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad],
                                     lr=config.lr)
        optimizer.load_state_dict(ck.state["optimizer"])
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
        scheduler.load_state_dict(ck.state["scheduler"])
        torch.set_rng_state(ck.state["torch_rng"])
        history, start = ck.history, ck.epoch
    total = (config.epochs - start) * steps
    with tqdm(total=total, desc="train", unit="batch", disable=not progress) as bar:
        for epoch in range(start, config.epochs):
            t0 = time.perf_counter()
            model.train()
            order = _epoch_order(x_train.shape[0], config.seed, epoch)
            loss_sum, correct = 0.0, 0
            for b in range(steps):
                idx = order[b * config.batch_size : (b + 1) * config.batch_size]
                xb = x_train[idx].transpose(0, 1).to(torch.float32)
                counts = model(xb)
                loss = F.cross_entropy(counts, y_train[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.item() * len(idx)
                correct += int((counts.argmax(1) == y_train[idx]).sum())
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / (b * config.batch_size + len(idx)):.3f}")
            row: dict[str, Any] = {"epoch": epoch + 1,
                                   "train_loss": round(loss_sum / x_train.shape[0], 6),
                                   "train_acc": round(correct / x_train.shape[0], 6)}
            if test_data is not None:
                pred = integer_predictions(model, test_data[0])
                row["test_acc"] = round(float(np.mean(pred == np.asarray(test_data[1]))), 6)
            scheduler.step()
            row["time_s"] = round(time.perf_counter() - t0, 3)
            history.append(row)
            if on_epoch is not None:
                on_epoch(row)
            if out_dir is not None:
                save_checkpoint(out_dir / CHECKPOINT_NAME,
                                _checkpoint_doc(config, model, optimizer, scheduler, epoch + 1,
                                                history))
                _write_metrics(out_dir, config, history)
    model.eval()
    return FitResult(model=model, history=history,
                     checkpoint=out_dir / CHECKPOINT_NAME if out_dir is not None else None)
