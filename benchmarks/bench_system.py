"""Benchmark of the system engine (docs/benchmarks.md, docs/system-model.md).

Times, after a warm-up that compiles the Numba kernels:

- ``flexspim simulate NETWORK DATA --mapping FILE`` as a user runs it (a fresh process) on the
  shipped digits model over the whole offline test split (359 samples, T = 12), mapped with
  ``optimal`` on the default 2-macro hardware (goal: at most 15 s on 2 idle cores): the fast
  engine's pass, the replay through the system engine, NeuroBench's metrics from the recorded
  events, the estimate beside it;
- in process, the same split: the recorded pass (``flexspim.mapped.record``) once, then the
  replay of every policy's mapping (``run_mapped``);
- the replay on the paper-scale workload (docs/reproduce.md: calibrated to 10% hidden density,
  95% input sparsity), one sample of 20 timesteps, ``ws``, ``hs-min`` and ``optimal`` on 16
  macros;
- the bit-level mode on the first 3 timesteps of one digits sample (units per second);
- the analytic estimator on the same mappings, for comparison.

``--json FILE`` writes every figure; the load average seen during the run is recorded (the
machine is shared; run it on an otherwise idle machine for the record in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from flexspim.compile import POLICIES, compile_network
from flexspim.demo import load_test_split
from flexspim.dse.networks import shipped_model_path, shipped_time_bins
from flexspim.hw import default_hardware
from flexspim.mapped import estimate_cost, measured_activity, record, run_mapped
from flexspim.net import load_network
from flexspim.reproduce.system import paper_workload, random_inputs, with_system
from flexspim.system import run_system


def _timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def cli_simulate_mapping() -> dict:
    """Wall time of ``flexspim simulate --mapping`` on the digits test split, in a fresh process
    (frames written and mapping compiled beforehand; one untimed run warms the kernel cache)."""
    flexspim = [sys.executable, "-m", "flexspim"]
    model = str(shipped_model_path())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run([*flexspim, "data", "frames", "digits", "--time-bins",
                        str(shipped_time_bins()), "--out", str(d / "d.npz")], check=True,
                       capture_output=True)
        subprocess.run([*flexspim, "compile", model, "--policy", "optimal", "--out",
                        str(d / "m.json")], check=True, capture_output=True)
        cmd = [*flexspim, "simulate", model, str(d / "d.npz"), "--mapping", str(d / "m.json"),
               "--json", str(d / "run.json"), "--overwrite", "--no-progress"]
        subprocess.run(cmd, check=True, capture_output=True)              # warm-up
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        seconds = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        doc = json.loads((d / "run.json").read_text())
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    # on a loaded machine the wall time stretches; the CPU time (user + system, all threads)
    # over the cores it can use bounds what an idle 2-core machine takes
    return {"seconds": seconds, "cpu_seconds": cpu, "goal_seconds": 15.0,
            "samples": int(doc["cost"]["n_samples"])}


def digits_split(repeat: int) -> dict:
    net = load_network(shipped_model_path())
    x, y = load_test_split(shipped_time_bins())
    hw = default_hardware()
    record(net, x[:, :2])                                        # warm-up (kernels)
    t_rec, trace = _timed(lambda: record(net, x, labels=y), repeat)
    act = measured_activity(net, trace)
    out = {"samples": int(x.shape[1]), "timesteps": int(x.shape[0]), "record_seconds": t_rec}
    for policy in POLICIES:
        m = compile_network(net, hw, policy=policy, activity=act)
        run_system(net, m, hw, x[:, :2])                          # warm-up (kernels)
        s, run = _timed(lambda m=m: run_mapped(net, m, trace, activity=act), repeat)
        e, _ = _timed(lambda m=m: estimate_cost(net, m, hw, act), repeat)
        c = run.system.counts
        out[policy] = {"replay_seconds": s, "units_per_s": c.total("units") / s,
                       "sops_per_s": c.total("sops") / s, "estimate_seconds": e,
                       "estimate_rel": run.difference.energy_rel}
    return out


def paper_scale(repeat: int) -> dict:
    t0 = time.perf_counter()
    net, dens = paper_workload()
    t_cal = time.perf_counter() - t0
    x = random_inputs(net, 0.95, 1, seed=951)
    t_rec, trace = _timed(lambda: record(net, x), 1)
    act = measured_activity(net, trace)
    hw = with_system(default_hardware(), 16)
    out = {"calibration_seconds": t_cal, "hidden_densities": dens, "record_seconds": t_rec}
    for policy in ("ws", "hs-min", "optimal"):
        m = compile_network(net, hw, policy=policy, activity=act)
        s, run = _timed(lambda m=m: run_mapped(net, m, trace, activity=act), repeat)
        e, _ = _timed(lambda m=m: estimate_cost(net, m, hw, act), repeat)
        c = run.system.counts
        out[policy] = {"replay_seconds": s, "units": c.total("units"), "sops": c.total("sops"),
                       "units_per_s": c.total("units") / s, "estimate_seconds": e,
                       "estimate_rel": run.difference.energy_rel}
    out["seconds"] = max(out[p]["replay_seconds"] for p in ("ws", "hs-min", "optimal"))
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
    res = {"cli_simulate_mapping": cli_simulate_mapping(),
           "digits_split": digits_split(args.repeat), "paper_scale": paper_scale(args.repeat),
           "bitlevel": bitlevel_rate()}
    res["load_average"] = [load0, os.getloadavg()[0]]
    res["cpus"] = os.cpu_count()
    res["simulate_mapping_digits_seconds"] = res["cli_simulate_mapping"]["seconds"]
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
