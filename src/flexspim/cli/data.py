"""``flexspim data``: inspect event data and bin it into a frames file.

``flexspim data info PATH``: what an event file or dataset holds. PATH is an event file of any
format :func:`flexspim.data.read_events` reads (AEDAT 4.0 / 3.1, Prophesee EVT 2.0 / EVT 3.0 /
DAT, a ``.npy`` of events; told apart by content), a folder of them, an IBM DVS Gesture folder
(original release or Tonic's layout) or the word ``digits`` (the offline dataset). Prints
events, duration, timestamps, sensor size, samples and classes; ``--json FILE`` also writes them
as a versioned JSON document.

``flexspim data frames SOURCE --time-bins T --out FILE.npz``: bin both splits of a dataset into
a ``flexspim-frames`` v1 file, once, so that ``flexspim train --data FILE.npz`` and ``flexspim
simulate NETWORK FILE.npz`` read it directly. SOURCE is a DVS Gesture folder (preprocessed as
the ``dvs_gesture`` training preset does: 10 ms denoise, 4x down-sampling to 32 x 32), ``digits``,
or your own recordings: a recording or folder of them with ``--labels TABLE.csv`` (lines
``file,label[,start_us,end_us]``, optional ``split`` column), preprocessed by the recording
options (crop, down-sampling, denoise, windows, polarity; ``--network NET`` checks the result
against a network's input), split into train and test by the table's ``split`` column or, without
one, by ``--test-fraction`` of each class (seeded).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from flexspim._io import versioned, write_json
from flexspim.cli._common import (
    add_shared,
    check_output_file,
    check_output_files,
    description,
    progress_enabled,
)
from flexspim.cli.recording_options import add_recording_options, load_samples
from flexspim.cli.train import load_training_data
from flexspim.data import describe, detect_layout, inspect_path
from flexspim.data.inputs import split_samples
from flexspim.errors import ConfigError
from flexspim.net import load_network

INFO_FORMAT = "flexspim-data-info"
INFO_VERSION = 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "data", help="inspect event data",
        description=description(__doc__))
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(p))
    info = sub.add_parser(
        "info", help="print what an event file or dataset folder holds",
        description="Print events, duration, timestamps, sensor size, samples and classes of "
        "PATH: an event file of any format flexspim reads (AEDAT 4.0, AEDAT 3.1, Prophesee EVT "
        "2.0 / EVT 3.0 / DAT, a .npy of events; told apart by content), a folder of them, a DVS "
        "Gesture folder (original release or Tonic's layout) or the word 'digits'.")
    info.add_argument("path", metavar="PATH",
                      help="event file (AEDAT, EVT 2.0 / 3.0, DAT, .npy), a folder of them, a DVS "
                           "Gesture folder or 'digits'")
    info.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    info.add_argument("--allow-truncated", action="store_true",
                      help="read a file that was cut short: keep the complete packets before the "
                           "cut and say how many bytes were dropped")
    add_shared(info, bars=False)
    info.set_defaults(func=run)
    frames = sub.add_parser(
        "frames", help="bin a dataset's train and test splits into a frames file (.npz)",
        description="Bin every sample of SOURCE (a DVS Gesture folder, denoised and "
        "down-sampled to 32 x 32 as the dvs_gesture preset trains on it, or 'digits') into "
        "T time bins and write a flexspim-frames file.")
    frames.add_argument("source", metavar="SOURCE",
                        help="DVS Gesture folder, 'digits', or a recording or folder of "
                             "recordings (with --labels)")
    frames.add_argument("--time-bins", type=int, required=True, metavar="T",
                        help="time bins per sample")
    frames.add_argument("--out", required=True, metavar="FILE", help="frames file to write")
    frames.add_argument("--labels", metavar="TABLE",
                        help="label table of the recordings (CSV: file,label[,start_us,end_us]"
                             "[,split]); a folder's own labels.csv is used without it")
    frames.add_argument("--sensor-size", metavar="W,H",
                        help="sensor size of the recordings when their header gives none")
    frames.add_argument("--network", metavar="NET",
                        help="integer network whose input the frames must fit (checks the "
                             "options)")
    frames.add_argument("--test-fraction", type=float, default=0.2, metavar="F",
                        help="without a split column: the fraction of each class's labelled "
                             "spans that goes to the test split (default 0.2)")
    frames.add_argument("--seed", type=int, default=0, help="seed of that split (default 0)")
    add_recording_options(frames)
    add_shared(frames)
    frames.set_defaults(func=run_frames)
    p.set_defaults(func=_usage(p))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


def run(args: argparse.Namespace) -> int:
    check_output_files(args, "--json")
    info = inspect_path(args.path, allow_truncated=args.allow_truncated)
    for line in describe(info):
        print(line)
    if args.json:
        body = dataclasses.asdict(info)
        body["samples"] = dict(info.samples)
        write_json(args.json, versioned(INFO_FORMAT, INFO_VERSION, body))
    return 0


def run_frames(args: argparse.Namespace) -> int:
    from flexspim.train.frames import save_frames  # flexspim.train imports torch

    if args.time_bins < 1:
        raise ConfigError(f"--time-bins {args.time_bins}: use at least 1 time bin")
    check_output_file(args.out, "--out", example="frames.npz", overwrite=args.overwrite,
                      suffixes=(".npz",))
    progress = progress_enabled(args)
    if args.source == "digits":
        frames = load_training_data("digits", None, args.time_bins, progress=progress)
    elif detect_layout(args.source) is not None:
        frames = load_training_data("dvs_gesture", Path(args.source), args.time_bins,
                                    progress=progress)
    else:
        frames = recording_frames(args)
    save_frames(args.out, frames)
    n, t, c, h, w = frames.x_train.shape
    print(f"wrote {args.out}: {n} train + {frames.x_test.shape[0]} test samples of "
          f"{t} x {c} x {h} x {w}, {frames.n_classes} classes")
    return 0


def recording_frames(args: argparse.Namespace) -> Any:
    """Frames of labelled recordings (see the module docstring), split into train and test."""
    from flexspim.train.frames import frames_from_arrays  # flexspim.train imports torch

    shape = None
    if args.network:
        shape = tuple(load_network(args.network).input_shape)
    samples = load_samples(args.source, args, shape)
    if samples.labels is None:
        raise ConfigError(f"{args.source}: recordings need labels for a frames file; pass "
                          f"--labels TABLE.csv (lines 'file,label[,start_us,end_us]')")
    test = split_samples(samples, args.test_fraction, args.seed)
    x = samples.frames(args.time_bins)
    name = Path(args.source).stem or "recordings"
    return frames_from_arrays(x[~test], samples.labels[~test], x[test], samples.labels[test],
                              name=name)
