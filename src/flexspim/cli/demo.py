"""``flexspim demo``: the end-to-end job on built-in data (no download).

Loads the shipped digits model (or trains one with ``--train``), simulates the offline digits test
split bit-exactly and checks it against the integer reference, compiles onto the default hardware
with hs-min and optimal, costs it, and writes ``results.json`` and ``report.html`` to ``--out``.
``--quick`` uses a subset of the test split and ends in under 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flexspim.cli._common import (
    OUT_ROOT,
    add_hw,
    add_shared,
    check_run_folder,
    description,
    progress_enabled,
)
from flexspim.demo import check_out_dir, format_summary, run_demo
from flexspim.hw import load_hardware

#: The files whose presence in --out marks an earlier demo run.
DEMO_FILES = ("results.json", "report.html")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="run the end-to-end demo on the built-in digits data",
        description=description(__doc__))
    p.add_argument("--quick", action="store_true",
                   help="a subset of the test split (under 3 minutes on 2 cores)")
    p.add_argument("--out", metavar="DIR", default=str(OUT_ROOT / "demo"),
                   help=f"output folder (default {OUT_ROOT}/demo); one holding a demo run is "
                        f"kept unless --overwrite")
    p.add_argument("--train", action="store_true",
                   help="train the digits model instead of loading the shipped one")
    add_hw(p)
    p.add_argument("--samples", type=int, metavar="N",
                   help="simulate a seeded subset of N test samples (default: all; 120 with "
                   "--quick)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset (default 0)")
    add_shared(p, replaces="the demo run in --out (its files are rewritten)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = check_out_dir(args.out)
    check_run_folder(out, "a demo run", DEMO_FILES, overwrite=args.overwrite)
    hw = load_hardware(args.hw) if args.hw else None
    summary = run_demo(out, quick=args.quick, seed=args.seed, train=args.train, hardware=hw,
                       samples=args.samples,
                       progress=progress_enabled(args),
                       log=lambda m: print(m, file=sys.stderr))
    print(format_summary(summary, out))
    return 0 if summary["bit_exact"] else 1
