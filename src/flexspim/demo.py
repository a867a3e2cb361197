"""The end-to-end demo on built-in data (``flexspim demo``; README "the two commands").

Steps, all offline:

1. the network: the trained digits model shipped in the package (``assets/digits_net.npz``,
   made by ``flexspim train``; its record ``digits_net.json`` holds the time bins and the command),
   or, with ``train=True``, a fresh quantization-aware training run on the digits train split;
2. the data: the offline digits test split (scikit-learn's digits moved in saccades and turned
   into ON/OFF events, :class:`flexspim.data.DigitsEvents`), binned into the model's timesteps;
3. the integer reference (:func:`flexspim.net.reference.run_reference`) and the fast simulator
   on the whole split, compared sample by sample: every prediction, output spike count per class,
   spike count per layer and SOP count per layer (``bit_exact``); a few samples also through the
   bit-level macro engine. The reference needs torch: without it (an install without the
   ``torch`` extra) it is skipped, ``integer_reference`` says so, and the fast engine is still
   checked against the bit-level macro engine and the system engine (which need no torch);
4. for the policies ``hs-min`` and ``optimal`` (paper §III, Fig. 4): compile onto the default
   hardware for the measured activity, execute the mapping on the system engine over the whole
   split (counts per macro from the executed events), cost it (energy breakdown in pJ, latency
   as the makespan, macro utilisation) and compare with the analytic estimate; a few samples
   also through the system engine's bit-level mode (counts and results equal the fast mode's);
5. ``results.json`` (format ``flexspim-demo-results`` v1), a run document per policy
   (``run_<policy>.json``), the mappings, the simulation result and ``report.html``.

``quick`` simulates a seeded subset of the test split (:data:`QUICK_SAMPLES`) so the demo ends in
well under 3 minutes on 2 cores; the full run uses every test sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from flexspim._io import write_json
from flexspim.compile import save_mapping
from flexspim.data import DigitsEvents, load_frames
from flexspim.dse.networks import shipped_model_info, shipped_model_path, shipped_time_bins
from flexspim.energy.ops import characterisation_rows, macro_characterisation
from flexspim.errors import ConfigError
from flexspim.hw import Hardware, default_hardware, hardware_to_dict
from flexspim.mapped import MappedRun, compile_and_run, record
from flexspim.net import IntNetwork, load_network, save_network
from flexspim.report import make_run_document, save_run_document, write_report
from flexspim.sim import result_differences, simulate
from flexspim.system import run_system
from flexspim.system.trace import Trace

DEMO_FORMAT = "flexspim-demo-results"
DEMO_VERSION = 1
#: The policies the demo compares (paper §III: hybrid stationarity and its optimum).
DEMO_POLICIES: tuple[str, ...] = ("hs-min", "optimal")
#: Test samples in --quick mode (a seeded subset; the full test split has 360).
QUICK_SAMPLES = 120
#: Samples also run through the bit-level macro engine (slow: every SOP through the macro model).
BITLEVEL_SAMPLES = 2
QUICK_BITLEVEL_SAMPLES = 1
#: Timesteps of the first sample run through the system engine's bit-level mode (every row
#: operation of the mapping through the macro model: about 40,000 units per inference of the
#: digits model; the first timesteps already exercise every layer, shape and rule).
SYSTEM_BITLEVEL_TIMESTEPS = 3
#: Epochs of the --train run (the shipped model's record names its own).
TRAIN_EPOCHS = 8


def _say(log: Callable[[str], None] | None, msg: str) -> None:
    if log is not None:
        log(msg)


def load_test_split(n_time_bins: int, *, samples: int | None = None, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The digits test split binned into ``n_time_bins``: spikes int64 ``[T, N, 2, H, W]`` and
    labels ``[N]``; ``samples`` picks a seeded subset (sorted indices)."""
    frames, labels = load_frames(DigitsEvents(split="test", seed=0), n_time_bins)
    frames, labels = np.asarray(frames), np.asarray(labels).astype(np.int64)
    if samples is not None and samples < frames.shape[0]:
        idx = np.sort(np.random.default_rng(seed).choice(frames.shape[0], samples,
                                                         replace=False))
        frames, labels = frames[idx], labels[idx]
    return np.ascontiguousarray(np.moveaxis(frames, 1, 0)).astype(np.int64), labels


def train_digits_model(out_dir: Path, n_time_bins: int, *, seed: int = 0,
                       epochs: int = TRAIN_EPOCHS, progress: bool = True) -> IntNetwork:
    """Train the digits preset (8-bit weights, 16-bit membranes) and export it."""
    from flexspim.train import TrainConfig, export_network, fit

    train = load_frames(DigitsEvents(split="train", seed=0), n_time_bins)
    test = load_frames(DigitsEvents(split="test", seed=0), n_time_bins)
    config = TrainConfig(preset="digits", epochs=epochs, time_bins=n_time_bins, seed=seed)
    result = fit(config, train, test, out=out_dir / "train", progress=progress)
    return export_network(result.model, name="digits")


#: What ``results.json`` says in ``integer_reference`` when the reference ran (files written
#: before the field existed mean this).
REFERENCE_COMPARED = "compared"
#: ... and when it did not: the fast engine is then checked against the bit-level macro engine
#: and the system engine only.
REFERENCE_SKIPPED = ("skipped: torch is not installed (pip install 'flexspim[torch]'); the fast "
                     "engine was checked against the bit-level and system engines only")


def reference_available() -> bool:
    """Whether the PyTorch integer reference can run: torch (the ``torch`` extra) imports."""
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        return False
    return True


def check_bit_exact(net: IntNetwork, spikes: np.ndarray, result: Any
                    ) -> tuple[dict[str, bool], Any]:
    """Compare a SimResult with the integer reference on the same spikes, field by field;
    returns (check -> passed, the ReferenceResult)."""
    from flexspim.net.reference import run_reference

    ref = run_reference(net, spikes)
    return {
        "predictions": bool(np.array_equal(ref.predictions, result.predictions)),
        "output_counts": bool(np.array_equal(ref.output_counts, result.output_counts)),
        "spikes": bool(np.array_equal(ref.output_spikes, result.sample_spikes)),
        "sops": bool(np.array_equal(ref.sops, result.sample_sops)),
    }, ref


def cost_policy(net: IntNetwork, hw: Hardware, trace: Trace, labels: np.ndarray,
                policy: str) -> MappedRun:
    """Compile ``net`` with ``policy`` for the activity the trace measured, execute the mapping
    on the system engine (fast mode) over the trace, price it and estimate it."""
    return compile_and_run(net, hw, trace, policy=policy, labels=labels)


def check_system_bitlevel(net: IntNetwork, hw: Hardware, mapping: Any, spikes: np.ndarray
                          ) -> bool:
    """Run ``spikes`` through the system engine's bit-level mode (every row operation through
    the macro model) and compare results and every count with the fast mode's."""
    bit = run_system(net, mapping, hw, spikes, mode="bitlevel")
    fast = run_system(net, mapping, hw, spikes)
    same_counts = bool(np.array_equal(bit.counts.data, fast.counts.data))
    return same_counts and not result_differences(bit.result, fast.result)


def _cost_summary(mapping: Any, cost: Any) -> dict[str, Any]:
    """Energy (per inference: uJ in total, pJ per component and per layer) and latency (us)."""
    n = max(int(cost.n_samples), 1)
    return {
        "energy_per_inference_uj": float(cost.energy_per_inference_uj),
        "latency_per_inference_us": float(cost.latency_per_inference_us),
        "latency_per_timestep_us": float(cost.latency_per_timestep_us),
        "stationary_fraction": float(mapping.stationary_fraction),
        "stationary_operands": float(mapping.resident_operands),
        "stationary": {lm.name: lm.stationary for lm in mapping.layers},
        "macro_utilisation": [float(m["utilisation"]) for m in cost.per_macro],
        "components_pj_per_inference": {k: float(v) / n for k, v in cost.total_pj.items()},
        "per_layer_pj_per_inference": {layer: {k: float(v) / n for k, v in comp.items()}
                                       for layer, comp in cost.per_layer_pj.items()},
    }


def _load_model(out: Path, train: bool, seed: int, progress: bool,
                log: Callable[[str], None] | None) -> tuple[IntNetwork, str, int]:
    """Step 1: the network (shipped, or trained by this run), saved as ``network.npz``;
    returns (network, where it came from, its timesteps)."""
    n_time_bins = shipped_time_bins() if not train else 12
    if train:
        _say(log, f"training the digits model ({TRAIN_EPOCHS} epochs) ...")
        net = train_digits_model(out, n_time_bins, seed=seed, progress=progress)
        source = "trained by this run"
    else:
        path = shipped_model_path()
        net = load_network(path)
        source = f"shipped model {path.name}"
    save_network(net, out / "network.npz")
    return net, source, n_time_bins


def _simulate_and_check(net: IntNetwork, spikes: np.ndarray, labels: np.ndarray, quick: bool,
                        progress: bool, timings: dict[str, float]
                        ) -> tuple[Trace, dict[str, bool], Any, int]:
    """Step 3: the fast engine on every sample (its activity trace kept for the mapped runs),
    the integer reference beside it where torch is installed, and the first samples through the
    bit-level engine; returns (the trace, check -> passed, the ReferenceResult or None,
    bit-level samples)."""
    t = time.perf_counter()
    trace = record(net, spikes, labels=labels, progress=progress)
    result = trace.result
    timings["simulate_fast_s"] = time.perf_counter() - t
    t = time.perf_counter()
    checks, ref = (check_bit_exact(net, spikes, result) if reference_available()
                   else ({}, None))
    timings["reference_s"] = time.perf_counter() - t
    t = time.perf_counter()
    n_bit = min(QUICK_BITLEVEL_SAMPLES if quick else BITLEVEL_SAMPLES, spikes.shape[1])
    bit = simulate(net, spikes[:, :n_bit], engine="bitlevel", labels=labels[:n_bit],
                   progress=progress)
    head = simulate(net, spikes[:, :n_bit], engine="fast", labels=labels[:n_bit])
    checks["bitlevel_vs_fast"] = not result_differences(bit, head)
    timings["simulate_bitlevel_s"] = time.perf_counter() - t
    return trace, checks, ref, n_bit


def _cost_policies(net: IntNetwork, hw: Hardware, trace: Trace, labels: np.ndarray,
                   out: Path, checks: dict[str, bool], log: Callable[[str], None] | None
                   ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, MappedRun]]:
    """Step 4: each policy compiled, executed on the system engine and priced, its mapping and
    run document written; adds the system engine's checks to ``checks``; returns (summary per
    policy, run document per policy, mapped run per policy)."""
    result = trace.result

    policies: dict[str, Any] = {}
    docs: dict[str, dict[str, Any]] = {}
    runs: dict[str, Any] = {}
    for policy in DEMO_POLICIES:
        t = time.perf_counter()
        _say(log, f"compiling with policy {policy} and executing the mapping on the system "
                  f"engine ...")
        run = cost_policy(net, hw, trace, labels, policy)
        mapping, cost = run.mapping, run.cost
        save_mapping(mapping, out / f"mapping_{policy}.json")
        policies[policy] = _cost_summary(mapping, cost)
        policies[policy]["estimate_energy_per_inference_uj"] = \
            run.estimate.energy_per_inference_uj
        policies[policy]["estimate_vs_engine_energy"] = run.difference.energy_rel
        policies[policy]["estimate_vs_engine_latency"] = run.difference.latency_rel
        policies[policy]["compile_and_cost_s"] = time.perf_counter() - t
        checks[f"system_engine_{policy}_vs_fast"] = not result_differences(run.result, result)
        runs[policy] = run
        docs[policy] = make_run_document(result, mapping=mapping, cost=cost, hardware=hw)
        save_run_document(docs[policy], out / f"run_{policy}.json")
    return policies, docs, runs


def _write_demo_report(summary: dict[str, Any], doc: dict[str, Any], out: Path) -> None:
    """Step 5: ``report.html``, the best policy's run with the comparison and the checks."""
    policies = summary["policies"]
    comparison = [{"policy": p, **{k: v for k, v in policies[p].items()
                                   if isinstance(v, (int, float, str))}}
                  for p in DEMO_POLICIES]
    checks = {**summary["checks"], "bit_exact": summary["bit_exact"],
              "integer_reference": summary["integer_reference"]}
    extra = {"policies compared": comparison,
             "bit-exactness checks (hardware simulator vs integer reference)": checks,
             "accuracy": {"hardware": summary["accuracy_hardware"],
                          "reference": summary["accuracy_reference"]}}
    write_report({**doc, "extra": extra}, out / "report.html",
                 title=f"flexspim demo: digits on FlexSpIM ({summary['policy']})")


def run_demo(out_dir: str | Path = "out/demo", *, quick: bool = False, seed: int = 0,
             train: bool = False, hardware: Hardware | None = None,
             samples: int | None = None, progress: bool = True,
             log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the demo (module docstring); returns what ``results.json`` holds.

    ``samples`` simulates a seeded subset of that many test samples (default: all, or
    :data:`QUICK_SAMPLES` with ``quick``). Without torch the integer reference is skipped
    (``integer_reference`` says so) and the other engines are still compared.
    """
    if samples is not None and int(samples) < 1:
        raise ConfigError(f"--samples {samples}: need at least one test sample")
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hw = hardware if hardware is not None else default_hardware()
    net, model_source, n_time_bins = _load_model(out, train, seed, progress, log)
    timings: dict[str, float] = {"model_s": time.perf_counter() - t0}

    t = time.perf_counter()
    if samples is None and quick:
        samples = QUICK_SAMPLES
    spikes, labels = load_test_split(n_time_bins, samples=samples, seed=seed)
    timings["data_s"] = time.perf_counter() - t
    _say(log, f"simulating {spikes.shape[1]} test samples x {spikes.shape[0]} timesteps ...")
    if not reference_available():
        _say(log, "torch is not installed: the integer reference is skipped (pip install "
                  "'flexspim[torch]' adds it)")
    trace, checks, ref, n_bit = _simulate_and_check(net, spikes, labels, quick, progress,
                                                    timings)
    result = trace.result
    result.save_json(out / "simulation.json")
    policies, docs, runs = _cost_policies(net, hw, trace, labels, out, checks, log)
    t = time.perf_counter()
    n_sys = 1
    mapping = runs[DEMO_POLICIES[-1]].mapping
    checks["system_bitlevel_vs_fast"] = check_system_bitlevel(
        net, hw, mapping, spikes[:SYSTEM_BITLEVEL_TIMESTEPS, :n_sys])
    timings["system_bitlevel_s"] = time.perf_counter() - t

    best = min(DEMO_POLICIES, key=lambda p: policies[p]["energy_per_inference_uj"])
    acc_ref = (float(np.mean(ref.predictions == labels)) if ref is not None and len(labels)
               else None)
    summary = {
        "format": DEMO_FORMAT, "version": DEMO_VERSION,
        "quick": bool(quick), "seed": int(seed), "model": model_source,
        "model_record": {} if train else shipped_model_info(), "network": net.name,
        "n_samples": int(result.n_samples), "n_timesteps": int(result.n_timesteps),
        "accuracy_hardware": result.accuracy, "accuracy_reference": acc_ref,
        "bit_exact": bool(all(checks.values())), "checks": checks,
        "integer_reference": REFERENCE_COMPARED if ref is not None else REFERENCE_SKIPPED,
        "bitlevel_samples": int(n_bit), "system_bitlevel_samples": int(n_sys),
        "system_bitlevel_timesteps": int(min(SYSTEM_BITLEVEL_TIMESTEPS, spikes.shape[0])),
        "policy": best,
        "energy_per_inference_uj": policies[best]["energy_per_inference_uj"],
        "latency_per_inference_us": policies[best]["latency_per_inference_us"],
        "sops_per_inference": result.total_sops / max(result.n_samples, 1),
        "overflow_events": int(result.overflow_events.sum()),
        "policies": policies,
        "hardware": hardware_to_dict(hw),
    }
    t = time.perf_counter()
    _write_demo_report(summary, docs[best], out)
    timings["report_s"] = time.perf_counter() - t
    t = time.perf_counter()
    char = macro_characterisation(hw)
    summary["macro"] = {k: v for k, v in char.items() if isinstance(v, (int, float, str, dict))
                        and k != "shape_sweep"}
    timings["macro_characterisation_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    summary["timings_s"] = timings
    write_json(out / "results.json", summary)
    return summary


def format_summary(summary: dict[str, Any], out_dir: str | Path) -> str:
    """A few lines for the terminal."""
    def pct(x: Any) -> str:
        return "-" if x is None else f"{100 * float(x):.2f} %"

    lines = [
        f"demo: {summary['n_samples']} test samples x {summary['n_timesteps']} timesteps, "
        f"{summary['model']}",
        f"  accuracy: hardware {pct(summary['accuracy_hardware'])}, reference "
        f"{pct(summary['accuracy_reference'])}, bit-exact: {summary['bit_exact']}",
    ]
    reference = summary.get("integer_reference", REFERENCE_COMPARED)
    if reference != REFERENCE_COMPARED:
        lines.append(f"  integer reference {reference}")
    for p, s in summary["policies"].items():
        util = ", ".join(f"{100 * u:.0f}%" for u in s.get("macro_utilisation", []))
        lines.append(f"  {p:>8}: {s['energy_per_inference_uj']:.3f} uJ/inference, "
                     f"{s['latency_per_inference_us']:.1f} us/inference (system engine, "
                     f"executed; analytic estimate "
                     f"{100 * s.get('estimate_vs_engine_energy', 0.0):+.2f}%), "
                     f"{s.get('stationary_operands', 0):.0f} stationary operands, macros busy "
                     f"{util}")
    macro = summary.get("macro")
    if macro:
        rows = characterisation_rows(macro)
        w0 = max(len(r[0]) for r in rows)
        lines.append("  macro characterisation (bit-level model, paper beside model):")
        lines.append(f"    {'quantity':<{w0}}  {'paper':>12}  {'model':>16}")
        lines.extend(f"    {q:<{w0}}  {p:>12}  {m:>16}" for q, p, m in rows)
    lines.append(f"  wrote {Path(out_dir) / 'results.json'} and {Path(out_dir) / 'report.html'}")
    return "\n".join(lines)


def check_out_dir(out_dir: str | Path) -> Path:
    """The output folder; ConfigError if it is a file."""
    p = Path(out_dir)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"--out {p}: is a file, expected a folder for the demo's outputs")
    return p
