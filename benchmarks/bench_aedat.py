"""Benchmark of the AEDAT 3.1 reader (issue 4 §4): events per second of
:func:`flexspim.data.read_aedat` beside Tonic's own AEDAT 3 reader on the same file, and whether
both read the same events.

The file is synthetic, written in a temporary folder: ``--events`` DVS128 polarity events
(default 3 M, about a DVS Gesture recording's worth several times over) in packets of
``--packet-events`` events, every valid bit 1 and timestamps below 2^31 µs, so that Tonic can read
it. Tonic's ``tonic.io.read_dvs_ibm`` does not run (it unpacks the three values of
``read_aedat_header_from_file`` into two); the benchmark times the same steps it would take —
``read_aedat_header_from_file``, ``get_aer_events_from_file`` and ``read_dvs_ibm``'s decoding —
and reports the error of ``read_dvs_ibm`` itself. A second, small file built per the
specification (an invalid event, a timestamp overflow, a non-polarity packet) shows where
Tonic's reading differs from the specification. Times are the best of ``--repeats`` runs.

    python benchmarks/bench_aedat.py [--json FILE] [--events N] [--packet-events N]
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from machine import machine_info

from flexspim._io import write_json
from flexspim.data import encode_aedat, make_events, read_aedat


def tonic_read(path: Path) -> np.ndarray:
    """Tonic 1.7's AEDAT 3 path for DVS Gesture, step by step as ``read_dvs_ibm`` writes it."""
    from tonic.io import (
        get_aer_events_from_file,
        make_structured_array,
        read_aedat_header_from_file,
    )

    version, start, _ = read_aedat_header_from_file(str(path))
    raw = get_aer_events_from_file(str(path), version, start)
    addr = raw["address"]
    x = (addr >> 17) & 0x00001FFF
    y = (addr >> 2) & 0x00001FFF
    p = (addr >> 1) & 0x00000001
    return make_structured_array(x, y, raw["timeStamp"], p)


def tonic_read_dvs_ibm_error(path: Path) -> str | None:
    """The exception ``tonic.io.read_dvs_ibm`` raises on ``path`` (None when it runs)."""
    from tonic.io import read_dvs_ibm

    try:
        read_dvs_ibm(str(path))
    except Exception as exc:  # noqa: BLE001 - the benchmark reports whatever Tonic raises
        return f"{type(exc).__name__}: {exc}"
    return None


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def synthetic_events(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.integers(0, 3, n, dtype=np.int64))  # ~1 event per µs
    return make_events(rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n), t)


def same(a: np.ndarray, b: np.ndarray) -> tuple[bool, list[str]]:
    """Whether two event arrays hold the same (x, y, p, t), and what differs."""
    if len(a) != len(b):
        return False, [f"{len(a)} events against {len(b)}"]
    diffs = [f"field {f} differs at {int(np.count_nonzero(a[f] != b[f]))} events"
             for f in ("x", "y", "p", "t") if not np.array_equal(a[f].astype(np.int64),
                                                                b[f].astype(np.int64))]
    return not diffs, diffs


def spec_file() -> tuple[bytes, np.ndarray]:
    """A small AEDAT 3.1 file with an invalid event, an overflowed timestamp and a packet of
    another type, and the events the specification says it holds."""
    head = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"

    def pk(etype: int, size: int, overflow: int, body: bytes, n: int, valid: int) -> bytes:
        return struct.pack("<hhiiiiii", etype, 1, size, 4, overflow, n, n, valid) + body

    def word(x: int, y: int, p: int, v: int) -> int:
        return (x << 17) | (y << 2) | (p << 1) | v

    p1 = pk(1, 8, 0, struct.pack("<IiIi", word(1, 2, 1, 1), 10, word(3, 4, 0, 0), 11), 2, 1)
    imu = pk(3, 12, 0, bytes(24), 2, 2)  # two 12-byte events of another type
    p2 = pk(1, 8, 1, struct.pack("<Ii", word(5, 6, 0, 1), 7), 1, 1)
    expect = make_events([1, 5], [2, 6], [1, 0], [10, (1 << 31) | 7])
    return head + p1 + imu + p2, expect


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--events", type=int, default=3_000_000, help="events in the file")
    ap.add_argument("--packet-events", type=int, default=4096, help="events per packet")
    ap.add_argument("--repeats", type=int, default=3, help="runs per reader (best is kept)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    events = synthetic_events(args.events, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.aedat"
        path.write_bytes(encode_aedat(events, packet_events=args.packet_events))
        size = path.stat().st_size
        ours_s, ours = best_time(lambda: read_aedat(path), args.repeats)
        tonic_s, theirs = best_time(lambda: tonic_read(path), args.repeats)
        ibm_error = tonic_read_dvs_ibm_error(path)
        spec_bytes, spec_expect = spec_file()
        spec_path = Path(tmp) / "spec.aedat"
        spec_path.write_bytes(spec_bytes)
        spec_ours = read_aedat(spec_path)
        try:
            spec_tonic: np.ndarray | None = tonic_read(spec_path)
            spec_tonic_error = None
        except Exception as exc:  # noqa: BLE001 - reported, not hidden
            spec_tonic, spec_tonic_error = None, f"{type(exc).__name__}: {exc}"

    same_ours, diff_ours = same(ours, events)
    same_both, diff_both = same(ours, theirs)
    spec_ok, _ = same(spec_ours, spec_expect)
    if spec_tonic is not None:
        spec_tonic_ok, spec_tonic_diff = same(spec_tonic, spec_expect)
    else:
        spec_tonic_ok, spec_tonic_diff = False, [spec_tonic_error or ""]
    result = {
        "benchmark": "aedat",
        "events": int(args.events),
        "packet_events": int(args.packet_events),
        "file_bytes": int(size),
        "seconds": round(ours_s, 6),
        "events_per_s": round(args.events / ours_s),
        "tonic_seconds": round(tonic_s, 6),
        "tonic_events_per_s": round(args.events / tonic_s),
        "ratio_vs_tonic": round(tonic_s / ours_s, 3),
        "same_events": bool(same_both),
        "same_events_differences": diff_both,
        "ours_matches_written_events": bool(same_ours),
        "ours_differences": diff_ours,
        "tonic_read_dvs_ibm_error": ibm_error,
        "spec_file": {
            "ours_matches_spec": bool(spec_ok),
            "tonic_matches_spec": bool(spec_tonic_ok),
            "tonic_differences": spec_tonic_diff,
        },
        "machine": machine_info(),
    }
    print(f"{'reader':<22}{'seconds':>10}{'events/s':>16}")
    print(f"{'flexspim read_aedat':<22}{ours_s:>10.3f}{args.events / ours_s:>16,.0f}")
    print(f"{'tonic (same steps)':<22}{tonic_s:>10.3f}{args.events / tonic_s:>16,.0f}")
    print(f"ratio_vs_tonic = {tonic_s / ours_s:.2f}; {args.events:,} events, {size:,} bytes; "
          f"same events as tonic: {same_both}; as written: {same_ours}")
    print(f"spec file (invalid event, timestamp overflow, other packet type): flexspim "
          f"{'matches' if spec_ok else 'DIFFERS'}, tonic "
          f"{'matches' if spec_tonic_ok else 'differs: ' + '; '.join(spec_tonic_diff)}")
    if ibm_error:
        print(f"tonic.io.read_dvs_ibm itself fails: {ibm_error}")
    if args.json:
        write_json(args.json, result)
    return 0 if same_ours and spec_ok else 1


if __name__ == "__main__":
    sys.exit(main())
