"""Recordings as network inputs: labelled samples, cropped, denoised, down-sampled and cut into
time windows so that they fit a network's ``(C, H, W)`` input.

Each sample goes through, in this order (settings in :class:`Preprocess`, the work in
:mod:`flexspim.data.functional`):

1. its span: a whole recording, or a labelled ``[start_us, end_us)`` of it (a label table);
2. crop: ``--crop X0,Y0,W,H`` keeps the box and moves it to the origin (Tonic's crop);
3. denoise: ``--denoise-ms MS`` drops events without a neighbour event in the last MS
   milliseconds (Tonic's ``Denoise``, identical output);
4. down-sampling: ``--downsample W,H`` maps the (cropped) sensor onto W x H pixels,
   ``x' = floor(x W / W_sensor)`` (Tonic's ``Downsample(sensor_size, target_size)``);
5. time windows: ``--window-ms MS`` cuts the sample into consecutive MS windows, each a sample
   with the same label (Tonic's ``SliceByTime``);
6. polarity: ``keep`` bins OFF and ON events into channels 0 and 1, ``merge`` counts both in one
   channel (Tonic's ``MergePolarities``).

:func:`check_fit` compares the result with the network input and, on a mismatch, says which
option to add. Labels come from a label table (:func:`read_label_table`), a list with one label
per sample, or ``label<k>`` in file names.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flexspim.data.events import check_in_sensor, check_timestamps
from flexspim.data.functional import (
    bin_events,
    crop_events,
    denoise_events,
    downsample_to,
    slice_by_time,
)
from flexspim.data.recordings import Recording
from flexspim.errors import ConfigError, FormatError

POLARITY_MODES = ("keep", "merge")
LABEL_IN_NAME = re.compile(r"label(\d+)")
TABLE_COLUMNS = ("file", "label", "start_us", "end_us", "split")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Preprocess:
    """What turns a recording into network input (see the module docstring).

    ``crop``: ``(x0, y0, w, h)`` in recording pixels; ``downsample``: target ``(W, H)`` pixels;
    ``denoise_us``: Tonic's ``filter_time`` in µs; ``window_us``: window length in µs;
    ``polarity``: ``"keep"`` (2 channels) or ``"merge"`` (1 channel). None switches a step off.
    """

    crop: tuple[int, int, int, int] | None = None
    downsample: tuple[int, int] | None = None
    denoise_us: int | None = None
    window_us: int | None = None
    polarity: str = "keep"

    def __post_init__(self) -> None:
        if self.polarity not in POLARITY_MODES:
            raise ConfigError(f"polarity = {self.polarity!r}; use 'keep' or 'merge'")
        for name in ("denoise_us", "window_us"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ConfigError(f"{name} = {value}; use at least 1 µs")

    def output_size(self, sensor: Sequence[int]) -> tuple[int, int, int]:
        """``(W, H, P)`` of the samples made from a ``(W, H, 2)`` sensor."""
        w, h = int(sensor[0]), int(sensor[1])
        if self.crop is not None:
            w, h = self.crop[2], self.crop[3]
        if self.downsample is not None:
            w, h = self.downsample
        return (w, h, 1 if self.polarity == "merge" else 2)


@dataclass(frozen=True)
class LabelRow:
    """One row of a label table: a file name, its label and optionally a span
    ``[start_us, end_us)`` in the recording's own clock and a split (``train`` / ``test``)."""

    file: str
    label: int
    start_us: int | None = None
    end_us: int | None = None
    split: str | None = None
    line: int = 0


@dataclass(frozen=True, eq=False)
class Samples:
    """Samples ready to bin: events in the output sensor ``sensor_size`` ``(W, H, P)``, labels
    (None when unknown), names, and per sample its split from the label table (or None) and the
    index of the span (table row or recording) its window came from."""

    events: list[np.ndarray]
    labels: np.ndarray | None
    names: list[str]
    sensor_size: tuple[int, int, int]
    splits: list[str | None]
    spans: list[int]

    def frames(self, n_time_bins: int) -> np.ndarray:
        """int16 counts ``[N, T, P, H, W]`` (:func:`~flexspim.data.functional.bin_events`)."""
        w, h, p = self.sensor_size
        out = np.zeros((len(self.events), int(n_time_bins), p, h, w), dtype=np.int16)
        for i, ev in enumerate(self.events):
            out[i] = bin_events(ev, self.sensor_size, n_time_bins)
        return out


def _int_cell(text: str, where: str, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise FormatError(f"{where}: {column} {text!r} is not an integer") from None


def _row(cells: list[str], columns: Sequence[str], where: str, line: int) -> LabelRow:
    if len(cells) != len(columns):
        raise FormatError(f"{where}: expected {len(columns)} cells ({','.join(columns)}), got "
                          f"{len(cells)}")
    cell = dict(zip(columns, cells, strict=True))
    start = _int_cell(cell["start_us"], where, "start_us") if cell.get("start_us") else None
    end = _int_cell(cell["end_us"], where, "end_us") if cell.get("end_us") else None
    if (start is None) != (end is None) or (start is not None and end is not None
                                            and end <= start):
        raise FormatError(f"{where}: span [{start}, {end}) µs: give both start_us and end_us, "
                          f"with start_us < end_us")
    split = cell.get("split") or None
    if split is not None and split not in SPLITS:
        raise FormatError(f"{where}: split {split!r}; use 'train' or 'test'")
    return LabelRow(cell["file"], _int_cell(cell["label"], where, "label"), start, end, split,
                    line)


def read_label_table(path: str | os.PathLike[str]) -> tuple[LabelRow, ...]:
    """Rows of a label table: a CSV with lines ``file,label`` or ``file,label,start_us,end_us``,
    or with a header line naming its columns among ``file, label, start_us, end_us, split``
    (``file`` and ``label`` required). ``file`` is a recording's name (with or without its
    suffix); spans are in the recording's own timestamps (µs). Errors name the file and line."""
    p = Path(path)
    try:
        rows = [[c.strip() for c in r] for r in csv.reader(
            p.read_text(encoding="utf-8").splitlines())]
    except FileNotFoundError:
        raise FormatError(f"{p}: no such label table; check the path") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FormatError(f"{p}: not a CSV label table ({exc})") from None
    numbered = [(i, r) for i, r in enumerate(rows, start=1) if any(r)]
    if not numbered:
        raise FormatError(f"{p}: empty label table; add lines 'file,label'")
    columns: Sequence[str] = ()
    first_line, first = numbered[0]
    if first and first[0].lower() == "file" or (len(first) > 1 and not _is_int(first[1])):
        columns = [c.lower() for c in first]
        unknown = [c for c in columns if c not in TABLE_COLUMNS]
        if unknown or "file" not in columns or "label" not in columns:
            raise FormatError(f"{p}: line {first_line}: header {','.join(first)!r}; columns are "
                              f"{', '.join(TABLE_COLUMNS)} (file and label required)")
        numbered = numbered[1:]
    out = []
    for line, cells in numbered:
        cols = columns or TABLE_COLUMNS[: 2 if len(cells) == 2 else 4]
        out.append(_row(cells, cols, f"{p}: line {line}", line))
    if not out:
        raise FormatError(f"{p}: the label table has a header but no rows")
    return tuple(out)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def is_label_table(path: str | os.PathLike[str]) -> bool:
    """Whether a CSV names files (a label table) rather than listing bare labels."""
    p = Path(path)
    if p.suffix.lower() != ".csv" or not p.is_file():
        return False
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        first = line.split(",")[0].strip()
        if first:
            return not _is_int(first)
    return False


def recording_sensor(recordings: Sequence[Recording], override: Sequence[int] | None = None,
                     fallback: Sequence[int] | None = None) -> tuple[int, int, int]:
    """The ``(W, H, 2)`` sensor of a set of recordings: the size their headers give (which must
    agree); else ``override`` (``--sensor-size``); else ``fallback`` (the network input) when
    every event fits in it; else the largest coordinates + 1. An ``override`` that differs from
    a header is refused (ConfigError naming both sizes): the header describes the camera."""
    if override is not None:
        ow, oh = int(override[0]), int(override[1])
        for r in recordings:
            if r.sensor_size is not None and tuple(r.sensor_size[:2]) != (ow, oh):
                w, h = r.sensor_size[:2]
                raise ConfigError(f"--sensor-size {ow},{oh}: {r.path} gives its sensor as "
                                  f"{w} x {h} in its header, and the header wins; drop "
                                  f"--sensor-size (it is for files that give no size)")
        return (ow, oh, 2)
    sizes = {r.sensor_size[:2]: r for r in recordings if r.sensor_size is not None}
    if len(sizes) > 1:
        (a, ra), (b, rb) = list(sizes.items())[:2]
        raise ConfigError(f"recordings of different sensors: {ra.name} is {a[0]} x {a[1]}, "
                          f"{rb.name} is {b[0]} x {b[1]}; simulate them separately or pass "
                          f"--sensor-size W,H")
    if sizes:
        w, h = next(iter(sizes))
        return (w, h, 2)
    ext = [(int(r.events["x"].max()) + 1, int(r.events["y"].max()) + 1)
           for r in recordings if len(r.events)]
    w = max((e[0] for e in ext), default=1)
    h = max((e[1] for e in ext), default=1)
    if fallback is not None and w <= fallback[0] and h <= fallback[1]:
        return (int(fallback[0]), int(fallback[1]), 2)
    return (w, h, 2)


def _aspect_crop(sensor: Sequence[int], w_net: int, h_net: int) -> tuple[int, int, int, int]:
    """The largest centred box of the network's aspect ratio inside the sensor."""
    w, h = int(sensor[0]), int(sensor[1])
    if w * h_net > h * w_net:
        cw, ch = (h * w_net) // h_net, h
    else:
        cw, ch = w, (w * h_net) // w_net
    return ((w - cw) // 2, (h - ch) // 2, cw, ch)


def _spatial_fix(sensor: tuple[int, int, int], prep: Preprocess, w_net: int,
                 h_net: int) -> str:
    w, h = (prep.crop[2], prep.crop[3]) if prep.crop else sensor[:2]
    if prep.downsample is not None:
        return f"use --downsample {w_net},{h_net}"
    if w < w_net or h < h_net:
        return ("flexspim does not up-sample: crop less" if prep.crop else
                "flexspim does not up-sample: use a network with a smaller input")
    fix = f"add --downsample {w_net},{h_net}"
    if w * h_net != h * w_net and prep.crop is None:
        x0, y0, cw, ch = _aspect_crop(sensor, w_net, h_net)
        fix += (f" (or --crop {x0},{y0},{cw},{ch} --downsample {w_net},{h_net} to keep the "
                f"aspect ratio)")
    return fix


def check_steps(sensor: tuple[int, int, int], prep: Preprocess) -> None:
    """Raise ConfigError when the crop box leaves the sensor or the down-sampling target is
    larger than the (cropped) sensor."""
    w, h = sensor[0], sensor[1]
    if prep.crop is not None:
        x0, y0, cw, ch = prep.crop
        if x0 < 0 or y0 < 0 or cw < 1 or ch < 1 or x0 + cw > w or y0 + ch > h:
            raise ConfigError(f"--crop {x0},{y0},{cw},{ch} does not fit the {w} x {h} sensor; "
                              f"keep 0 <= X0, X0 + W <= {w} and 0 <= Y0, Y0 + H <= {h}")
        w, h = cw, ch
    if prep.downsample is not None:
        tw, th = prep.downsample
        if not (1 <= tw <= w and 1 <= th <= h):
            raise ConfigError(f"--downsample {tw},{th}: the target must lie between 1 x 1 and "
                              f"the {'cropped ' if prep.crop else ''}sensor's {w} x {h} "
                              f"(flexspim does not up-sample)")


def check_fit(sensor: tuple[int, int, int], prep: Preprocess,
              input_shape: Sequence[int]) -> None:
    """Raise ConfigError when recordings of ``sensor`` ``(W, H, 2)`` preprocessed by ``prep`` do
    not give the network's ``(C, H, W)`` input, saying which option fixes it."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or shape[0] not in (1, 2):
        raise ConfigError(f"network input {shape}: recordings feed a (C, H, W) input with 1 or 2 "
                          f"polarity channels")
    c_net, h_net, w_net = shape
    check_steps(sensor, prep)
    w, h, p = prep.output_size(sensor)
    if (w, h) != (w_net, h_net):
        raise ConfigError(f"the recordings give {w} x {h} pixels, the network takes "
                          f"{w_net} x {h_net}: {_spatial_fix(sensor, prep, w_net, h_net)}")
    if p != c_net:
        fix = ("add --polarity merge" if c_net == 1 else "drop --polarity merge")
        raise ConfigError(f"the recordings give {p} polarity channel(s), the network takes "
                          f"{c_net}: {fix}")


def _owner(row: LabelRow, recordings: Sequence[Recording]) -> Recording | None:
    return next((r for r in recordings if row.file in (r.path.name, r.path.stem)), None)


def _spans(recordings: Sequence[Recording], table: Sequence[LabelRow] | None,
           where: str) -> list[tuple[Recording, LabelRow | None]]:
    """(recording, label row) per sample before windows: every row of the table, in table order
    (and every recording must have a row), or every recording whole."""
    if table is None:
        return [(r, None) for r in recordings]
    out: list[tuple[Recording, LabelRow | None]] = []
    for row in table:
        rec = _owner(row, recordings)
        if rec is None:
            raise FormatError(f"{where}: line {row.line}: no recording named {row.file!r} "
                              f"(recordings: {', '.join(r.name for r in recordings[:5])})")
        out.append((rec, row))
    labelled = {id(rec) for rec, _row in out}
    for rec in recordings:
        if id(rec) not in labelled:
            raise FormatError(f"{where}: no label for {rec.name}; add a line "
                              f"'{rec.name},<label>'")
    return out


def _cut_span(events: np.ndarray, row: LabelRow | None, where: str) -> np.ndarray:
    if row is None or row.start_us is None or row.end_us is None:
        return events
    t = events["t"]
    span = events[(t >= row.start_us) & (t < row.end_us)]
    if len(events) and not len(span):
        raise FormatError(f"{where}: line {row.line}: span [{row.start_us}, {row.end_us}) µs "
                          f"holds no event of {row.file} (its events run from {int(t.min())} "
                          f"to {int(t.max())} µs)")
    return span


def _preprocess(events: np.ndarray, sensor: tuple[int, int, int],
                prep: Preprocess) -> list[np.ndarray]:
    ev = events
    size = sensor
    if prep.crop is not None:
        x0, y0, cw, ch = prep.crop
        ev = crop_events(ev, (x0, y0), (cw, ch))
        size = (cw, ch, 2)
    if prep.denoise_us is not None:
        ev = denoise_events(ev, prep.denoise_us)
    if prep.downsample is not None:
        ev = downsample_to(ev, size, prep.downsample)
    if prep.window_us is None:
        return [ev]
    return slice_by_time(ev, prep.window_us)


def check_recordings(recordings: Sequence[Recording]) -> None:
    """Raise FormatError for a recording without events or with an event before t = 0."""
    for rec in recordings:
        if not len(rec.events):
            raise FormatError(f"{rec.path}: {rec.format}: holds no events; pass a recording with "
                              f"at least one event (or leave this one out of the folder)")
        check_timestamps(rec.events, f"{rec.path}: {rec.format}")


def make_samples(recordings: Sequence[Recording], sensor: tuple[int, int, int],
                 prep: Preprocess, *, table: Sequence[LabelRow] | None = None,
                 table_name: str = "labels") -> Samples:
    """Samples from ``recordings`` on a ``(W, H, 2)`` sensor (see the module docstring): one per
    table row (or recording), times ``--window-ms`` windows. Labels come from the table, or
    from ``label<k>`` in every file name, or are None."""
    events: list[np.ndarray] = []
    labels: list[int] = []
    names: list[str] = []
    splits: list[str | None] = []
    spans: list[int] = []
    in_names = {id(r): LABEL_IN_NAME.search(r.path.stem) for r in recordings}
    name_labels = table is None and all(in_names.values())
    check_steps(sensor, prep)
    check_recordings(recordings)
    for index, (rec, row) in enumerate(_spans(recordings, table, table_name)):
        try:
            check_in_sensor(rec.events, sensor, f"{rec.path}: {rec.format}")
        except FormatError as exc:
            raise FormatError(f"{exc} (pass --sensor-size W,H with the camera's size)") from None
        parts = _preprocess(_cut_span(rec.events, row, table_name), sensor, prep)
        tag = rec.path.stem if row is None or row.start_us is None else \
            f"{rec.path.stem}@{row.start_us}"
        match = in_names[id(rec)]
        label = row.label if row is not None else int(match.group(1)) if match else None
        for k, part in enumerate(parts):
            events.append(part)
            names.append(tag if len(parts) == 1 else f"{tag}#{k}")
            splits.append(row.split if row is not None else None)
            spans.append(index)
            labels.append(-1 if label is None else label)
    has_labels = table is not None or name_labels
    return Samples(events, np.array(labels, dtype=np.int64) if has_labels else None, names,
                   prep.output_size(sensor), splits, spans)


def split_samples(samples: Samples, test_fraction: float, seed: int = 0) -> np.ndarray:
    """A boolean mask of the test samples: the label table's ``split`` column when it has one;
    else, per class, ``round(test_fraction * n)`` of the class's ``n`` spans drawn with
    ``seed`` (the windows of one span stay together). Both splits must be non-empty."""
    given = [s for s in samples.splits if s is not None]
    if given and len(given) != len(samples.splits):
        raise ConfigError("the label table gives a split for some rows only; give 'train' or "
                          "'test' on every row, or drop the split column")
    if given:
        test = np.array([s == "test" for s in samples.splits], dtype=bool)
    else:
        if not 0.0 < test_fraction < 1.0:
            raise ConfigError(f"--test-fraction {test_fraction}: use a fraction in (0, 1)")
        labels = samples.labels if samples.labels is not None else np.zeros(len(samples.spans))
        span_label = {s: int(lab) for s, lab in zip(samples.spans, labels, strict=True)}
        rng = np.random.default_rng(seed)
        test_spans: set[int] = set()
        for cls in sorted(set(span_label.values())):
            members = sorted(s for s, lab in span_label.items() if lab == cls)
            k = int(round(test_fraction * len(members)))
            test_spans |= {members[i] for i in rng.permutation(len(members))[:k]}
        test = np.array([s in test_spans for s in samples.spans], dtype=bool)
    if test.all() or not test.any():
        raise ConfigError(f"all {len(test)} samples fall in the {'test' if test.all() else 'train'}"
                          f" split; label more spans, change --test-fraction or give a split "
                          f"column in the label table")
    return test
