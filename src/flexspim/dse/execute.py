"""Evaluating sweep tasks on Dask distributed, storing each point as it completes.

:func:`evaluate_tasks` submits the tasks a :class:`~flexspim.dse.store.ResultStore` does not hold
yet to a Dask cluster (:func:`dask_client`: a ``LocalCluster`` of in-process workers by default,
or an existing cluster by its scheduler address) and writes each result to the store the moment
it arrives, with a tqdm progress bar. A grid or random sweep (:mod:`flexspim.dse.run`) and the
mixed-precision search (:mod:`flexspim.dse.mixed`) both run their points through it. Every point
is a pure function of its task, so one worker and many give the same results.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from flexspim.dse.points import Task
from flexspim.dse.store import PointResult, ResultStore
from flexspim.errors import ConfigError, FlexspimError

Evaluator = Callable[[Task], dict[str, Any]]
#: Called after each point is stored (progress hooks, tests that interrupt a sweep).
OnStored = Callable[[PointResult], None]

#: Default worker count: two in-process workers (the reference machine has 2 cores).
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class SweepOutcome:
    """What :func:`~flexspim.dse.run.run_sweep` did: every point's stored result (in point order), and how many
    were computed now, found in the store, or failed (a FlexspimError, stored with its reason)."""

    name: str
    results: tuple[PointResult, ...]
    computed: int
    reused: int

    @property
    def failed(self) -> int:
        """Points whose evaluation raised a user error (stored with status ``failed``)."""
        return sum(r.status == "failed" for r in self.results)


def evaluate_safely(task: Task, evaluate: Evaluator) -> tuple[str, str, dict[str, Any],
                                                              str | None]:
    """Run ``evaluate(task)`` on a worker: ``(key, "ok", metrics, None)``, or ``(key, "failed",
    {}, message)`` when the point is infeasible (a FlexspimError, e.g. a mapping that does not
    fit). Any other exception is a bug and propagates."""
    try:
        return task.key, "ok", dict(evaluate(task)), None
    except FlexspimError as exc:
        return task.key, "failed", {}, str(exc)


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask ``Client``: to ``scheduler`` if given, else to a new in-process LocalCluster of
    ``workers`` single-threaded workers (``processes=False``: no process start-up, no pickling of
    the network per worker; the simulator's NumPy/torch kernels release the GIL)."""
    try:
        from distributed import Client, LocalCluster  # Dask: the dask extra
    except ImportError:  # pragma: no cover - dask is in the dev extra
        raise ConfigError("sweeps need Dask: pip install 'flexspim[dask]'") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                              f"({type(exc).__name__}); check the address (tcp://host:8786) "
                              f"and that 'dask scheduler' runs there") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = int(workers) if workers is not None else DEFAULT_WORKERS
    if n < 1:
        raise ConfigError(f"--workers {n}: need at least one worker")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=False,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def evaluate_tasks(tasks: Sequence[Task], store: ResultStore, sweep: str, client: Any,
                   evaluate: Evaluator, *, progress: bool = True,
                   on_stored: OnStored | None = None, max_in_flight: int | None = None,
                   desc: str = "sweep") -> tuple[list[PointResult], int]:
    """Evaluate the tasks the store does not hold yet, storing each as it completes.

    Returns the stored result of every task (in task order) and how many were computed now.
    At most ``max_in_flight`` tasks are queued on the cluster at once (default: 4 per worker),
    so an interrupted sweep has little work in flight.
    """
    from distributed import as_completed  # Dask: the dask extra

    done = store.keys()
    unique: dict[str, Task] = {}
    for t in tasks:
        unique.setdefault(t.key, t)
    pending = [t for k, t in unique.items() if k not in done]
    if max_in_flight is None:
        n_workers = len(client.scheduler_info().get("workers", {})) or 1
        max_in_flight = 4 * n_workers
    computed = 0
    with tqdm(total=len(unique), initial=len(unique) - len(pending), desc=desc, unit="point",
              disable=not progress) as bar:
        queue = iter(pending)
        running = as_completed()
        for task in _take(queue, max_in_flight):
            running.add(client.submit(evaluate_safely, task, evaluate, pure=False,
                                      key=_dask_key(task)))
        for fut in running:
            key, status, metrics, error = fut.result()
            task = unique[key]
            store.put(key, sweep, task.point, status, metrics, error)
            computed += 1
            bar.update(1)
            if on_stored is not None:
                stored = store.get(key)
                if stored is not None:
                    on_stored(stored)
            for nxt in _take(queue, 1):
                running.add(client.submit(evaluate_safely, nxt, evaluate, pure=False,
                                          key=_dask_key(nxt)))
    results = []
    for k in unique:
        r = store.get(k)
        if r is not None:
            results.append(r)
    return results, computed


def _dask_key(task: Task) -> str:
    """A fresh Dask key per submission (a resumed sweep never picks up a stale future)."""
    return f"flexspim-point-{task.key[:16]}-{uuid.uuid4().hex[:8]}"


def _take(it: Iterator[Task], n: int) -> list[Task]:
    out = []
    for _ in range(n):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


@contextmanager
def maybe_client(client: Any, scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """``client`` when given (left open), else a new :func:`dask_client` closed at the end."""
    if client is not None:
        yield client
        return
    with dask_client(scheduler, workers) as c:
        yield c
