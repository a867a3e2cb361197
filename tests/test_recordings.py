"""flexspim.data.read_events: every format written by its own library (or, for EVT 3.0, from the
specification) and read back event-exact; detection by content; truncated and damaged files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from event_files import (
    encode_dat,
    encode_evt2,
    encode_evt3,
    random_events,
    read_aedat4_with_dv,
    save_expelliarmus,
    write_aedat4,
)

from flexspim.data import (
    EVENT_DTYPE,
    Recording,
    detect_format,
    encode_aedat,
    make_events,
    read_events,
    read_recording,
)
from flexspim.data.aedat4 import check_framing
from flexspim.errors import FormatError

GEN4 = (1280, 720)
DAVIS = (346, 260)


def same(rec: Recording, events: np.ndarray) -> bool:
    return rec.events.dtype == EVENT_DTYPE and np.array_equal(rec.events, events)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    """One file per format (and AEDAT 4 compression), with the events written into it."""
    d = tmp_path_factory.mktemp("recordings")
    out: dict[str, tuple[Path, np.ndarray]] = {}
    ev4 = random_events(2500, DAVIS, 1, t0=1_700_000_000_000_000)
    for comp in ("NONE", "LZ4", "ZSTD"):
        write_aedat4(d / f"dv_{comp}.aedat4", ev4, DAVIS, compression=comp, packet_events=600)
        out[f"aedat4-{comp}"] = (d / f"dv_{comp}.aedat4", ev4)
    ev = random_events(2000, GEN4, 2, t0=20_000_000, span_us=3_000_000)
    save_expelliarmus(d / "expelliarmus.raw", ev, "evt2")
    save_expelliarmus(d / "expelliarmus.dat", ev, "dat")
    out["evt2-expelliarmus"] = (d / "expelliarmus.raw", ev)
    out["dat-expelliarmus"] = (d / "expelliarmus.dat", ev)
    (d / "spec2.raw").write_bytes(encode_evt2(ev, GEN4))
    (d / "spec.dat").write_bytes(encode_dat(ev, GEN4))
    out["evt2-spec"] = (d / "spec2.raw", ev)
    out["dat-spec"] = (d / "spec.dat", ev)
    dense = random_events(3000, GEN4, 3, span_us=400_000, same_time=True)
    (d / "vectors.raw").write_bytes(encode_evt3(dense, GEN4))
    out["evt3-vectors"] = (d / "vectors.raw", dense)
    long = random_events(600, GEN4, 4, t0=1000, span_us=40_000_000)  # > 2**24 µs: loops
    (d / "long.raw").write_bytes(encode_evt3(long, GEN4))
    out["evt3-loops"] = (d / "long.raw", long)
    (d / "v31.aedat").write_bytes(encode_aedat(ev4[:900], source="DAVIS346", packet_events=200))
    out["aedat3"] = (d / "v31.aedat", ev4[:900])
    np.save(d / "events.npy", ev)
    out["npy"] = (d / "events.npy", ev)
    return out


FORMAT_OF = {"aedat4": "AEDAT 4.0", "evt2": "EVT 2.0", "evt3": "EVT 3.0", "dat": "DAT",
             "aedat3": "AEDAT 3.1", "npy": "NumPy .npy"}


@pytest.mark.parametrize("key", ["aedat4-NONE", "aedat4-LZ4", "aedat4-ZSTD", "evt2-expelliarmus",
                                 "evt2-spec", "dat-expelliarmus", "dat-spec", "evt3-vectors",
                                 "evt3-loops", "aedat3", "npy"])
def test_files_read_back_event_exact(files: dict, key: str) -> None:
    path, events = files[key]
    (rec,) = read_events(path)
    assert rec.format == FORMAT_OF[key.split("-")[0]]
    assert same(rec, events) and rec.dropped_bytes == 0 and rec.notes == ()
    expected_size = {"aedat4": (*DAVIS, 2), "aedat3": (*DAVIS, 2), "evt2-spec": (*GEN4, 2),
                     "dat-spec": (*GEN4, 2), "evt3": (*GEN4, 2)}
    size = next((v for k, v in expected_size.items() if key.startswith(k)), None)
    assert rec.sensor_size == size


def test_aedat4_agrees_with_dv_processing_and_has_packets(files: dict) -> None:
    path, events = files["aedat4-LZ4"]
    assert np.array_equal(read_aedat4_with_dv(path), events)
    framing = check_framing(path.read_bytes(), str(path))
    assert framing.n_packets == 5 and framing.compression == "LZ4" and framing.cut_at is None
    assert [s.type_id for s in framing.streams] == ["EVTS"] and framing.streams[0].size == DAVIS


def test_evt3_file_uses_vectors_and_time_high_loops(files: dict) -> None:
    words = np.frombuffer(files["evt3-vectors"][0].read_bytes().split(b"% end\n")[1], "<u2")
    assert np.count_nonzero(words >> 12 == 0x4) > 50  # VECT_12 words carry many of the events
    assert int(files["evt3-loops"][1]["t"].max()) > 1 << 24


def test_format_is_detected_from_content_not_name(files: dict, tmp_path: Path) -> None:
    for key, wrong in (("aedat4-LZ4", "x.dat"), ("evt3-vectors", "x.aedat"), ("dat-spec", "x.raw"),
                       ("evt2-spec", "x.npy"), ("aedat3", "x.aedat4"), ("npy", "x.bin")):
        path, events = files[key]
        (tmp_path / wrong).write_bytes(path.read_bytes())
        (rec,) = read_events(tmp_path / wrong)
        assert same(rec, events) and rec.format == FORMAT_OF[key.split("-")[0]], key
    assert detect_format(b"#!AER-DAT4.0\r\n") == "AEDAT 4.0"
    assert detect_format(b"hello") is None
    cases = [(b"\x89HDF\r\n\x1a\nxxxx", "HDF5"), (b"#!AER-DAT2.0\r\n", "AEDAT 2.0"),
             (b"% evt 2.1\n% end\n", "'2.1' is not read"), (b"% date today\n% end\n",
                                                            "names no encoding"),
             (b"just text", "not an event file"), (b"", "empty file")]
    for body, message in cases:
        (tmp_path / "f.raw").write_bytes(body + b"\x00" * 8 * bool(body))
        with pytest.raises(FormatError, match=message):
            read_recording(tmp_path / "f.raw")


def test_folder_reads_every_event_file_by_name(files: dict, tmp_path: Path) -> None:
    for key, name in (("evt3-vectors", "b_second.raw"), ("aedat4-ZSTD", "a_first.aedat4"),
                      ("npy", "c_third.npy")):
        (tmp_path / name).write_bytes(files[key][0].read_bytes())
    (tmp_path / "labels.csv").write_text("a_first,1\n")
    (tmp_path / ".hidden.raw").write_bytes(b"junk")
    recs = read_events(tmp_path)
    assert [r.name for r in recs] == ["a_first.aedat4", "b_second.raw", "c_third.npy"]
    assert [r.format for r in recs] == ["AEDAT 4.0", "EVT 3.0", "NumPy .npy"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no events here")
    with pytest.raises(FormatError, match="holds no event file.*notes.txt"):
        read_events(empty)


# ------------------------------------------------------------------ truncated and damaged files

def _packet_offsets(buf: bytes) -> list[int]:
    off = 18 + struct.unpack_from("<i", buf, 14)[0]
    out = []
    while off + 8 <= len(buf) and struct.unpack_from("<i", buf, off)[0] == 0:
        out.append(off)
        off += 8 + struct.unpack_from("<i", buf, off + 4)[0]
    return out


def test_truncated_aedat4_keeps_the_complete_packets(files: dict, tmp_path: Path) -> None:
    path, events = files["aedat4-LZ4"]
    buf = path.read_bytes()
    offs = _packet_offsets(buf)
    for cut, dropped in ((offs[3] + 57, 57), (offs[3], 0)):
        f = tmp_path / "cut.aedat4"
        f.write_bytes(buf[:cut])
        with pytest.raises(FormatError, match=rf"AEDAT 4.0: byte {offs[3]}: the file is cut short"
                                              rf".*--allow-truncated.*3 complete packets"):
            read_recording(f)
        rec = read_recording(f, allow_truncated=True)
        assert same(rec, events[:1800]) and rec.dropped_bytes == dropped
        assert "kept the 3 complete packets" in rec.notes[0]


def test_damaged_aedat4_names_the_byte(files: dict, tmp_path: Path) -> None:
    buf = bytearray(files["aedat4-LZ4"][0].read_bytes())
    offs = _packet_offsets(bytes(buf))
    bad = bytearray(buf)
    struct.pack_into("<i", bad, offs[2], 7)  # a stream the header does not declare
    (tmp_path / "a.aedat4").write_bytes(bad)
    with pytest.raises(FormatError, match=rf"byte {offs[2]}: packet of stream 7"):
        read_recording(tmp_path / "a.aedat4")
    bad = bytearray(buf)
    bad[offs[1] + 8: offs[1] + 12] = b"\x00\x00\x00\x00"  # the LZ4 frame's magic number
    (tmp_path / "b.aedat4").write_bytes(bad)
    with pytest.raises(FormatError, match="AEDAT 4.0: the aedat decoder failed"):
        read_recording(tmp_path / "b.aedat4")
    (tmp_path / "c.aedat4").write_bytes(bytes(buf[:20]))
    with pytest.raises(FormatError, match="AEDAT 4.0: byte 14"):
        read_recording(tmp_path / "c.aedat4")


@pytest.mark.parametrize("key, word", [("evt2-spec", 4), ("evt3-vectors", 2), ("dat-spec", 8),
                                       ("npy", 13), ("aedat3", 8)])
def test_truncated_files_keep_whole_words(files: dict, key: str, word: int,
                                          tmp_path: Path) -> None:
    path, events = files[key]
    buf = path.read_bytes()
    f = tmp_path / path.name
    f.write_bytes(buf[:-3])
    with pytest.raises(FormatError, match=r"byte \d+: the file is cut short.*--allow-truncated"):
        read_recording(f)
    rec = read_recording(f, allow_truncated=True)
    assert rec.dropped_bytes > 0 and rec.notes and len(rec.events) < len(events)
    assert np.array_equal(rec.events, events[: len(rec.events)])
    assert len(rec.events) >= len(events) - 200  # only the cut packet (AEDAT 3.1: 200 events)


@pytest.mark.parametrize("key, size, kind", [("evt2-spec", 4, 0x9), ("evt3-vectors", 2, 0xC)])
def test_reserved_word_types_are_damage(files: dict, key: str, size: int, kind: int,
                                        tmp_path: Path) -> None:
    buf = bytearray(files[key][0].read_bytes())
    start = buf.index(b"% end\n") + 6
    at = start + 40 * size
    word = int.from_bytes(buf[at:at + size], "little")
    word = (word & ~(0xF << (8 * size - 4))) | (kind << (8 * size - 4))
    buf[at:at + size] = word.to_bytes(size, "little")
    (tmp_path / "bad.raw").write_bytes(buf)
    with pytest.raises(FormatError, match=rf"byte {at}: word type {kind:#x} is reserved"):
        read_recording(tmp_path / "bad.raw")


def test_npy_recordings_need_event_fields(tmp_path: Path) -> None:
    np.save(tmp_path / "spikes.npy", np.zeros((3, 2, 4)))
    with pytest.raises(FormatError, match="not an event file"):
        read_recording(tmp_path / "spikes.npy")
    np.save(tmp_path / "e.npy", make_events([1], [2], [1], [5]))
    (rec,) = read_events(tmp_path / "e.npy")
    assert rec.sensor_size is None and rec.events["x"].tolist() == [1]
