"""``flexspim macro-sweep``: characterise one macro from the bit-level model (docs/energy.md).

Energy per SOP across weight and membrane widths and operand shapes, the saving of standby
columns, the gain against stacking operands row-wise, and the spread across shapes at 16 bit with
32 output channels, printed with the paper's figures beside the model's. ``--json`` writes the
numbers (format ``flexspim-macro-sweep``, version 1); ``--plot`` a figure (PNG, SVG or PDF).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from flexspim._io import versioned, write_json
from flexspim._plot import pyplot, save_figure, series_style
from flexspim.cli._common import (
    add_hw,
    add_plot,
    add_shared,
    check_figure_path,
    check_output_files,
    description,
    progress_enabled,
)
from flexspim.energy.ops import characterisation_rows, macro_characterisation
from flexspim.errors import ConfigError
from flexspim.hw import Hardware, default_hardware, load_hardware

SWEEP_FORMAT = "flexspim-macro-sweep"
SWEEP_VERSION = 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "macro-sweep", help="energy per SOP across widths and shapes, paper vs model",
        description=description(__doc__))
    p.add_argument("--voltage", type=float, metavar="V",
                   help="supply for the width/shape tables (default: the hardware's, 0.9 V)")
    add_hw(p)
    p.add_argument("--extrapolate", action="store_true",
                   help="allow a voltage outside the characterised 0.9-1.1 V range")
    p.add_argument("--json", metavar="FILE", help="write the numbers as JSON")
    add_plot(p, "energy per SOP over widths, channels and shapes")
    add_shared(p)
    p.set_defaults(func=run)


def hardware_for(args: argparse.Namespace) -> Hardware:
    """The hardware description of the command line (file, voltage, extrapolation)."""
    hw = load_hardware(args.hw) if args.hw else default_hardware()
    changes: dict[str, Any] = {}
    if args.extrapolate:
        changes["allow_extrapolation"] = True
    if args.voltage is not None:
        m = hw.macro
        if not (args.extrapolate or hw.allow_extrapolation) and \
                not m.v_min <= args.voltage <= m.v_max:
            raise ConfigError(f"--voltage {args.voltage}: outside the characterised range "
                              f"[{m.v_min}, {m.v_max}] V; choose a voltage inside it or add "
                              f"--extrapolate")
        changes.update(voltage=args.voltage, f_sys_mhz=None)
    try:
        return hw.with_(**changes) if changes else hw
    except ConfigError as exc:
        raise ConfigError(f"--voltage {args.voltage}: {exc}") from None


def print_report(res: dict[str, Any], out: TextIO) -> None:
    """The tables of the characterisation, paper beside model."""
    rows = characterisation_rows(res)
    w0 = max(len(r[0]) for r in rows)
    chip = res.get("chip", "FlexSpIM")
    print(f"{chip} macro characterisation (bit-level model; tables at {res['voltage_v']:g} V, "
          f"{res['f_sys_mhz']:.1f} MHz)", file=out)
    print(f"{'quantity':<{w0}}  {'paper':>12}  {'model':>16}", file=out)
    for q, p, m in rows:
        print(f"{q:<{w0}}  {p:>12}  {m:>16}", file=out)
    if not res["paper"]:
        print(f"(no paper column: these rows are FlexSpIM's measurements; {chip}'s published "
              f"figure beside the model's is in 'flexspim reproduce', Table I)", file=out)
    print("", file=out)
    print("energy per SOP (pJ), one membrane per row (cols = membrane bits), full row:", file=out)
    w_list = sorted({p["w_bits"] for p in res["width_sweep"]})
    v_list = sorted({p["v_bits"] for p in res["width_sweep"]})
    table = {(p["w_bits"], p["v_bits"]): p["pj_per_sop"] for p in res["width_sweep"]}
    print("  W \\ V " + "".join(f"{v:>8}" for v in v_list), file=out)
    for wb in w_list:
        cells = "".join(f"{table[(wb, v)]:>8.2f}" if (wb, v) in table else f"{'-':>8}"
                        for v in v_list)
        print(f"  {wb:>5} " + cells, file=out)
    print("", file=out)
    print(f"operand shapes, {res['v_bits']}-bit membranes, 32 output channels:", file=out)
    for p in res["shape_sweep"]:
        print(f"  {p['shape']:>6}  {p['row_ops']:>3} row ops  {p['pj_per_sop']:>7.2f} pJ/SOP",
              file=out)
    print("", file=out)
    print("output channels K: row-wise (1 operand per row op) vs best flexible shape:", file=out)
    for p in res["channel_sweep"]:
        print(f"  K={p['channels']:>4}  row-wise {p['rowwise_pj_per_sop']:>7.2f}  best "
              f"{p['best_shape']:>5} {p['best_pj_per_sop']:>6.2f} pJ/SOP  gain {p['gain']:.2f}x",
              file=out)


def plot(res: dict[str, Any], path: str | Path) -> None:
    """Three panels: (a) energy per SOP over membrane widths, one line per weight width;
    (b) row-wise stacking against the best flexible shape over output channels; (c) every
    operand shape at 32 channels. Written as PNG, SVG or PDF by the suffix of ``path``."""
    fig, axes = pyplot().subplots(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    w_list = sorted({p["w_bits"] for p in res["width_sweep"]})
    spread = _width_spread(res)
    if spread < 0.005:  # the lines would lie on top of each other: draw one, say why
        v_list = sorted({p["v_bits"] for p in res["width_sweep"]})
        e = [min(p["pj_per_sop"] for p in res["width_sweep"] if p["v_bits"] == v)
             for v in v_list]
        ax.plot(v_list, e, label=f"every weight width, {w_list[0]}-{w_list[-1]} bit\n"
                f"(within {100 * spread:.1f}%: the adder spans\nthe membrane, weights are "
                f"sign-extended)", **series_style(0))
    else:
        for i, wb in enumerate(w_list):
            pts = [p for p in res["width_sweep"] if p["w_bits"] == wb]
            ax.plot([p["v_bits"] for p in pts], [p["pj_per_sop"] for p in pts],
                    label=f"{wb}-bit weights", markerfacecolor="none", **series_style(i))
    ax.set_xlabel("membrane width (bits)")
    ax.set_ylabel("energy per SOP (pJ)")
    ax.set_title(f"(a) widths, one membrane per row, {res['voltage_v']:g} V", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[1]
    ks = [p["channels"] for p in res["channel_sweep"]]
    ax.plot(ks, [p["rowwise_pj_per_sop"] for p in res["channel_sweep"]],
            label="row-wise stacking", **series_style(0))
    ax.plot(ks, [p["best_pj_per_sop"] for p in res["channel_sweep"]],
            label="best flexible shape", **series_style(1))
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("output channels (lanes per event)")
    ax.set_ylabel("energy per SOP (pJ)")
    paper = res["paper"]
    gain_note = (f" (paper: up to {paper['max_gain_vs_rowwise']:g}x)"
                 if "max_gain_vs_rowwise" in paper else "")
    ax.set_title(f"(b) max gain {res['max_gain_vs_rowwise']:.2f}x{gain_note}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax = axes[2]
    shapes = res["shape_sweep"]
    ax.bar([p["shape"] for p in shapes], [p["pj_per_sop"] for p in shapes], color="C2")
    ax.set_xlabel("operand shape (rows x cols)")
    ax.set_ylabel("energy per SOP (pJ)")
    spread_note = (f" (paper: < {100 * paper['shape_spread_16b_32och']:.0f}%)"
                   if "shape_spread_16b_32och" in paper else "")
    ax.set_title(f"(c) {res['v_bits']}-bit membranes, 32 channels: spread "
                 f"{100 * res['shape_spread_16b_32och']:.0f}%{spread_note}", fontsize=10)
    ax.tick_params(axis="x", labelsize=8, rotation=30)
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{res.get('chip', 'FlexSpIM')} macro characterisation (bit-level model, "
                 f"{res['voltage_v']:g} V, "
                 f"{res['f_sys_mhz']:.1f} MHz)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def _width_spread(res: dict[str, Any]) -> float:
    """Largest relative difference between weight widths at the same membrane width."""
    by_v: dict[int, list[float]] = {}
    for p in res["width_sweep"]:
        by_v.setdefault(p["v_bits"], []).append(p["pj_per_sop"])
    return max((max(v) - min(v)) / min(v) for v in by_v.values() if min(v) > 0)


def run(args: argparse.Namespace) -> int:
    check_figure_path(args.plot, overwrite=args.overwrite)
    check_output_files(args, "--json")
    hw = hardware_for(args)
    with tqdm(desc="macro-sweep", unit="point", file=sys.stderr, leave=False,
              disable=not progress_enabled(args)) as bar:
        res = macro_characterisation(hw, progress=lambda label: bar.update(1))
    print_report(res, sys.stdout)
    if args.json:
        write_json(args.json, versioned(SWEEP_FORMAT, SWEEP_VERSION, res))
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        plot(res, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
