"""``flexspim report RESULT``: a self-contained HTML page from a simulation result.

RESULT is a simulation result JSON (``flexspim simulate --json``) or a run document (format
``flexspim-run``: the simulation with its mapping, cost and hardware, as ``flexspim demo`` and
``flexspim simulate --mapping`` write). Figures are embedded, so the page is one file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flexspim.cli._common import add_shared, check_output_file, description
from flexspim.report import load_run, write_report

#: What a report's name may end in.
HTML_SUFFIXES = (".html", ".htm")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report", help="write an HTML report of a simulation result or run document",
        description=description(__doc__))
    p.add_argument("result", metavar="RESULT", help="simulation result or run document (JSON)")
    p.add_argument("--out", metavar="FILE", help="HTML file (default: RESULT with .html)")
    p.add_argument("--title", help="page title")
    add_shared(p, bars=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.result).with_suffix(".html")
    check_output_file(out, "--out", example="report.html", overwrite=args.overwrite,
                      suffixes=HTML_SUFFIXES)
    run_data = load_run(args.result)
    write_report(run_data, out, title=args.title)
    print(f"wrote {out}")
    return 0
