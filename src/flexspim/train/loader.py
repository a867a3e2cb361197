"""Batches for training: each epoch's order, each step's split over processes and micro-batches,
and a DataLoader that keeps a GPU busy.

Order: epoch ``e``'s permutation is drawn from the seed and ``e`` alone (:func:`epoch_order`),
so a resumed run and every process layout see the same batches. Step ``b`` takes the samples
``order[b*B : (b+1)*B]`` and cuts them into ``W x K`` contiguous parts (:func:`step_parts`:
``torch.tensor_split``, sizes differ by at most one); process ``r`` of ``W`` runs parts
``r*K .. r*K+K-1``, one at a time (the arithmetic: :mod:`flexspim.train.distributed`).

Loading: frames stay in host memory as int16 ``[N, T, C, H, W]``; a DataLoader
(``batch_size=None``, :class:`BatchPlan` as sampler) fetches one part at a time by indexing
(:class:`FrameParts`), in ``workers`` worker processes, into pinned memory when training on
CUDA, so that the copy to the GPU overlaps the previous step (``non_blocking=True``). With
event augmentation (:class:`EventParts` with :class:`EventDropAugment`), every training sample's events are read from the
event store, augmented with Tonic's ``EventDrop`` (Gu et al., IJCAI 2021: identity, a dropped
time span, a dropped box or randomly dropped events, one chosen at random), seeded by (seed,
epoch, sample) so that the augmentation too is the same in every layout and after a resume,
and binned, in the workers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from flexspim._device import is_cuda
from flexspim.data import bin_events
from flexspim.errors import ConfigError
from flexspim.train.distributed import DataParallel

#: Worker processes of the augmented loader by default: one per core but one, at most 8 (each
#: worker augments and bins whole recordings; the main process drives the GPU). Frames need
#: no workers: indexing host memory takes microseconds. Not a model parameter.
MAX_DEFAULT_WORKERS = 8


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of ``epoch`` (a permutation of ``n`` drawn from ``seed`` and ``epoch``)."""
    gen = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
    return torch.randperm(n, generator=gen)


def step_parts(batch: torch.Tensor, n_parts: int) -> tuple[torch.Tensor, ...]:
    """A step's sample indices cut into ``n_parts`` contiguous parts (module docstring)."""
    return torch.tensor_split(batch, n_parts)


def default_workers(dataset: Any) -> int:
    """Worker processes of the DataLoader of ``dataset`` by default: none for frames, one per
    core but one for events (see :data:`MAX_DEFAULT_WORKERS`)."""
    if not isinstance(dataset, EventParts):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(MAX_DEFAULT_WORKERS, (cores or 1) - 1))


class BatchPlan(torch.utils.data.Sampler):
    """Sampler of this process's parts: ``(epoch, indices)`` for each of its micro-batches,
    step after step; :meth:`set_epoch` chooses the epoch."""

    def __init__(self, n: int, batch_size: int, seed: int, dp: DataParallel,
                 micro_batches: int = 1) -> None:
        if micro_batches < 1:
            raise ConfigError(f"micro-batches = {micro_batches} must be >= 1")
        if batch_size < dp.world_size * micro_batches:
            raise ConfigError(f"batch size {batch_size} cannot be split over {dp.world_size} "
                              f"process(es) x {micro_batches} micro-batch(es); use a batch size "
                              f">= {dp.world_size * micro_batches}")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)
        self.dp, self.micro_batches = dp, int(micro_batches)
        self.epoch = 0

    @property
    def steps(self) -> int:
        """Optimiser steps per epoch."""
        return -(-self.n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.steps * self.micro_batches

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        order = epoch_order(self.n, self.seed, self.epoch)
        k, first = self.micro_batches, self.dp.rank * self.micro_batches
        for b in range(self.steps):
            parts = step_parts(order[b * self.batch_size : (b + 1) * self.batch_size],
                               self.dp.world_size * k)
            for part in parts[first : first + k]:
                yield self.epoch, part.numpy()


class FrameParts(torch.utils.data.Dataset):
    """Parts of in-memory frames: ``dataset[(epoch, indices)]`` -> (int16 ``[n, T, C, H, W]``,
    int64 labels ``[n]``)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, np.asarray(y, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.y.size)

    def __getitem__(self, key: tuple[int, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = key[1]
        return torch.from_numpy(np.ascontiguousarray(self.x[idx])), torch.from_numpy(self.y[idx])


@contextlib.contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator (Tonic's transforms draw from it) for the block, then put
    its previous state back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@dataclass(frozen=True)
class EventDropAugment:
    """Tonic's ``EventDrop`` on ``sensor_size`` (W, H, P), drawn from ``seed``; recordings of
    fewer than two events pass unchanged (a dropped span needs a duration)."""

    sensor_size: tuple[int, int, int]

    def __call__(self, events: np.ndarray, seed: int) -> np.ndarray:
        try:
            from tonic.transforms import EventDrop  # the data extra: only --augment needs it
        except ImportError:  # pragma: no cover - Tonic is in the data extra
            raise ConfigError("event augmentation needs Tonic; install flexspim[data]") from None
        if len(events) < 2:
            return events
        with _numpy_seed(seed):
            return EventDrop(sensor_size=self.sensor_size)(events.copy())


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of one sample in one epoch (independent of the process layout)."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(1)[0])


class EventParts(torch.utils.data.Dataset):
    """Parts of an event dataset (items ``(events, label)``, a ``sensor_size`` (W, H, P)),
    augmented with ``augment(events, seed)`` (None: not augmented) and binned anew for every
    epoch (module docstring)."""

    def __init__(self, events: Any, time_bins: int, seed: int,
                 augment: Callable[[np.ndarray, int], np.ndarray] | None = None) -> None:
        self.events, self.time_bins, self.seed = events, int(time_bins), int(seed)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, key: tuple[int, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, idx = key
        size = tuple(self.events.sensor_size)
        x = np.zeros((len(idx), self.time_bins, size[2], size[1], size[0]), dtype=np.int16)
        y = np.zeros(len(idx), dtype=np.int64)
        for j, i in enumerate(idx):
            ev, y[j] = self.events[int(i)]
            if self.augment is not None:
                ev = self.augment(ev, sample_seed(self.seed, epoch, int(i)))
            x[j] = bin_events(ev, size, self.time_bins)
        return torch.from_numpy(x), torch.from_numpy(y)


def make_loader(dataset: Any, plan: BatchPlan, device: Any, workers: int
                ) -> torch.utils.data.DataLoader:
    """The DataLoader of ``dataset`` in the order of ``plan`` (module docstring). Its worker
    seeds come from a generator of its own, so the global torch RNG is left as it was."""
    if workers < 0:
        raise ConfigError(f"--workers {workers} must be >= 0")
    return torch.utils.data.DataLoader(
        dataset, sampler=plan, batch_size=None, num_workers=int(workers),
        pin_memory=is_cuda(device), persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(plan.seed))
