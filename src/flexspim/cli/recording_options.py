"""Options shared by the commands that read event recordings (``simulate``, ``data frames``):
crop, down-sampling, denoise, time windows, polarity and truncated files (docs/data.md).

Not a subcommand: :func:`add_recording_options` adds the options to a parser and
:func:`load_samples` reads a recording or folder with them into
:class:`~flexspim.data.inputs.Samples`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flexspim.data.inputs import (
    POLARITY_MODES,
    Preprocess,
    Samples,
    check_fit,
    is_label_table,
    make_samples,
    read_label_table,
    recording_sensor,
)
from flexspim.data.recordings import read_events
from flexspim.errors import ConfigError, FormatError

#: The name of a label table found inside a folder of recordings.
FOLDER_TABLE = "labels.csv"


def add_recording_options(parser: argparse.ArgumentParser) -> None:
    """Add the recording options (a group of their own) to ``parser``."""
    g = parser.add_argument_group(
        "recordings", "for AEDAT 4 / 3.1, Prophesee EVT 2.0 / 3.0 / DAT and .npy event files or "
        "folders of them (the format is read from the file's content; docs/data.md)")
    g.add_argument("--crop", metavar="X0,Y0,W,H",
                   help="keep the W x H box at (X0, Y0) of the sensor (applied first)")
    g.add_argument("--downsample", metavar="W,H",
                   help="map the (cropped) sensor onto W x H pixels, x' = floor(x W / W_sensor) "
                        "(Tonic's Downsample)")
    g.add_argument("--denoise-ms", type=float, metavar="MS",
                   help="drop events without a neighbour event in the last MS ms "
                        "(Tonic's Denoise; 10 is Tonic's default)")
    g.add_argument("--window-ms", type=float, metavar="MS",
                   help="cut each recording (or labelled span) into MS ms windows, one sample "
                        "each (Tonic's SliceByTime)")
    g.add_argument("--polarity", choices=POLARITY_MODES, default="keep",
                   help="keep: OFF and ON events in 2 channels (default); merge: one channel")
    g.add_argument("--allow-truncated", action="store_true",
                   help="read a file that was cut short: keep the complete packets before the "
                        "cut and say how many bytes were dropped")


def _ints(text: str | None, n: int, option: str, names: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        vals = tuple(int(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != n or min(vals) < 0:
        raise ConfigError(f"{option} {text!r}: expected {names} (non-negative integers)")
    return vals


def _micros(ms: float | None, option: str) -> int | None:
    if ms is None:
        return None
    us = round(ms * 1000)
    if us < 1:
        raise ConfigError(f"{option} {ms}: use a time of at least 0.001 ms")
    return us


def preprocess_from_args(args: argparse.Namespace) -> Preprocess:
    """The :class:`~flexspim.data.inputs.Preprocess` the options describe."""
    crop = _ints(args.crop, 4, "--crop", "X0,Y0,W,H")
    down = _ints(args.downsample, 2, "--downsample", "W,H")
    return Preprocess(crop=crop, downsample=down,  # type: ignore[arg-type]
                      denoise_us=_micros(args.denoise_ms, "--denoise-ms"),
                      window_us=_micros(args.window_ms, "--window-ms"),
                      polarity=args.polarity)


def _table(source: Path, labels: str | None) -> tuple[Any, str]:
    """The label table named by ``--labels`` (or a folder's ``labels.csv``), and its name."""
    if labels is not None and labels.lower().endswith(".csv") and not Path(labels).is_file():
        raise FormatError(f"--labels {labels}: no such label table; check the path")
    if labels is not None and is_label_table(labels):
        return read_label_table(labels), labels
    folder_table = source / FOLDER_TABLE
    if labels is None and source.is_dir() and folder_table.is_file():
        return read_label_table(folder_table), str(folder_table)
    return None, ""


def load_samples(source: str | Path, args: argparse.Namespace,
                 input_shape: Sequence[int] | None = None) -> Samples:
    """Read the recording or folder ``source`` and turn it into samples with the options in
    ``args`` (see :func:`add_recording_options`; ``args.sensor_size`` and ``args.labels`` too).
    With ``input_shape`` (the network's ``(C, H, W)``) a mismatch is an error naming the option
    to add; without, the options alone decide the sample size."""
    src = Path(source)
    prep = preprocess_from_args(args)
    table, table_name = _table(src, getattr(args, "labels", None))
    recordings = read_events(src, allow_truncated=args.allow_truncated)
    for rec in recordings:
        for note in rec.notes:
            print(f"{rec.path}: {rec.format}: {note}", file=sys.stderr)
    text = getattr(args, "sensor_size", None)
    override = None if text is None else (
        _ints(text, 3, "--sensor-size", "W,H") if text.count(",") == 2 else
        _ints(text, 2, "--sensor-size", "W,H"))
    fallback = (int(input_shape[2]), int(input_shape[1])) if input_shape is not None else None
    sensor = recording_sensor(recordings, override, fallback)
    if override is None and all(r.sensor_size is None for r in recordings):
        basis = "the network input" if sensor[:2] == fallback else "largest coordinates + 1"
        print(f"{src}: the files give no sensor size; using {sensor[0]} x {sensor[1]} ({basis}); "
              f"pass --sensor-size W,H with the camera's size", file=sys.stderr)
    if input_shape is not None:
        check_fit(sensor, prep, input_shape)
    samples = make_samples(recordings, sensor, prep, table=table, table_name=table_name)
    if not samples.events:
        raise ConfigError(f"{src}: no sample: the recordings hold no events")
    formats = ", ".join(sorted({r.format for r in recordings}))
    print(f"read {len(recordings)} recording(s) ({formats}, {sensor[0]} x {sensor[1]} sensor) "
          f"-> {len(samples.events)} samples of {samples.sensor_size[0]} x "
          f"{samples.sensor_size[1]} x {samples.sensor_size[2]}", file=sys.stderr)
    return samples
