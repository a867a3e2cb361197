"""Pre-binned training data in one file: format ``flexspim-frames`` version 1.

An ``.npz`` holding ``header`` (0-d JSON string ``{"format": "flexspim-frames", "version": 1,
"name": ..., "classes": [...], "source": {...}}``; ``source``, optional, says how the frames were
made, so that a cache is reused only for the same recipe), ``x_train`` / ``x_test`` (int16 event counts
``[N, T, C, H, W]``) and ``y_train`` / ``y_test`` (int64 labels ``[N]``). ``flexspim train --data
FILE.npz`` trains on it; it is how binned data from any source reaches the trainer.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flexspim._io import check_versioned, stamped, write_bytes_atomic
from flexspim.errors import FormatError

FRAMES_FORMAT = "flexspim-frames"
FRAMES_VERSION = 1
_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True, eq=False)
class Frames:
    """Binned train and test splits: counts ``[N, T, C, H, W]`` and labels ``[N]``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "frames"
    classes: tuple[str, ...] = ()
    #: How the frames were made (plain JSON data), or None.
    source: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for xk, yk in (("x_train", "y_train"), ("x_test", "y_test")):
            x, y = getattr(self, xk), getattr(self, yk)
            if x.ndim != 5 or y.ndim != 1 or x.shape[0] != y.shape[0]:
                raise FormatError(f"frames '{self.name}': {xk} {x.shape} must be [N, T, C, H, W] "
                                  f"with one label per sample in {yk} {y.shape}")
            if not np.issubdtype(x.dtype, np.integer) or (x.size and int(x.min()) < 0):
                raise FormatError(f"frames '{self.name}': {xk} must hold nonnegative integer "
                                  f"event counts")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise FormatError(f"frames '{self.name}': train {self.x_train.shape[1:]} and test "
                              f"{self.x_test.shape[1:]} sample shapes differ")

    @property
    def n_classes(self) -> int:
        return max(len(self.classes), int(max(self.y_train.max(initial=0),
                                              self.y_test.max(initial=0))) + 1)


def save_frames(path: str | os.PathLike[str], frames: Frames) -> None:
    """Write ``frames`` to ``path`` atomically."""
    header = {"format": FRAMES_FORMAT, "version": FRAMES_VERSION, "name": frames.name,
              "classes": list(frames.classes)}
    if frames.source is not None:
        header["source"] = frames.source
    buf = io.BytesIO()
    np.savez_compressed(buf, header=np.array(json.dumps(stamped(header))),
                        x_train=frames.x_train.astype(np.int16), y_train=frames.y_train,
                        x_test=frames.x_test.astype(np.int16), y_test=frames.y_test)
    write_bytes_atomic(path, buf.getvalue())


def load_frames_file(path: str | os.PathLike[str]) -> Frames:
    """Read a frames file; a wrong file, format or version raises FormatError naming it."""
    p = Path(path)
    if not p.is_file():
        raise FormatError(f"{p}: no such frames file; check the path")
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise FormatError(f"{p}: not a flexspim frames file or truncated ({exc})") from None
    if "header" not in arrays:
        raise FormatError(f"{p}: not a flexspim frames file (no '{FRAMES_FORMAT}' header); "
                          f"write one with save_frames")
    try:
        header = json.loads(str(arrays["header"]))
    except json.JSONDecodeError as exc:
        raise FormatError(f"{p}: corrupt frames header ({exc.msg})") from None
    check_versioned(header, FRAMES_FORMAT, FRAMES_VERSION, p, fix_format="write one with save_frames")
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise FormatError(f"{p}: arrays {', '.join(missing)} missing from the frames file")
    try:
        return Frames(x_train=arrays["x_train"], y_train=arrays["y_train"].astype(np.int64),
                      x_test=arrays["x_test"], y_test=arrays["y_test"].astype(np.int64),
                      name=str(header.get("name", p.stem)),
                      classes=tuple(str(c) for c in header.get("classes", ())),
                      source=header.get("source"))
    except FormatError as exc:
        raise FormatError(f"{p}: {exc}") from None


def frames_from_arrays(x_train: Sequence | np.ndarray, y_train: Sequence | np.ndarray,
                       x_test: Sequence | np.ndarray, y_test: Sequence | np.ndarray,
                       name: str = "frames", classes: Sequence[str] = (),
                       source: dict[str, Any] | None = None) -> Frames:
    """:class:`Frames` from array-likes (int16 counts, int64 labels)."""
    return Frames(x_train=np.asarray(x_train).astype(np.int16),
                  y_train=np.asarray(y_train).astype(np.int64),
                  x_test=np.asarray(x_test).astype(np.int16),
                  y_test=np.asarray(y_test).astype(np.int64), name=name,
                  classes=tuple(str(c) for c in classes), source=source)
