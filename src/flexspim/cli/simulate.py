"""``flexspim simulate NETWORK EVENTS``: run an integer network bit-exactly on event data.

EVENTS is one of

- a recording: an AEDAT 4.0 or 3.1, Prophesee EVT 2.0 / EVT 3.0 / DAT, or ``.npy`` event file
  (a structured array with fields x, y, p, t), told apart by content
  (:func:`flexspim.data.read_events`); or a folder of them, one sample per file in file-name
  order. Recordings are cropped, denoised, down-sampled and cut into windows as the recording
  options say (:mod:`flexspim.cli.recording_options`), checked against the network input (a
  mismatch names the option to add) and binned into ``--time-bins`` bins. Labels come from a
  label table (``--labels FILE.csv`` with lines ``file,label[,start_us,end_us]``, or a
  ``labels.csv`` in the folder) or from file names that contain ``label<k>``;
- a ``.npy`` of binned spikes, integer ``[T, N, *input_shape]`` (time first, then samples);
- a frames file ``.npz`` (``flexspim data frames``; format ``flexspim-frames``): its test split
  (``--split train`` for the other) with its labels.

``--labels`` may also give comma-separated integers or a ``.npy``/``.csv`` file of one label per
sample. Prints accuracy (when labels are known), SOPs and spikes per layer; ``--json`` writes
the run document. The mapping, the hardware and every output path are checked before the
simulation starts. ``--device cuda`` (or
``auto`` on a machine with a GPU) runs the fast engine's torch backend on the GPU, bit-exact as on
the CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from flexspim.cli._common import (
    add_hw,
    add_plot,
    add_shared,
    check_output_files,
    description,
    progress_enabled,
)
from flexspim.cli.export import device_option
from flexspim.cli.recording_options import add_recording_options, load_samples
from flexspim.compile import Mapping, load_mapping
from flexspim.compile.program import check_mapping
from flexspim.data.inputs import is_label_table
from flexspim.data.recordings import is_event_file, read_recording
from flexspim.energy.system import CostReport
from flexspim.errors import ConfigError, FormatError, MappingError
from flexspim.hw import Hardware, hardware_to_dict, load_hardware
from flexspim.mapped import MappedRun, record, run_mapped
from flexspim.mapped.run import hardware_digest
from flexspim.net import IntNetwork, load_network
from flexspim.report import (
    make_run_document,
    plot_energy_breakdown,
    plot_timeline,
    save_run_document,
)
from flexspim.results import run_rows, write_table
from flexspim.sim import ENGINES, SimResult, simulate
from flexspim.sim.metrics import neurobench_metrics


@dataclass(frozen=True, eq=False)
class SimulateInputs:
    """What the command simulates: the network, the inputs, labels (or None), sample names."""

    net: IntNetwork
    inputs: Any
    labels: np.ndarray | None
    names: list[str]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate", help="simulate an integer network bit-exactly on events",
        description=description(__doc__))
    p.add_argument("network", metavar="NETWORK", help="integer network file (.npz)")
    p.add_argument("events", metavar="EVENTS",
                   help="a recording (AEDAT 4 / 3.1, EVT 2.0 / 3.0, DAT, events .npy) or a "
                        "folder of them, binned spikes .npy [T, N, C, H, W], or a frames .npz")
    p.add_argument("--engine", choices=sorted(ENGINES), default="fast",
                   help="fast (compiled, default), bitlevel (every SOP through the macro's "
                        "phases on bit planes) or bitcell (the per-cell macro model, slow); with "
                        "--mapping, the mode of the system engine (fast or bitlevel)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON")
    p.add_argument("--time-bins", type=int, metavar="T",
                   help="number of time bins for event inputs (required for events)")
    p.add_argument("--sensor-size", metavar="W,H",
                   help="sensor width,height of recordings whose file gives none (a size in the "
                        "file's header comes first; without either: the network input when every "
                        "event fits in it, else the largest coordinates + 1)")
    p.add_argument("--labels", metavar="LABELS",
                   help="a label table (CSV: file,label[,start_us,end_us]), comma-separated "
                        "labels, or a .npy/.csv file with one label per sample")
    p.add_argument("--batch-size", type=int, default=64, help="samples per batch (default 64)")
    p.add_argument("--samples", type=int, metavar="N",
                   help="simulate only the first N samples (default: all)")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="split of a frames file to simulate (default test)")
    p.add_argument("--mapping", metavar="FILE",
                   help="mapping JSON from 'flexspim compile': count and price the run on it")
    add_hw(p, "hardware description (.yaml/.yml/.toml) or preset (flexspim, spidr) for "
              "--mapping (default: the paper's system with the mapping's macro count)")
    add_plot(p, "the energy breakdown by component and layer (with --mapping)")
    p.add_argument("--timeline", metavar="FILE",
                   help="figure of the macros' timeline over the first inference, PNG, SVG or "
                        "PDF by extension (with --mapping)")
    add_shared(p)
    p.add_argument("--csv", metavar="FILE",
                   help="write the results as one long CSV table (per sample, layer, component, "
                        "macro; flexspim.results.load reads it)")
    p.add_argument("--parquet", metavar="FILE", help="the same table as Parquet")
    add_recording_options(p)
    p.add_argument("--device", type=device_option, default="cpu",
                   help="cpu (default: the engine's own backend), auto (CUDA when present), "
                        "cuda or cuda:N (the fast engine's torch backend on that GPU; not with "
                        "--mapping)")
    p.set_defaults(func=run)


def _parse_sensor_size(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        size = tuple(int(s) for s in text.split(","))
    except ValueError:
        size = ()
    if len(size) not in (2, 3) or min(size) < 1:
        raise ConfigError(f"--sensor-size {text!r}: expected W,H (positive integers)")
    return size


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(f"{path}: not a readable .npy array ({exc}); pass events or binned "
                          f"spikes saved with numpy.save") from None


def binned_spikes(path: Path, net: IntNetwork) -> np.ndarray:
    """Binned spikes ``[T, N, *input shape]`` from a ``.npy``; a plain ``[N, 4]`` table (events
    as columns) is refused with the line of Python that turns it into events."""
    arr = _load_npy(path)
    shape = tuple(net.input_shape)
    if arr.dtype.names is not None:
        raise FormatError(f"{path}: holds a structured array with fields "
                          f"{', '.join(arr.dtype.names)}; events need the fields x, y, p, t "
                          f"(flexspim.data.make_events)")
    if arr.ndim == 2 and arr.shape[1] == 4:  # never binned spikes: those have >= 3 axes
        raise FormatError(f"{path}: holds a plain array of shape {arr.shape}, neither events nor "
                          f"binned spikes [T, N, {', '.join(map(str, shape))}]; if its columns "
                          f"are x, y, p and t (µs), save them as events: a = numpy.load("
                          f"'{path}'); numpy.save('{path}', flexspim.data.make_events(*a.T))")
    return arr


def _explicit_labels(text: str) -> np.ndarray:
    path = Path(text)
    if path.suffix == ".npy" and path.exists():
        return np.asarray(_load_npy(path)).astype(np.int64).reshape(-1)
    if path.suffix == ".csv" and path.exists():
        body = path.read_text(encoding="utf-8").replace("\n", ",")
        text = ",".join(s for s in body.split(",") if s.strip())
    try:
        return np.array([int(s) for s in text.split(",") if s.strip()], dtype=np.int64)
    except ValueError:
        raise ConfigError(f"--labels {text!r}: expected comma-separated integers or a .npy/.csv "
                          f"file") from None


def load_recordings(args: argparse.Namespace, net: IntNetwork) -> SimulateInputs:
    """Recordings (a file or folder of AEDAT, EVT 2.0 / 3.0, DAT or .npy events) preprocessed to
    the network input and binned into ``--time-bins`` bins: ``[T, N, C, H, W]``."""
    if args.time_bins is None or args.time_bins < 1:
        raise ConfigError(f"{args.events}: recordings are binned into time steps; pass "
                          f"--time-bins T (the T the network was trained with)")
    samples = load_samples(args.events, args, tuple(net.input_shape))
    spikes = np.ascontiguousarray(np.moveaxis(samples.frames(args.time_bins), 1, 0))
    return SimulateInputs(net=net, inputs=spikes, labels=samples.labels, names=samples.names)


def load_inputs(args: argparse.Namespace) -> SimulateInputs:
    """Read the network, the inputs and the labels that the command line names."""
    net = load_network(args.network)
    src = Path(args.events)
    labels: np.ndarray | None = None
    if src.is_dir() or is_event_file(src):
        data = load_recordings(args, net)
        if args.labels is not None and not is_label_table(args.labels):
            data = dataclasses.replace(data, labels=_explicit_labels(args.labels))
        return data
    if src.suffix == ".npz" and src.is_file():
        from flexspim.train.frames import load_frames_file  # flexspim.train imports torch

        frames = load_frames_file(src)
        x = frames.x_test if args.split == "test" else frames.x_train
        labels = frames.y_test if args.split == "test" else frames.y_train
        inputs = np.ascontiguousarray(np.moveaxis(x, 1, 0)).astype(np.int64)
        names = [f"{src.stem}:{args.split}[{i}]" for i in range(x.shape[0])]
    elif src.is_file() and src.suffix.lower() == ".npy" and src.stat().st_size:
        inputs = binned_spikes(src, net)
        names = [f"{src.stem}[{i}]" for i in range(int(inputs.shape[1]) if inputs.ndim > 1 else 0)]
    elif src.exists():
        read_recording(src)  # raises the error that says what the file is
        raise FormatError(f"{src}: not events, binned spikes (.npy) or frames (.npz)")
    else:
        raise FormatError(f"{src}: no such events file or folder; check the path")
    if args.labels is not None:
        labels = _explicit_labels(args.labels)
    return SimulateInputs(net=net, inputs=inputs, labels=labels, names=names)


#: Predictions printed without labels (the rest are in --json / --csv).
SHOWN_PREDICTIONS = 20


def prediction_line(result: SimResult, names: list[str] | None = None) -> str:
    """The predicted class of each sample (the first :data:`SHOWN_PREDICTIONS`), by name."""
    names = names if names is not None and len(names) == result.n_samples else \
        [f"sample {i}" for i in range(result.n_samples)]
    shown = ", ".join(f"{n}: {int(p)}" for n, p in zip(names, result.predictions[
        :SHOWN_PREDICTIONS], strict=False))
    rest = result.n_samples - SHOWN_PREDICTIONS
    more = f", and {rest} more (--json or --csv holds them all)" if rest > 0 else ""
    return f"predicted class (no labels given): {shown}{more}"


def print_summary(result: SimResult, out: TextIO | None = None,
                  names: list[str] | None = None) -> None:
    """A short report: accuracy (or, without labels, the predictions), SOPs, and per layer
    events, SOPs, spikes, density, overflow."""
    out = out if out is not None else sys.stdout
    print(f"network {result.network}: {result.n_samples} samples x {result.n_timesteps} "
          f"timesteps, engine {result.engine}", file=out)
    if result.accuracy is not None:
        print(f"accuracy: {result.accuracy:.4f} ({int(np.sum(result.predictions == result.labels))}"
              f"/{result.n_samples})", file=out)
    elif result.n_samples:
        print(prediction_line(result, names), file=out)
    per = max(result.n_samples, 1)
    print(f"SOPs: {result.total_sops} total, {result.total_sops / per:.1f} per sample", file=out)
    head = (f"{'layer':<12}{'in events':>12}{'SOPs':>14}{'out spikes':>12}{'density':>9}"
            f"{'overflow':>10}{'v min':>12}{'v max':>12}")
    print(head, file=out)
    density = result.spike_density
    for i, name in enumerate(result.layer_names):
        print(f"{name:<12}{int(result.input_events[i].sum()):>12}{int(result.sops[i].sum()):>14}"
              f"{int(result.output_spikes[i].sum()):>12}{density[i]:>9.4f}"
              f"{int(result.overflow_events[i].sum()):>10}{int(result.membrane_min[i].min()):>12}"
              f"{int(result.membrane_max[i].max()):>12}", file=out)


def mapping_hardware(args: argparse.Namespace, mapping: Mapping) -> Hardware:
    """The hardware a mapping runs on: the one it records; a ``--hw`` that differs from it is
    refused (recompile for that hardware instead)."""
    recorded = mapping.hardware
    if not args.hw:
        if recorded is None:
            raise ConfigError(f"--mapping {args.mapping}: records no hardware; recompile it with "
                              f"'flexspim compile {args.network} --out {args.mapping} "
                              f"--overwrite'")
        return recorded
    hw = load_hardware(args.hw)
    if recorded is not None and hardware_to_dict(hw) != hardware_to_dict(recorded):
        raise ConfigError(f"--hw {args.hw} (digest {hardware_digest(hw)}) is not the hardware "
                          f"--mapping {args.mapping} was compiled for (digest "
                          f"{hardware_digest(recorded)}); drop --hw, or recompile: 'flexspim "
                          f"compile {args.network} --hw {args.hw} --out {args.mapping} "
                          f"--overwrite'")
    return hw


def check_mapping_args(args: argparse.Namespace, net: IntNetwork, mapping: Mapping,
                       hw: Hardware) -> None:
    """Refuse, before any simulation, a mapping made for another network or hardware; the
    message gives the command that makes a matching one."""
    try:
        check_mapping(net, mapping, hw)
    except MappingError as exc:
        hw_opt = f" --hw {args.hw}" if args.hw else ""
        raise ConfigError(f"--mapping {args.mapping}: {exc}; for example 'flexspim compile "
                          f"{args.network}{hw_opt} --out {args.mapping} --overwrite'") from None


def estimate_line(run: MappedRun) -> str:
    """How far the analytic estimate (for the measured activity) is from the executed run."""
    d, est = run.difference, run.estimate
    return (f"analytic estimate for the measured activity: {est.energy_per_inference_uj:.3f}"
            f" uJ ({100 * d.energy_rel:+.2f}% against the executed run), latency "
            f"{est.latency_per_inference_us:.1f} us ({100 * d.latency_rel:+.1f}%)")


def _run_mapped(args: argparse.Namespace, data: SimulateInputs,
                sensor_size: tuple[int, ...] | None, mapping: Mapping, hw: Hardware,
                extra: dict[str, Any]) -> MappedRun:
    """Execute the mapping on the system engine, price it, print it beside the analytic
    estimate; fills ``extra``."""
    run_ = run_mapped(data.net, mapping, data.inputs, hardware=hw, mode=args.engine,
                      n_time_bins=args.time_bins, sensor_size=sensor_size, labels=data.labels,
                      batch_size=args.batch_size, progress=progress_enabled(args))
    print(f"mapping {args.mapping}: policy {mapping.policy}, {mapping.n_macros} macro(s); "
          f"system engine ({args.engine}): counts from the executed events")
    print(run_.cost.table())
    print(estimate_line(run_))
    extra["system_engine"] = {
        "mode": args.engine,
        "estimate_energy_per_inference_uj": run_.estimate.energy_per_inference_uj,
        "energy_rel": run_.difference.energy_rel, "latency_rel": run_.difference.latency_rel}
    return run_


def neurobench_summary(net: IntNetwork, result: SimResult, maps: list[np.ndarray]
                       ) -> dict[str, Any]:
    """NeuroBench's metrics of the run (:mod:`flexspim.sim.metrics`), printed in one line;
    ``maps`` are the run's input events per position of every spiking layer."""
    m = neurobench_metrics(net, result, maps)
    print(f"NeuroBench: {m['effective_acs']:.4g} effective ACs and {m['dense_ops']:.4g} dense "
          f"ops per sample, activation sparsity {m['activation_sparsity']:.4f}, connection "
          f"sparsity {m['connection_sparsity']:.4f}, footprint {m['footprint_bytes']} B "
          f"(float32; {m['footprint_bytes_deployed']:.0f} B at the network's widths)")
    return m


def _simulate(args: argparse.Namespace, data: SimulateInputs,
              sensor_size: tuple[int, ...] | None) -> tuple[SimResult, list[np.ndarray]]:
    """The network alone on the chosen engine; returns the result and the input events per
    position of every spiking layer (the fast engine records them as it runs; other engines
    take them from one more pass of the fast engine)."""
    device = None if args.device == "cpu" else args.device
    if args.engine == "fast" and device is None:
        trace = record(data.net, data.inputs, n_time_bins=args.time_bins,
                       sensor_size=sensor_size, labels=data.labels,
                       batch_size=args.batch_size, progress=progress_enabled(args))
        return trace.result, trace.event_maps(data.net)
    result = simulate(data.net, data.inputs, engine=args.engine, n_time_bins=args.time_bins,
                      sensor_size=sensor_size, labels=data.labels, batch_size=args.batch_size,
                      progress=progress_enabled(args), device=device)
    trace = record(data.net, data.inputs, n_time_bins=args.time_bins, sensor_size=sensor_size,
                   batch_size=args.batch_size)
    return result, trace.event_maps(data.net)


def run(args: argparse.Namespace) -> int:
    if (args.plot or args.hw or args.timeline) and not args.mapping:
        raise ConfigError("--plot, --timeline and --hw price a run on a mapping; add --mapping "
                          "FILE (made by 'flexspim compile NETWORK --out FILE')")
    check_output_files(args, "--plot", "--timeline", "--json", "--csv", "--parquet")
    mapping = load_mapping(args.mapping) if args.mapping else None
    hw = mapping_hardware(args, mapping) if mapping is not None else None
    data = load_inputs(args)
    if args.samples is not None:
        data = take_samples(data, args.samples)
    if mapping is not None and hw is not None:
        check_mapping_args(args, data.net, mapping, hw)      # before any long work
    sensor_size = _parse_sensor_size(args.sensor_size)
    extra: dict[str, Any] = {}
    if mapping is not None and hw is not None:
        run_ = _run_mapped(args, data, sensor_size, mapping, hw, extra)
        result, maps, cost = run_.result, run_.event_maps, run_.cost
    else:
        (result, maps), cost = _simulate(args, data, sensor_size), None
    print_summary(result, names=data.names)
    extra = {"neurobench": neurobench_summary(data.net, result, maps), **extra}
    if cost is not None and mapping is not None and hw is not None:
        doc = make_run_document(result, mapping=mapping, cost=cost,
                                hardware=hardware_to_dict(hw), extra=extra)
    else:
        doc = make_run_document(result, extra=extra)
    write_outputs(args, doc, data.names, cost)
    return 0


def take_samples(data: SimulateInputs, n: int) -> SimulateInputs:
    """The first ``n`` samples (``--samples``)."""
    if n < 1:
        raise ConfigError(f"--samples {n}: give at least 1")
    x = data.inputs
    if isinstance(x, list):
        x = x[:n]
    elif isinstance(x, np.ndarray) and x.dtype.names is None and x.ndim >= 2:
        x = x[:, :n]
    labels = None if data.labels is None else np.asarray(data.labels)[:n]
    return SimulateInputs(net=data.net, inputs=x, labels=labels, names=data.names[:n])


def write_outputs(args: argparse.Namespace, doc: dict[str, Any], names: list[str],
                  cost: CostReport | None) -> None:
    """``--json``, ``--csv``/``--parquet``, and with a mapping ``--plot`` and ``--timeline``."""
    if args.json:
        save_run_document(doc, args.json)
        print(f"wrote {args.json}")
    for path in write_table(run_rows(doc, names), csv_path=args.csv, parquet_path=args.parquet):
        print(f"wrote {path}")
    if cost is None:
        return
    if args.plot:
        plot_energy_breakdown(cost, args.plot)
        print(f"wrote {args.plot}")
    if args.timeline:
        plot_timeline(cost, args.timeline)
        print(f"wrote {args.timeline}")
