"""The GPU check: what flexspim's CUDA paths do on a real GPU, measured in one go.

Run by ``benchmarks/gpu_check.sh`` on a machine with a CUDA GPU and this repository's tree (no
network; flexspim runs from ``src`` on ``PYTHONPATH``; a library the machine lacks comes from a
wheelhouse prepared beforehand). Steps, each written into the JSON as soon as it ends, so that a
run stopped by a time limit still leaves the figures measured so far:

1. ``cuda_tests``: the tests marked ``cuda`` (tests/test_train_device.py and any other test file
   that marks one), each with its outcome;
2. ``sim``: the fast engine's torch backend on the device against the fast engine on the CPU of
   the same machine (its default backend, Numba where installed, with 2 threads, the project's
   machine, and with every core), on the paper-scale workload (docs/reproduce.md: 2 x 128 x 128,
   thresholds calibrated to 10% hidden density) and on the 32 x 32 DVS Gesture SCNN
   (:func:`flexspim.net.presets.dvs_gesture_scnn`, calibrated alike), T = 20, inputs 95% empty:
   SOP/s, the ratio to the silicon's 2.51 GSOP/s (16 lanes x 157 MHz, paper Table I), and
   whether the device's results equal the CPU's bit for bit (spikes, SOPs, final membranes: every
   field :func:`flexspim.sim.result_differences` compares);
3. ``train``: training samples/s of the ``dvs_gesture`` preset (``flexspim train``'s code path,
   benchmarks/bench_train.py's synthetic recordings) on the device against the CPU.

``goals`` holds the targets and whether they were met: the fast engine on one data-centre GPU at
least 40x the silicon's SOP rate and at least 10x the 2-thread CPU engine on the paper-scale
workload; training at least 10x the CPU's samples/s.

    python benchmarks/gpu_check.py run --out DIR [--device cuda] [--dry-run] [--budget-s 480]
    python benchmarks/gpu_check.py wheelhouse --python-version 3.12 --dest .whl [--skip a,b]
    python benchmarks/gpu_check.py install-missing --wheelhouse .whl --site /tmp/site

``--dry-run`` runs every step on the CPU at tiny sizes (``--device cpu``; the tests are only
collected): the test suite runs it so that the script cannot rot. Its figures mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import re
import statistics
import subprocess
import sys
import time
import tomllib
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JSON_NAME = "gpu_check.json"
#: The silicon's peak: 16 lanes of 16-bit membranes per 256-column row, one row operation per
#: cycle at 157 MHz (paper Table I) = 2.51 GSOP/s.
SILICON_SOPS_PER_S = 256 // 16 * 157e6
#: The goals of the check (docs/benchmarks.md, "GPU check").
GOALS = {"paper_scale_vs_silicon": 40.0, "paper_scale_vs_cpu_2_threads": 10.0,
         "train_vs_cpu": 10.0}
INPUT_SPARSITY = 0.95  # inputs 95% empty (the simulator benchmark's and reproduce's setting)
TARGET_DENSITY = 0.10  # hidden layers at ~10% (idem)
#: Platform tags of the wheelhouse: manylinux x86-64 (pip matches each tag exactly).
PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
             "manylinux_2_24_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")


@dataclass(frozen=True)
class Sizes:
    """How much each step runs (samples per measurement; T timesteps per sample)."""

    timesteps: int
    calibration_samples: int
    paper_cpu_samples: int
    paper_device_samples: int
    gesture_cpu_samples: int
    gesture_device_samples: int
    exact_samples: int  # samples compared bit for bit, CPU against device
    repeats: int  # timed runs; the fastest counts
    train_cpu_samples: int  # samples per epoch
    train_device_samples: int
    train_epochs: int  # measured epochs, after one warm-up epoch
    train_device_batches: tuple[int, ...]  # the preset's batch first
    recordings: int  # synthetic DVS Gesture recordings behind the training frames
    event_rate: float  # their events per second (bench_train.py's assumption)


#: On a GPU: about 5 minutes of measurements after the tests (seen on 2 CPU cores for the CPU
#: parts; the device parts are a small share).
FULL = Sizes(timesteps=20, calibration_samples=2, paper_cpu_samples=16, paper_device_samples=256,
             gesture_cpu_samples=128, gesture_device_samples=2048, exact_samples=8, repeats=3,
             train_cpu_samples=64, train_device_samples=512, train_epochs=2,
             train_device_batches=(16, 64), recordings=4, event_rate=150_000.0)
#: --dry-run: every step, tiny.
DRY = Sizes(timesteps=2, calibration_samples=1, paper_cpu_samples=1, paper_device_samples=2,
            gesture_cpu_samples=2, gesture_device_samples=4, exact_samples=1, repeats=1,
            train_cpu_samples=4, train_device_samples=4, train_epochs=1,
            train_device_batches=(2,), recordings=1, event_rate=2_000.0)


# ------------------------------------------------------------------------------ wheelhouse

def wheel_dist(filename: str) -> tuple[str, str]:
    """(normalised distribution name, version) of a wheel file name (PEP 427 / 503)."""
    parts = Path(filename).name.split("-")
    if len(parts) < 5 or not filename.endswith(".whl"):
        raise ValueError(f"{filename}: not a wheel file name (name-version-python-abi-platform)")
    return re.sub(r"[-_.]+", "-", parts[0]).lower(), parts[1]


def is_installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def missing_wheels(wheels: list[Path], installed: Callable[[str], bool] = is_installed
                   ) -> list[Path]:
    """The wheels whose distribution is not installed (the machine's own copies win)."""
    return [w for w in sorted(wheels) if not installed(wheel_dist(w.name)[0])]


def check_requirements() -> list[str]:
    """What the check imports beyond torch: flexspim's core, the ``fast`` extra (Numba: the CPU
    engine) and the test runner, as pyproject.toml pins them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    tools = [r for r in extras["dev"] if re.match(r"(pytest|hypothesis)\b", r)]
    return [*project["dependencies"], *extras["fast"], *tools]


def prepare_wheelhouse(args: argparse.Namespace) -> int:
    """Download the wheels of :func:`check_requirements` and their dependencies for the target's
    Python version and platform into ``--dest`` (no torch: the target brings its own)."""
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--python-version",
           args.python_version, "--implementation", "cp", "-d", str(dest)]
    for tag in PLATFORMS:
        cmd += ["--platform", tag]
    print("$ " + " ".join(cmd + check_requirements()), flush=True)
    subprocess.run(cmd + check_requirements(), check=True)
    skip = {re.sub(r"[-_.]+", "-", s).lower() for s in args.skip.split(",") if s}
    for wheel in dest.glob("*.whl"):
        if wheel_dist(wheel.name)[0] in skip:
            wheel.unlink()
    kept = sorted(dest.glob("*.whl"))
    size = sum(w.stat().st_size for w in kept) / 2**20
    print(f"{len(kept)} wheels, {size:.1f} MiB in {dest}: "
          + ", ".join(" ".join(wheel_dist(w.name)) for w in kept))
    return 0


def install_missing(args: argparse.Namespace) -> int:
    """Install into ``--site`` (no index, no dependencies resolved) the wheels of
    ``--wheelhouse`` whose distribution this Python lacks."""
    wheels = list(Path(args.wheelhouse).glob("*.whl"))
    todo = missing_wheels(wheels)
    have = sorted({wheel_dist(w.name)[0] for w in wheels} - {wheel_dist(w.name)[0] for w in todo})
    print(f"wheelhouse {args.wheelhouse}: {len(wheels)} wheels; already installed here: "
          f"{', '.join(have) or 'none'}; installing: "
          f"{', '.join(wheel_dist(w.name)[0] for w in todo) or 'nothing'}", flush=True)
    if todo:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                        "--no-compile", "--upgrade", "--target", args.site, *map(str, todo)],
                       check=True)
    return 0


# ------------------------------------------------------------------------------- the record

class Record:
    """The JSON document, written (atomically) after every step."""

    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path, self.doc, self.t0 = path, doc, time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def save(self) -> None:
        from flexspim._io import write_json

        self.doc["elapsed_s"] = round(self.elapsed(), 1)
        write_json(self.path, self.doc)

    def step(self, name: str, budget_s: float, fn: Callable[[], Any]) -> None:
        """Run one step: its result under ``name``, or its error under ``errors``; a step that
        would start past the time budget is recorded as skipped."""
        if self.elapsed() > budget_s:
            self.doc["skipped_steps"].append(name)
            print(f"[{name}] skipped: past the time budget of {budget_s:.0f} s", flush=True)
            self.save()
            return
        print(f"[{name}] ...", flush=True)
        t = time.perf_counter()
        try:
            self.doc[name] = fn()
            self.doc["steps_done"].append(name)
        except Exception as exc:  # noqa: BLE001 - one failing step must not lose the others
            self.doc["errors"][name] = f"{type(exc).__name__}: {exc}"
            print(traceback.format_exc(), file=sys.stderr, flush=True)
        self.doc.setdefault("step_s", {})[name] = round(time.perf_counter() - t, 1)
        self.save()


def environment(device: Any) -> dict[str, Any]:
    """The machine (benchmarks/machine.py) and the device torch sees."""
    import torch
    from machine import machine_info

    info: dict[str, Any] = {"machine": machine_info(), "torch": torch.__version__,
                            "torch_cuda": torch.version.cuda, "device": str(device)}
    if str(device).startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        info.update(device_name=props.name, device_memory_gib=round(props.total_memory / 2**30, 1),
                    device_multiprocessors=props.multi_processor_count)
    return info


# ---------------------------------------------------------------------------- cuda tests

def cuda_test_files() -> list[str]:
    """The test files that mark a test ``cuda``."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                  if "mark.cuda" in p.read_text(encoding="utf-8"))


def junit_outcomes(path: Path) -> dict[str, str]:
    """test id -> passed / failed / error / skipped, from pytest's JUnit XML."""
    out: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        kinds = [child.tag for child in case]
        out[name] = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        out[name] = {"failure": "failed"}.get(out[name], out[name])
    return out


def run_cuda_tests(out: Path, timeout_s: float, collect_only: bool) -> dict[str, Any]:
    """pytest ``-m cuda`` on :func:`cuda_test_files` (``collect_only``: only collected)."""
    files = cuda_test_files()
    junit = out / "cuda_tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-o", "addopts=", "-p",
           "no:cacheprovider", "-q", "-rA", f"--junitxml={junit}", *files]
    if collect_only:
        cmd.append("--collect-only")
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        log, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        log, rc = f"{exc.stdout or ''}\ntimed out after {timeout_s:.0f} s", None
    (out / "cuda_tests.log").write_text(log if isinstance(log, str) else str(log))
    doc: dict[str, Any] = {"files": files, "returncode": rc, "wall_s": round(
        time.perf_counter() - t, 1), "collect_only": collect_only}
    if collect_only:
        doc["collected"] = sorted(line for line in log.splitlines() if "::" in line)
    elif junit.is_file():
        outcomes = junit_outcomes(junit)
        doc["outcomes"] = outcomes
        doc["counts"] = {k: sum(v == k for v in outcomes.values())
                         for k in ("passed", "failed", "error", "skipped")}
    doc["tail"] = log.strip().splitlines()[-12:]
    return doc


# --------------------------------------------------------------------------- fast engine

def random_spikes(shape: tuple[int, ...], timesteps: int, n: int, seed: int) -> Any:
    """Binary int8 inputs ``[T, N, *shape]``, each entry an event with probability 5%."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = np.empty((timesteps, n, *shape), dtype=np.int8)
    for i in range(n):  # one sample at a time: no float array of the whole batch
        x[:, i] = rng.random((timesteps, *shape), dtype=np.float32) >= INPUT_SPARSITY
    return x


def set_threads(threads: int) -> None:
    """torch's and Numba's threads (the CPU engine's; Numba where installed)."""
    import torch

    torch.set_num_threads(threads)
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass


def workloads(sizes: Sizes, dry_run: bool) -> dict[str, Any]:
    """name -> calibrated network: the paper-scale workload and the 32 x 32 DVS Gesture SCNN."""
    from flexspim.net.presets import dvs_gesture_scnn, paper_scale_scnn
    from flexspim.reproduce.system import paper_workload
    from flexspim.sim.calibrate import calibrate_thresholds

    paper = paper_scale_scnn()
    if dry_run:
        x = random_spikes(paper.input_shape, sizes.timesteps, sizes.calibration_samples, 0)
        paper = calibrate_thresholds(paper, x, TARGET_DENSITY)[0]
    else:
        paper = paper_workload()[0]  # exactly docs/reproduce.md's workload
    gesture = dvs_gesture_scnn()
    x = random_spikes(gesture.input_shape, sizes.timesteps, 2 * sizes.calibration_samples, 0)
    return {"paper_scale": paper,
            "dvs_gesture_32": calibrate_thresholds(gesture, x, TARGET_DENSITY)[0]}


def _best_run(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    walls, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        walls.append(round(time.perf_counter() - t, 4))
    return walls, out


def device_simulate(net: Any, x: Any, device: Any, return_membranes: bool = False) -> Any:
    """The fast engine's torch backend on ``device``, all samples in one call (it splits them
    in chunks that fit the device), as a SimResult: the code path of ``simulate(...,
    device="cuda")``, also on the CPU (the dry run), where ``simulate`` would take Numba."""
    from flexspim.sim import fast
    from flexspim.sim.engine import assemble_result, prepare_inputs

    spikes = prepare_inputs(net, x)
    stats = fast.run_batch(net, spikes, return_membranes=return_membranes, backend="torch",
                           device=device)
    return assemble_result(net, stats, "fast", int(spikes.shape[0]), None)


def measure_engine(net: Any, sizes: Sizes, device: Any, cpu_samples: int, device_samples: int,
                   cpu_threads: list[int]) -> dict[str, Any]:
    """The CPU engine at each thread count and the torch backend on ``device``: SOP/s, ratios,
    and bit-exactness of the device against the CPU on the first samples."""
    from flexspim.sim import fast, result_differences, simulate

    x_cpu = random_spikes(net.input_shape, sizes.timesteps, cpu_samples, 1)
    doc: dict[str, Any] = {"network": net.name, "input_shape": list(net.input_shape),
                           "timesteps": sizes.timesteps, "cpu_backend": fast.default_backend(),
                           "cpu": {}, "silicon_sops_per_s": SILICON_SOPS_PER_S}
    for threads in cpu_threads:
        set_threads(threads)
        simulate(net, x_cpu[:, :1])  # warm-up: Numba's compile, the thread pool
        walls, res = _best_run(lambda: simulate(net, x_cpu), sizes.repeats)
        doc["cpu"][str(threads)] = {"samples": cpu_samples, "runs_s": walls,
                                    "sops_per_s": res.total_sops / min(walls)}
    doc["sops_per_sample"] = res.total_sops / cpu_samples
    x_dev = random_spikes(net.input_shape, sizes.timesteps, device_samples, 2)
    device_simulate(net, x_dev[:, : min(8, device_samples)], device)  # warm-up
    walls, res = _best_run(lambda: device_simulate(net, x_dev, device), sizes.repeats)
    rate = res.total_sops / min(walls)
    doc["device"] = {"name": str(device), "samples": device_samples, "runs_s": walls,
                     "sops_per_s": rate,
                     "ratio_vs_silicon": rate / SILICON_SOPS_PER_S}
    for threads, cpu in doc["cpu"].items():
        doc[f"speedup_vs_cpu_{threads}_threads"] = rate / cpu["sops_per_s"]
    n = min(sizes.exact_samples, cpu_samples)
    cpu_res = simulate(net, x_cpu[:, :n], return_membranes=True)
    dev_res = device_simulate(net, x_cpu[:, :n], device, return_membranes=True)
    doc["exact_samples"] = n
    doc["differences"] = result_differences(cpu_res, dev_res)
    doc["bit_exact"] = not doc["differences"] and dev_res.final_membranes is not None
    return doc


def measure_sim(sizes: Sizes, device: Any, cpu_threads: list[int], dry_run: bool
                ) -> dict[str, Any]:
    t = time.perf_counter()
    nets = workloads(sizes, dry_run)
    doc: dict[str, Any] = {"calibration_s": round(time.perf_counter() - t, 1)}
    counts = {"paper_scale": (sizes.paper_cpu_samples, sizes.paper_device_samples),
              "dvs_gesture_32": (sizes.gesture_cpu_samples, sizes.gesture_device_samples)}
    for name, net in nets.items():
        doc[name] = measure_engine(net, sizes, device, *counts[name], cpu_threads)
        print(f"  {name}: " + summary_line(doc[name]), flush=True)
    return doc


def summary_line(d: dict[str, Any]) -> str:
    cpu = ", ".join(f"{t} threads {c['sops_per_s'] / 1e9:.1f}" for t, c in d["cpu"].items())
    dev = d["device"]
    return (f"CPU ({d['cpu_backend']}) {cpu} GSOP/s; {dev['name']} (torch backend) "
            f"{dev['sops_per_s'] / 1e9:.1f} GSOP/s = {dev['ratio_vs_silicon']:.1f}x silicon; bit-exact "
            f"{d['bit_exact']} on {d['exact_samples']} samples")


# ------------------------------------------------------------------------------- training

def measure_train(sizes: Sizes, device: Any, cpu_threads: list[int]) -> dict[str, Any]:
    """Samples/s of every measured epoch of the ``dvs_gesture`` preset: CPU at each thread
    count (batch 16), device at each of ``train_device_batches``."""
    import bench_train
    import torch

    from flexspim.train import TrainConfig
    from flexspim.train.loop import Runtime

    n = max(sizes.train_cpu_samples, sizes.train_device_samples)
    x, y, _, _ = bench_train.gesture_data(sizes.recordings, n, sizes.event_rate)
    opts = dict(bench_train.PRESETS["dvs_gesture"][0])
    config = TrainConfig(**{**opts, "epochs": sizes.train_epochs + 1})
    doc: dict[str, Any] = {"preset": "dvs_gesture", "time_bins": config.time_bins,
                           "batch_size": config.batch_size, "cpu": {}, "device": {}}
    m = sizes.train_cpu_samples
    for threads in cpu_threads:
        torch.set_num_threads(threads)
        rates = bench_train.epoch_rates(config, x[:m], y[:m], Runtime(device="cpu"))
        doc["cpu"][str(threads)] = {"samples_per_epoch": m, **rate_summary(rates)}
    m = sizes.train_device_samples
    for batch in sizes.train_device_batches:
        cfg = dataclasses.replace(config, batch_size=batch)
        rates = bench_train.epoch_rates(cfg, x[:m], y[:m], Runtime(device=device))
        doc["device"][str(batch)] = {"samples_per_epoch": m, **rate_summary(rates)}
    best_cpu = max(c["median"] for c in doc["cpu"].values())
    preset = doc["device"][str(sizes.train_device_batches[0])]["median"]
    doc["cpu_samples_per_s"], doc["device_samples_per_s"] = best_cpu, preset
    doc["speedup_vs_cpu"] = preset / best_cpu
    print(f"  dvs_gesture training: CPU {best_cpu:.1f} samples/s, {device} {preset:.1f} "
          f"samples/s (batch {sizes.train_device_batches[0]}), {preset / best_cpu:.1f}x",
          flush=True)
    return doc


def rate_summary(rates: list[float]) -> dict[str, Any]:
    return {"median": round(statistics.median(rates), 2), "rates": [round(r, 2) for r in rates]}


# ---------------------------------------------------------------------------------- goals

def goals(doc: dict[str, Any]) -> dict[str, Any]:
    """Each goal's target, the measured ratio (None where its step did not run) and whether met
    (None in a dry run: its figures are the CPU's at tiny sizes)."""
    paper = doc.get("sim", {}).get("paper_scale", {})
    measured = {"paper_scale_vs_silicon": paper.get("device", {}).get("ratio_vs_silicon"),
                "paper_scale_vs_cpu_2_threads": paper.get("speedup_vs_cpu_2_threads"),
                "train_vs_cpu": doc.get("train", {}).get("speedup_vs_cpu")}
    judge = not doc.get("dry_run")
    return {k: {"target": GOALS[k], "measured": v,
                "met": None if v is None or not judge else v >= GOALS[k]}
            for k, v in measured.items()}


def all_exact(doc: dict[str, Any]) -> bool:
    sim = doc.get("sim", {})
    return all(sim.get(k, {}).get("bit_exact") is True for k in ("paper_scale", "dvs_gesture_32"))


def run_check(args: argparse.Namespace) -> int:
    """The steps of the module docstring; exit 0 when every step ran, the tests passed (or, in
    a dry run, were collected) and the device equals the CPU bit for bit, else 1."""
    from flexspim._device import resolve_device
    from flexspim.errors import ConfigError

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = DRY if args.dry_run else FULL
    device_name = "cpu" if args.dry_run else args.device
    rec = Record(out / JSON_NAME, {
        "benchmark": "gpu_check", "dry_run": bool(args.dry_run), "status": "running",
        "sizes": dataclasses.asdict(sizes), "steps_done": [], "skipped_steps": [], "errors": {}})
    try:
        device = resolve_device(device_name)
    except ConfigError as exc:
        rec.doc.update(status="failed", errors={"device": str(exc)})
        rec.save()
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    cores = len(os.sched_getaffinity(0))
    cpu_threads = sorted({min(2, cores), cores})
    rec.doc["cpu_threads"] = cpu_threads
    rec.step("environment", args.budget_s, lambda: environment(device))
    rec.step("cuda_tests", args.budget_s, lambda: run_cuda_tests(
        out, max(30.0, min(args.tests_timeout_s, args.budget_s - rec.elapsed())), args.dry_run))
    rec.step("sim", args.budget_s, lambda: measure_sim(sizes, device, cpu_threads, args.dry_run))
    rec.step("train", args.budget_s, lambda: measure_train(sizes, device, cpu_threads))
    rec.doc["goals"] = goals(rec.doc)
    rec.doc["bit_exact"] = all_exact(rec.doc)
    tests = rec.doc.get("cuda_tests", {})
    tests_ok = tests.get("returncode") == 0
    complete = not rec.doc["errors"] and not rec.doc["skipped_steps"]
    rec.doc["status"] = "complete" if complete else "incomplete"
    rec.save()
    print(f"wrote {rec.path} ({rec.doc['status']}, {rec.elapsed():.0f} s): bit-exact "
          f"{rec.doc['bit_exact']}, cuda tests rc {tests.get('returncode')}, goals "
          + ", ".join(f"{k} {g['measured'] and round(g['measured'], 1)} / {g['target']}"
                      + ("" if g["met"] is None else f" {'met' if g['met'] else 'NOT met'}")
                      for k, g in rec.doc["goals"].items())
          + (" (dry run: tiny sizes on the CPU, goals not judged)" if args.dry_run else ""))
    return 0 if complete and tests_ok and rec.doc["bit_exact"] else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the check (benchmarks/gpu_check.sh runs this)")
    run.add_argument("--out", default="out/gpu_check", help="folder of gpu_check.json")
    run.add_argument("--device", default="cuda", help="the device (default cuda)")
    run.add_argument("--dry-run", action="store_true",
                     help="every step on the CPU at tiny sizes; tests only collected")
    run.add_argument("--budget-s", type=float, default=480.0,
                     help="no step starts after this many seconds (default 480)")
    run.add_argument("--tests-timeout-s", type=float, default=240.0,
                     help="limit of the cuda tests (default 240)")
    wh = sub.add_parser("wheelhouse", help="download the wheels a target machine may lack")
    wh.add_argument("--python-version", required=True, help="the target's Python, e.g. 3.12")
    wh.add_argument("--dest", default=".whl", help="folder of the wheels (default .whl)")
    wh.add_argument("--skip", default="", help="distributions the target has (comma list)")
    inst = sub.add_parser("install-missing", help="install the wheels this Python lacks")
    inst.add_argument("--wheelhouse", required=True)
    inst.add_argument("--site", required=True, help="folder to install into (PYTHONPATH)")
    args = ap.parse_args(argv)
    return {"run": run_check, "wheelhouse": prepare_wheelhouse,
            "install-missing": install_missing}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
