"""``flexspim reproduce``: the paper's Fig. 4, Fig. 7a-d and Table I, and the workload map of
where hybrid pays, model beside paper.

Every point is computed on a Dask LocalCluster (``--workers``, default 2) or an existing cluster
(``--scheduler tcp://host:8786``) and kept in ``--out``/points.sqlite as it completes, so an
interrupted run continues when the same command runs again. Writes each figure as PNG with its
JSON into ``--out`` (default ``out/reproduce``) and prints one table beside the paper, every
policy and rule set of Fig. 4, Fig. 7 and the map, Table I beside other chips' published figures
(with our model's figure for SpiDR beside its reported one), and where each difference from the
paper is explained (docs/reproduce.md). ``--hw`` runs the figures on another hardware file or
preset; ``--doc`` rewrites the result tables of docs/reproduce.md from the run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flexspim._io import write_bytes_atomic
from flexspim.cli._common import (
    OUT_ROOT,
    add_hw,
    add_shared,
    check_output_dir,
    check_output_files,
    description,
    progress_enabled,
)
from flexspim.errors import ConfigError
from flexspim.hw import load_hardware
from flexspim.reproduce import print_table, reproduce
from flexspim.reproduce.compute import STORE_NAME
from flexspim.reproduce.plan import PLANS
from flexspim.reproduce.tables import result_blocks, update_doc


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "reproduce", help="reproduce the paper's figures and table (PNG + JSON)",
        description=description(__doc__))
    p.add_argument("--quick", action="store_true",
                   help="the quick plan: every figure on the 32 x 32 networks (about 3 minutes "
                        "on 2 cores); without it, the full plan with the paper-scale workload "
                        "(hours on 2 cores: give it a cluster with --scheduler)")
    p.add_argument("--plan", choices=tuple(PLANS), metavar="PLAN",
                   help="what to compute: quick (the same as --quick), paper-scale (Fig. 4 and "
                        "7 on the paper-scale workload at its reference points and the map "
                        "without base width 64: an hour or two on 2 cores) or full (the "
                        "default without --quick); docs/reproduce.md lists each grid")
    p.add_argument("--json", metavar="FILE", help="also copy the summary JSON to FILE")
    p.add_argument("--out", metavar="DIR", default=str(OUT_ROOT / "reproduce"),
                   help=f"folder for the figures, their JSON and the points computed so far "
                        f"(default {OUT_ROOT}/reproduce)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="workers of the local cluster (default 2)")
    p.add_argument("--doc", metavar="FILE",
                   help="rewrite the result tables of this page (docs/reproduce.md) from the run")
    add_hw(p, "run the figures on this hardware file or preset (flexspim, the default; "
              "spidr); Table I shows both chips' model figures whatever it is")
    add_shared(p, replaces="the --json file when it exists (the figures in --out are always "
               "rewritten; the points there are continued)")
    p.set_defaults(func=run, interrupted=interrupted)


def interrupted(args: argparse.Namespace) -> str:
    """What Ctrl-C keeps: the points computed so far, in ``--out``."""
    return (f"interrupted; the points computed so far are kept in "
            f"{Path(args.out) / STORE_NAME}: run the same command again to continue")


def run(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "--out")
    check_output_files(args, "--json")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: need at least one worker")
    if args.doc and not Path(args.doc).is_file():
        raise ConfigError(f"--doc {args.doc}: no such file; give the page whose tables to "
                          f"rewrite (docs/reproduce.md)")
    if args.quick and args.plan not in (None, "quick"):
        raise ConfigError(f"--quick and --plan {args.plan} ask for two plans; give one")
    plan = PLANS[args.plan or ("quick" if args.quick else "full")]
    hw = load_hardware(args.hw) if args.hw else None
    summary = reproduce(plan.name == "quick", args.out, plan=plan, hw=hw,
                        progress=progress_enabled(args), scheduler=args.scheduler,
                        workers=args.workers)
    print(print_table(summary))
    print(f"wrote {len(summary['files'])} files to {args.out}/ ({summary['points']['total']} "
          f"points, {summary['points']['computed_now']} computed now, "
          f"{summary['seconds']:.0f} s)")
    if args.doc:
        names = update_doc(args.doc, result_blocks(summary))
        print(f"rewrote {len(names)} tables in {args.doc}")
    if args.json:
        write_bytes_atomic(args.json, (Path(args.out) / "summary.json").read_bytes())
        print(f"wrote {args.json}")
    return 0
