"""Training data from its source, prepared once and cached (docs/training.md).

Sources:

- the ``digits`` preset without ``--data``: :class:`flexspim.data.DigitsEvents` (seed 0),
  binned; it builds in about two seconds and is not cached;
- a frames file (``.npz``, format ``flexspim-frames``): used as it is;
- a DVS Gesture folder: every labelled gesture is denoised (10 ms window, Tonic's default),
  down-sampled by 4 to 32 x 32 (paper §IV) and binned into T frames. This reads and decodes
  every recording, so the result is cached as a frames file ``gesture-frames-T<T>.npz`` in the
  cache folder, whose header's ``source`` names the folder, its layout, the sample counts and
  every preprocessing setting. A later run with the same recipe reads the cache; a cache made
  by another recipe stops the run with one line rather than being overwritten.

With event augmentation (``--augment``) the events themselves are cached instead: the
preprocessed events of every sample of a split in an event store ``gesture-events-<split>/``
(format ``flexspim-event-store`` version 1: ``events.bin``, the samples' events one after the
other as :data:`~flexspim.data.events.EVENT_DTYPE` records of 13 bytes, and ``index.json``, the
format, version, source, sensor size, per-sample offsets and labels; ``index.json`` is written
last, so a store without it is incomplete and is rebuilt). DataLoader workers read it
memory-mapped, augment each training sample anew every epoch and bin it
(:mod:`flexspim.train.loader`); the test split is binned once, without augmentation.

With several processes on one machine, local process 0 prepares the cache and the others wait
for its file (:func:`wait_for`), before any process group exists (preparing DVS Gesture can
take longer than a collective's time-out).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from flexspim import data as fdata
from flexspim._io import read_versioned_json, versioned, write_json, write_with
from flexspim.data import EVENT_DTYPE
from flexspim.errors import ConfigError, FormatError
from flexspim.train.frames import Frames, frames_from_arrays, load_frames_file, save_frames

#: DVS Gesture preprocessing (paper §IV: 32 x 32 input): down-sampling factor of the 128 x 128
#: sensor, and the denoising window in µs (Tonic's ``Denoise`` default).
GESTURE_DOWNSAMPLE = 4
GESTURE_DENOISE_US = 10_000
EVENT_STORE_FORMAT = "flexspim-event-store"
EVENT_STORE_VERSION = 1
SPLITS = ("train", "test")


class Resized:
    """A dataset seen through denoise + down-sampling, with the down-sampled sensor size."""

    def __init__(self, dataset: Any, factor: int) -> None:
        self.dataset = dataset
        self.sensor_size = fdata.downsampled_size(dataset.sensor_size, factor)
        self.classes = getattr(dataset, "classes", ())
        self.transform = fdata.Compose((fdata.Denoise(GESTURE_DENOISE_US),
                                        fdata.Downsample(factor)))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        events, label = self.dataset[i]
        return self.transform(events), label


def gesture_splits(folder: Path) -> dict[str, Resized]:
    """The train and test splits of a DVS Gesture folder, preprocessed (module docstring)."""
    if not folder.is_dir() or fdata.detect_layout(folder) is None:
        raise ConfigError(f"--data {folder}: neither a DVS Gesture folder nor a frames .npz "
                          f"file; for your own recordings make a frames file first: "
                          f"flexspim data frames {folder} --labels TABLE.csv --out FILE.npz")
    return {s: Resized(fdata.DVSGesture(folder, split=s), GESTURE_DOWNSAMPLE) for s in SPLITS}


def gesture_source(folder: Path, splits: dict[str, Resized], time_bins: int | None) -> dict:
    """What a cache made from ``splits`` holds: the recipe that a reused cache must match."""
    first = splits["train"].dataset
    doc = {"kind": "dvs_gesture", "folder": str(Path(folder).resolve()),
           "layout": getattr(first, "layout", "?"),
           "n_train": len(splits["train"]), "n_test": len(splits["test"]),
           "downsample": GESTURE_DOWNSAMPLE, "denoise_us": GESTURE_DENOISE_US}
    if time_bins is not None:
        doc["time_bins"] = int(time_bins)
    return doc


def _check_source(path: Path, found: Any, wanted: dict) -> None:
    if found != wanted:
        keys = sorted(k for k in wanted if not isinstance(found, dict) or found.get(k) !=
                      wanted[k])
        raise ConfigError(f"{path}: cache made with another recipe ({', '.join(keys) or 'source'}"
                          f" differ); delete it or pass another --cache folder")


def wait_for(path: Path, what: str, poll_s: float = 1.0) -> None:
    """Wait until ``path`` exists (another process of the run is writing it)."""
    if not path.exists():
        print(f"waiting for local process 0 to prepare {what} ({path})", file=sys.stderr)
    while not path.exists():
        time.sleep(poll_s)


def _bin_splits(splits: dict[str, Any], time_bins: int, name: str, source: dict | None,
                progress: bool) -> Frames:
    xs = {s: fdata.load_frames(ds, time_bins, progress=progress) for s, ds in splits.items()}
    return frames_from_arrays(xs["train"][0], xs["train"][1], xs["test"][0], xs["test"][1],
                              name=name, classes=getattr(splits["train"], "classes", ()),
                              source=source)


def gesture_frames(folder: Path, time_bins: int, cache_dir: Path | None, *,
                   builder: bool = True, progress: bool = False) -> Frames:
    """DVS Gesture frames of ``folder``, read from or written to ``cache_dir`` (module
    docstring; None: made and not cached). ``builder``: this process makes a missing cache;
    otherwise it waits for it."""
    splits = gesture_splits(folder)
    source = gesture_source(folder, splits, time_bins)
    if cache_dir is None:
        return _bin_splits(splits, time_bins, folder.name, source, progress)
    path = cache_dir / f"gesture-frames-T{int(time_bins)}.npz"
    if not path.exists():
        if not builder:
            wait_for(path, "the frames cache")
        else:
            save_frames(path, _bin_splits(splits, time_bins, folder.name, source, progress))
    frames = load_frames_file(path)
    _check_source(path, frames.source, source)
    return frames


def digits_frames(time_bins: int, *, progress: bool = False) -> Frames:
    """The offline digits dataset (seed 0) binned into ``time_bins`` frames."""
    splits = {s: fdata.DigitsEvents(split=s, seed=0) for s in SPLITS}
    return _bin_splits(splits, time_bins, "digits", None, progress)


class EventStore:
    """The preprocessed events of one split, memory-mapped (module docstring); items are
    ``(events, label)`` like the dataset it was made from. Pickles without its mapping, so
    DataLoader workers map the file themselves."""

    def __init__(self, folder: Path, index: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.offsets = np.asarray(index["offsets"], dtype=np.int64)
        self.labels = np.asarray(index["labels"], dtype=np.int64)
        self.sensor_size = tuple(int(s) for s in index["sensor_size"])
        self.classes = tuple(index.get("classes", ()))
        self.source = index["source"]
        self._events: np.ndarray | None = None
        if self.offsets.size != self.labels.size + 1:
            raise FormatError(f"{self.folder / 'index.json'}: {self.offsets.size} offsets for "
                              f"{self.labels.size} samples; delete the folder to rebuild it")

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_events": None}

    def __len__(self) -> int:
        return int(self.labels.size)

    def _mapped(self) -> np.ndarray:
        if self._events is None:
            path = self.folder / "events.bin"
            total = int(self.offsets[-1])
            if path.stat().st_size != total * EVENT_DTYPE.itemsize:
                raise FormatError(f"{path}: {path.stat().st_size} bytes, the index needs "
                                  f"{total * EVENT_DTYPE.itemsize}; delete the folder to "
                                  f"rebuild it")
            self._events = (np.memmap(path, dtype=EVENT_DTYPE, mode="r", shape=(total,))
                            if total else np.zeros(0, dtype=EVENT_DTYPE))
        return self._events

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return np.array(self._mapped()[lo:hi]), int(self.labels[i])


def write_event_store(dataset: Any, folder: Path, source: dict, *,
                      progress: bool = False) -> None:
    """Write every sample of ``dataset`` (``(events, label)`` items with a ``sensor_size``) as an
    event store in ``folder`` (module docstring)."""
    offsets, labels = [0], []

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            for i in tqdm(range(len(dataset)), desc="events", unit="sample",
                          disable=not progress):
                events, label = dataset[i]
                fh.write(np.ascontiguousarray(events, dtype=EVENT_DTYPE).tobytes())
                offsets.append(offsets[-1] + len(events))
                labels.append(int(label))

    write_with(folder / "events.bin", write)
    write_json(folder / "index.json", versioned(EVENT_STORE_FORMAT, EVENT_STORE_VERSION, {
        "source": source, "sensor_size": list(dataset.sensor_size),
        "classes": list(getattr(dataset, "classes", ())), "offsets": offsets, "labels": labels}))


def open_event_store(folder: Path, source: dict | None = None) -> EventStore:
    """Read an event store; with ``source``, check that it was made by that recipe."""
    index_path = folder / "index.json"
    index = read_versioned_json(index_path, EVENT_STORE_FORMAT, EVENT_STORE_VERSION,
                                fix=f"delete {folder}: training builds it again")
    if source is not None:
        _check_source(folder, index.get("source"), source)
    return EventStore(folder, index)


def gesture_events(folder: Path, cache_dir: Path, *, builder: bool = True,
                   progress: bool = False) -> dict[str, EventStore]:
    """Event stores of both splits of a DVS Gesture folder, built in ``cache_dir`` when missing
    (``builder``; otherwise waited for)."""
    splits = gesture_splits(folder)
    source = gesture_source(folder, splits, None)
    stores = {}
    for split, dataset in splits.items():
        where = cache_dir / f"gesture-events-{split}"
        if not (where / "index.json").exists():
            if not builder:
                wait_for(where / "index.json", f"the {split} event store")
            else:
                write_event_store(dataset, where, {**source, "split": split}, progress=progress)
        stores[split] = open_event_store(where, {**source, "split": split})
    return stores

