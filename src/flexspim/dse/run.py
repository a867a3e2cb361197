"""Running a sweep: the entry point of every sweep file.

:func:`run_sweep` expands a :class:`~flexspim.dse.spec.SweepSpec` into tasks, skips the keys the
store already holds and evaluates the rest on Dask (:func:`flexspim.dse.execute.evaluate_tasks`:
a ``LocalCluster`` of in-process workers by default, or an existing cluster by its scheduler
address), writing each result to the :class:`~flexspim.dse.store.ResultStore` the moment it
arrives. A ``mixed_precision`` sweep runs :func:`flexspim.dse.mixed.search_mixed_precision`.
Every point is a pure function of its task, so one worker and many give the same results.
"""

from __future__ import annotations

import os
from typing import Any

from flexspim.dse.evaluate import evaluate_task
from flexspim.dse.execute import Evaluator, OnStored, SweepOutcome, evaluate_tasks, maybe_client
from flexspim.dse.mixed import search_mixed_precision
from flexspim.dse.points import expand_points, make_task
from flexspim.dse.spec import SweepSpec
from flexspim.dse.store import open_store


def default_evaluator() -> Evaluator:
    """The evaluator that dispatches on ``task.evaluation`` (:data:`flexspim.dse.evaluate.EVALUATORS`)."""
    return evaluate_task


def run_sweep(spec: SweepSpec, store_path: str | os.PathLike[str], *,
              scheduler: str | None = None, workers: int | None = None, client: Any = None,
              evaluate: Evaluator | None = None, progress: bool = True,
              on_stored: OnStored | None = None,
              max_in_flight: int | None = None) -> SweepOutcome:
    """Run (or resume) a sweep; results go to the SQLite store at ``store_path``.

    ``client``: an existing Dask client (else one is made from ``scheduler``/``workers``, see
    :func:`~flexspim.dse.execute.dask_client`). ``evaluate``: the per-point function (default: compile, then cost
    analytically or simulate, by ``spec.evaluation``; :mod:`flexspim.dse.evaluate`). Mode
    ``mixed_precision`` runs :func:`flexspim.dse.mixed.search_mixed_precision` instead.
    """
    evaluator = evaluate or default_evaluator()
    if spec.mode == "mixed_precision":
        return search_mixed_precision(spec, store_path, scheduler=scheduler, workers=workers,
                                      client=client, evaluate=evaluator, progress=progress,
                                      on_stored=on_stored).outcome
    tasks = [make_task(spec, p) for p in expand_points(spec)]
    with open_store(store_path) as store:
        before = store.keys()
        unique = {t.key for t in tasks}
        if unique <= before:  # nothing left to compute: no cluster needed
            results = [r for r in (store.get(k) for k in dict.fromkeys(t.key for t in tasks))
                       if r is not None]
            computed = 0
        else:
            with maybe_client(client, scheduler, workers) as cl:
                results, computed = evaluate_tasks(tasks, store, spec.name, cl, evaluator,
                                                   progress=progress, on_stored=on_stored,
                                                   max_in_flight=max_in_flight, desc=spec.name)
    reused = len(unique & before)
    return SweepOutcome(name=spec.name, results=tuple(results), computed=computed,
                        reused=reused)
