"""``flexspim import``: a NIR graph (snnTorch, Norse, Sinabs, SpikingJelly, flexspim) -> integer
network; IF and LIF neurons (a LIF's decay becomes the nearest integer leak, its relative error
printed per layer)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="quantize a NIR model to an integer network",
                              description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="NIR file (.nir)")
    p.add_argument("--w-bits", type=int, default=8, help="weight bits (default 8)")
    p.add_argument("--v-bits", type=int, default=16, help="membrane bits (default 16)")
    p.add_argument("--reset", choices=("subtract", "zero"),
                   help="reset mode when the file does not say (default: NIR's reset to "
                        "v_reset = 0, said in a note; snnTorch's and Sinabs' default is "
                        "subtract)")
    p.add_argument("--dt", type=float, default=1e-4,
                   help="time step (s) of the exporter: LIF decay 1 - dt/tau and gain r*dt/tau "
                        "(default 1e-4: snnTorch, SpikingJelly; Norse exports with 1e-3, "
                        "Sinabs with tau in timesteps: --dt 1)")
    p.add_argument("--out", type=Path, required=True, help="integer network file to write (.npz)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from flexspim.net import save_network
    from flexspim.train.nir_io import import_nir

    net, report = import_nir(args.model, w_bits=args.w_bits, v_bits=args.v_bits,
                             reset=args.reset, dt=args.dt)
    save_network(net, args.out)
    for note in report.notes:
        print(f"flexspim: note: {note}", file=sys.stderr)
    scales = ", ".join(f"{k}={v:.4g}" for k, v in report.scales.items())
    print(f"imported '{net.name}': {len(net.spiking_layers)} spiking layers at w_bits="
          f"{args.w_bits}, v_bits={args.v_bits} (weight scales {scales}) -> {args.out}")
    return 0
