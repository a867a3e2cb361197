"""The model record beside a network file: what the network was trained with.

Format ``flexspim-model-record`` version 1, written by ``flexspim export --record FILE``
(:func:`flexspim.train.record.model_record` holds every field and how it is checked). A record
``NAME.json`` beside ``NAME.npz`` describes that file when its ``sha256`` is the SHA-256 of the
file's bytes; the commands read from it the timesteps the network expects (``n_time_bins``), so
that ``flexspim compile`` estimates at the T the network runs at, as ``flexspim demo`` does for
the shipped model.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from flexspim._io import check_versioned, read_json
from flexspim.errors import FormatError

RECORD_FORMAT = "flexspim-model-record"
RECORD_VERSION = 1


@dataclass(frozen=True)
class ModelRecord:
    """A model record found beside a network file: its ``path``, the timesteps per sample the
    network was trained with (``n_time_bins``), and whether its SHA-256 is that of the network
    file (``describes_file``; a record of other bytes belongs to another export)."""

    path: Path
    n_time_bins: int
    describes_file: bool


def record_beside(network: str | os.PathLike[str]) -> ModelRecord | None:
    """The record ``NAME.json`` beside the network file ``NAME.npz``, or None when there is no
    record there (no file, or a JSON file of another kind, such as a run document). A record of
    another version, or one without a valid ``n_time_bins``, raises FormatError naming it."""
    net = Path(network)
    path = net.with_suffix(".json")
    if not path.is_file() or not net.is_file():
        return None
    try:
        doc = read_json(path)
    except FormatError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT:
        return None
    check_versioned(doc, RECORD_FORMAT, RECORD_VERSION, path,
                    fix="re-export the network with 'flexspim export --record'")
    t = doc.get("n_time_bins")
    if not isinstance(t, int) or isinstance(t, bool) or t < 1:
        raise FormatError(f"{path}: model record: n_time_bins = {t!r}; expected an integer >= 1 "
                          f"(re-export the network with 'flexspim export --record')")
    digest = hashlib.sha256(net.read_bytes()).hexdigest()
    return ModelRecord(path, t, doc.get("sha256") == digest)
