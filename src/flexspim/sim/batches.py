"""One interface for every engine and one batch loop.

An engine, to the code that drives it, is a :class:`BatchEngine`: something with a ``name`` (what
its progress bar says) that runs the samples ``[start, stop)`` of the inputs it holds and returns
its per-batch output. The network engines (:class:`NetworkEngine` over an entry of
:data:`flexspim.sim.ENGINES`: ``fast``, ``bitlevel``, ``bitcell``) return
:class:`~flexspim.sim.common.BatchStats`; the system engine's modes (``flexspim.system``) return
their counts, with the network's statistics where they compute them. :func:`run_batches` is the
one loop that drives them all: batch size checked, progress shown, outputs kept in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
from tqdm import tqdm

from flexspim.errors import ConfigError
from flexspim.net.network import IntNetwork
from flexspim.sim.common import BatchStats

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


class BatchEngine(Protocol[T_co]):
    """What every engine implements (network engines and the system engine's modes)."""

    @property
    def name(self) -> str:
        """What the progress bar says, e.g. ``simulate (fast)``."""
        ...

    def run_batch(self, start: int, stop: int) -> T_co:
        """Run samples ``[start, stop)`` and return this engine's output for them."""
        ...


@dataclass(frozen=True, eq=False)
class NetworkEngine:
    """A network engine on binned spikes ``[T, N, *input_shape]``: ``runner`` is
    ``run_batch(net, spikes, *, return_membranes, [record])`` of one of
    :data:`flexspim.sim.ENGINES`; ``record`` keeps every layer's output events (fast engine)."""

    net: IntNetwork
    spikes: np.ndarray
    runner: Callable[..., BatchStats]
    name: str = "simulate"
    return_membranes: bool = False
    record: bool = False

    def run_batch(self, start: int, stop: int) -> BatchStats:
        chunk = np.asarray(self.spikes[:, start:stop])
        options = {"record": True} if self.record else {}
        return self.runner(self.net, chunk, return_membranes=self.return_membranes, **options)


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as an int >= 1 (ConfigError otherwise)."""
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size = {batch_size} must be >= 1")
    return int(batch_size)


def check_labels(labels: Any, n_samples: int) -> np.ndarray | None:
    """``labels`` as int64 ``[n_samples]`` (None stays None; ConfigError on a count mismatch)."""
    if labels is None:
        return None
    lab = np.asarray(labels).astype(np.int64).reshape(-1)
    if lab.shape != (n_samples,):
        raise ConfigError(f"labels: {lab.size} labels for {n_samples} samples; give one per "
                          f"sample")
    return lab


def run_batches(engine: BatchEngine[T], n_samples: int, batch_size: int,
                progress: bool = False) -> list[T]:
    """Drive ``engine`` over ``n_samples`` samples in batches of ``batch_size`` (the last one
    shorter) with a progress bar on stderr when ``progress``; the outputs in sample order."""
    size = check_batch_size(batch_size)
    parts: list[T] = []
    with tqdm(total=n_samples, desc=engine.name, unit="sample", disable=not progress) as bar:
        for start in range(0, n_samples, size):
            stop = min(n_samples, start + size)
            parts.append(engine.run_batch(start, stop))
            bar.update(stop - start)
    return parts
