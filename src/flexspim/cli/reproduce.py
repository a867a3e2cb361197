"""``flexspim reproduce``: the paper's Fig. 4, Fig. 7a-d and Table I, model beside paper."""

from __future__ import annotations

import argparse
from typing import Any

from flexspim.reproduce import print_table, reproduce


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "reproduce", help="reproduce the paper's figures and table (PNG + JSON)",
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true",
                   help="coarser sweeps (finishes in well under 2 minutes)")
    p.add_argument("--json", metavar="FILE", help="also copy the summary JSON to FILE")
    p.add_argument("--out", metavar="DIR", default="reproduce",
                   help="folder for the figures and their JSON (default ./reproduce)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    summary = reproduce(args.quick, args.out, progress=True)
    print(print_table(summary))
    print(f"wrote {len(summary['files'])} files to {args.out}/")
    if args.json:
        from pathlib import Path

        from flexspim._io import write_bytes_atomic

        write_bytes_atomic(args.json, (Path(args.out) / "summary.json").read_bytes())
        print(f"wrote {args.json}")
    return 0

