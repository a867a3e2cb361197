"""Event recordings in every common format, through one function: :func:`read_events`.

The format is told from the file's first bytes, never from its name (:func:`detect_format`):

| first bytes | format | decoded by |
|---|---|---|
| ``#!AER-DAT4.0`` | AEDAT 4.0 (iniVation DV) | the ``aedat`` library (:mod:`~flexspim.data.aedat4`) |
| ``#!AER-DAT3.`` | AEDAT 3.x (jAER, cAER, DVS Gesture) | :mod:`flexspim.data.aedat` |
| ``%`` header naming EVT 2.0 | Prophesee EVT 2.0 (``.raw``) | ``expelliarmus`` |
| ``%`` header naming EVT 3.0 | Prophesee EVT 3.0 (``.raw``) | ``evt3`` |
| ``%`` header of a DAT file | Prophesee DAT (``.dat``) | ``expelliarmus`` |
| ``\\x93NUMPY`` | a ``.npy`` structured array with fields x, y, p, t (µs) | NumPy |

Every reader returns :data:`~flexspim.data.events.EVENT_DTYPE` events in file order with the
file's own timestamps (µs); an event before t = 0 is refused (FormatError naming it), and so is
a ``.npy`` holding no event. A damaged or unsupported file raises FormatError naming the file,
the format and the byte offset. A file cut short (a copy that stopped, a recording that
crashed) raises too, unless ``allow_truncated=True``: then the complete packets (words, events)
before the cut are kept and :attr:`Recording.dropped_bytes` says how many bytes were left out.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flexspim.data import aedat as aedat3
from flexspim.data import aedat4, prophesee
from flexspim.data.events import EVENT_DTYPE, as_events, check_timestamps
from flexspim.errors import FormatError

NPY_MAGIC = b"\x93NUMPY"
#: How many leading bytes :func:`detect_format` looks at (a ``.npy`` header fits in them).
HEAD_BYTES = 4096


@dataclass(frozen=True, eq=False)
class Recording:
    """One event file: its path, format, events (x, y, p, t µs), the sensor size ``(W, H, 2)``
    its header gives (None when the format or file does not say), the bytes of a partial packet
    left out after a cut (``allow_truncated``), and notes from the decoder."""

    path: Path
    format: str
    events: np.ndarray
    sensor_size: tuple[int, int, int] | None
    dropped_bytes: int = 0
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.name


def _read_aedat4(path: Path, buf: bytes, allow_truncated: bool) -> Recording:
    ev, size, framing = aedat4.read_aedat4(path, buf, allow_truncated=allow_truncated)
    notes = ()
    if framing.cut_at is not None:
        notes = (f"cut at byte {framing.cut_at}: kept the {framing.n_packets} complete packets, "
                 f"dropped {framing.dropped_bytes} bytes",)
    return Recording(path, aedat4.FORMAT_NAME, ev, (*size, 2) if size else None,
                     framing.dropped_bytes, notes)


def _read_aedat3(path: Path, buf: bytes, allow_truncated: bool) -> Recording:
    header = aedat3.parse_header(buf, path)
    packets, end = aedat3.walk_packets(buf, header.data_offset, path, stop_at_cut=True)
    dropped = len(buf) - end
    fmt = f"AEDAT {header.version}"
    if dropped and not allow_truncated:
        raise FormatError(f"{path}: {fmt}: byte {end}: the file is cut short (the last {dropped} "
                          f"bytes are a partial packet); pass --allow-truncated "
                          f"(allow_truncated=True) to keep the {len(packets)} complete packets "
                          f"before the cut")
    ev = aedat3.decode_aedat(buf[:end] if dropped else buf, path)
    notes = (f"cut at byte {end}: kept the {len(packets)} complete packets, dropped {dropped} "
             f"bytes",) if dropped else ()
    return Recording(path, fmt, ev, header.sensor_size, dropped, notes)


def _read_prophesee(path: Path, buf: bytes, allow_truncated: bool) -> Recording:
    ev, header, dropped, notes = prophesee.read_prophesee(path, buf,
                                                          allow_truncated=allow_truncated)
    if dropped:
        cut = len(buf) - dropped
        notes = (f"cut at byte {cut}: kept the whole words before it, dropped {dropped} bytes",
                 *notes)
    return Recording(path, header.format, ev, (*header.sensor, 2) if header.sensor else None,
                     dropped, notes)


def _npy_holds_events(head: bytes) -> bool:
    """Whether a ``.npy`` header describes a structured array with fields x, y, p, t (other
    arrays, such as binned spikes, are no recording; an unreadable header counts as one, so
    that reading it names the problem)."""
    f = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            _shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            _shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except Exception:  # NumPy's header parser raises many kinds on garbage
        return True
    return dtype.names is not None and {"x", "y", "p", "t"} <= set(dtype.names)


def _read_npy(path: Path, buf: bytes, allow_truncated: bool) -> Recording:
    fmt = "NumPy .npy"
    f = io.BytesIO(buf[:1 << 16])
    try:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}[version]
        shape, _fortran, dtype = read(f)
    except Exception as exc:  # NumPy's header parser raises many kinds on garbage
        raise FormatError(f"{path}: {fmt}: byte 0: unreadable array header "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                          ) from None
    if dtype.names is None or not {"x", "y", "p", "t"} <= set(dtype.names) or len(shape) != 1:
        raise FormatError(f"{path}: {fmt}: holds an array of shape {shape} and dtype {dtype}; "
                          f"an event file holds a 1-D structured array with fields x, y, p, t "
                          f"(flexspim.data.make_events)")
    if dtype.hasobject:
        raise FormatError(f"{path}: {fmt}: the array holds Python objects; save plain numbers")
    offset = f.tell()
    n = int(shape[0])
    if n == 0:
        raise FormatError(f"{path}: {fmt}: holds no events; pass a recording with at least one "
                          f"event")
    complete = min((len(buf) - offset) // dtype.itemsize, n)
    dropped = len(buf) - offset - complete * dtype.itemsize
    if complete < n and not allow_truncated:
        raise FormatError(f"{path}: {fmt}: byte {offset + complete * dtype.itemsize}: the file is "
                          f"cut short ({complete} of {n} events); pass --allow-truncated "
                          f"(allow_truncated=True) to keep them")
    raw = np.frombuffer(buf, dtype=dtype, count=complete, offset=offset)
    notes = (f"cut after {complete} of {n} events, dropped {dropped} bytes",) if complete < n \
        else ()
    return Recording(path, fmt, as_events(raw, str(path)).copy(), None,
                     dropped if complete < n else 0, notes)


#: Formats in detection order: (name, recognises the first bytes, reader).
FORMATS: tuple[tuple[str, Callable[[bytes], bool],
                     Callable[[Path, bytes, bool], Recording]], ...] = (
    ("AEDAT 4.0", lambda h: h.startswith(aedat4.AEDAT4_MAGIC), _read_aedat4),
    ("AEDAT 3.x", lambda h: h.startswith(b"#!AER-DAT3."), _read_aedat3),
    ("Prophesee", prophesee.is_prophesee, _read_prophesee),
    ("NumPy .npy", lambda h: h.startswith(NPY_MAGIC) and _npy_holds_events(h), _read_npy),
)
#: First bytes of formats that are known but not read, and what to do instead.
UNSUPPORTED: tuple[tuple[bytes, str], ...] = (
    (b"#!AER-DAT2", "AEDAT 2.0 (jAER); convert it to AEDAT 3.1 or 4.0 with DV or jAER"),
    (b"#!AER-DAT", "this AEDAT version; convert it to AEDAT 3.1 or 4.0 with DV"),
    (b"\x89HDF\r\n\x1a\n", "HDF5 event files (Metavision .hdf5, .h5); export the recording "
                           "to EVT 3.0 .raw with Metavision"),
    (b"PK\x03\x04", "a zip archive (.npz); unpack the event arrays, or pass a frames file to "
                    "the command that takes one"),
)


def detect_format(head: bytes) -> str | None:
    """The name of the format whose first bytes ``head`` are (see the module docstring), or
    None. Known formats that are not read raise FormatError saying what to do."""
    for name, recognises, _read in FORMATS:
        if recognises(head):
            return name
    for magic, what in UNSUPPORTED:
        if head.startswith(magic):
            raise FormatError(f"byte 0: flexspim does not read {what}")
    return None


def _file_head(path: Path) -> bytes:
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder; check the path")
    with open(path, "rb") as f:
        return f.read(HEAD_BYTES)


def read_recording(path: str | os.PathLike[str], *, allow_truncated: bool = False) -> Recording:
    """Read one event file of any format in :data:`FORMATS` (see the module docstring)."""
    p = Path(path)
    if p.is_dir():
        raise FormatError(f"{p}: is a folder; pass one file (read_events reads folders)")
    head = _file_head(p)
    if not head:
        raise FormatError(f"{p}: byte 0: empty file; pass an event recording")
    try:
        name = detect_format(head)
    except FormatError as exc:
        raise FormatError(f"{p}: {exc}") from None
    if name is None:
        raise FormatError(f"{p}: byte 0: not an event file flexspim reads (it starts with "
                          f"{head[:12]!r}); pass AEDAT 4.0, AEDAT 3.1, Prophesee EVT 2.0 / EVT "
                          f"3.0 / DAT or a .npy of events")
    reader = next(r for n, _rec, r in FORMATS if n == name)
    rec = reader(p, p.read_bytes(), allow_truncated)
    check_timestamps(rec.events, f"{p}: {rec.format}")
    return rec


def event_files(folder: str | os.PathLike[str]) -> tuple[list[Path], list[Path]]:
    """``(event files, other files)`` of a folder, each sorted by name: a file is an event file
    when its first bytes are a format of :data:`FORMATS` (hidden files are left out)."""
    base = Path(folder)
    found: list[Path] = []
    other: list[Path] = []
    for p in sorted(base.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        try:
            known = detect_format(_file_head(p)) is not None
        except FormatError:
            known = False
        (found if known else other).append(p)
    return found, other


def read_events(path: str | os.PathLike[str], *,
                allow_truncated: bool = False) -> tuple[Recording, ...]:
    """The recordings at ``path``: one for an event file, one per event file (by name) for a
    folder. Files of a folder whose content is no event format (a ``labels.csv``, notes) are
    skipped; a folder without any event file raises FormatError listing what it holds.

    Example: ``(rec,) = read_events("clip.aedat4")``; ``rec.events``, ``rec.sensor_size``.
    """
    p = Path(path)
    if not p.is_dir():
        return (read_recording(p, allow_truncated=allow_truncated),)
    files, other = event_files(p)
    if not files:
        listed = ", ".join(f.name for f in other[:5]) or "nothing"
        raise FormatError(f"{p}: folder holds no event file (found {listed}); pass a folder of "
                          f"AEDAT, EVT 2.0 / EVT 3.0 / DAT or .npy event files")
    return tuple(read_recording(f, allow_truncated=allow_truncated) for f in files)


def is_event_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file in one of :data:`FORMATS` (by content)."""
    p = Path(path)
    try:
        return p.is_file() and detect_format(_file_head(p)) is not None
    except (FormatError, OSError):
        return False


__all__ = ["EVENT_DTYPE", "FORMATS", "Recording", "detect_format", "event_files",
           "is_event_file", "read_events", "read_recording"]
