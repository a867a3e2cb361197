"""``flexspim compile NETWORK``: map an integer network onto FlexSpIM macros.

NETWORK is an integer network file (``.npz``) or the name of a built-in architecture
(``dvs-gesture``: the default 6-conv DVS Gesture SCNN). Prints per layer the stationary operand,
operand shape, resident share and spill, the stationary-operand fraction per layer and in total,
and the estimated energy; writes the mapping JSON (``--out``, default
``out/<network>.mapping.json``) and a picture of the macros (``--plot``: PNG, SVG or PDF).

The activity the mapping is chosen and estimated for: the one a simulation measured
(``--activity RUN.json``), or else an assumed one, said so when printed: ``--input-sparsity``
and the compiler's hidden spike density, over T timesteps taken from ``--time-bins``, else from
the model's record beside the network file (``NAME.json`` written by ``flexspim export
--record``; :mod:`flexspim.net.record`), else the compiler's default (docs/compiler.md, "The
printed estimate").
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from flexspim.cli._common import (
    OUT_ROOT,
    add_hw,
    add_plot,
    add_shared,
    check_figure_path,
    check_output_file,
    check_output_files,
    deprecated_alias,
    description,
)
from flexspim.compile import (
    PLACEMENTS,
    POLICIES,
    Activity,
    compile_network,
    estimate_counts,
    overflow_bounds,
    plot_mapping,
    save_mapping,
)
from flexspim.compile.activity import (
    DEFAULT_HIDDEN_DENSITY,
    DEFAULT_INPUT_SPARSITY,
    DEFAULT_TIMESTEPS,
)
from flexspim.compile.policies import STATIONARY_ALIASES
from flexspim.errors import ConfigError, MappingError
from flexspim.hw import Hardware, default_hardware, hardware_to_dict, load_hardware
from flexspim.mapped import estimate_cost
from flexspim.net import IntNetwork, load_network
from flexspim.net.presets import dvs_gesture_scnn
from flexspim.net.record import record_beside
from flexspim.report.document import load_run
from flexspim.results import mapping_rows, write_table
from flexspim.results.tables import flat

#: Built-in architectures accepted in place of a network file.
PRESETS = {"dvs-gesture": dvs_gesture_scnn, "dvs_gesture_scnn": dvs_gesture_scnn}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compile", help="map an integer network onto FlexSpIM macros",
        description=description(__doc__))
    p.add_argument("network", metavar="NETWORK",
                   help=f"integer network file (.npz) or one of: {', '.join(PRESETS)}")
    add_hw(p)
    p.add_argument("--n-macros", type=int, metavar="N", dest="n_macros",
                   help="number of macros (overrides the hardware file's system.n_macros)")
    deprecated_alias(p, "--macros", "--n-macros", dest="n_macros", type=int)
    p.add_argument("--policy", choices=POLICIES, default="hs-min",
                   help="stationarity policy (default hs-min, the paper's rule)")
    p.add_argument("--out", metavar="FILE",
                   help=f"mapping JSON to write (default: {OUT_ROOT}/<network>.mapping.json)")
    add_plot(p, "each macro's rows and columns by layer and operand")
    p.add_argument("--input-sparsity", type=float, default=None, metavar="S",
                   dest="input_sparsity",
                   help=f"expected fraction of input bins without an event (default "
                        f"{DEFAULT_INPUT_SPARSITY})")
    deprecated_alias(p, "--sparsity", "--input-sparsity", dest="input_sparsity", type=float)
    p.add_argument("--time-bins", type=int, default=None, metavar="T",
                   help=f"timesteps per sample (default: the n_time_bins of the model's record "
                        f"NAME.json beside NAME.npz, written by 'flexspim export --record'; "
                        f"without one {DEFAULT_TIMESTEPS})")
    p.add_argument("--activity", metavar="RUN.json",
                   help="compile for the activity a simulation measured (a JSON written by "
                        "'flexspim simulate --json'); replaces --input-sparsity and --time-bins "
                        "(without it the activity is assumed, and said so)")
    p.add_argument("--stationary", metavar="LAYER=ws|os[,...]",
                   help="force layers' stationary operand, e.g. conv1=os,conv3=ws; the other "
                        "layers follow --policy")
    p.add_argument("--placement", choices=PLACEMENTS, default="balanced",
                   help="spread each layer's row groups over the macros (balanced, default) or "
                        "fill one macro after the other (first-fit)")
    p.add_argument("--compare", action="store_true",
                   help="compile with every policy (ws, os, hs-min, hs-traffic, optimal) and "
                        "print them side by side: estimated energy, stationary operands, "
                        "resident fraction per layer; writes no mapping (--policy, --out, "
                        "--plot, --csv and --parquet do not apply)")
    p.add_argument("--csv", metavar="FILE",
                   help="write the mapping and its estimate as a CSV table (per layer, "
                        "component, macro; flexspim.results.load reads it)")
    p.add_argument("--parquet", metavar="FILE", help="the same table as Parquet")
    add_shared(p, bars=False)
    p.set_defaults(func=run)


def parse_stationary(text: str | None) -> dict[str, str]:
    """``conv1=os,conv3=ws`` -> ``{"conv1": "os", "conv3": "ws"}``."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or value.strip().lower() not in STATIONARY_ALIASES:
            raise ConfigError(f"--stationary {text!r}: expected LAYER=ws or LAYER=os, comma "
                              f"separated (e.g. conv1=os,conv3=ws)")
        out[name.strip()] = value.strip().lower()
    return out


def activity_from_run(net: IntNetwork, path: str) -> Activity:
    """The activity a simulation measured, from its ``--json`` file (a simulation result or a
    run document)."""
    sim = load_run(path).simulation
    if list(sim.layer_names) != [layer.name for layer in net.layers]:
        raise ConfigError(f"--activity {path}: measured on layers "
                          f"{', '.join(sim.layer_names)}, the network has "
                          f"{', '.join(layer.name for layer in net.layers)}; simulate this "
                          f"network with 'flexspim simulate NETWORK DATA --json {path}'")
    return Activity.from_sim_result(net, sim, source=f"measured in {path}")


def load_network_arg(text: str) -> IntNetwork:
    """A network from a file path or a preset name."""
    if text in PRESETS and not Path(text).exists():
        return PRESETS[text]()
    return load_network(text)


def hardware_args(hw_file: str | None, macros: int | None) -> Hardware:
    """The hardware of ``--hw`` (default: the paper's system) with ``--n-macros`` applied."""
    hw = load_hardware(hw_file) if hw_file else default_hardware()
    if macros is not None:
        if macros < 1:
            raise ConfigError(f"--n-macros {macros}: must be >= 1")
        hw = hw.with_(system=dataclasses.replace(hw.system, n_macros=int(macros)))
    return hw


def summary(mapping: Any, cost: Any, for_activity: str = "the assumed activity") -> str:
    """The printed table of a mapping and its estimated cost (``for_activity``: which activity
    the estimate is for)."""
    lines = [f"network {mapping.network}: policy {mapping.policy}, {mapping.n_macros} macro(s) "
             f"of {mapping.rows} x {mapping.cols}, {mapping.scratch_rows} scratch rows each",
             f"{'layer':<10}{'stationary':<11}{'shape (r x c)':>14}{'lanes':>6}{'pack':>5}"
             f"{'resident':>10}{'operands':>10}{'buffer kib':>11}{'dram kib':>10}"]
    for lm in mapping.layers:
        shape = lm.weight_shape if lm.stationary == "weights" else lm.membrane_shape
        buf = (lm.streamed_buffer_bits + lm.spilled_buffer_bits) / 8192
        dram = (lm.streamed_dram_bits + lm.spilled_dram_bits) / 8192
        lines.append(f"{lm.name:<10}{lm.stationary:<11}{f'{shape[0]} x {shape[1]}':>14}"
                     f"{lm.lanes:>6}{lm.pack:>5}{100 * lm.resident_fraction:>9.1f}%"
                     f"{lm.resident_operands:>10.0f}{buf:>11.1f}{dram:>10.1f}")
    lines.append(f"stationary operands in the arrays: {mapping.resident_operands:.0f} "
                 f"({mapping.whole_layer_operands} in layers held whole); stationary bits: "
                 f"{100 * mapping.stationary_fraction:.1f}% of all operand bits")
    lines.append(f"estimated energy {cost.energy_per_inference_uj:.2f} uJ per inference, "
                 f"latency {cost.latency_per_inference_us:.1f} us (analytic estimate for "
                 f"{for_activity}; 'flexspim simulate NETWORK DATA --mapping FILE' executes it)")
    return "\n".join(lines)


def overflow_summary(net: IntNetwork, n_timesteps: int) -> str:
    """One line on membrane overflow, proven from the weights and thresholds (binary inputs)."""
    risky = [b for b in overflow_bounds(net, n_timesteps) if b.can_overflow]
    if not risky:
        return (f"overflow: impossible in every layer within {n_timesteps} timesteps "
                f"(at most one input event per pixel and timestep)")
    return "overflow: possible in " + ", ".join(
        f"{b.layer} (bounds [{b.lo}, {b.hi}] need {b.headroom_bits} bits, v_bits = {b.v_bits})"
        for b in risky)


def default_out(network: str) -> Path:
    """``out/<network name>.mapping.json``."""
    return OUT_ROOT / f"{Path(network).name.removesuffix('.npz')}.mapping.json"


def time_bins(args: argparse.Namespace) -> tuple[int, str]:
    """The timesteps per sample to compile for, and where they come from: ``--time-bins``, the
    model's record beside the network file, or the default (a record of another file is left
    out, with a note on stderr)."""
    if args.time_bins is not None:
        return args.time_bins, "from --time-bins"
    record = record_beside(args.network) if Path(args.network).is_file() else None
    if record is not None and record.describes_file:
        return record.n_time_bins, f"from the model's record {record.path}"
    if record is not None:
        print(f"flexspim: note: {record.path}: describes another file than {args.network} (its "
              f"SHA-256 differs), so its T = {record.n_time_bins} is not used; re-export with "
              f"'flexspim export --record' or pass --time-bins", file=sys.stderr)
        return DEFAULT_TIMESTEPS, "(default; the model record beside the network is another's)"
    return DEFAULT_TIMESTEPS, "(default; no model record beside the network)"


def assumed_activity(args: argparse.Namespace, net: IntNetwork) -> Activity:
    """The activity assumed without ``--activity``: ``--input-sparsity`` (or its default) and
    the compiler's hidden spike density over :func:`time_bins` timesteps, each with its
    origin in ``source``."""
    t, t_from = time_bins(args)
    sparsity = DEFAULT_INPUT_SPARSITY if args.input_sparsity is None else args.input_sparsity
    act = Activity.from_sparsity(net, input_sparsity=sparsity, n_timesteps=t)
    s_from = "default" if args.input_sparsity is None else "--input-sparsity"
    return dataclasses.replace(act, source=(
        f"assumed, not measured: input sparsity {sparsity:g} ({s_from}), hidden spike density "
        f"{DEFAULT_HIDDEN_DENSITY:g} (default), T = {t} {t_from}"))


#: Printed under an assumed activity: what the estimate is, and how to get a measured one.
ASSUMED_NOTE = ("the estimate below is for this assumed activity; a network's real activity "
                "can differ several-fold: pass --activity RUN.json (written by 'flexspim "
                "simulate NETWORK DATA --json RUN.json') to compile and estimate for the "
                "activity measured on your data (docs/compiler.md)")


def write_compile_table(args: argparse.Namespace, net: IntNetwork, hw: Hardware, mapping: Any,
                        activity: Activity, cost: Any) -> None:
    """``--csv`` / ``--parquet``: the mapping, its estimated cost and counts as tables."""
    if not (args.csv or args.parquet):
        return

    sparsity = DEFAULT_INPUT_SPARSITY if args.input_sparsity is None else args.input_sparsity
    params = {"network_file": args.network,
              "input_sparsity": None if args.activity else sparsity,
              "activity": activity.source, "n_timesteps": activity.n_timesteps,
              **{f"hw.{k}": v for k, v in flat(hardware_to_dict(hw)).items()}}
    counts = estimate_counts(net, mapping, hw, activity)
    rows = mapping_rows(mapping.to_dict(), cost.to_dict(), counts.to_dict(), params)
    for path in write_table(rows, csv_path=args.csv, parquet_path=args.parquet):
        print(f"wrote {path}")


def check_outputs(args: argparse.Namespace) -> Path:
    """Every output path, before any work: the mapping (``--out``), ``--plot``, ``--csv``,
    ``--parquet``; returns the mapping's path."""
    out = check_output_file(args.out or default_out(args.network), "--out",
                            example="net.mapping.json", overwrite=args.overwrite,
                            suffixes=(".json",))
    check_figure_path(args.plot, overwrite=args.overwrite)
    check_output_files(args, "--csv", "--parquet")
    return out


#: Printed under a comparison: what hs-min is.
HS_MIN_NOTE = ("* hs-min: our reading of the paper's HS-min (each layer keeps its smaller "
               "operand); what the paper's rule minimises is not in the text we could read "
               "(docs/compiler.md)")


def compare_policies(net: IntNetwork, hw: Hardware, activity: Activity,
                     stationary: dict[str, str], placement: str
                     ) -> dict[str, tuple[Any, Any] | str]:
    """Every policy's mapping and estimated cost, or the one-line reason it does not fit."""
    out: dict[str, tuple[Any, Any] | str] = {}
    for policy in POLICIES:
        try:
            m = compile_network(net, hw, policy=policy, activity=activity,
                                stationary=stationary, placement=placement)
        except MappingError as exc:
            out[policy] = str(exc)
            continue
        out[policy] = (m, estimate_cost(net, m, hw, activity))
    return out


def _compare_rows(done: dict[str, tuple[Any, Any]]) -> list[tuple[str, list[str]]]:
    """The rows of the comparison: totals, then each layer's stationary operand and share."""
    def col(f: Any) -> list[str]:
        return [f(m, c) for m, c in done.values()]

    rows = [("estimated energy (uJ)", col(lambda m, c: f"{c.energy_per_inference_uj:,.2f}")),
            ("estimated latency (us)", col(lambda m, c: f"{c.latency_per_inference_us:,.1f}")),
            ("stationary operands resident", col(lambda m, c: f"{m.resident_operands:,.0f}")),
            ("  of them in layers held whole", col(lambda m, c: f"{m.whole_layer_operands:,}")),
            ("stationary bits / all bits", col(lambda m, c: f"{100 * m.stationary_fraction:.1f}%"))]
    rows.append(("resident fraction per layer", [""] * len(done)))
    for i, lm in enumerate(next(iter(done.values()))[0].layers):
        rows.append((f"  {lm.name}", col(lambda m, c, i=i: f"{m.layers[i].stationary[0].upper()} "
                                         f"{100 * m.layers[i].resident_fraction:.0f}%")))
    return rows


def compare_text(results: dict[str, tuple[Any, Any] | str], hw: Hardware,
                 for_activity: str) -> str:
    """The policies side by side (``W``/``M``: weights / membranes stationary)."""
    done = {p: r for p, r in results.items() if not isinstance(r, str)}
    lines = [f"every policy on {hw.system.n_macros} macro(s) of {hw.macro.rows} x "
             f"{hw.macro.cols}, estimated for {for_activity} (W: weights stationary, M: "
             f"membranes stationary; resident share of the stationary operand):"]
    if done:
        names = [p + ("*" if p == "hs-min" else "") for p in done]
        rows = _compare_rows(done)
        w0 = max(len(label) for label, _ in rows)
        ws = [max(len(n), *(len(r[1][j]) for r in rows)) for j, n in enumerate(names)]
        lines.append(" " * w0 + "".join(f"  {n:>{w}}" for n, w in zip(names, ws, strict=True)))
        lines += [f"{label:<{w0}}" + "".join(f"  {v:>{w}}" for v, w in zip(vals, ws, strict=True))
                  for label, vals in rows]
    lines += [f"{p}: does not fit: {r}" for p, r in results.items() if isinstance(r, str)]
    lines.append(HS_MIN_NOTE)
    return "\n".join(lines)


def run_compare(args: argparse.Namespace, net: IntNetwork, hw: Hardware, activity: Activity,
                stationary: dict[str, str]) -> int:
    results = compare_policies(net, hw, activity, stationary, args.placement)
    print(compare_text(results, hw, f"the activity measured in {args.activity}"
                       if args.activity else "the assumed activity"))
    return 0


def check_compare(args: argparse.Namespace) -> None:
    """``--compare`` writes nothing: refuse the options that would."""
    given = [o for o in ("--out", "--plot", "--csv", "--parquet")
             if getattr(args, o.lstrip("-"), None)]
    if given:
        raise ConfigError(f"--compare prints the policies side by side and writes no mapping; "
                          f"leave out {', '.join(given)}, or compile one --policy")


def check_values(args: argparse.Namespace) -> None:
    """``--time-bins`` and ``--input-sparsity`` in range, before any work."""
    if args.time_bins is not None and args.time_bins < 1:
        raise ConfigError(f"--time-bins {args.time_bins}: use at least 1 timestep")
    if args.input_sparsity is not None and not 0.0 <= args.input_sparsity <= 1.0:
        raise ConfigError(f"--input-sparsity {args.input_sparsity}: a fraction in [0, 1] (0.95 = "
                          f"95% of input bins hold no event)")


def run(args: argparse.Namespace) -> int:
    if args.compare:
        check_compare(args)
    out = None if args.compare else check_outputs(args)
    check_values(args)
    net = load_network_arg(args.network)
    hw = hardware_args(args.hw, args.n_macros)
    stationary = parse_stationary(args.stationary)
    activity = (activity_from_run(net, args.activity) if args.activity else
                assumed_activity(args, net))
    print(activity.describe())
    if not args.activity:
        print(ASSUMED_NOTE)
    if out is None:
        return run_compare(args, net, hw, activity, stationary)
    mapping = compile_network(net, hw, policy=args.policy, activity=activity,
                              stationary=stationary, placement=args.placement)
    cost = estimate_cost(net, mapping, hw, activity)
    print(summary(mapping, cost, f"the activity measured in {args.activity}" if args.activity
                  else "the assumed activity"))
    print(overflow_summary(net, activity.n_timesteps))
    save_mapping(mapping, out)
    print(f"wrote {out}")
    write_compile_table(args, net, hw, mapping, activity, cost)
    if args.plot:
        plot_mapping(mapping, hw, args.plot)
        print(f"wrote {args.plot}")
    return 0
