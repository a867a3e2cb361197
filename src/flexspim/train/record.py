"""Training summaries and model records: what a trained network is and how it was measured.

Two JSON formats (written atomically, each with its format name and version):

- ``summary.json``, format ``flexspim-train-summary`` version 1, written by ``flexspim train``
  into its output folder after the last epoch: the command that reproduces the run (every option
  spelled out), the training config, the dataset sizes, the wall times (s), the test accuracy of
  the quantized model's exact evaluation and of the exported integer network on the ``fast``
  simulator (:func:`flexspim.sim.simulate`), and the exported network's fingerprint;
- the model record, format ``flexspim-model-record`` version 1, written by ``flexspim export
  --record FILE`` beside a network file: the summary's facts about the run, the commands that
  made the file, the file's SHA-256, and ``n_time_bins`` (the timesteps the network expects;
  :func:`flexspim.net.record.record_beside` finds it beside a network file for ``flexspim
  compile``, :func:`flexspim.dse.networks.shipped_time_bins` reads it for the shipped model).

A record is only written when the checkpoint, the summary and the exported network agree (same
config, same epoch, same network fingerprint), so its accuracies are those of that very file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flexspim._io import read_versioned_json
from flexspim.errors import ConfigError, FormatError
from flexspim.net import IntNetwork, SpikingLayer
from flexspim.net.io import network_header
from flexspim.net.record import RECORD_FORMAT, RECORD_VERSION
from flexspim.train.loop import Checkpoint, TrainConfig

SUMMARY_FORMAT = "flexspim-train-summary"
SUMMARY_VERSION = 1
#: Name of the summary file in a training output folder.
SUMMARY_NAME = "summary.json"
#: Keys a summary must hold for a record to be made from it.
SUMMARY_KEYS = ("command", "config", "epochs_run", "n_train", "n_test", "input_shape",
                "test_accuracy_integer_model", "test_accuracy_fast_sim", "train_seconds",
                "data_seconds", "torch_threads", "network_fingerprint")


def network_fingerprint(net: IntNetwork) -> str:
    """SHA-256 (hex) of what ``net`` computes: its header (layers, shapes, thresholds, widths,
    reset modes) and every integer weight and initial membrane. Independent of file bytes (a
    ``.npz`` holds write times), so two exports of one checkpoint have the same fingerprint."""
    h = hashlib.sha256(json.dumps(network_header(net), sort_keys=True).encode("utf-8"))
    for layer in net.layers:
        if isinstance(layer, SpikingLayer):
            h.update(layer.name.encode("utf-8"))
            h.update(np.ascontiguousarray(layer.weight, dtype=np.int64).tobytes())
            if layer.initial_membrane is not None:
                h.update(np.ascontiguousarray(layer.initial_membrane, dtype=np.int64).tobytes())
    return h.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _bits_text(bits: Sequence[int]) -> str:
    return ",".join(str(int(b)) for b in bits)


def train_command(config: TrainConfig, *, data: str | os.PathLike[str] | None,
                  out: str | os.PathLike[str], threads: int, device: str | None = None,
                  processes: int = 1, micro_batches: int = 1) -> str:
    """The ``flexspim train`` command line that reproduces ``config`` (every option spelled out,
    so a change of the presets' defaults does not change what it means), on ``device`` with
    ``processes`` data-parallel processes (``torchrun --nproc_per_node K -m flexspim train``)
    and ``micro_batches`` per process."""
    argv = ["flexspim", "train", "--preset", config.preset]
    if processes > 1:
        argv = ["torchrun", "--nproc_per_node", str(int(processes)), "-m", *argv]
    if data is not None:
        argv += ["--data", str(data)]
    argv += ["--seed", str(config.seed), "--epochs", str(config.epochs),
             "--time-bins", str(config.time_bins), "--batch-size", str(config.batch_size),
             "--lr", repr(float(config.lr)), "--w-bits", _bits_text(config.w_bits),
             "--v-bits", _bits_text(config.v_bits), "--reset", config.reset]
    if config.neuron != "if":
        argv += ["--neuron", config.neuron]
        argv += (["--leak-shift", _bits_text(config.leak_shift)] if config.leak_shift else
                 ["--leak-constant", _bits_text(config.leak_constant)])
    if not config.learn_threshold:
        argv.append("--fixed-threshold")
    if config.augment:
        argv.append("--augment")
    argv += ["--threads", str(int(threads))]
    if device is not None:
        argv += ["--device", str(device)]
    if micro_batches != 1:
        argv += ["--micro-batches", str(int(micro_batches))]
    argv += ["--out", str(out)]
    return shlex.join(argv)


def export_command(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str],
                   record: str | os.PathLike[str], name: str) -> str:
    """The ``flexspim export`` command line that writes ``out`` and its record."""
    return shlex.join(["flexspim", "export", str(checkpoint), "--out", str(out), "--name", name,
                       "--record", str(record)])


def load_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a training summary; a missing file, another format or version, or missing keys
    raise an error naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no training summary; 'flexspim train' writes it after the last "
                          f"epoch (finish or resume the run first)")
    doc = read_versioned_json(p, SUMMARY_FORMAT, SUMMARY_VERSION,
                              fix="rerun 'flexspim train' with this version of flexspim")
    missing = [k for k in SUMMARY_KEYS if k not in doc]
    if missing:
        raise FormatError(f"{p}: training summary lacks {', '.join(missing)}; rerun "
                          f"'flexspim train'")
    return doc


def model_record(checkpoint: Checkpoint, summary: dict[str, Any], net: IntNetwork,
                 network_file: str | os.PathLike[str], sha256: str, *, export_cmd: str,
                 summary_path: str | os.PathLike[str] = SUMMARY_NAME) -> dict[str, Any]:
    """The record of ``network_file`` whose bytes have SHA-256 ``sha256`` (module docstring);
    ConfigError when the summary does not describe this checkpoint's network."""
    where = Path(summary_path)
    config = checkpoint.config
    recorded = TrainConfig.from_dict(summary["config"]).to_dict()  # options added later: defaults
    if recorded != config.to_dict():
        diff = sorted(k for k, v in config.to_dict().items() if recorded.get(k) != v)
        raise ConfigError(f"{where}: options {', '.join(diff) or '(keys)'} differ from the "
                          f"checkpoint's; export the checkpoint of the same run")
    if int(summary["epochs_run"]) != checkpoint.epoch:
        raise ConfigError(f"{where}: summary after epoch {summary['epochs_run']}, checkpoint at "
                          f"epoch {checkpoint.epoch}; finish the run ('flexspim train "
                          f"--resume') so that both agree")
    if summary["network_fingerprint"] != network_fingerprint(net):
        raise ConfigError(f"{where}: the summary's accuracies belong to another network than "
                          f"this checkpoint exports; rerun 'flexspim train'")
    history = list(checkpoint.history)
    return {
        "format": RECORD_FORMAT, "version": RECORD_VERSION,
        "name": net.name, "file": Path(network_file).name,
        "sha256": sha256, "network_fingerprint": summary["network_fingerprint"],
        "preset": config.preset, "seed": config.seed, "epochs": checkpoint.epoch,
        "n_time_bins": config.time_bins,
        "w_bits": [int(la.w_bits) for la in net.spiking_layers],
        "v_bits": [int(la.v_bits) for la in net.spiking_layers],
        "thresholds": [int(la.threshold) for la in net.spiking_layers],
        "reset": config.reset, "input_shape": list(net.input_shape),
        "neuron": config.neuron,
        "leaks": [None if la.leak is None else la.leak.to_dict() for la in net.spiking_layers],
        "commands": [summary["command"], export_cmd],
        "command": f"{summary['command']} && {export_cmd}",
        "config": config.to_dict(), "data": summary.get("data"),
        "n_train": summary["n_train"], "n_test": summary["n_test"],
        "test_accuracy_integer_model": summary["test_accuracy_integer_model"],
        "test_accuracy_fast_sim": summary["test_accuracy_fast_sim"],
        "accuracy_note": "test split, every sample; integer model = the quantized model's "
                         "exact evaluation, fast sim = flexspim.sim.simulate(engine='fast') on "
                         "this file",
        "train_seconds": summary["train_seconds"], "data_seconds": summary["data_seconds"],
        "epoch_seconds_total": summary.get("epoch_seconds_total"),
        "resumed": summary.get("resumed"),
        "torch_threads": summary["torch_threads"], "host": summary.get("host"),
        "history": history,
    }
