"""AEDAT 4 recordings (iniVation DV): the framing is checked here, the packets are decoded by
the ``aedat`` library (ICNS, Rust).

The layout (iniVation, "AEDAT 4.0" file format; dv-processing ``dv-processing/io``):

- the line ``#!AER-DAT4.0\\r\\n`` (14 bytes);
- int32 little-endian ``n``, then ``n`` bytes: a FlatBuffers ``IOHeader`` table (file identifier
  ``IOHE``) with ``compression`` (int32: 0 none, 1 LZ4, 2 LZ4 high, 3 Zstd, 4 Zstd high),
  ``dataTablePosition`` (int64 byte offset of the packet index, -1 when the file has none) and
  ``infoNode`` (XML: ``<node name="outInfo">`` holds one ``<node name="ID">`` per stream, with
  ``typeIdentifier`` ``EVTS`` for polarity events and ``info/sizeX``, ``info/sizeY``);
- packets, each int32 ``streamId``, int32 ``size``, then ``size`` bytes (a FlatBuffers table,
  compressed as the header says), up to ``dataTablePosition`` or the end of the file;
- at ``dataTablePosition``, the packet index (``FileDataTable``), to the end of the file.

:func:`check_framing` walks the packet headers (8 bytes each, no payload is decoded) so that a
damaged or cut file is named with its byte offset before the decoder runs, and so that the
complete packets before a cut can be kept: :func:`read_aedat4` with ``allow_truncated=True``
hands the decoder a copy that ends after the last complete packet, with ``dataTablePosition``
set to -1 (the value DV writes while a recording is open). Why ``aedat`` and not
dv-processing's reader: on damaged input ``aedat`` raises an error, while dv-processing 2.0.4
hangs on some single-bit flips inside an LZ4 packet (docs/data.md).
"""

from __future__ import annotations

import os
import struct
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flexspim.data.events import EVENT_DTYPE
from flexspim.errors import FormatError

#: The first line of every AEDAT 4 file.
AEDAT4_MAGIC = b"#!AER-DAT4.0\r\n"
FORMAT_NAME = "AEDAT 4.0"
_SIZE = struct.Struct("<i")
_PACKET = struct.Struct("<ii")
#: IOHeader fields, in FlatBuffers vtable order.
_COMPRESSION, _DATA_TABLE, _INFO = 0, 1, 2
_COMPRESSIONS = {0: "none", 1: "LZ4", 2: "LZ4 high", 3: "Zstd", 4: "Zstd high"}


@dataclass(frozen=True)
class Stream:
    """One stream the header declares: its id, type identifier (``EVTS`` = polarity events) and
    size in pixels (None when the header gives none)."""

    stream_id: int
    type_id: str
    size: tuple[int, int] | None


@dataclass(frozen=True)
class Framing:
    """What the packet headers say: the streams, the compression, the byte offset and patchable
    position of ``dataTablePosition``, the packets that are complete, and where a cut is.

    ``data_end``: the end of the last complete packet; ``cut_at``: the byte offset of the first
    incomplete packet, or of the end of file when the packet index it announces is missing
    (None for an intact file); ``dropped_bytes``: the bytes of a partial packet after
    ``data_end``.
    """

    streams: tuple[Stream, ...]
    compression: str
    data_table: int
    data_table_field: int | None
    n_packets: int
    data_end: int
    cut_at: int | None
    dropped_bytes: int


class _Reader:
    """Bounds-checked little-endian reads inside ``[lo, hi)`` of ``buf``; errors name the byte."""

    def __init__(self, buf: bytes, lo: int, hi: int, where: str) -> None:
        self.buf, self.lo, self.hi, self.where = buf, lo, hi, where

    def unpack(self, fmt: str, pos: int) -> Any:
        size = struct.calcsize(fmt)
        if pos < self.lo or pos + size > self.hi:
            raise FormatError(f"{self.where}: {FORMAT_NAME}: byte {max(pos, 0)}: the file header "
                              f"(IOHeader) points outside itself; the header is corrupt")
        return struct.unpack_from(fmt, self.buf, pos)[0]


def _table_fields(r: _Reader, table: int) -> list[int]:
    """Absolute byte offsets of a FlatBuffers table's fields (0 for an absent field)."""
    vtable = table - r.unpack("<i", table)
    vsize = r.unpack("<H", vtable)
    if vsize < 4 or vsize % 2:
        raise FormatError(f"{r.where}: {FORMAT_NAME}: byte {vtable}: corrupt IOHeader vtable "
                          f"(size {vsize})")
    rel = [r.unpack("<H", vtable + 4 + 2 * i) for i in range((vsize - 4) // 2)]
    return [table + o if o else 0 for o in rel]


def _parse_info(xml_text: str, where: str, at: int) -> tuple[Stream, ...]:
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {at}: the stream description (XML) in "
                          f"the header is not valid XML ({exc}); the header is corrupt") from None
    out_info = next((n for n in root.iter("node") if n.get("name") == "outInfo"), None)
    streams = []
    for node in [] if out_info is None else out_info.findall("node"):
        attrs = {a.get("key"): (a.text or "") for a in node.findall("attr")}
        info = {a.get("key"): (a.text or "") for a in node.findall("node/attr")}
        try:
            sid = int(node.get("name", ""))
            size = (int(info["sizeX"]), int(info["sizeY"])) if "sizeX" in info else None
        except (ValueError, KeyError):
            raise FormatError(f"{where}: {FORMAT_NAME}: byte {at}: stream "
                              f"{node.get('name')!r} in the header has a non-integer id or "
                              f"size; the header is corrupt") from None
        streams.append(Stream(sid, attrs.get("typeIdentifier", ""), size))
    if not streams:
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {at}: the header declares no stream; "
                          f"the header is corrupt")
    return tuple(streams)


def _parse_io_header(buf: bytes, where: str) -> tuple[tuple[Stream, ...], str, int, int | None,
                                                      int]:
    """Streams, compression, dataTablePosition, its byte offset (None when absent) and the
    offset of the first packet."""
    start = len(AEDAT4_MAGIC)
    if len(buf) < start + 4:
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {len(buf)}: the file ends inside the "
                          f"header; it was cut short")
    n = _SIZE.unpack_from(buf, start)[0]
    lo, hi = start + 4, start + 4 + n
    if n < 8 or hi > len(buf):
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {start}: header size {n} does not fit "
                          f"the file ({len(buf)} bytes); the file is cut short or corrupt")
    r = _Reader(buf, lo, hi, where)
    if buf[lo + 4: lo + 8] != b"IOHE":
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {lo + 4}: the header lacks the "
                          f"FlatBuffers identifier 'IOHE'; the header is corrupt")
    fields = _table_fields(r, lo + r.unpack("<I", lo)) + [0, 0, 0]
    code = r.unpack("<i", fields[_COMPRESSION]) if fields[_COMPRESSION] else 0
    if code not in _COMPRESSIONS:
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {fields[_COMPRESSION]}: unknown "
                          f"compression {code}; the header is corrupt")
    table_field = fields[_DATA_TABLE] or None
    data_table = r.unpack("<q", table_field) if table_field else -1
    if not fields[_INFO]:
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {lo}: the header has no stream "
                          f"description (infoNode); the header is corrupt")
    text_at = fields[_INFO] + r.unpack("<I", fields[_INFO])
    length = r.unpack("<I", text_at)
    r.unpack(f"<{length}s", text_at + 4)  # bounds check
    text = bytes(buf[text_at + 4: text_at + 4 + length]).decode("utf-8", errors="replace")
    streams = _parse_info(text, where, text_at)
    if data_table != -1 and data_table < hi:
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {table_field}: dataTablePosition "
                          f"{data_table} lies inside the header; the header is corrupt")
    return streams, _COMPRESSIONS[code], data_table, table_field, hi


def check_framing(buf: bytes, where: str) -> Framing:
    """Walk the header and packet headers of AEDAT 4 bytes (see the module docstring).

    Raises FormatError, naming ``where`` and the byte offset, for a wrong first line, a corrupt
    header, a packet of a stream the header does not declare, a negative packet size or a packet
    that overruns the packet index. A cut file is not an error here: see ``Framing.cut_at``.
    """
    if bytes(buf[: len(AEDAT4_MAGIC)]) != AEDAT4_MAGIC:
        raise FormatError(f"{where}: byte 0: not an AEDAT 4.0 file (it does not start with "
                          f"'#!AER-DAT4.0')")
    streams, compression, data_table, table_field, off = _parse_io_header(buf, where)
    ids = {s.stream_id for s in streams}
    n = len(buf)
    end = data_table if 0 <= data_table <= n else n
    count = 0
    while off < end:
        if off + _PACKET.size > end:
            break
        sid, size = _PACKET.unpack_from(buf, off)
        if sid not in ids or size < 0:
            raise FormatError(f"{where}: {FORMAT_NAME}: byte {off}: packet of stream {sid} with "
                              f"size {size}; the header declares streams {sorted(ids)}; the file "
                              f"is damaged")
        if off + _PACKET.size + size > end:
            if end < n:
                raise FormatError(f"{where}: {FORMAT_NAME}: byte {off}: packet of {size} bytes "
                                  f"overruns the packet index at byte {data_table}; the file is "
                                  f"damaged")
            break
        off += _PACKET.size + size
        count += 1
    if off < end < n:
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {off}: {end - off} bytes before the "
                          f"packet index at byte {end} are no packet; the file is damaged")
    cut = None if off == end and data_table <= n else off
    return Framing(streams=streams, compression=compression, data_table=data_table,
                   data_table_field=table_field, n_packets=count, data_end=off, cut_at=cut,
                   dropped_bytes=end - off)


def _salvage_copy(buf: bytes, framing: Framing, folder: str) -> Path:
    """A copy of the header and complete packets, with dataTablePosition set to -1."""
    head = bytearray(buf[: framing.data_end])
    if framing.data_table_field is not None:
        struct.pack_into("<q", head, framing.data_table_field, -1)
    path = Path(folder) / "salvaged.aedat4"
    path.write_bytes(bytes(head))
    return path


def _decode(path: Path, where: str) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Polarity events of the first event stream, decoded by ``aedat``, and its size."""
    import aedat  # the data extra: only AEDAT 4.0 files need it (flexspim.data loads without)

    try:
        decoder = aedat.Decoder(os.fspath(path))
        streams = decoder.id_to_stream()
        ids = sorted(i for i, s in streams.items() if s.get("type") == "events")
        if not ids:
            raise FormatError(f"{where}: {FORMAT_NAME}: holds no event stream (streams: "
                              f"{', '.join(sorted({s.get('type', '?') for s in streams.values()}))}"
                              f"); pass a recording with polarity events")
        chunks = [p["events"] for p in decoder
                  if p.get("stream_id") == ids[0] and "events" in p]
    except FormatError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the decoder's errors, and Rust panics (BaseException)
        raise FormatError(f"{where}: {FORMAT_NAME}: the aedat decoder failed: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; "
                          f"the file is damaged") from None
    raw = np.concatenate(chunks) if chunks else np.empty(0, dtype=[("t", "<u8"), ("x", "<u2"),
                                                                   ("y", "<u2"), ("on", "?")])
    ev = np.empty(len(raw), dtype=EVENT_DTYPE)
    ev["x"], ev["y"] = raw["x"], raw["y"]
    ev["p"] = raw[raw.dtype.names[3]]
    ev["t"] = raw["t"].astype(np.int64)
    size = streams[ids[0]]
    return ev, ((int(size["width"]), int(size["height"])) if "width" in size else None)


def read_aedat4(path: str | os.PathLike[str], buf: bytes, *,
                allow_truncated: bool = False) -> tuple[np.ndarray, tuple[int, int] | None,
                                                        Framing]:
    """Events ``(x, y, p, t µs)`` of the first polarity stream of an AEDAT 4 file whose bytes
    are ``buf``, the stream's size ``(W, H)`` and the framing.

    A cut file raises FormatError naming the byte offset of the cut, unless ``allow_truncated``:
    then the complete packets before it are decoded (``Framing.dropped_bytes`` says how many
    bytes of a partial packet were left out).
    """
    where = os.fspath(path)
    framing = check_framing(buf, where)
    if framing.cut_at is not None and not allow_truncated:
        missing = (f"the packet index announced at byte {framing.data_table} is missing"
                   if framing.dropped_bytes == 0 else
                   f"the last {framing.dropped_bytes} bytes are a partial packet")
        raise FormatError(f"{where}: {FORMAT_NAME}: byte {framing.cut_at}: the file is cut "
                          f"short ({missing}); pass --allow-truncated (allow_truncated=True) to "
                          f"keep the {framing.n_packets} complete packets before the cut")
    if framing.cut_at is None:
        ev, size = _decode(Path(path), where)
    else:
        with tempfile.TemporaryDirectory(prefix="flexspim-aedat4-") as tmp:
            ev, size = _decode(_salvage_copy(buf, framing, tmp), where)
    return ev, size, framing
