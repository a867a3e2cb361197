"""``flexspim data``: inspect event data and bin it into a frames file.

``flexspim data info PATH``: what an event file or dataset holds. PATH is an AEDAT 3.1 file, a
``.npy`` event file, an IBM DVS Gesture folder (original release or Tonic's layout) or the word
``digits`` (the offline dataset). Prints events, duration, sensor size, samples and classes;
``--json FILE`` also writes them as a versioned JSON document.

``flexspim data frames SOURCE --time-bins T --out FILE.npz``: bin both splits of a dataset (a DVS
Gesture folder, preprocessed as the ``dvs_gesture`` training preset does: 10 ms denoise, 4x
down-sampling to 32 x 32; or ``digits``) into a ``flexspim-frames`` v1 file, once, so that
``flexspim train --data FILE.npz`` and ``flexspim simulate NETWORK FILE.npz`` read it directly.
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
    frames = sub.add_parser(
        "frames", help="bin a dataset's train and test splits into a frames file (.npz)",
        description="Bin every sample of SOURCE (a DVS Gesture folder, denoised and "
        "down-sampled to 32 x 32 as the dvs_gesture preset trains on it, or 'digits') into "
        "T time bins and write a flexspim-frames file.")
    frames.add_argument("source", metavar="SOURCE", help="DVS Gesture folder or 'digits'")
    frames.add_argument("--time-bins", type=int, required=True, metavar="T",
                        help="time bins per sample")
    frames.add_argument("--out", required=True, metavar="FILE", help="frames file to write")
    frames.set_defaults(func=run_frames)
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


def run_frames(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flexspim.cli.train import load_training_data
    from flexspim.errors import ConfigError
    from flexspim.train.frames import save_frames

    if args.time_bins < 1:
        raise ConfigError(f"--time-bins {args.time_bins}: use at least 1 time bin")
    if not str(args.out).endswith(".npz"):
        raise ConfigError(f"--out {args.out}: a frames file ends in .npz")
    if args.source == "digits":
        frames = load_training_data("digits", None, args.time_bins)
    else:
        frames = load_training_data("dvs_gesture", Path(args.source), args.time_bins)
    save_frames(args.out, frames)
    n, t, c, h, w = frames.x_train.shape
    print(f"wrote {args.out}: {n} train + {frames.x_test.shape[0]} test samples of "
          f"{t} x {c} x {h} x {w}, {frames.n_classes} classes")
    return 0
