"""Design-space exploration (docs/design.md §4 ``dse``; docs/dse.md).

A sweep file (:func:`load_sweep`, format ``flexspim-sweep`` version 1) describes a grid or a
seeded random sample over macro count, buffer size, per-layer bit widths, dataflow policy, supply
voltage and input sparsity, or a mixed-precision search. :func:`run_sweep` evaluates its points on
Dask (a local cluster by default, or a scheduler address) and stores each in a SQLite
:class:`ResultStore` keyed by the point's hash, so an interrupted sweep resumes with no point lost
or computed twice. :func:`pareto_front` / :func:`plot_pareto` show the trade-offs.

Dask and matplotlib are imported only when a sweep runs or a plot is drawn.
"""

from flexspim.dse.execute import SweepOutcome, dask_client, evaluate_tasks
from flexspim.dse.mixed import MixedPrecisionResult, search_mixed_precision
from flexspim.dse.networks import NetworkRef, build_network, requantise
from flexspim.dse.pareto import pareto_front, plot_pareto
from flexspim.dse.points import SweepPoint, Task, expand_points, make_task, point_key
from flexspim.dse.run import run_sweep
from flexspim.dse.spec import (
    SWEEP_FORMAT,
    SWEEP_VERSION,
    MixedPrecisionSpec,
    Range,
    SweepSpec,
    load_sweep,
    sweep_from_dict,
)
from flexspim.dse.store import STORE_FORMAT, STORE_VERSION, PointResult, ResultStore, open_store

__all__ = [
    "STORE_FORMAT",
    "STORE_VERSION",
    "SWEEP_FORMAT",
    "SWEEP_VERSION",
    "MixedPrecisionResult",
    "MixedPrecisionSpec",
    "NetworkRef",
    "PointResult",
    "Range",
    "ResultStore",
    "SweepOutcome",
    "SweepPoint",
    "SweepSpec",
    "Task",
    "build_network",
    "dask_client",
    "evaluate_tasks",
    "expand_points",
    "load_sweep",
    "make_task",
    "open_store",
    "pareto_front",
    "plot_pareto",
    "point_key",
    "requantise",
    "run_sweep",
    "search_mixed_precision",
    "sweep_from_dict",
]
