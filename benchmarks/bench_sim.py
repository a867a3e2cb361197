"""Benchmark of the simulator: SOP rate of the ``fast`` engine against the silicon's peak and
against other SNN simulators on the same network, inputs, batch and threads; the ``bitlevel``
engine's SOP rate; bit-exactness; peak memory; throughput against input density.

Network: the default 6-conv DVS Gesture SCNN (:func:`flexspim.net.presets.dvs_gesture_scnn`):
input 2x32x32, 3x3 convs with 16, 32, 32, 64, 64, 128 channels (stride 2 at the 2nd, 4th, 6th),
a linear classifier to 11 classes; 8-bit weights, 16-bit membranes; T = 20; inputs 95% zeros.
Thresholds are calibrated on a few samples so that every hidden layer spikes at ~10% density.

Silicon peak: 16 lanes of 16-bit membranes per 256-column row, one row operation per system cycle
at 157 MHz (paper Table I) = 2.51 GSOP/s.

Peers (benchmarks/peers.py; ``pip install -e .[bench]``): snnTorch, SpikingJelly, Sinabs and
Norse float inference of the same network; Rockpool's bit-accurate Xylo simulator (xylosim) on
the largest network Xylo holds (16 -> 1000 -> 8), with flexspim timed on that network too; Lava
does not install on Python 3.11. A peer that is absent or fails is recorded with its error under
``peers`` and left out of the ratios.

    python benchmarks/bench_sim.py [--json FILE] [--plot FILE.png] [--samples N] [--threads 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import peers
import torch
from machine import machine_info

from flexspim._io import write_json
from flexspim.hw import default_hardware
from flexspim.net import IntNetwork, Linear, SpikingLayer
from flexspim.net.presets import dvs_gesture_scnn
from flexspim.net.reference import run_reference
from flexspim.sim import SimResult, result_differences, simulate
from flexspim.sim import fast as fast_engine

T_STEPS = 20
INPUT_DENSITY = 0.05  # inputs 95% zeros
TARGET_DENSITY = 0.10  # hidden layers at ~10%
MEMBRANE_BITS = 16  # paper: 16-bit membrane potentials, 8-bit weights
WEIGHT_BITS = 8
#: Input densities of the throughput sweep (docs/benchmarks.md plot).
DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
#: Why Lava is not among the peers (pip's answer on Python 3.11).
LAVA_NOTE = ("pip install lava-nc: 'Ignored the following versions that require a different "
             "python version: 0.10.0 Requires-Python >=3.10,<3.11; ... 0.7.0 Requires-Python "
             ">=3.8,<3.11' - no release of Lava supports Python 3.11")


def make_inputs(n: int, seed: int, shape: tuple[int, ...],
                density: float = INPUT_DENSITY) -> np.ndarray:
    """Binary spikes [T, N, *shape] with ``density`` ones."""
    rng = np.random.default_rng(seed)
    return (rng.random((T_STEPS, n, *shape)) < density).astype(np.int8)


def with_threshold(net: IntNetwork, index: int, threshold: int) -> IntNetwork:
    layers = list(net.layers)
    layers[index] = dataclasses.replace(layers[index], threshold=int(threshold))
    return dataclasses.replace(net, layers=tuple(layers))


def calibrate(net: IntNetwork, x: np.ndarray) -> tuple[IntNetwork, list[float]]:
    """Per hidden layer, in order, the threshold whose spike density is closest to 10%."""
    for li, layer in enumerate(net.layers[:-1]):
        if not isinstance(layer, SpikingLayer):
            continue
        lo, hi = 1, (1 << (layer.v_bits - 1)) - 1
        while lo < hi:  # density falls as the threshold rises: bisect
            mid = (lo + hi) // 2
            trial = with_threshold(net, li, mid)
            prefix = IntNetwork(input_shape=net.input_shape, layers=trial.layers[: li + 1])
            if float(simulate(prefix, x).spike_density[li]) > TARGET_DENSITY:
                lo = mid + 1
            else:
                hi = mid
        net = with_threshold(net, li, lo)
    return net, [float(d) for d in simulate(net, x).spike_density]


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds (all threads) of ``repeats`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, out


def simulate_backend(net: IntNetwork, x: np.ndarray, batch: int, backend: str) -> SimResult:
    """The fast engine with an explicit backend, batch by batch (same result type)."""
    from flexspim.sim.common import layer_neurons, merge_stats

    parts = [fast_engine.run_batch(net, x[:, s : s + batch], backend=backend)
             for s in range(0, x.shape[1], batch)]
    m = merge_stats(parts)
    return SimResult(
        engine=f"fast/{backend}", n_samples=int(x.shape[1]), n_timesteps=int(x.shape[0]),
        layer_names=[la.name for la in net.layers],
        predictions=np.argmax(m.output_counts, axis=1).astype(np.int64), labels=None,
        output_counts=m.output_counts, network=net.name, layer_neurons=layer_neurons(net),
        input_events=m.step_input_events, sops=m.step_sops, output_spikes=m.step_output_spikes,
        overflow_events=m.step_overflow, membrane_min=m.membrane_min,
        membrane_max=m.membrane_max, sample_sops=m.sample_sops, sample_spikes=m.sample_spikes,
        sample_input_events=m.sample_input_events)


def matches_reference(net: IntNetwork, x: np.ndarray) -> bool:
    """fast engine == PyTorch integer reference on ``x``: spikes, membranes and every count."""
    ref = run_reference(net, x)
    res = simulate(net, x, return_membranes=True)
    pairs = [
        (res.output_counts, ref.output_counts),
        (res.sops, ref.step_sops.sum(axis=1).T),
        (res.output_spikes, ref.step_output_spikes.sum(axis=1).T),
        (res.input_events, ref.step_input_events.sum(axis=1).T),
        (res.overflow_events, ref.step_overflow.sum(axis=1).T),
        (res.membrane_min, ref.step_membrane_min.min(axis=1).T),
        (res.membrane_max, ref.step_membrane_max.max(axis=1).T),
        (res.sample_sops, ref.sops),
    ]
    pairs += list(zip(res.final_membranes or [], ref.final_membranes, strict=True))
    return all(a.shape == b.shape and np.array_equal(a, b) for a, b in pairs)


def float_peer_jobs(net: IntNetwork, x: np.ndarray, batch: int
                    ) -> tuple[dict[str, Callable[[], Any]], dict[str, dict[str, Any]]]:
    """The float peers that import and pass a warm-up, as jobs ``() -> (wall s, counts)``, and
    an entry (status, version, error) for every peer."""
    jobs: dict[str, Callable[[], Any]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for name, (module, run) in peers.FLOAT_PEERS.items():
        entries[name] = {"version": peers.version(name), "status": "ok"}
        error = peers.missing(module)
        if error is None:
            try:
                run(net, x[:, : min(batch, x.shape[1])], batch)  # warm-up
                jobs[name] = lambda run=run: run(net, x, batch)
            except Exception as exc:  # noqa: BLE001 - a failing peer is recorded, not fatal
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            entries[name].update(status="unavailable", error=error)
            print(f"  {name}: unavailable ({error})", file=sys.stderr)
    return jobs, entries


def interleaved(jobs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[Any]]:
    """Each job once per round, ``repeats`` rounds: load from other work on a shared machine
    falls on every simulator alike (the fastest run of each counts)."""
    runs: dict[str, list[Any]] = {name: [] for name in jobs}
    for _ in range(repeats):
        for name, job in jobs.items():
            runs[name].append(job())
    return runs


def peer_entries(entries: dict[str, dict[str, Any]], runs: dict[str, list[Any]],
                 ours: SimResult) -> dict[str, dict[str, Any]]:
    """Times and agreement with flexspim of the float peers that ran."""
    for name, peer_runs in runs.items():
        if name not in entries:
            continue
        counts = peer_runs[0][1].astype(np.int64)
        entries[name].update(
            runs_s=[r[0] for r in peer_runs], wall_s=min(r[0] for r in peer_runs),
            same_counts=bool(np.array_equal(counts, ours.output_counts)),
            same_predictions=float(np.mean(counts.argmax(1) == ours.predictions)))
        print(f"  {name}: {entries[name]['wall_s']:.2f} s, same spike counts as flexspim: "
              f"{entries[name]['same_counts']}", file=sys.stderr)
    return entries


def _fast_job(net: IntNetwork, x: np.ndarray, batch: int, backend: str | None
              ) -> Callable[[], Any]:
    """A job ``() -> (wall s, result, CPU s)`` of the fast engine (default or given backend)."""
    def job() -> tuple[float, SimResult, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        res = (simulate(net, x, batch_size=batch) if backend is None
               else simulate_backend(net, x, batch, backend))
        return time.perf_counter() - t0, res, time.process_time() - c0
    return job


def xylo_network(seed: int = 3) -> tuple[IntNetwork, dict[str, np.ndarray]]:
    """The largest network Xylo holds, 16 -> 1000 -> 8, as an integer network (8-bit weights,
    16-bit membranes) and as Xylo's weight matrices. Xylo fires on v > threshold, flexspim on
    v >= threshold: Xylo gets the thresholds minus one (the same decision on integers)."""
    rng = np.random.default_rng(seed)
    w_in = rng.integers(-16, 48, (16, 1000))
    w_out = rng.integers(-8, 16, (1000, 8))
    thr, thr_out = np.full(1000, 60 - 1), np.full(8, 200 - 1)
    layers = (Linear(name="hidden", weight=w_in.T, w_bits=8, v_bits=16, threshold=60),
              Linear(name="out", weight=w_out.T, w_bits=8, v_bits=16, threshold=200))
    net = IntNetwork(input_shape=(16,), layers=layers, name="xylo_16_1000_8")
    return net, {"w_in": w_in, "w_out": w_out, "thr": thr, "thr_out": thr_out}


def run_xylo(samples: int, repeats: int) -> dict[str, Any]:
    """xylosim (in its own process) and flexspim on the Xylo-sized network: times, speedup,
    and agreement of the hidden spikes of the first step (the only step on which the neuron
    models coincide: from rest, Xylo's synaptic current is the weighted input)."""
    error = peers.missing("xylosim.v1")
    if error is not None:
        return {"status": "unavailable", "error": error}
    net, mats = xylo_network()
    x = make_inputs(samples, 5, (16,), density=0.25)
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "in.npz", x=x, **mats)
        proc = subprocess.run([sys.executable, str(Path(__file__).with_name("peer_xylo.py")),
                               str(Path(tmp) / "in.npz"), str(Path(tmp) / "out.json")],
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            return {"status": "failed", "error": f"exit {proc.returncode}: "
                    f"{(proc.stderr.strip().splitlines() or [''])[-1]}"}
        doc = json.loads((Path(tmp) / "out.json").read_text())
    simulate(net, x[:, :1])  # warm-up
    walls, _, res = timed(lambda: simulate(net, x), repeats)
    first = run_reference(net, x[:1]).spikes[0][0]  # hidden spikes of step 0 [N, 1000]
    agree = float(np.mean(np.asarray(doc["first_step_spikes"]) == first))
    return {"status": "ok", "version": doc["version"], "network": "16 -> 1000 -> 8",
            "samples": samples, "wall_s": doc["wall_s"], "flexspim_wall_s": min(walls),
            "flexspim_sops": res.total_sops, "speedup": doc["wall_s"] / min(walls),
            "first_step_agree": agree}


def bitlevel_check(net: IntNetwork, x: np.ndarray, repeats: int) -> dict[str, Any]:
    """The bitlevel engine on the first samples of the benchmark inputs: SOP rate (best of
    ``repeats``) and whether it equals the fast engine in every count and membrane."""
    n = x.shape[1]
    simulate(net, x[:, :1], engine="bitlevel")  # compile / warm-up
    walls, _, res = timed(lambda: simulate(net, x, engine="bitlevel", return_membranes=True),
                          repeats)
    same = result_differences(res, simulate(net, x, return_membranes=True)) == []
    return {"samples": n, "runs_s": walls, "wall_s": min(walls), "sops": res.total_sops,
            "sops_per_s": res.total_sops / min(walls), "equals_fast": same}


def density_sweep(net: IntNetwork, n: int, batch: int, ok_peers: list[str]
                  ) -> dict[str, Any]:
    """Throughput (flexspim's SOPs of the inputs / wall time, best of 2) against input density,
    for the fast engine, the bitlevel engine (a quarter of the samples, one run) and each float
    peer."""
    rates: dict[str, list[float]] = {"flexspim fast": [], "flexspim bitlevel": []}
    rates.update({p: [] for p in ok_peers})
    for d in DENSITIES:
        x = make_inputs(n, 11, net.input_shape, density=d)
        walls, _, res = timed(lambda x=x: simulate(net, x, batch_size=batch), 2)
        rates["flexspim fast"].append(res.total_sops / min(walls))
        xb = x[:, : max(1, n // 4)]
        walls_b, _, res_b = timed(lambda xb=xb: simulate(net, xb, engine="bitlevel"), 1)
        rates["flexspim bitlevel"].append(res_b.total_sops / walls_b[0])
        for p in ok_peers:
            wall = min(peers.FLOAT_PEERS[p][1](net, x, batch)[0] for _ in range(2))
            rates[p].append(res.total_sops / wall)
        print(f"  density {d:.2f}: " + ", ".join(f"{k} {v[-1]:.2e}" for k, v in rates.items()),
              file=sys.stderr)
    return {"densities": list(DENSITIES), "samples": n, "sops_per_s": rates}


def plot_sweep(sweep: dict[str, Any], silicon: float, path: Path, note: str) -> None:
    """Throughput against input density, log-log, with the silicon peak."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    dens = [100 * d for d in sweep["densities"]]
    for name, ys in sweep["sops_per_s"].items():
        style = "-o" if name.startswith("flexspim") else "--s"
        ax.plot(dens, ys, style, label=name, markersize=4)
    ax.axhline(silicon, color="grey", linestyle=":", label="FlexSpIM silicon peak (2.51 GSOP/s)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("input density (% of pixels with an event per timestep)")
    ax.set_ylabel("synaptic operations per second")
    ax.set_title(f"6-conv DVS Gesture SCNN, T = {T_STEPS}, {sweep['samples']} samples ({note})",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def memory_probe(shape: tuple[int, int, int], samples: int) -> float:
    """Peak resident memory (MB) of a fresh process that simulates ``samples`` samples of the
    SCNN with input ``shape`` (preset thresholds) on the fast engine with batches of 64 (the
    engine runs a batch in chunks of samples, so its working memory does not grow with it)."""
    # VmHWM: the peak of this process's own memory since exec (ru_maxrss would include the
    # pages of the parent it was forked from)
    code = ("import numpy as np, re\n"
            "from flexspim.net.presets import dvs_gesture_scnn\n"
            "from flexspim.sim import simulate\n"
            f"net = dvs_gesture_scnn(input_shape={tuple(shape)!r}, seed=0)\n"
            f"rng = np.random.default_rng(0)\n"
            f"x = np.stack([rng.random(({samples}, *net.input_shape), dtype=np.float32)"
            f" < {INPUT_DENSITY} for _ in range({T_STEPS})]).astype(np.int8)\n"
            "simulate(net, x, batch_size=64)\n"
            "status = open('/proc/self/status').read()\n"
            "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) / 1024.0)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=1800, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the figures as JSON")
    ap.add_argument("--plot", type=Path, help="write the throughput-vs-density plot (PNG)")
    ap.add_argument("--samples", type=int, default=128, help="samples to simulate (>= 100)")
    ap.add_argument("--batch", type=int, default=64, help="samples per batch")
    ap.add_argument("--threads", type=int, default=2, help="threads of every simulator")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs of each engine and peer; the fastest counts")
    ap.add_argument("--exact-samples", type=int, default=4,
                    help="samples checked against the reference")
    ap.add_argument("--bitlevel-samples", type=int, default=8,
                    help="samples the bitlevel engine runs (checked against the fast engine)")
    ap.add_argument("--sweep-samples", type=int, default=32,
                    help="samples per density of the sweep (0: no sweep)")
    ap.add_argument("--xylo-samples", type=int, default=32, help="samples of the Xylo network")
    ap.add_argument("--memory-shape", default="2,128,128",
                    help="input shape C,H,W of the peak-memory probe (empty: none)")
    return ap.parse_args(argv)


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        print("numba is not installed: the fast engine runs its torch backend", file=sys.stderr)


def _ratios(doc: dict[str, Any], fast_s: float, float_peers: dict[str, dict[str, Any]],
            xylo: dict[str, Any]) -> None:
    """speedup_vs_<peer> for every peer that ran, and the smallest of them."""
    speedups = {p: e["wall_s"] / fast_s for p, e in float_peers.items() if e["status"] == "ok"}
    if xylo.get("status") == "ok":
        speedups["xylosim"] = xylo["speedup"]
    for p, s in speedups.items():
        doc[f"speedup_vs_{p}"] = s
    doc["speedup_vs_fastest_peer"] = min(speedups.values()) if speedups else None
    doc["fastest_peer"] = min(speedups, key=speedups.__getitem__) if speedups else None


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    machine = machine_info()  # load average before this run's own work
    print(f"load average at start (1, 5, 15 min): {machine['load_avg']} on {machine['cores']} "
          f"cores ({machine['cpu']})")
    _set_threads(args.threads)
    net = dvs_gesture_scnn(w_bits=WEIGHT_BITS, v_bits=MEMBRANE_BITS, seed=0)
    t0 = time.perf_counter()
    net, densities = calibrate(net, make_inputs(4, 1, net.input_shape))
    print(f"calibrated thresholds in {time.perf_counter() - t0:.1f} s: "
          + ", ".join(f"{la.name}={la.threshold}" for la in net.spiking_layers), file=sys.stderr)
    x = make_inputs(args.samples, 2, net.input_shape)
    simulate(net, x[:, : min(8, args.samples)])  # warm-up (thread pool, allocator)
    print("timing flexspim and the peers on the benchmark network, in turn:", file=sys.stderr)
    jobs, float_peers = float_peer_jobs(net, x, args.batch)
    jobs = {"fast": _fast_job(net, x, args.batch, None),
            "torch": _fast_job(net, x, args.batch, "torch"), **jobs}
    runs = interleaved(jobs, args.repeats)
    fast_walls, fast_cpus = [r[0] for r in runs["fast"]], [r[2] for r in runs["fast"]]
    fast_s, res, res_torch = min(fast_walls), runs["fast"][0][1], runs["torch"][0][1]
    torch_walls = [r[0] for r in runs["torch"]]
    float_peers = peer_entries(float_peers, runs, res)
    hw = default_hardware()
    silicon = hw.macro.cols // MEMBRANE_BITS * hw.macro.f_sys_max_mhz * 1e6
    exact = matches_reference(net, x[:, : args.exact_samples])
    bitlevel = bitlevel_check(net, x[:, : args.bitlevel_samples], args.repeats)
    xylo = run_xylo(args.xylo_samples, args.repeats)
    doc: dict[str, Any] = {
        "benchmark": "sim", "samples": res.n_samples, "timesteps": res.n_timesteps,
        "threads": args.threads, "batch": args.batch, "repeats": args.repeats,
        "backend": fast_engine.default_backend(), "total_sops": res.total_sops,
        "fast_runs_s": fast_walls, "fast_cpu_s": fast_cpus, "fast_wall_s": fast_s,
        "sops_per_s": res.total_sops / fast_s,
        "sops_per_cpu_s": res.total_sops / min(fast_cpus),
        "silicon_peak_sops_per_s": silicon, "ratio_vs_silicon": res.total_sops / fast_s / silicon,
        "torch_backend_runs_s": torch_walls,
        "torch_backend_sops_per_s": res.total_sops / min(torch_walls),
        "backends_agree": result_differences(res, res_torch) == [],
        "fast_equals_reference": exact, "bit_exact_samples": args.exact_samples,
        "bitlevel": bitlevel, "bitlevel_sops_per_s": bitlevel["sops_per_s"],
        "peak_mem_mb": memory_probe(tuple(net.input_shape), args.samples),
        "peers": {**float_peers, "xylosim": xylo,
                  "lava": {"status": "unavailable", "error": LAVA_NOTE}},
        "calibration_densities": densities,
        "spike_density": {n: float(d) for n, d in zip(res.layer_names, res.spike_density,
                                                       strict=True)},
        "thresholds": {la.name: la.threshold for la in net.spiking_layers},
    }
    doc["bit_exact"] = bool(exact and bitlevel["equals_fast"] and doc["backends_agree"])
    _ratios(doc, fast_s, float_peers, xylo)
    if args.memory_shape:
        shape = tuple(int(v) for v in args.memory_shape.split(","))
        key = "peak_mem_mb_input_" + "x".join(map(str, shape))
        doc[key] = {str(n): memory_probe(shape, n) for n in (8, 64)}
    if args.sweep_samples > 0:
        print("throughput against input density:", file=sys.stderr)
        ok = [p for p, e in float_peers.items() if e["status"] == "ok"]
        doc["density_sweep"] = density_sweep(net, args.sweep_samples, args.batch, ok)
        if args.plot:
            load = os.getloadavg()[0]
            plot_sweep(doc["density_sweep"], silicon, args.plot,
                       f"{args.threads} threads, load {load:.1f}")
    doc["machine"] = machine
    doc["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
    _report(doc, args)
    if args.json:
        write_json(args.json, doc)
        print(f"wrote {args.json}")
    return 0


def _report(doc: dict[str, Any], args: argparse.Namespace) -> None:
    print("spike density per layer: " + ", ".join(f"{k}={v:.3f}" for k, v in
                                                   doc["spike_density"].items()))
    print(f"fast ({doc['backend']}): {doc['sops_per_s'] / 1e9:.2f} GSOP/s "
          f"({doc['fast_wall_s']:.3f} s wall; {doc['sops_per_cpu_s'] / 1e9:.2f} GSOP per "
          f"CPU-second), {doc['ratio_vs_silicon']:.2f}x silicon peak "
          f"({doc['silicon_peak_sops_per_s'] / 1e9:.2f} GSOP/s)")
    print(f"fast (torch backend): {doc['torch_backend_sops_per_s'] / 1e9:.2f} GSOP/s; backends "
          f"agree: {doc['backends_agree']}")
    for key in sorted(k for k in doc if k.startswith("speedup_vs_")):
        print(f"{key}: {doc[key]:.2f}" if doc[key] is not None else f"{key}: n/a")
    print(f"bitlevel: {doc['bitlevel_sops_per_s']:.3e} SOP/s on {doc['bitlevel']['samples']} "
          f"samples, equal to fast: {doc['bitlevel']['equals_fast']}")
    print(f"bit_exact (fast == reference on {args.exact_samples} samples, bitlevel == fast, "
          f"backends agree): {doc['bit_exact']}")
    print(f"peak memory: {doc['peak_mem_mb']:.0f} MB" + "".join(
        f"; {k} (by samples): {v}" for k, v in doc.items() if k.startswith("peak_mem_mb_input")))
    print(f"load average at start {doc['machine']['load_avg']}, at end {doc['load_avg_end']}")


if __name__ == "__main__":
    sys.exit(main())
