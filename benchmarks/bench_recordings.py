"""Benchmark of the recording readers: events per second of :func:`flexspim.data.read_recording`
(format detection, the framing and word checks, then the decoder) beside the decoder library
called directly on the same file, per format, and whether both give the written events.

Files are synthetic, written in a temporary folder with the libraries the tests use
(``tests/event_files.py``): AEDAT 4.0 (LZ4) by dv-processing, EVT 2.0 and DAT by expelliarmus,
EVT 3.0 by the encoder written from Prophesee's specification. For EVT 3.0 the peer is the
``evt3`` decoder flexspim calls, and expelliarmus (Tonic's decoder) is run on the same file to
show why it is not used: ``expelliarmus_evt3_matches`` is false when it misreads the time.
Times are the best of ``--repeats`` runs.

    python benchmarks/bench_recordings.py [--json FILE] [--events N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from machine import machine_info

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' writers
from event_files import (  # noqa: E402
    encode_evt3,
    random_events,
    save_expelliarmus,
    write_aedat4,
)

from flexspim._io import write_json  # noqa: E402
from flexspim.data import read_recording  # noqa: E402

SIZE = (640, 480)


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _columns(x: Any, y: Any, p: Any, t: Any) -> np.ndarray:
    out = np.empty(len(x), dtype=[("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])
    out["x"], out["y"], out["p"], out["t"] = x, y, np.asarray(p) != 0, t
    return out


def aedat_direct(path: Path) -> np.ndarray:
    import aedat

    raw = np.concatenate([p["events"] for p in aedat.Decoder(str(path)) if "events" in p])
    return _columns(raw["x"], raw["y"], raw[raw.dtype.names[3]], raw["t"])


def expelliarmus_direct(path: Path, encoding: str) -> np.ndarray:
    from expelliarmus import Wizard

    raw = Wizard(encoding=encoding, fpath=path).read()
    return _columns(raw["x"], raw["y"], raw["p"], raw["t"])


def evt3_direct(path: Path) -> np.ndarray:
    import evt3

    ev = evt3.decode_file(str(path))
    return _columns(ev.x, ev.y, ev.p, ev.t.astype(np.int64))


def write_files(folder: Path, n: int, seed: int) -> dict[str, tuple[Path, np.ndarray, Callable]]:
    ev = random_events(n, SIZE, seed, span_us=n * 5)
    dense = random_events(n, SIZE, seed + 1, span_us=n * 20, same_time=True)
    write_aedat4(folder / "a.aedat4", ev, SIZE, packet_events=5000)
    save_expelliarmus(folder / "e.raw", ev, "evt2")
    save_expelliarmus(folder / "d.dat", ev, "dat")
    (folder / "v.raw").write_bytes(encode_evt3(dense, SIZE))
    return {
        "AEDAT 4.0": (folder / "a.aedat4", ev, lambda p: aedat_direct(p)),
        "EVT 2.0": (folder / "e.raw", ev, lambda p: expelliarmus_direct(p, "evt2")),
        "DAT": (folder / "d.dat", ev, lambda p: expelliarmus_direct(p, "dat")),
        "EVT 3.0": (folder / "v.raw", dense, lambda p: evt3_direct(p)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--events", type=int, default=300_000, help="events per file")
    ap.add_argument("--repeats", type=int, default=3, help="runs per reader (best is kept)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows: dict[str, dict[str, Any]] = {}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp), args.events, args.seed)
        for name, (path, events, direct) in files.items():
            ours_s, ours = best_time(lambda p=path: read_recording(p), args.repeats)
            lib_s, theirs = best_time(lambda p=path, f=direct: f(p), args.repeats)
            n = len(events)
            rows[name] = {
                "events": n, "file_bytes": path.stat().st_size,
                "events_per_s": round(n / ours_s), "decoder_events_per_s": round(n / lib_s),
                "ratio_vs_decoder": round(lib_s / ours_s, 3),
                "same_events": bool(np.array_equal(ours.events, events)),
                "decoder_same_events": bool(np.array_equal(theirs, events)),
            }
            ok &= rows[name]["same_events"]
        exp = expelliarmus_direct(files["EVT 3.0"][0], "evt3")
        rows["EVT 3.0"]["expelliarmus_evt3_matches"] = bool(np.array_equal(exp, files["EVT 3.0"][1]))
        rows["EVT 3.0"]["expelliarmus_evt3_max_time_error_us"] = int(
            np.abs(exp["t"] - files["EVT 3.0"][1]["t"]).max())
    print(f"{'format':<11}{'events':>9}{'flexspim ev/s':>16}{'decoder ev/s':>15}{'ratio':>8}"
          f"{'exact':>7}")
    for name, r in rows.items():
        print(f"{name:<11}{r['events']:>9,}{r['events_per_s']:>16,}{r['decoder_events_per_s']:>15,}"
              f"{r['ratio_vs_decoder']:>8.2f}{str(r['same_events']):>7}")
    e3 = rows["EVT 3.0"]
    print(f"expelliarmus on the same EVT 3.0 file: matches {e3['expelliarmus_evt3_matches']}, "
          f"largest time error {e3['expelliarmus_evt3_max_time_error_us']:,} µs")
    if args.json:
        write_json(args.json, {"benchmark": "recordings", "formats": rows,
                               "machine": machine_info()})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
