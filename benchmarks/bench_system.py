"""Benchmark of the system engine (docs/benchmarks.md, docs/system-model.md).

Times, after a warm-up that compiles the Numba kernels:

- the fast mode on the shipped digits model over the whole offline test split (359 samples,
  T = 12), on the default 2-macro hardware, mapped with ``hs-min`` and ``optimal``
  (goal: under 10 s on 2 cores);
- the fast mode on the paper-scale workload (docs/reproduce.md: calibrated to 10% hidden density,
  95% input sparsity), one sample of 20 timesteps, ``ws``, ``hs-min`` and ``optimal`` on 16
  macros (goal: under 30 s);
- the bit-level mode on the first 3 timesteps of one digits sample (units per second);
- the analytic estimator on the same mappings, for comparison.

``--json FILE`` writes every figure; the load average seen during the run is recorded (the
machine is shared; run it on an otherwise idle machine for the record in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from flexspim.compile import Activity, compile_network
from flexspim.demo import load_test_split
from flexspim.dse.networks import shipped_model_path, shipped_time_bins
from flexspim.hw import default_hardware
from flexspim.mapped import estimate_cost
from flexspim.net import load_network
from flexspim.sim import simulate
from flexspim.system import run_system


def _timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def digits_split(repeat: int) -> dict:
    net = load_network(shipped_model_path())
    x, y = load_test_split(shipped_time_bins())
    hw = default_hardware()
    act = Activity.from_sim_result(net, simulate(net, x))
    out = {"samples": int(x.shape[1]), "timesteps": int(x.shape[0])}
    for policy in ("hs-min", "optimal"):
        m = compile_network(net, hw, policy=policy, activity=act)
        run_system(net, m, hw, x[:, :2])                       # warm-up (compiles the kernels)
        s, run = _timed(lambda m=m: run_system(net, m, hw, x, labels=y), repeat)
        e, _ = _timed(lambda m=m: estimate_cost(net, m, hw, act), repeat)
        units = run.counts.total("units")
        out[policy] = {"seconds": s, "units_per_s": units / s, "sops_per_s":
                       run.counts.total("sops") / s, "estimate_seconds": e}
    out["seconds"] = max(out[p]["seconds"] for p in ("hs-min", "optimal"))
    return out


def paper_scale(repeat: int) -> dict:
    from flexspim.reproduce.system import (
        paper_workload,
        random_inputs,
        with_system,
    )

    t0 = time.perf_counter()
    net, dens = paper_workload()
    t_cal = time.perf_counter() - t0
    x = random_inputs(net, 0.95, 1, seed=951)
    act = Activity.from_sim_result(net, simulate(net, x))
    hw = with_system(default_hardware(), 16)
    out = {"calibration_seconds": t_cal, "hidden_densities": dens}
    for policy in ("ws", "hs-min", "optimal"):
        m = compile_network(net, hw, policy=policy, activity=act)
        s, run = _timed(lambda m=m: run_system(net, m, hw, x), repeat)
        e, _ = _timed(lambda m=m: estimate_cost(net, m, hw, act), repeat)
        out[policy] = {"seconds": s, "units": run.counts.total("units"),
                       "sops": run.counts.total("sops"),
                       "units_per_s": run.counts.total("units") / s, "estimate_seconds": e}
    out["seconds"] = max(out[p]["seconds"] for p in ("ws", "hs-min", "optimal"))
    return out


def bitlevel_rate() -> dict:
    net = load_network(shipped_model_path())
    x, _ = load_test_split(shipped_time_bins(), samples=1)
    x = x[:3]
    hw = default_hardware()
    m = compile_network(net, hw, policy="optimal")
    s, run = _timed(lambda: run_system(net, m, hw, x, mode="bitlevel"))
    return {"seconds": s, "units": run.counts.total("units"),
            "units_per_s": run.counts.total("units") / s,
            "row_ops_per_s": run.counts.total("row_ops") / s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs (default 2)")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    res = {"digits_split": digits_split(args.repeat), "paper_scale": paper_scale(args.repeat),
           "bitlevel": bitlevel_rate()}
    res["load_average"] = [load0, os.getloadavg()[0]]
    res["cpus"] = os.cpu_count()
    res["digits_split_seconds"] = res["digits_split"]["seconds"]
    res["paper_scale_sample_seconds"] = res["paper_scale"]["seconds"]
    res["bitlevel_units_per_s"] = res["bitlevel"]["units_per_s"]
    text = json.dumps(res, indent=2, default=float)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
