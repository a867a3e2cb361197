"""``flexspim simulate NETWORK EVENTS``: run an integer network bit-exactly on event data.

EVENTS is one of

- a ``.npy`` of events (a structured array with fields x, y, p, t): one sample;
- a ``.npy`` of binned spikes, integer ``[T, N, *input_shape]`` (time first, then samples);
- a frames file ``.npz`` (``flexspim data frames``; format ``flexspim-frames``): its test split
  (``--split train`` for the other) with its labels;
- a folder of event ``.npy`` files, one sample per file, in file-name order. Labels come from a
  ``labels.csv`` in the folder (lines ``file name,label``; a header line is allowed) or, without
  one, from file names that contain ``label<k>`` (for example ``user03_label7.npy``).

``--labels`` overrides them with comma-separated integers or a ``.npy``/``.csv`` file of one label
per sample. Prints accuracy (when labels are known), SOPs and spikes per layer; ``--json`` writes
the :class:`~flexspim.sim.SimResult`.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from flexspim.compile import Mapping, load_mapping
from flexspim.energy.system import system_cost
from flexspim.errors import ConfigError, FormatError
from flexspim.hw import Hardware, default_hardware, hardware_to_dict, load_hardware
from flexspim.net import IntNetwork, load_network
from flexspim.report import make_run_document, plot_energy_breakdown, save_run_document
from flexspim.sim import ENGINES, SimResult, simulate
from flexspim.sim.system import system_counts

LABEL_IN_NAME = re.compile(r"label(\d+)")


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
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("network", metavar="NETWORK", help="integer network file (.npz)")
    p.add_argument("events", metavar="EVENTS",
                   help="events .npy, binned spikes .npy [T, N, C, H, W], or a folder of events")
    p.add_argument("--engine", choices=sorted(ENGINES), default="fast",
                   help="fast (vectorised, default), bitlevel (every SOP through the macro's "
                        "phases on bit planes) or bitcell (the per-cell macro model, slow)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON")
    p.add_argument("--time-bins", type=int, metavar="T",
                   help="number of time bins for event inputs (required for events)")
    p.add_argument("--sensor-size", metavar="W,H",
                   help="sensor width,height of the events (default: the network input)")
    p.add_argument("--labels", metavar="LABELS",
                   help="comma-separated labels, or a .npy/.csv file with one label per sample")
    p.add_argument("--batch-size", type=int, default=64, help="samples per batch (default 64)")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="split of a frames file to simulate (default test)")
    p.add_argument("--mapping", metavar="FILE",
                   help="mapping JSON from 'flexspim compile': count and price the run on it")
    p.add_argument("--hw", metavar="FILE",
                   help="hardware description (.yaml/.toml) for --mapping (default: the paper's "
                        "system with the mapping's macro count)")
    p.add_argument("--plot", metavar="FILE", help="PNG of the energy breakdown (with --mapping)")
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


def _labels_csv(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = [s.strip() for s in line.split(",")]
        if not line.strip():
            continue
        if len(parts) != 2:
            raise FormatError(f"{path}: line {i}: expected 'file name,label', got {line!r}")
        try:
            out[parts[0]] = int(parts[1])
        except ValueError:
            if i == 1:
                continue  # header line
            raise FormatError(f"{path}: line {i}: label {parts[1]!r} is not an integer") from None
    return out


def _folder_labels(folder: Path, files: list[Path]) -> np.ndarray | None:
    csv = folder / "labels.csv"
    if csv.exists():
        table = _labels_csv(csv)
        missing = [f.name for f in files if f.name not in table and f.stem not in table]
        if missing:
            raise FormatError(f"{csv}: no label for {missing[0]} (and {len(missing) - 1} more); "
                              f"add a line '{missing[0]},<label>'")
        return np.array([table.get(f.name, table.get(f.stem)) for f in files], dtype=np.int64)
    found = [LABEL_IN_NAME.search(f.stem) for f in files]
    if files and all(found):
        return np.array([int(m.group(1)) for m in found if m], dtype=np.int64)
    return None


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


def load_inputs(args: argparse.Namespace) -> SimulateInputs:
    """Read the network, the inputs and the labels that the command line names."""
    net = load_network(args.network)
    src = Path(args.events)
    labels: np.ndarray | None = None
    if src.is_dir():
        files = sorted(f for f in src.iterdir() if f.suffix == ".npy")
        if not files:
            raise FormatError(f"{src}: folder holds no .npy event files")
        inputs: Any = [_load_npy(f) for f in files]
        for f, ev in zip(files, inputs, strict=True):
            if ev.dtype.names is None:
                raise FormatError(f"{f}: not an event array (fields x, y, p, t); a folder must "
                                  f"hold one event .npy per sample")
        labels, names = _folder_labels(src, files), [f.stem for f in files]
    elif src.suffix == ".npz" and src.is_file():
        from flexspim.train.frames import load_frames_file

        frames = load_frames_file(src)
        x = frames.x_test if args.split == "test" else frames.x_train
        labels = frames.y_test if args.split == "test" else frames.y_train
        inputs = np.ascontiguousarray(np.moveaxis(x, 1, 0)).astype(np.int64)
        names = [f"{src.stem}:{args.split}[{i}]" for i in range(x.shape[0])]
    elif src.exists():
        inputs = _load_npy(src)
        n = 1 if inputs.dtype.names is not None else int(inputs.shape[1]) if inputs.ndim > 1 else 0
        names = [f"{src.stem}[{i}]" for i in range(n)]
    else:
        raise FormatError(f"{src}: no such events file or folder; check the path")
    if args.labels is not None:
        labels = _explicit_labels(args.labels)
    return SimulateInputs(net=net, inputs=inputs, labels=labels, names=names)


def print_summary(result: SimResult, out: TextIO | None = None) -> None:
    """A short report: accuracy, SOPs, and per layer events, SOPs, spikes, density, overflow."""
    out = out if out is not None else sys.stdout
    print(f"network {result.network}: {result.n_samples} samples x {result.n_timesteps} "
          f"timesteps, engine {result.engine}", file=out)
    if result.accuracy is not None:
        print(f"accuracy: {result.accuracy:.4f} ({int(np.sum(result.predictions == result.labels))}"
              f"/{result.n_samples})", file=out)
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


def mapping_hardware(mapping: Mapping, hw_file: str | None) -> Hardware:
    """The hardware a mapping is priced on: ``--hw`` if given, else the default system with the
    mapping's macro count."""
    if hw_file:
        return load_hardware(hw_file)
    hw = default_hardware()
    return hw.with_(system=dataclasses.replace(hw.system, n_macros=mapping.n_macros))


def run(args: argparse.Namespace) -> int:
    if (args.plot or args.hw) and not args.mapping:
        raise ConfigError("--plot and --hw price a run on a mapping; add --mapping FILE (made by "
                          "'flexspim compile NETWORK --out FILE')")
    data = load_inputs(args)
    mapping = load_mapping(args.mapping) if args.mapping else None
    hw = mapping_hardware(mapping, args.hw) if mapping is not None else None
    result = simulate(data.net, data.inputs, engine=args.engine, n_time_bins=args.time_bins,
                      sensor_size=_parse_sensor_size(args.sensor_size), labels=data.labels,
                      batch_size=args.batch_size, progress=True)
    print_summary(result)
    if mapping is None or hw is None:
        if args.json:
            result.save_json(args.json)
            print(f"wrote {args.json}")
        return 0
    cost = system_cost(data.net, mapping, hw, system_counts(data.net, mapping, hw, result))
    print(f"mapping {args.mapping}: policy {mapping.policy}, {mapping.n_macros} macro(s)")
    print(cost.table())
    if args.json:
        save_run_document(make_run_document(result, mapping=mapping, cost=cost,
                                            hardware=hardware_to_dict(hw)), args.json)
        print(f"wrote {args.json}")
    if args.plot:
        plot_energy_breakdown(cost, args.plot)
        print(f"wrote {args.plot}")
    return 0
