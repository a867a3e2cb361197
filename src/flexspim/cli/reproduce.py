"""``flexspim reproduce``: the paper's Fig. 4, Fig. 7a-d and Table I, model beside paper.

Writes each figure as PNG with its JSON into ``--out`` (default ``out/reproduce``) and prints one
table, Table I beside other chips' published figures (with our model's figure for SpiDR beside
its reported one), and under them where each difference from the paper is explained
(docs/reproduce.md). ``--hw`` runs the figures on another hardware file or preset.
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
from flexspim.hw import load_hardware
from flexspim.reproduce import print_table, reproduce


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "reproduce", help="reproduce the paper's figures and table (PNG + JSON)",
        description=description(__doc__))
    p.add_argument("--quick", action="store_true",
                   help="a coarser Fig. 7 grid (72 points executed on the system engine: about "
                        "15-35 minutes on 2 cores; computed points are kept, so a second run "
                        "continues)")
    p.add_argument("--json", metavar="FILE", help="also copy the summary JSON to FILE")
    p.add_argument("--out", metavar="DIR", default=str(OUT_ROOT / "reproduce"),
                   help=f"folder for the figures and their JSON (default {OUT_ROOT}/reproduce)")
    add_hw(p, "run the figures on this hardware file or preset (flexspim, the default; "
              "spidr); Table I shows both chips' model figures whatever it is")
    add_shared(p, replaces="the --json file when it exists (the figures in --out are always "
               "rewritten; the Fig. 7 points there are continued)")
    p.set_defaults(func=run, interrupted=interrupted)


def interrupted(args: argparse.Namespace) -> str:
    """What Ctrl-C keeps: the Fig. 7 points computed so far, in ``--out``."""
    return (f"interrupted; the Fig. 7 points computed so far are kept in "
            f"{Path(args.out) / 'fig7_points.json'}: run the same command again to continue")


def run(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "--out")
    check_output_files(args, "--json")
    hw = load_hardware(args.hw) if args.hw else None
    summary = reproduce(args.quick, args.out, progress=progress_enabled(args), hw=hw)
    print(print_table(summary))
    print(f"wrote {len(summary['files'])} files to {args.out}/")
    if args.json:
        write_bytes_atomic(args.json, (Path(args.out) / "summary.json").read_bytes())
        print(f"wrote {args.json}")
    return 0
