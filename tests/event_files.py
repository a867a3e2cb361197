"""Event files for the tests, written by the formats' own libraries where a library writes them:

- AEDAT 4.0 by iniVation's dv-processing (``MonoCameraWriter``, the writer DV uses);
- Prophesee EVT 2.0 and DAT by expelliarmus (``Wizard.save``);
- Prophesee EVT 3.0 by the small encoder below, written from Prophesee's specification
  (docs.prophesee.ai, "EVT 3.0 Format"): expelliarmus 1.1.12 writes EVT 3.0 without
  EVT_TIME_HIGH words, so its files lose time at any gap over 4.096 ms, and no other library on
  PyPI writes EVT 3.0. An EVT 2.0 and a DAT encoder from the specification are here too, to read
  files whose header gives the sensor size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flexspim.data import EVENT_DTYPE


def random_events(n: int, size: tuple[int, int], seed: int = 0, *, t0: int = 0,
                  span_us: int = 2_000_000, same_time: bool = False) -> np.ndarray:
    """``n`` events on a ``size`` sensor, in time order; ``same_time`` makes runs of events
    that share a timestamp and row (so EVT 3.0 vectors are used), ordered by (t, y, p, x)."""
    rng = np.random.default_rng(seed)
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"] = rng.integers(0, size[0], n)
    ev["y"] = rng.integers(0, size[1], n)
    ev["p"] = rng.integers(0, 2, n) > 0
    ev["t"] = t0 + np.sort(rng.integers(0, span_us, n))
    if same_time:
        ev["t"] = t0 + (ev["t"] - t0) // 5000 * 5000
        ev["y"] = ev["y"] % 3
    order = np.lexsort((ev["x"], ev["p"], ev["y"], ev["t"]))
    ev = ev[order]
    keep = np.ones(n, dtype=bool)
    same = ((ev["t"][1:] == ev["t"][:-1]) & (ev["y"][1:] == ev["y"][:-1])
            & (ev["p"][1:] == ev["p"][:-1]) & (ev["x"][1:] == ev["x"][:-1]))
    keep[1:] = ~same  # one event per pixel, polarity and timestamp
    return ev[keep]


def write_aedat4(path: Path, events: np.ndarray, size: tuple[int, int], *,
                 compression: str = "LZ4", packet_events: int = 1000) -> None:
    """An AEDAT 4 file by dv-processing: one packet per ``packet_events`` events."""
    import dv_processing as dv

    config = dv.io.MonoCameraWriter.EventOnlyConfig(
        "DVXplorer_test", size, getattr(dv.CompressionType, compression))
    writer = dv.io.MonoCameraWriter(str(path), config)
    for first in range(0, len(events), packet_events):
        store = dv.EventStore()
        for e in events[first:first + packet_events]:
            store.push_back(int(e["t"]), int(e["x"]), int(e["y"]), bool(e["p"]))
        writer.writeEvents(store)
    del writer  # closing writes the packet index


def read_aedat4_with_dv(path: Path) -> np.ndarray:
    """The events dv-processing's own reader returns, as EVENT_DTYPE."""
    import dv_processing as dv

    reader = dv.io.MonoCameraRecording(str(path))
    parts = []
    while reader.isRunning():
        batch = reader.getNextEventBatch()
        if batch is None:
            break
        parts.append(batch.numpy())
    raw = np.concatenate(parts)
    ev = np.empty(len(raw), dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = raw["x"], raw["y"], raw["polarity"] != 0, raw["timestamp"]
    return ev


def save_expelliarmus(path: Path, events: np.ndarray, encoding: str) -> None:
    """EVT 2.0 (``encoding="evt2"``, a ``.raw`` path) or DAT (``"dat"``, ``.dat``) written by
    expelliarmus."""
    from expelliarmus import Wizard

    arr = np.empty(len(events), dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
    arr["t"], arr["x"], arr["y"], arr["p"] = events["t"], events["x"], events["y"], events["p"]
    Wizard(encoding=encoding).save(path, arr)


def prophesee_header(encoding: str, size: tuple[int, int]) -> bytes:
    w, h = size
    return (f"% camera_integrator_name Prophesee\n% evt {encoding}\n"
            f"% format EVT{encoding[0]};height={h};width={w}\n% geometry {w}x{h}\n"
            f"% end\n").encode()


def encode_evt2(events: np.ndarray, size: tuple[int, int]) -> bytes:
    """EVT 2.0 per the specification: EVT_TIME_HIGH whenever t >> 6 changes, then CD words."""
    words = []
    high = None
    for e in events:
        t = int(e["t"])
        if t >> 6 != high:
            high = t >> 6
            words.append((0x8 << 28) | (high & 0x0FFFFFFF))
        words.append((int(e["p"]) << 28) | ((t & 0x3F) << 22) | (int(e["x"]) << 11) | int(e["y"]))
    return prophesee_header("2.0", size) + np.array(words, dtype="<u4").tobytes()


def encode_evt3(events: np.ndarray, size: tuple[int, int]) -> bytes:
    """EVT 3.0 per the specification: every EVT_TIME_HIGH step (as a sensor sends them, so that
    decoders see the 24-bit time base loop), EVT_TIME_LOW when it changes, EVT_ADDR_Y
    when y changes, then EVT_ADDR_X for a single event or VECT_BASE_X + VECT_12 words for a run
    of events that share t, y and p (events must be ordered by (t, y, p, x))."""
    words: list[int] = []
    state = {"high": None, "low": None, "y": None}
    i, n = 0, len(events)
    while i < n:
        t, y, p = int(events["t"][i]), int(events["y"][i]), int(events["p"][i])
        j = i
        while (j + 1 < n and int(events["t"][j + 1]) == t and int(events["y"][j + 1]) == y
               and int(events["p"][j + 1]) == p):
            j += 1
        while state["high"] != t >> 12:  # a sensor sends every EVT_TIME_HIGH step
            state["high"] = t >> 12 if state["high"] is None else state["high"] + 1
            state["low"] = None
            words.append((0x8 << 12) | (state["high"] & 0xFFF))
        if t & 0xFFF != state["low"]:
            state["low"] = t & 0xFFF
            words.append((0x6 << 12) | state["low"])
        if y != state["y"]:
            state["y"] = y
            words.append(y)
        xs = [int(x) for x in events["x"][i:j + 1]]
        if len(xs) == 1:
            words.append((0x2 << 12) | (p << 11) | xs[0])
        else:
            base = xs[0]
            words.append((0x3 << 12) | (p << 11) | base)
            while base <= xs[-1]:
                mask = sum(1 << (x - base) for x in xs if base <= x < base + 12)
                words.append((0x4 << 12) | mask)
                base += 12
        i = j + 1
    return prophesee_header("3.0", size) + np.array(words, dtype="<u2").tobytes()


def encode_dat(events: np.ndarray, size: tuple[int, int]) -> bytes:
    """DAT of CD events per the specification, with the sensor size in the header."""
    head = (f"% Data file containing CD events.\n% Version 2\n% Width {size[0]}\n"
            f"% Height {size[1]}\n").encode() + bytes([0x0C, 8])
    body = np.empty(len(events), dtype=[("t", "<u4"), ("d", "<u4")])
    body["t"] = events["t"] & 0xFFFFFFFF
    body["d"] = (events["x"].astype(np.uint32) | (events["y"].astype(np.uint32) << 14)
                 | (events["p"].astype(np.uint32) << 28))
    return head + body.tobytes()
