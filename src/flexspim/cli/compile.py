"""``flexspim compile NETWORK``: map an integer network onto FlexSpIM macros.

NETWORK is an integer network file (``.npz``) or the name of a built-in architecture
(``dvs-gesture``: the default 6-conv DVS Gesture SCNN). Prints per layer the stationary operand,
operand shape, resident share and spill, the stationary-operand fraction per layer and in total,
and the estimated energy; writes the mapping JSON (``--out``) and a picture of the macros
(``--plot``).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from flexspim.compile import (
    POLICIES,
    Activity,
    compile_network,
    overflow_bounds,
    plot_mapping,
    save_mapping,
)
from flexspim.compile.activity import DEFAULT_INPUT_SPARSITY, DEFAULT_TIMESTEPS
from flexspim.energy.system import estimate_cost
from flexspim.errors import ConfigError
from flexspim.hw import Hardware, default_hardware, load_hardware
from flexspim.net import IntNetwork, load_network
from flexspim.net.presets import dvs_gesture_scnn

#: Built-in architectures accepted in place of a network file.
PRESETS = {"dvs-gesture": dvs_gesture_scnn, "dvs_gesture_scnn": dvs_gesture_scnn}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compile", help="map an integer network onto FlexSpIM macros",
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("network", metavar="NETWORK",
                   help=f"integer network file (.npz) or one of: {', '.join(PRESETS)}")
    p.add_argument("--hw", metavar="FILE", help="hardware description (.yaml/.toml)")
    p.add_argument("--macros", type=int, metavar="N", help="number of macros (overrides --hw)")
    p.add_argument("--policy", choices=POLICIES, default="hs-min",
                   help="stationarity policy (default hs-min, the paper's rule)")
    p.add_argument("--out", metavar="FILE",
                   help="mapping JSON to write (default: <network>.mapping.json)")
    p.add_argument("--plot", metavar="FILE", help="PNG picture of the macros' occupancy")
    p.add_argument("--sparsity", type=float, default=DEFAULT_INPUT_SPARSITY, metavar="S",
                   help=f"expected input sparsity (default {DEFAULT_INPUT_SPARSITY})")
    p.add_argument("--time-bins", type=int, default=DEFAULT_TIMESTEPS, metavar="T",
                   help=f"timesteps per sample (default {DEFAULT_TIMESTEPS})")
    p.add_argument("--csv", metavar="FILE",
                   help="write the mapping and its estimate as a CSV table (per layer, "
                        "component, macro; flexspim.results.load reads it)")
    p.add_argument("--parquet", metavar="FILE", help="the same table as Parquet")
    p.set_defaults(func=run)


def load_network_arg(text: str) -> IntNetwork:
    """A network from a file path or a preset name."""
    if text in PRESETS and not Path(text).exists():
        return PRESETS[text]()
    return load_network(text)


def hardware_args(hw_file: str | None, macros: int | None) -> Hardware:
    """The hardware of ``--hw`` (default: the paper's system) with ``--macros`` applied."""
    hw = load_hardware(hw_file) if hw_file else default_hardware()
    if macros is not None:
        if macros < 1:
            raise ConfigError(f"--macros {macros}: must be >= 1")
        hw = hw.with_(system=dataclasses.replace(hw.system, n_macros=int(macros)))
    return hw


def summary(mapping: Any, cost: Any) -> str:
    """The printed table of a mapping and its estimated cost."""
    lines = [f"network {mapping.network}: policy {mapping.policy}, {mapping.n_macros} macro(s) "
             f"of {mapping.rows} x {mapping.cols}, {mapping.scratch_rows} scratch rows each",
             f"{'layer':<10}{'stationary':<11}{'shape (r x c)':>14}{'lanes':>6}"
             f"{'resident':>10}{'stat.frac':>10}{'buffer kib':>11}{'dram kib':>10}"]
    for lm in mapping.layers:
        shape = lm.weight_shape if lm.stationary == "weights" else lm.membrane_shape
        buf = (lm.streamed_buffer_bits + lm.spilled_buffer_bits) / 8192
        dram = (lm.streamed_dram_bits + lm.spilled_dram_bits) / 8192
        lines.append(f"{lm.name:<10}{lm.stationary:<11}{f'{shape[0]} x {shape[1]}':>14}"
                     f"{lm.lanes:>6}{100 * lm.resident_fraction:>9.1f}%"
                     f"{100 * lm.stationary_fraction:>9.1f}%{buf:>11.1f}{dram:>10.1f}")
    lines.append(f"stationary-operand fraction (resident stationary bits / all operand bits): "
                 f"{100 * mapping.stationary_fraction:.1f}%")
    lines.append(f"estimated energy {cost.energy_per_inference_uj:.2f} uJ per inference, "
                 f"latency {cost.latency_per_inference_us:.1f} us")
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


def write_compile_table(args: argparse.Namespace, net: IntNetwork, hw: Hardware, mapping: Any,
                        activity: Activity, cost: Any) -> None:
    """``--csv`` / ``--parquet``: the mapping, its estimated cost and counts as tables."""
    if not (args.csv or args.parquet):
        return
    from flexspim.energy.system import estimate_counts
    from flexspim.hw import hardware_to_dict
    from flexspim.results import mapping_rows, write_table
    from flexspim.results.tables import flat

    params = {"network_file": args.network, "input_sparsity": args.sparsity,
              "n_timesteps": args.time_bins,
              **{f"hw.{k}": v for k, v in flat(hardware_to_dict(hw)).items()}}
    counts = estimate_counts(net, mapping, hw, activity)
    rows = mapping_rows(mapping.to_dict(), cost.to_dict(), counts.to_dict(), params)
    for path in write_table(rows, csv_path=args.csv, parquet_path=args.parquet):
        print(f"wrote {path}")


def run(args: argparse.Namespace) -> int:
    net = load_network_arg(args.network)
    hw = hardware_args(args.hw, args.macros)
    activity = Activity.from_sparsity(net, input_sparsity=args.sparsity,
                                      n_timesteps=args.time_bins)
    mapping = compile_network(net, hw, policy=args.policy, activity=activity)
    cost = estimate_cost(net, mapping, hw, activity)
    print(summary(mapping, cost))
    print(overflow_summary(net, args.time_bins))
    out = args.out or f"{Path(args.network).name.removesuffix('.npz')}.mapping.json"
    save_mapping(mapping, out)
    print(f"wrote {out}")
    write_compile_table(args, net, hw, mapping, activity, cost)
    if args.plot:
        plot_mapping(mapping, hw, args.plot)
        print(f"wrote {args.plot}")
    return 0
