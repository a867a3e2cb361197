"""``flexspim import``: a NIR graph (snnTorch, Norse, Sinabs, SpikingJelly, flexspim) -> integer
network; IF and LIF neurons (a LIF's decay becomes the nearest integer leak, its relative error
printed per layer)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from flexspim.cli._common import add_shared, check_output_file, description
from flexspim.net import save_network


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="quantize a NIR model to an integer network",
                              description=description(__doc__))
    p.add_argument("model", type=Path, help="NIR file (.nir)")
    p.add_argument("--w-bits", type=int, default=8, help="weight bits (default 8)")
    p.add_argument("--v-bits", type=int, default=16, help="membrane bits (default 16)")
    p.add_argument("--reset", choices=("subtract", "zero"),
                   help="reset mode when the file does not say (default: NIR's reset to "
                        "v_reset = 0, said in a note; snnTorch's and Sinabs' default is "
                        "subtract)")
    p.add_argument("--dt", type=time_step, default=1e-4,
                   help="time step (s) of the exporter: LIF decay 1 - dt/tau and gain r*dt/tau "
                        "(default 1e-4: snnTorch, SpikingJelly; Norse exports with 1e-3, "
                        "Sinabs with tau in timesteps: --dt 1)")
    p.add_argument("--out", type=Path, required=True, help="integer network file to write (.npz)")
    add_shared(p, bars=False)
    p.set_defaults(func=run)


def time_step(text: str) -> float:
    """argparse type of ``--dt``: a finite time step in seconds, > 0."""
    try:
        dt = float(text)
    except ValueError:
        dt = math.nan
    if not math.isfinite(dt) or dt <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a time step: give seconds > 0 "
                                         f"(snnTorch's is 1e-4)")
    return dt


def run(args: argparse.Namespace) -> int:
    from flexspim.train.nir_io import import_nir  # flexspim.train imports torch

    check_output_file(args.out, "--out", example="net.npz", overwrite=args.overwrite,
                      suffixes=(".npz",))
    net, report = import_nir(args.model, w_bits=args.w_bits, v_bits=args.v_bits,
                             reset=args.reset, dt=args.dt)
    save_network(net, args.out)
    for note in report.notes:
        print(f"flexspim: note: {note}", file=sys.stderr)
    scales = ", ".join(f"{k}={v:.4g}" for k, v in report.scales.items())
    print(f"imported '{net.name}': {len(net.spiking_layers)} spiking layers at w_bits="
          f"{args.w_bits}, v_bits={args.v_bits} (weight scales {scales}) -> {args.out}")
    return 0
