"""Benchmark of the compiler: time of the ``optimal`` policy on the default 6-conv DVS Gesture
network (2 macros; goal < 1 s) and on the paper-scale workload (16 macros), and of the fixed
policies. ``reproduce --quick`` executes every Fig. 7 point on the system engine (minutes);
benchmarks/bench_system.py times the engine itself.

Usage: ``python benchmarks/bench_compile.py [--json FILE]``. Prints the figures and writes them
as JSON (keys ``optimal_s``, ``optimal_solve_s``, ``fixed_policy_s``, ``optimal_paper_scale_s``).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from machine import machine_info

from flexspim._io import write_json
from flexspim.compile import compile_network
from flexspim.hw import default_hardware
from flexspim.net.presets import dvs_gesture_scnn, paper_scale_scnn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of optimal")
    args = parser.parse_args(argv)
    machine = machine_info()
    net, hw = dvs_gesture_scnn(), default_hardware()
    compile_network(net, hw, policy="optimal")  # warm-up: imports PuLP, starts CBC once
    opt_s, solve_s = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        m = compile_network(net, hw, policy="optimal")
        opt_s.append(time.perf_counter() - t0)
        solve_s.append(m.search["solve_s"])
    fixed = []
    for policy in ("ws", "os", "hs-min"):
        t0 = time.perf_counter()
        compile_network(net, hw, policy=policy)
        fixed.append(time.perf_counter() - t0)
    big = paper_scale_scnn()
    hw16 = hw.with_(system=dataclasses.replace(hw.system, n_macros=16))
    t0 = time.perf_counter()
    compile_network(big, hw16, policy="optimal")
    big_s = time.perf_counter() - t0
    out = {"benchmark": "compile", "optimal_s": statistics.median(opt_s),
           "optimal_max_s": max(opt_s),
           "optimal_solve_s": statistics.median(solve_s), "fixed_policy_s": max(fixed),
           "optimal_paper_scale_s": big_s, "optimal_goal_s": 1.0, "machine": machine}
    print(f"optimal on the default network (2 macros): median {out['optimal_s']:.3f} s, "
          f"max {out['optimal_max_s']:.3f} s (goal < 1 s)")
    print(f"fixed policies: at most {out['fixed_policy_s']:.3f} s")
    print(f"optimal on the paper-scale workload (16 macros): {big_s:.2f} s")
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
