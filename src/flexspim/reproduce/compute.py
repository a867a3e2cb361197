"""Computing a plan's points on Dask, resumably (docs/reproduce.md), and turning them into the
figures' documents.

Three phases share one Dask client (opened only if a point is missing from the store): every
network's calibration; every point of Fig. 4 and Fig. 7 (from which the best realistic rule set
is measured); the workload map under the headline and the best realistic rule sets. Points are
ordered by workload so that workers reuse the traces they keep.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flexspim.dse import dask_client
from flexspim.errors import ConfigError
from flexspim.hw import Hardware
from flexspim.reproduce import fig4 as f4
from flexspim.reproduce import fig7 as f7
from flexspim.reproduce import workmap as wm
from flexspim.reproduce.plan import (
    Plan,
    calibration_tasks,
    fig4_tasks,
    fig7_tasks,
    map_tasks,
)
from flexspim.reproduce.points import PointTask, Results, run_points
from flexspim.reproduce.rules import HEADLINE_RULES
from flexspim.reproduce.workloads import NetSpec

#: The store of every point, in the output folder (format ``flexspim-sweep-store``).
STORE_NAME = "points.sqlite"


@dataclass(frozen=True)
class Computed:
    """A plan's points and their results: the calibrations, and the tasks of each figure."""

    plan: Plan
    calibration: dict[str, dict[str, Any]]
    fig4: dict[tuple[str, str, bool], PointTask]
    fig7: dict[tuple[float, float, int, str, str], PointTask]
    workload_map: dict[tuple[int, int, int, str, str], PointTask]
    map_rules: tuple[str, ...]
    results: Results


class _Clients:
    """Opens the Dask client on first use (a given one, a scheduler's, or a LocalCluster)."""

    def __init__(self, stack: ExitStack, scheduler: str | None, workers: int | None,
                 client: Any) -> None:
        self.stack, self.scheduler, self.workers, self.client = stack, scheduler, workers, client

    def __call__(self) -> Any:
        if self.client is None:
            self.client = self.stack.enter_context(dask_client(self.scheduler, self.workers))
        return self.client


def _workload_order(task: PointTask) -> tuple[Any, ...]:
    """Points of one (network, input sparsity) together: a worker records each trace once."""
    p = task.point
    return (p.network.input_hw, p.network.base, p.network.kind, p.input_sparsity, p.kind,
            p.rules, p.n_macros, p.buffer_kib, p.policy, p.whole_layers)


def _calibrate(plan: Plan, hw: Hardware, store: Path, clients: _Clients, progress: bool
               ) -> dict[NetSpec, dict[str, Any]]:
    cal = calibration_tasks(plan, hw)
    res = run_points(list(cal.values()), store, clients, progress=progress, desc="calibrate")
    out = {}
    for net, t in cal.items():
        m = res.get(t)
        if m is None:
            raise ConfigError(f"network {net.name}: threshold calibration failed "
                              f"({res.errors.get(t.key, 'no result')})")
        out[net] = m
    return out


def compute(plan: Plan, hw: Hardware, out_dir: str | os.PathLike[str], *,
            scheduler: str | None = None, workers: int | None = None, client: Any = None,
            progress: bool = False) -> Computed:
    """Compute (or resume) every point of ``plan`` on ``hw``; results in
    ``out_dir/points.sqlite``. Fig. 4 and Fig. 7 first; the best realistic rule set measured
    there; then the workload map under the headline and the best realistic rule sets."""
    store = Path(out_dir) / STORE_NAME
    with ExitStack() as stack:
        clients = _Clients(stack, scheduler, workers, client)
        cal = _calibrate(plan, hw, store, clients, progress)
        thr = {net: tuple(int(t) for t in m["thresholds"]) for net, m in cal.items()}
        t4, t7 = fig4_tasks(plan, hw, thr), fig7_tasks(plan, hw, thr)
        first = _run(list(t4.values()) + list(t7.values()), store, clients, progress, "figs 4, 7")
        rows = f7.grid_rows(plan.fig7, plan.rules, plan.policies, t7, first)
        best = f7.realistic_choice(rows, plan.fig7, plan.rules)["best_realistic_rules"]
        map_rules = tuple(dict.fromkeys((HEADLINE_RULES, best)))
        tm = map_tasks(plan, hw, thr, map_rules)
        second = _run(list(tm.values()), store, clients, progress, "workload map")
    results = Results({**first.metrics, **second.metrics}, {**first.errors, **second.errors},
                      first.computed + second.computed)
    return Computed(plan, {n.name: m for n, m in cal.items()}, t4, t7, tm, map_rules, results)


def _run(tasks: list[PointTask], store: Path, clients: _Clients, progress: bool, desc: str
         ) -> Results:
    unique = {t.key: t for t in tasks}
    return run_points(sorted(unique.values(), key=_workload_order), store, clients,
                      progress=progress, desc=desc)


def figure_documents(c: Computed) -> dict[str, Any]:
    """The documents of Fig. 4, Fig. 7b-d and the workload map (JSON-ready), with their
    summary keys."""
    p = c.plan
    doc4 = f4.fig4(p.fig4_networks, p.policies, c.fig4, c.results)
    rows = f7.grid_rows(p.fig7, p.rules, p.policies, c.fig7, c.results)
    keys7 = f7.fig7_keys(rows, p.fig7, p.rules, p.policies)
    cells = wm.map_cells(p.workload_map, c.map_rules, p.policies, c.workload_map, c.results)
    keysm = wm.map_keys(cells, c.map_rules, p.policies)
    return {"fig4": doc4, "fig7": {"grid": rows, **keys7}, "workload_map": {
        "cells": cells, "grid": {"inputs": list(p.workload_map.inputs),
                                 "bases": list(p.workload_map.bases),
                                 "macros": list(p.workload_map.macros),
                                 "input_sparsity": p.workload_map.sparsity,
                                 "buffer_kib": p.workload_map.buffer_kib,
                                 "rules": list(c.map_rules)},
        "best_realistic_rules": keys7["best_realistic_rules"], **keysm}}
