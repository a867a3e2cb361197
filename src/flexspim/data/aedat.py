"""AEDAT 3.1 reader and writer (polarity events), vectorised with NumPy.

The format, as specified by iniVation (docs.inivation.com, "AEDAT 3.1"; libcaer
``events/common.h`` and ``events/polarity.h``):

- a text header of lines that start with ``#`` and end with ``\\r\\n``; the first line is
  ``#!AER-DAT3.1``, the last ``#!END-HEADER``;
- then packets, each a 28-byte little-endian header — ``eventType`` int16, ``eventSource`` int16,
  ``eventSize`` int32 (bytes per event), ``eventTSOffset`` int32, ``eventTSOverflow`` int32,
  ``eventCapacity`` int32, ``eventNumber`` int32, ``eventValid`` int32 — followed by
  ``eventNumber * eventSize`` bytes of events (files store packets compacted);
- polarity events (``eventType`` 1) are 8 bytes: uint32 ``data`` (bit 0 valid, bit 1 polarity,
  bits 2–16 y, bits 17–31 x) and int32 ``timestamp`` (µs); the full timestamp is
  ``(eventTSOverflow << 31) | timestamp``.

:func:`read_aedat` keeps polarity packets of every source, drops events whose valid bit is 0,
and skips packets of other types. It parses packet headers in a Python loop (one per packet) and
decodes all events with one concatenation, so its cost is one pass over the event bytes.
Tonic's AEDAT 3 reader (``tonic.io.read_dvs_ibm``) differs: it does not run (it unpacks three
header values into two), and its parts read ``eventCapacity`` events of every packet type, keep
invalid events, and ignore the timestamp overflow.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flexspim._io import write_bytes_atomic
from flexspim.data.events import EVENT_DTYPE, as_events
from flexspim.errors import ConfigError, FormatError

#: The format line AEDAT 3.1 files start with, and the line ending the header.
AEDAT_MAGIC = b"#!AER-DAT"
END_HEADER = b"#!END-HEADER"

#: Packet header: eventType, eventSource, eventSize, eventTSOffset, eventTSOverflow,
#: eventCapacity, eventNumber, eventValid (little-endian, 28 bytes).
PACKET_HEADER = struct.Struct("<hhiiiiii")
POLARITY_EVENT = 1
POLARITY_EVENT_SIZE = 8
POLARITY_TS_OFFSET = 4
_POLARITY_DTYPE = np.dtype([("data", "<u4"), ("ts", "<i4")])

#: Sensor sizes (W, H, P) of iniVation sensors, by the name in the ``#Source`` header line
#: (iniVation product documentation).
KNOWN_SENSORS: dict[str, tuple[int, int, int]] = {
    "DVS128": (128, 128, 2),
    "DAVIS240": (240, 180, 2),
    "DAVIS240A": (240, 180, 2),
    "DAVIS240B": (240, 180, 2),
    "DAVIS240C": (240, 180, 2),
    "DAVIS346": (346, 260, 2),
    "DAVIS346B": (346, 260, 2),
    "DAVIS640": (640, 480, 2),
    "DVXPLORER": (640, 480, 2),
}


@dataclass(frozen=True)
class AedatHeader:
    """The text header of an AEDAT 3.x file.

    ``version`` is the text after ``#!AER-DAT`` (``"3.1"``); ``source`` the device name of the
    first ``#Source`` line (``"DVS128"``) or None; ``data_offset`` the byte offset of the first
    packet.
    """

    version: str
    source: str | None
    lines: tuple[str, ...]
    data_offset: int

    @property
    def sensor_size(self) -> tuple[int, int, int] | None:
        """(W, H, 2) of a known source device, else None."""
        if self.source is None:
            return None
        return KNOWN_SENSORS.get(self.source.upper().split("-")[0])


@dataclass(frozen=True)
class PacketSummary:
    """Counts from the packet headers of an AEDAT 3.x file (no event is decoded)."""

    n_packets: int
    n_polarity_packets: int
    n_polarity_events: int
    n_valid_polarity_events: int


def parse_header(buf: bytes, where: str | os.PathLike[str]) -> AedatHeader:
    """Parse the text header at the start of ``buf``; FormatError names file and byte offset."""
    if buf[: len(AEDAT_MAGIC)] != AEDAT_MAGIC:
        raise FormatError(
            f"{where}: byte 0: not an AEDAT file (it does not start with '#!AER-DAT'); "
            f"pass an AEDAT 3.1 recording"
        )
    lines: list[str] = []
    pos = 0
    while True:
        if pos >= len(buf):
            raise FormatError(
                f"{where}: byte {pos}: the header ends without '#!END-HEADER'; the file is "
                f"truncated or not AEDAT 3.1"
            )
        if buf[pos : pos + 1] != b"#":
            raise FormatError(
                f"{where}: byte {pos}: header line does not start with '#' and no "
                f"'#!END-HEADER' came before it; the header is corrupt"
            )
        end = buf.find(b"\n", pos)
        if end < 0:
            raise FormatError(
                f"{where}: byte {pos}: the header line never ends (no '\\r\\n') and no "
                f"'#!END-HEADER' follows; the file is truncated"
            )
        line = buf[pos:end].rstrip(b"\r")
        pos = end + 1
        if line == END_HEADER:
            break
        lines.append(line.decode("latin-1"))
    version = lines[0][len(AEDAT_MAGIC) :].strip() if lines else ""
    if not version.startswith("3."):
        raise FormatError(
            f"{where}: byte 0: AEDAT version {version or '?'}; this reader reads AEDAT 3.x "
            f"(convert the recording with jAER or DV to AEDAT 3.1)"
        )
    source = None
    for line in lines:
        if line.startswith("#Source"):
            source = line.split(":", 1)[1].strip() if ":" in line else None
            break
    return AedatHeader(version=version, source=source, lines=tuple(lines), data_offset=pos)


def _packets(
    buf: bytes, start: int, where: str | os.PathLike[str]
) -> list[tuple[int, int, int, int, int]]:
    """Walk the packet headers from ``start``; return ``(offset, type, number, valid, overflow)``
    per packet after checking each against the specification."""
    return walk_packets(buf, start, where)[0]


def walk_packets(
    buf: bytes, start: int, where: str | os.PathLike[str], *, stop_at_cut: bool = False
) -> tuple[list[tuple[int, int, int, int, int]], int]:
    """The packets of :func:`_packets` and the byte offset where the last complete one ends.

    A packet cut short by the end of the file raises FormatError, or with ``stop_at_cut`` ends
    the walk there (the bytes from the returned offset on are a partial packet)."""
    out: list[tuple[int, int, int, int, int]] = []
    n = len(buf)
    off = start
    unpack = PACKET_HEADER.unpack_from
    size = PACKET_HEADER.size
    while off < n:
        if off + size > n:
            if stop_at_cut:
                break
            raise FormatError(
                f"{where}: byte {off}: truncated packet header ({n - off} of {size} bytes); "
                f"the file was cut short, copy it again"
            )
        etype, _src, esize, tsoff, overflow, capacity, number, valid = unpack(buf, off)
        if esize <= 0 or number < 0 or capacity < number or not 0 <= valid <= number:
            raise FormatError(
                f"{where}: byte {off}: corrupt packet header (eventSize {esize}, eventCapacity "
                f"{capacity}, eventNumber {number}, eventValid {valid}); the file is damaged"
            )
        bad_layout = esize != POLARITY_EVENT_SIZE or tsoff != POLARITY_TS_OFFSET
        if etype == POLARITY_EVENT and bad_layout:
            raise FormatError(
                f"{where}: byte {off}: polarity packet with eventSize {esize} and eventTSOffset "
                f"{tsoff}, the specification says 8 and 4; the file is damaged or not AEDAT 3.1"
            )
        if overflow < 0:
            raise FormatError(
                f"{where}: byte {off}: negative eventTSOverflow {overflow}; the file is damaged"
            )
        end = off + size + number * esize
        if end > n:
            if stop_at_cut:
                break
            raise FormatError(
                f"{where}: byte {off}: truncated packet: its {number} events of {esize} bytes "
                f"need {number * esize} bytes, {n - off - size} remain; the file was cut short"
            )
        out.append((off, etype, number, valid, overflow))
        off = end
    return out, off


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    p = Path(path)
    if p.is_dir():
        raise FormatError(f"{p}: is a folder, expected an AEDAT 3.1 file")
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{p}: no such file; check the path") from None


def read_aedat_header(path: str | os.PathLike[str]) -> AedatHeader:
    """The text header of an AEDAT 3.x file."""
    if not Path(path).is_file():
        _read_bytes(path)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if END_HEADER not in head:
        head = _read_bytes(path)
    return parse_header(head, path)


def summarize_aedat(path: str | os.PathLike[str]) -> tuple[AedatHeader, PacketSummary]:
    """Header and packet counts of an AEDAT 3.x file, from the packet headers only."""
    p = Path(path)
    if p.is_dir() or not p.exists():
        _read_bytes(p)
    if p.stat().st_size == 0:
        raise FormatError(f"{p}: byte 0: empty file; pass an AEDAT 3.1 recording")
    with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        header = parse_header(buf, p)  # type: ignore[arg-type]
        pk = _packets(buf, header.data_offset, p)  # type: ignore[arg-type]
    pol = [p for p in pk if p[1] == POLARITY_EVENT]
    return header, PacketSummary(
        n_packets=len(pk),
        n_polarity_packets=len(pol),
        n_polarity_events=sum(p[2] for p in pol),
        n_valid_polarity_events=sum(p[3] for p in pol),
    )


def decode_aedat(buf: bytes, where: str | os.PathLike[str] = "<bytes>") -> np.ndarray:
    """Decode the bytes of an AEDAT 3.x file into :data:`EVENT_DTYPE` events (t in µs).

    Events appear in file order; invalid events (valid bit 0) and non-polarity packets are left
    out. Raises FormatError naming ``where`` and the byte offset of what is wrong.
    """
    header = parse_header(buf, where)
    pk = [p for p in _packets(buf, header.data_offset, where) if p[1] == POLARITY_EVENT and p[2]]
    if not pk:
        return np.empty(0, dtype=EVENT_DTYPE)
    offsets = np.array([p[0] for p in pk], dtype=np.int64)
    counts = np.array([p[2] for p in pk], dtype=np.int64)
    overflows = np.array([p[4] for p in pk], dtype=np.int64)
    hsize = PACKET_HEADER.size
    # one 8-byte word per event: a plain memory copy per packet, then a structured view
    raw = np.concatenate(
        [
            np.frombuffer(buf, dtype="<u8", count=int(c), offset=int(o) + hsize)
            for o, c in zip(offsets, counts, strict=True)
        ]
    ).view(_POLARITY_DTYPE)
    data = raw["data"]
    ts = raw["ts"]
    if ts.size and int(ts.min()) < 0:
        i = int(np.flatnonzero(ts < 0)[0])
        k = int(np.searchsorted(np.cumsum(counts), i, side="right"))
        j = i - int(counts[:k].sum())
        byte = int(offsets[k]) + hsize + POLARITY_EVENT_SIZE * j + POLARITY_TS_OFFSET
        raise FormatError(
            f"{where}: byte {byte}: negative polarity timestamp {int(ts[i])}; the file is damaged"
        )
    keep: np.ndarray | None = None
    valid = np.bitwise_and(data, 1, dtype=np.uint32)
    if int(np.count_nonzero(valid)) != len(data):
        keep = valid.astype(bool)
        data, ts = data[keep], ts[keep]
    ev = np.empty(len(data), dtype=EVENT_DTYPE)
    ev["x"] = data >> 17  # bits 17-31: 15 bits, no mask needed
    ev["y"] = (data >> 2) & 0x7FFF
    ev["p"] = (data & 2) != 0
    if overflows.any():
        over = np.repeat(overflows << 31, counts)
        ev["t"] = (over if keep is None else over[keep]) | ts
    else:
        ev["t"] = ts
    return ev


def read_aedat(path: str | os.PathLike[str]) -> np.ndarray:
    """Read the polarity events of an AEDAT 3.1 file as :data:`EVENT_DTYPE` (t in µs).

    Implements the AEDAT 3.1 specification (see the module docstring): packet type, event
    number, valid bit and timestamp overflow are honoured. A truncated or corrupt file, a wrong
    header or a wrong polarity event size raises FormatError naming the file and byte offset.
    """
    return decode_aedat(_read_bytes(path), path)


def encode_aedat(
    events: np.ndarray, *, source: str = "DVS128", packet_events: int = 4096
) -> bytes:
    """AEDAT 3.1 bytes for ``events``: one polarity packet per ``packet_events`` events (default
    4096, a packet size jAER and DV write) that share one timestamp overflow; all valid."""
    ev = as_events(events)
    if packet_events < 1:
        raise ConfigError(f"packet_events = {packet_events}; use a positive event count")
    for field, hi in (("x", 0x7FFF), ("y", 0x7FFF), ("t", (1 << 62) - 1)):
        col = ev[field]
        if len(col) and (int(col.min()) < 0 or int(col.max()) > hi):
            raise ConfigError(
                f"events.{field}: values must lie in [0, {hi}] to be written to AEDAT 3.1"
            )
    t = ev["t"].astype(np.int64)
    overflow = t >> 31
    data = (
        (ev["x"].astype(np.uint32) << 17)
        | (ev["y"].astype(np.uint32) << 2)
        | (ev["p"].astype(np.uint32) << 1)
        | np.uint32(1)
    )
    body = np.empty(len(ev), dtype=_POLARITY_DTYPE)
    body["data"] = data
    body["ts"] = (t & 0x7FFFFFFF).astype(np.int32)
    head = (
        f"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: {source}\r\n"
        f"#Start-Time: 1970-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n"
    ).encode("ascii")
    chunks = [head]
    cuts = np.flatnonzero(np.diff(overflow)) + 1
    bounds = [0, *cuts.tolist(), len(ev)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        for s in range(a, b, packet_events):
            e = min(s + packet_events, b)
            n = e - s
            chunks.append(
                PACKET_HEADER.pack(
                    POLARITY_EVENT, 1, POLARITY_EVENT_SIZE, POLARITY_TS_OFFSET,
                    int(overflow[s]), n, n, n,
                )
            )
            chunks.append(body[s:e].tobytes())
    return b"".join(chunks)


def write_aedat(
    path: str | os.PathLike[str],
    events: np.ndarray,
    *,
    source: str = "DVS128",
    packet_events: int = 4096,
) -> None:
    """Write ``events`` as an AEDAT 3.1 file (atomically); :func:`read_aedat` reads it back."""
    write_bytes_atomic(path, encode_aedat(events, source=source, packet_events=packet_events))
