"""Benchmark of the bit-level macro model (issue 2 §5): lane additions per second.

Each call of :func:`flexspim.macro.in_memory_add` lays the lanes out in a fresh 512 x 256 macro,
runs the five-phase row operations on the bit array and reads the membranes back. Lanes are
8-bit weights added to 16-bit membranes (the paper's calibration layout, 16 lanes per row);
the batch sizes go from one row (16 lanes) to the full macro (4096 lanes = 256 row groups).
Every result is checked against NumPy integer arithmetic (mod 2**16).

    python benchmarks/bench_macro.py [--json FILE] [--seconds S]

``lane_adds_per_s`` is the rate of full-macro batches; ``by_batch`` has every batch size.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from machine import machine_info

from flexspim._io import write_json
from flexspim.macro import in_memory_add

V_BITS, W_BITS = 16, 8  # paper: 8-bit weights, 16-bit membrane potentials
BATCHES = (16, 256, 4096)


def rate(n_lanes: int, seconds: float, rng: np.random.Generator) -> dict[str, float]:
    """Lane additions per second for batches of ``n_lanes``, checked for exactness."""
    m = rng.integers(-(2 ** (V_BITS - 1)), 2 ** (V_BITS - 1), n_lanes)
    w = rng.integers(-(2 ** (W_BITS - 1)), 2 ** (W_BITS - 1), n_lanes)
    want = ((m + w + 2 ** (V_BITS - 1)) % 2**V_BITS) - 2 ** (V_BITS - 1)
    res = in_memory_add(m, w, v_bits=V_BITS, w_bits=W_BITS)
    if not np.array_equal(res.membranes, want):
        raise SystemExit(f"bench_macro: bit-level result differs from integer arithmetic at "
                         f"{n_lanes} lanes")
    calls = 0
    t0 = time.perf_counter()
    while True:
        in_memory_add(m, w, v_bits=V_BITS, w_bits=W_BITS)
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            break
    return {"lanes_per_call": n_lanes, "calls": calls, "seconds": dt,
            "lane_adds_per_s": calls * n_lanes / dt, "us_per_call": dt / calls * 1e6,
            "row_ops_per_call": res.counters.row_ops}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--seconds", type=float, default=1.0, help="time per batch size (default 1)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    by_batch = [rate(n, args.seconds, rng) for n in BATCHES]
    for r in by_batch:
        print(f"{r['lanes_per_call']:>5} lanes/call: {r['lane_adds_per_s']:>12,.0f} lane adds/s "
              f"({r['us_per_call']:.0f} us/call, {r['row_ops_per_call']} row ops)")
    doc = {"benchmark": "bench_macro", "v_bits": V_BITS, "w_bits": W_BITS,
           "lane_adds_per_s": by_batch[-1]["lane_adds_per_s"], "by_batch": by_batch,
           "machine": machine_info()}
    print(f"lane_adds_per_s = {doc['lane_adds_per_s']:,.0f} (16-bit lanes, full-macro batches)")
    if args.json:
        write_json(args.json, doc)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
