"""Prophesee recordings: EVT 2.0 and EVT 3.0 (``.raw``) and DAT (``.dat``), checked here and
decoded by maintained libraries.

Every file starts with a text header of lines that begin with ``%`` (Metavision ends it with
``% end``). The header says the encoding: ``% evt 2.0`` / ``% evt 3.0`` or
``% format EVT2;...`` / ``% format EVT3;...`` for ``.raw`` files; a DAT file has neither and
says ``% Data file containing ...`` or ``% Version N``. The sensor size comes from
``% geometry WxH``, the ``width=`` / ``height=`` keys of ``% format``, or DAT's ``% Width`` and
``% Height`` lines. After the header (Prophesee, docs.prophesee.ai "Data Encoding Formats"):

- EVT 2.0: 32-bit little-endian words, the type in bits 31-28: CD_OFF 0, CD_ON 1 (bits 27-22
  the 6 low timestamp bits, 21-11 x, 10-0 y), EVT_TIME_HIGH 8 (bits 27-0: timestamp bits 33-6),
  EXT_TRIGGER 10, OTHERS 14, CONTINUED 15; other types are reserved.
- EVT 3.0: 16-bit words, the type in bits 15-12: EVT_ADDR_Y 0, EVT_ADDR_X 2, VECT_BASE_X 3,
  VECT_12 4, VECT_8 5, EVT_TIME_LOW 6, CONTINUED_4 7, EVT_TIME_HIGH 8, EXT_TRIGGER 10, OTHERS 14,
  CONTINUED_12 15; the timestamp is ``TIME_HIGH << 12 | TIME_LOW`` (24 bits, looping).
- DAT: one byte event type (0 = 2-D events, 12 = CD events) and one byte event size (8), then
  8-byte events: uint32 timestamp (µs) and uint32 with x in bits 0-13, y in 14-27, p in 28-31.

Decoders: ``expelliarmus`` (the library Tonic uses) for EVT 2.0 and DAT; the ``evt3`` package
(a Rust port of Prophesee's reference decoder) for EVT 3.0, because expelliarmus 1.1.12 adds 4096
µs at every EVT_TIME_HIGH step of a stream written to the specification (its open issue #19:
durations differ from Metavision's). Before a decoder runs, the words are checked here: a
reserved word type (a damaged file; expelliarmus can hang on those) or a partial last word is
named with its byte offset. ``allow_truncated=True`` keeps the whole words before a cut.
A cut at a word boundary cannot be told from a shorter recording: these formats have no length.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flexspim.data.events import EVENT_DTYPE
from flexspim.errors import FormatError

#: The largest header read (bytes); a longer run of '%' lines is no Prophesee header.
MAX_HEADER = 1 << 20
EVT2, EVT3, DAT = "EVT 2.0", "EVT 3.0", "DAT"
#: Per format: the word size (bytes), the word's type field shift, and its valid word types.
_WORDS: dict[str, tuple[int, int, frozenset[int]]] = {
    EVT2: (4, 28, frozenset({0x0, 0x1, 0x8, 0xA, 0xE, 0xF})),
    EVT3: (2, 12, frozenset({0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0xA, 0xE, 0xF})),
    DAT: (8, 0, frozenset()),
}
#: DAT event types (first byte after the header) that carry (x, y, p) events, and their size.
DAT_TYPES = {0x00: "2-D events", 0x0C: "CD events"}
DAT_EVENT_SIZE = 8
_CHUNK_WORDS = 1 << 22


@dataclass(frozen=True)
class PropheseeHeader:
    """A Prophesee header: the format (``EVT 2.0``, ``EVT 3.0`` or ``DAT``), its ``%`` lines,
    the sensor size (None when the header gives none) and the byte offset of the first event
    word (for DAT, after the type and size bytes)."""

    format: str
    lines: tuple[str, ...]
    sensor: tuple[int, int] | None
    data_offset: int


def is_prophesee(head: bytes) -> bool:
    """Whether ``head`` starts like a Prophesee file (a ``%`` header line)."""
    return head[:1] == b"%"


def _header_lines(buf: bytes, where: str) -> tuple[list[str], int]:
    lines: list[str] = []
    pos = 0
    while pos < len(buf) and buf[pos: pos + 1] == b"%":
        end = buf.find(b"\n", pos, pos + MAX_HEADER)
        if end < 0 or end > MAX_HEADER:
            raise FormatError(f"{where}: Prophesee: byte {pos}: a header line that never ends; "
                              f"the file is cut short or not a Prophesee recording")
        line = bytes(buf[pos:end]).rstrip(b"\r").decode("latin-1")
        pos = end + 1
        if line.strip() == "% end":
            break
        lines.append(line)
    return lines, pos


def _format_of(lines: list[str], where: str) -> str:
    text = {ln[1:].strip().lower() for ln in lines}
    evt = next((t.split()[1] for t in text if t.startswith("evt ") and len(t.split()) > 1), None)
    fmt = next((t.split()[1].split(";")[0] for t in text if t.startswith("format ")
                and len(t.split()) > 1), None)
    named = {"2.0": EVT2, "evt2": EVT2, "3.0": EVT3, "evt3": EVT3}
    for key in (fmt, evt):
        if key is not None:
            if key not in named:
                raise FormatError(f"{where}: Prophesee: byte 0: encoding {key!r} is not read "
                                  f"(flexspim reads EVT 2.0, EVT 3.0 and DAT); convert the "
                                  f"recording with Metavision")
            return named[key]
    if any(t.startswith(("data file containing", "version")) for t in text):
        return DAT
    raise FormatError(f"{where}: Prophesee: byte 0: the header names no encoding (no '% evt', "
                      f"'% format' or DAT '% Version' line), so EVT 2.0, EVT 3.0 and DAT cannot "
                      f"be told apart")


def _sensor_of(lines: list[str]) -> tuple[int, int] | None:
    keys: dict[str, int] = {}
    for line in lines:
        body = line[1:].strip()
        m = re.fullmatch(r"geometry\s+(\d+)\s*x\s*(\d+)", body, re.IGNORECASE)
        if m:
            keys["width"], keys["height"] = int(m.group(1)), int(m.group(2))
        for k, v in re.findall(r"(width|height)\s*[=\s]\s*(\d+)", body, re.IGNORECASE):
            keys.setdefault(k.lower(), int(v))
    if keys.get("width", 0) > 0 and keys.get("height", 0) > 0:
        return (keys["width"], keys["height"])
    return None


def parse_header(buf: bytes, where: str) -> PropheseeHeader:
    """The header of Prophesee bytes (see the module docstring); FormatError names the byte."""
    lines, pos = _header_lines(buf, where)
    if not lines:
        raise FormatError(f"{where}: Prophesee: byte 0: no '%' header line")
    fmt = _format_of(lines, where)
    if fmt == DAT:
        if len(buf) < pos + 2:
            raise FormatError(f"{where}: {DAT}: byte {pos}: the file ends before the event type "
                              f"and size bytes; it was cut short")
        etype, esize = buf[pos], buf[pos + 1]
        if etype not in DAT_TYPES or esize != DAT_EVENT_SIZE:
            raise FormatError(f"{where}: {DAT}: byte {pos}: event type {etype:#04x} of size "
                              f"{esize} bytes; flexspim reads DAT files of "
                              f"{' or '.join(DAT_TYPES.values())} (8 bytes)")
        pos += 2
    return PropheseeHeader(fmt, tuple(lines), _sensor_of(lines), pos)


def check_words(buf: bytes, header: PropheseeHeader, where: str) -> tuple[int, int]:
    """``(complete_bytes, dropped_bytes)`` of the event words after the header; a reserved word
    type raises FormatError naming its byte offset."""
    size, shift, valid = _WORDS[header.format]
    body = len(buf) - header.data_offset
    complete = body - body % size
    if header.format == DAT:
        return complete, body - complete
    table = np.zeros(16, dtype=bool)
    table[list(valid)] = True
    dtype = np.dtype(f"<u{size}")
    n_words = complete // size
    for first in range(0, n_words, _CHUNK_WORDS):
        count = min(_CHUNK_WORDS, n_words - first)
        words = np.frombuffer(buf, dtype=dtype, count=count,
                              offset=header.data_offset + first * size)
        bad = ~table[(words >> shift) & 0xF]
        if bad.any():
            i = first + int(np.flatnonzero(bad)[0])
            kind = int(words[i - first] >> shift) & 0xF
            raise FormatError(f"{where}: {header.format}: byte {header.data_offset + i * size}: "
                              f"word type {kind:#x} is reserved in {header.format}; the file is "
                              f"damaged")
    return complete, body - complete


@contextlib.contextmanager
def _c_stderr() -> Iterator[list[str]]:
    """Capture what C code writes to file descriptor 2 (expelliarmus reports there)."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines += [s.strip() for s in tmp.read().decode("utf-8", "replace").splitlines()
                      if s.strip()]


def _expelliarmus(path: Path, fmt: str, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    from expelliarmus import Wizard  # the data extra: only EVT 2.0 / DAT files need it

    encoding = "evt2" if fmt == EVT2 else "dat"
    try:
        with _c_stderr() as said:
            raw = Wizard(encoding=encoding, fpath=path).read()
    except (ValueError, RuntimeError, OSError) as exc:
        detail = "; ".join([*said, str(exc)])
        raise FormatError(f"{where}: {fmt}: the expelliarmus decoder failed ({detail}); the file "
                          f"is damaged") from None
    notes = tuple(dict.fromkeys(s for s in said if "WARNING" in s.upper()))
    if raw is None:
        return np.empty(0, dtype=EVENT_DTYPE), notes
    ev = np.empty(len(raw), dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = raw["x"], raw["y"], raw["p"] != 0, raw["t"]
    return ev, notes


def _evt3(body: bytes, sensor: tuple[int, int] | None) -> np.ndarray:
    import evt3  # the data extra: only EVT 3.0 files need it

    w, h = sensor or (1280, 720)
    dec = evt3.decode_bytes(body, w, h)
    ev = np.empty(len(dec), dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = dec.x, dec.y, dec.p != 0
    ev["t"] = dec.t.astype(np.int64)
    return ev


def read_prophesee(path: str | os.PathLike[str], buf: bytes, *, allow_truncated: bool = False
                   ) -> tuple[np.ndarray, PropheseeHeader, int, tuple[str, ...]]:
    """Events (t in µs), header, dropped bytes and decoder notes of a Prophesee file whose bytes
    are ``buf`` (see the module docstring). A partial last word raises FormatError naming its
    byte offset unless ``allow_truncated``."""
    where = os.fspath(path)
    header = parse_header(buf, where)
    complete, dropped = check_words(buf, header, where)
    size = _WORDS[header.format][0]
    if dropped and not allow_truncated:
        raise FormatError(f"{where}: {header.format}: byte {header.data_offset + complete}: the "
                          f"file is cut short (the last {dropped} bytes are a partial {size}-byte "
                          f"word); pass --allow-truncated (allow_truncated=True) to keep the "
                          f"{complete // size} whole words before the cut")
    end = header.data_offset + complete
    if header.format == EVT3:
        return _evt3(bytes(buf[header.data_offset:end]), header.sensor), header, dropped, ()
    suffix = ".dat" if header.format == DAT else ".raw"
    if not dropped and Path(path).suffix == suffix:
        ev, notes = _expelliarmus(Path(path), header.format, where)
        return ev, header, dropped, notes
    with tempfile.TemporaryDirectory(prefix="flexspim-prophesee-") as tmp:
        target = Path(tmp) / f"recording{suffix}"  # expelliarmus wants its own suffixes
        if dropped:
            target.write_bytes(bytes(buf[:end]))
        else:  # expelliarmus resolves symbolic links, so a hard link or a copy
            try:
                os.link(path, target)
            except OSError:
                target.write_bytes(bytes(buf))
        ev, notes = _expelliarmus(target, header.format, where)
    return ev, header, dropped, notes
