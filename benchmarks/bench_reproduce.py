"""Benchmark of ``flexspim reproduce``: the wall time of a plan (``--quick`` by default; goal
< 180 s on the 2-core reference machine) from an empty folder, and where the time goes: every
point's own time on its worker, summed per kind of point and per network.

The machine is shared, so the load average before and after is recorded beside the time: a load
above 2 on 2 cores means other work competed for them.

Usage: ``python benchmarks/bench_reproduce.py [--plan quick|paper-scale|full] [--workers N]
[--json FILE]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine_info

from flexspim._io import write_json
from flexspim.reproduce import reproduce
from flexspim.reproduce.compute import STORE_NAME
from flexspim.reproduce.plan import PLANS

#: The wall time ``--quick`` is allowed (the issue that asked for the quick plan).
QUICK_GOAL_S = 180.0


def point_seconds(store: Path) -> dict[str, dict[str, float]]:
    """Points and their summed worker seconds per (kind, network)."""
    out: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    con = sqlite3.connect(store)
    for point, metrics in con.execute("SELECT point, metrics FROM points"):
        p, m = json.loads(point), json.loads(metrics or "{}")
        net = p["network"]
        key = f"{p['kind']} {net['kind']} {net['input_hw']}/{net['base']}"
        out[key][0] += 1
        out[key][1] += float(m.get("seconds", 0.0))
    con.close()
    return {k: {"points": n, "seconds": s} for k, (n, s) in sorted(out.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", choices=tuple(PLANS), default="quick")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    machine = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = reproduce(args.plan == "quick", tmp, plan=PLANS[args.plan],
                            workers=args.workers)
        wall = time.perf_counter() - t0
        where = point_seconds(Path(tmp) / STORE_NAME)
    out: dict[str, Any] = {
        "benchmark": "reproduce", "plan": args.plan, "wall_s": wall,
        "points": summary["points"], "point_seconds": where,
        "load_avg_after": [round(x, 2) for x in os.getloadavg()], "machine": machine}
    if args.plan == "quick":
        out["goal_s"] = QUICK_GOAL_S
    print(f"reproduce --plan {args.plan}: {wall:.1f} s wall, {summary['points']['total']} "
          f"points (load average {machine['load_avg']} before, {out['load_avg_after']} after)")
    for k, v in where.items():
        print(f"  {k:<36} {v['points']:>4} points {v['seconds']:>8.1f} s")
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
