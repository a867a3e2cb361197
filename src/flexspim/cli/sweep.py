"""``flexspim sweep SWEEP.yaml``: a design-space sweep on Dask, stored so that it resumes.

Runs every point of the sweep file (docs/dse.md) on a Dask LocalCluster (``--workers``, default
2 in-process workers) or an existing cluster (``--scheduler tcp://host:8786``), storing each
result in a SQLite file (``--out``, default ``out/sweeps/<name>.sqlite``) as it completes; run the
same command again to resume. Prints a summary and the Pareto front; ``--plot`` draws it
(energy per inference against accuracy, when the sweep measures it, and against latency; PNG, SVG
or PDF by the suffix); ``--csv`` writes every point. The sweep file and every output path are
checked before the first point runs; a sweep none of whose points is feasible exits with code 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flexspim.cli._common import (
    OUT_ROOT,
    add_plot,
    add_shared,
    check_figure_path,
    check_output_file,
    check_output_files,
    description,
    progress_enabled,
)
from flexspim.dse import load_sweep, pareto_front, plot_pareto, run_sweep
from flexspim.dse.mixed import search_mixed_precision
from flexspim.errors import ConfigError
from flexspim.results import sweep_rows, write_table


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sweep", help="run a design-space sweep (grid, random or mixed precision) on Dask",
        description=description(__doc__))
    p.add_argument("sweep", metavar="SWEEP.yaml", help="sweep file (format flexspim-sweep)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="workers of the local cluster (default 2)")
    p.add_argument("--out", metavar="STORE",
                   help=f"result store (SQLite; default {OUT_ROOT}/sweeps/<name>.sqlite)")
    add_plot(p, "every point and the Pareto fronts")
    p.add_argument("--csv", metavar="FILE",
                   help="write every stored point as CSV: one row per point and per layer, every "
                        "swept and fixed parameter filled in (flexspim.results.load reads it)")
    p.add_argument("--parquet", metavar="FILE", help="the same table as Parquet")
    add_shared(p, replaces="the --plot, --csv and --parquet files when they exist (the store "
               "in --out is always continued; delete it to start over)")
    p.set_defaults(func=run, interrupted="interrupted; finished points are stored, run the same "
                   "command again to resume")


def _fmt_point(r: Any) -> str:
    p = ", ".join(f"{k}={v}" for k, v in r.point.to_dict().items() if v is not None)
    m = r.metrics
    acc = m.get("accuracy")
    acc_s = f", accuracy {100 * acc:.1f} %" if acc is not None else ""
    return (f"{m['energy_per_inference_uj']:.4g} uJ, {m['latency_per_inference_us']:.4g} us"
            f"{acc_s}  [{p or 'base point'}]")


def write_sweep_table(spec: Any, results: list[Any], csv_path: str | None,
                      parquet_path: str | None) -> list[str]:
    """``--csv`` / ``--parquet``: every point with every parameter, its metrics and energy
    components, and its per-layer widths (docs/results.md)."""
    if not (csv_path or parquet_path):
        return []

    hw = spec.hardware
    base = {"n_macros": hw.system.n_macros, "buffer_kib": hw.system.buffer_kib,
            "voltage": hw.voltage, "policy": "hs-min"}  # compile_network's default policy
    fixed = {"sweep": spec.name, "mode": spec.mode, "evaluation": spec.evaluation,
             "network_kind": spec.network.kind, "network_path": spec.network.path,
             "n_timesteps": spec.n_timesteps, "samples": spec.samples, "seed": spec.seed}
    return write_table(sweep_rows(results, fixed, base), csv_path=csv_path,
                       parquet_path=parquet_path)


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: need at least one worker")
    check_figure_path(args.plot, overwrite=args.overwrite)
    check_output_files(args, "--csv", "--parquet")
    spec = load_sweep(args.sweep)
    store = Path(args.out) if args.out else OUT_ROOT / "sweeps" / f"{spec.name}.sqlite"
    check_output_file(store, "--out", example=f"{spec.name}.sqlite", overwrite=True)  # resumes
    progress = progress_enabled(args)
    mixed = None
    if spec.mode == "mixed_precision":
        mixed = search_mixed_precision(spec, store, scheduler=args.scheduler,
                                       workers=args.workers, progress=progress)
        outcome = mixed.outcome
    else:
        outcome = run_sweep(spec, store, scheduler=args.scheduler, workers=args.workers,
                            progress=progress)
    results = list(outcome.results)
    ok = [r for r in results if r.status == "ok"]
    print(f"sweep '{spec.name}': {len(results)} points ({outcome.computed} computed now, "
          f"{outcome.reused} from the store, {outcome.failed} infeasible) -> {store}")
    for r in [r for r in results if r.status == "failed"][:3]:
        print(f"  infeasible: {r.error}")
    if mixed is not None:
        print(f"  baseline: {_fmt_point(mixed.baseline)}")
        b = mixed.best.metrics
        print(f"  best within {100 * mixed.max_accuracy_loss:.1f} points of accuracy: "
              f"w_bits {b['layer_w_bits']}, v_bits {b['layer_v_bits']}: "
              f"{_fmt_point(mixed.best)} ({100 * mixed.energy_saving:.1f} % less energy)")
    if ok:
        has_acc = any(r.metrics.get("accuracy") is not None for r in ok)
        second = "accuracy" if has_acc else "latency_per_inference_us"
        front = pareto_front(ok, ["energy_per_inference_uj", second])
        print(f"  Pareto front (energy vs {second.split('_')[0]}), {len(front)} points:")
        for r in front[:10]:
            print(f"    {_fmt_point(r)}")
    if args.plot:
        plot_pareto(results, args.plot, title=spec.name)
        print(f"  wrote {args.plot}")
    for path in write_sweep_table(spec, results, args.csv, args.parquet):
        print(f"  wrote {path}")
    sys.stdout.flush()
    if results and not ok:
        print("flexspim: no point of the sweep is feasible; see the reasons above", file=sys.stderr)
        return 1
    return 0
