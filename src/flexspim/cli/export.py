"""``flexspim export``: a training checkpoint -> integer network file (and NIR on request).

``--record FILE`` also writes the network's record (format ``flexspim-model-record`` version 1,
:mod:`flexspim.train.record`): the commands that made it, seed, epochs, time bins, widths,
training wall time and the measured test accuracies, taken from the ``summary.json`` that
``flexspim train`` wrote beside the checkpoint (it must describe the same network).

``--device`` (default cpu) is where the checkpoint's model is loaded and quantized; a
checkpoint written on any device loads on any other, and the exported network is the same.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from flexspim._device import parse_device, resolve_device
from flexspim._io import write_bytes_atomic, write_json
from flexspim.cli._common import add_shared, check_output_file, check_output_files, description
from flexspim.errors import ConfigError
from flexspim.net.io import network_to_bytes


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="export a checkpoint to an integer network / NIR",
                              description=description(__doc__))
    p.add_argument("checkpoint", type=Path, help="checkpoint.pt written by 'flexspim train'")
    p.add_argument("--out", type=Path, required=True, help="integer network file to write (.npz)")
    p.add_argument("--nir", type=Path, help="also write the integer network as NIR (.nir)")
    p.add_argument("--nir-float", type=Path, help="also write the float model as NIR (.nir)")
    p.add_argument("--name", help="network name (default: '<preset>_net', '<preset>_lif_net' "
                   "for leaky neurons; the name 'flexspim train' gave it)")
    p.add_argument("--record", type=Path, help="also write the network's record (.json) from "
                   "the run's summary.json beside the checkpoint")
    p.add_argument("--device", type=device_option, default="cpu",
                   help="auto (CUDA when present), cpu, cuda or cuda:N (default cpu)")
    add_shared(p, bars=False)
    p.set_defaults(func=run)


def device_option(text: str) -> str:
    """argparse type of a ``--device`` option (a usage error names the accepted values)."""
    try:
        return parse_device(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    # flexspim.train imports torch: loaded when the command runs, not by the parser
    from flexspim.train import export_network, load_checkpoint
    from flexspim.train.nir_io import model_to_nir, network_to_nir, write_nir
    from flexspim.train.record import (
        SUMMARY_NAME,
        export_command,
        load_summary,
        model_record,
    )

    check_output_file(args.out, "--out", example="net.npz", overwrite=args.overwrite,
                      suffixes=(".npz",))
    check_output_files(args, "--nir", "--nir-float", "--record")
    ck = load_checkpoint(args.checkpoint, resolve_device(args.device))
    name = args.name or ck.config.network_name
    net = export_network(ck.model, name=name)
    data = network_to_bytes(net)
    record = None
    if args.record is not None:  # checked before anything is written
        summary_path = args.checkpoint.parent / SUMMARY_NAME
        record = model_record(ck, load_summary(summary_path), net, args.out,
                              hashlib.sha256(data).hexdigest(), summary_path=summary_path,
                              export_cmd=export_command(args.checkpoint, args.out, args.record,
                                                        name))
    write_bytes_atomic(args.out, data)
    written = [str(args.out)]
    if record is not None:
        write_json(args.record, record)
        written.append(str(args.record))
    if args.nir is not None:
        write_nir(network_to_nir(net), args.nir)
        written.append(str(args.nir))
    if args.nir_float is not None:
        write_nir(model_to_nir(ck.model), args.nir_float)
        written.append(str(args.nir_float))
    print(f"exported '{net.name}' (epoch {ck.epoch}, {len(net.spiking_layers)} spiking layers) "
          f"to {', '.join(written)}")
    return 0
