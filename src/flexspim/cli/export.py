"""``flexspim export``: a training checkpoint -> integer network file (and NIR on request)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="export a checkpoint to an integer network / NIR",
                              description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, help="checkpoint.pt written by 'flexspim train'")
    p.add_argument("--out", type=Path, required=True, help="integer network file to write (.npz)")
    p.add_argument("--nir", type=Path, help="also write the integer network as NIR (.nir)")
    p.add_argument("--nir-float", type=Path, help="also write the float model as NIR (.nir)")
    p.add_argument("--name", help="network name (default: '<preset>_net')")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flexspim.net import save_network
    from flexspim.train import export_network, load_checkpoint
    from flexspim.train.nir_io import model_to_nir, network_to_nir, write_nir

    ck = load_checkpoint(args.checkpoint)
    net = export_network(ck.model, name=args.name or f"{ck.config.preset}_net")
    save_network(net, args.out)
    written = [str(args.out)]
    if args.nir is not None:
        write_nir(network_to_nir(net), args.nir)
        written.append(str(args.nir))
    if args.nir_float is not None:
        write_nir(model_to_nir(ck.model), args.nir_float)
        written.append(str(args.nir_float))
    print(f"exported '{net.name}' (epoch {ck.epoch}, {len(net.spiking_layers)} spiking layers) "
          f"to {', '.join(written)}")
    return 0
