"""``flexspim data info PATH``: what an event file or dataset holds.

PATH is an AEDAT 3.1 file, a ``.npy`` event file, an IBM DVS Gesture folder (original release
or Tonic's layout) or the word ``digits`` (the offline dataset). Prints events, duration, sensor
size, samples and classes; ``--json FILE`` also writes them as a versioned JSON document.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from flexspim._io import versioned, write_json
from flexspim.data import describe, inspect_path

INFO_FORMAT = "flexspim-data-info"
INFO_VERSION = 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "data", help="inspect event data",
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(p))
    info = sub.add_parser(
        "info", help="print what an event file or dataset folder holds",
        description="Print events, duration, sensor size, samples and classes of PATH: an "
        ".aedat (AEDAT 3.1) file, a .npy event file, a DVS Gesture folder (either layout) or "
        "the word 'digits'.")
    info.add_argument("path", metavar="PATH", help=".aedat, .npy, DVS Gesture folder or 'digits'")
    info.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    info.set_defaults(func=run)
    p.set_defaults(func=_usage(p))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


def run(args: argparse.Namespace) -> int:
    info = inspect_path(args.path)
    for line in describe(info):
        print(line)
    if args.json:
        body = dataclasses.asdict(info)
        body["samples"] = dict(info.samples)
        write_json(args.json, versioned(INFO_FORMAT, INFO_VERSION, body))
    return 0
