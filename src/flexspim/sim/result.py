"""The simulator's result (:class:`SimResult`) and its JSON file format.

Format ``flexspim-sim-result`` version 1 (docs/formats.md): one JSON object with the fields of
:class:`SimResult`; arrays are nested lists of integers; ``labels`` and ``final_membranes`` may be
null. Written atomically; reading a file of another format or version raises FormatError.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from flexspim._io import check_versioned, read_json, versioned, write_json
from flexspim.errors import FormatError

RESULT_FORMAT = "flexspim-sim-result"
RESULT_VERSION = 1

#: Per-layer, per-timestep count fields, each int64 ``[L, T]`` summed over samples.
STEP_FIELDS: tuple[str, ...] = (
    "input_events", "sops", "output_spikes", "overflow_events", "membrane_min", "membrane_max",
)
#: Layer kinds (as the network file writes them) of the layers that hold neurons.
SPIKING_KINDS: tuple[str, ...] = ("conv2d", "linear")
#: Per-sample, per-layer count fields, each int64 ``[N, L]`` summed over timesteps.
SAMPLE_FIELDS: tuple[str, ...] = ("sample_sops", "sample_spikes", "sample_input_events")


@dataclass(frozen=True, eq=False)
class SimResult:
    """Outcome of :func:`flexspim.sim.simulate` on N samples of T timesteps.

    ``L`` = number of layers of the network (every layer, maxpool and flatten included: their
    rows have zero SOPs, zero overflow and zero membrane min/max; their ``output_spikes`` are their
    output events). All counts are int64.

    - ``input_events[l, t]``: events (sum of input counts) into layer l at timestep t.
    - ``sops[l, t]``: synaptic operations, one per (input event, existing synapse); zero weights
      count, taps that fall into the zero padding do not exist (docs/design.md §3).
    - ``output_spikes[l, t]``: spikes (output events) of layer l.
    - ``overflow_events[l, t]``: neurons whose exact sum (membrane + all inputs of the timestep)
      left the signed ``v_bits`` range, i.e. whose membrane wrapped (docs/design.md §3 Overflow).
    - ``membrane_min/max[l, t]``: smallest/largest membrane over samples and neurons *after
      integration (wrapped), before the threshold comparison and reset*.
    - ``leak_ops[l, t]``: membranes leaked (every neuron of a leaky layer, every timestep and
      sample; 0 for layers without a leak). Results written before the leak existed read as 0.
    """

    engine: str
    n_samples: int
    n_timesteps: int
    layer_names: list[str]
    predictions: np.ndarray
    labels: np.ndarray | None
    output_counts: np.ndarray
    input_events: np.ndarray
    sops: np.ndarray
    output_spikes: np.ndarray
    overflow_events: np.ndarray
    membrane_min: np.ndarray
    membrane_max: np.ndarray
    sample_sops: np.ndarray
    sample_spikes: np.ndarray
    sample_input_events: np.ndarray
    #: Membranes after the last timestep, one int64 ``[N, *shape]`` per spiking layer (in
    #: ``net.spiking_layers`` order), only with ``return_membranes=True``.
    final_membranes: list[np.ndarray] | None = None
    #: Name of the simulated network.
    network: str = "network"
    #: Output neurons (events per sample and timestep at most, for spiking layers) per layer.
    layer_neurons: tuple[int, ...] = ()
    #: Kind of every layer as the network file writes it (``conv2d``, ``linear``: spiking;
    #: ``maxpool``, ``flatten``: routing); empty in results written before it was recorded.
    layer_kinds: tuple[str, ...] = ()

    @property
    def spiking_layer_names(self) -> list[str] | None:
        """Names of the spiking layers (pool and flatten only route events); None when the
        result does not record the layer kinds."""
        if len(self.layer_kinds) != len(self.layer_names):
            return None
        return [n for n, k in zip(self.layer_names, self.layer_kinds, strict=True)
                if k in SPIKING_KINDS]
    #: ``[L, T]`` membranes leaked (class docstring); None: zeros of that shape.
    leak_ops: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.leak_ops is None:
            object.__setattr__(self, "leak_ops", np.zeros(
                (len(self.layer_names), int(self.n_timesteps)), dtype=np.int64))

    @property
    def accuracy(self) -> float | None:
        """Fraction of samples whose prediction equals the label (None without labels)."""
        if self.labels is None or self.n_samples == 0:
            return None
        return float(np.mean(self.predictions == self.labels))

    @property
    def total_sops(self) -> int:
        """All SOPs of all samples, layers and timesteps."""
        return int(self.sops.sum())

    @property
    def layer_sops(self) -> np.ndarray:
        """``[L]`` SOPs per layer over all samples and timesteps."""
        return self.sops.sum(axis=1)

    @property
    def spike_density(self) -> np.ndarray:
        """``[L]`` output events per output neuron, sample and timestep (0..1 after a spiking
        layer); needs ``layer_neurons``."""
        sizes = np.asarray(self.layer_neurons, dtype=np.float64)
        if sizes.shape != (len(self.layer_names),):
            raise FormatError("result: layer_neurons is not set (one neuron count per layer); "
                              "re-run the simulation with this version of flexspim")
        denom = sizes * max(self.n_samples, 1) * max(self.n_timesteps, 1)
        return self.output_spikes.sum(axis=1) / np.maximum(denom, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (format name and version included)."""
        body: dict[str, Any] = {}
        for f in fields(self):
            val = getattr(self, f.name)
            if isinstance(val, np.ndarray):
                val = val.tolist()
            elif f.name == "final_membranes" and val is not None:
                val = [m.tolist() for m in val]
            elif isinstance(val, tuple):
                val = list(val)
            body[f.name] = val
        return versioned(RESULT_FORMAT, RESULT_VERSION, body)

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` to ``path`` atomically."""
        write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, doc: Any, where: str = "<dict>") -> SimResult:
        """Rebuild a result from :meth:`to_dict`'s document; FormatError names what is wrong."""
        doc = check_versioned(doc, RESULT_FORMAT, RESULT_VERSION, where,
                              fix="re-run 'flexspim simulate --json'")
        names = {f.name for f in fields(cls)}
        optional = ("network", "layer_neurons", "layer_kinds", "leak_ops")
        missing = [k for k in names if k not in doc and k not in optional]
        if missing:
            raise FormatError(f"{where}: result field(s) {', '.join(sorted(missing))} missing; "
                              f"re-run 'flexspim simulate --json'")
        try:
            kw: dict[str, Any] = {k: doc[k] for k in names if k in doc}
            for k in ("predictions", "output_counts", *STEP_FIELDS, *SAMPLE_FIELDS):
                kw[k] = np.asarray(doc[k], dtype=np.int64)
            if doc["labels"] is not None:
                kw["labels"] = np.asarray(doc["labels"], dtype=np.int64)
            if doc["final_membranes"] is not None:
                kw["final_membranes"] = [np.asarray(m, dtype=np.int64)
                                         for m in doc["final_membranes"]]
            kw["layer_neurons"] = tuple(int(x) for x in doc.get("layer_neurons", ()))
            kw["layer_kinds"] = tuple(str(x) for x in doc.get("layer_kinds", ()))
            if doc.get("leak_ops") is not None:
                kw["leak_ops"] = np.asarray(doc["leak_ops"], dtype=np.int64)
            kw["n_samples"], kw["n_timesteps"] = int(doc["n_samples"]), int(doc["n_timesteps"])
            kw["layer_names"] = [str(x) for x in doc["layer_names"]]
        except (TypeError, ValueError, OverflowError) as exc:
            raise FormatError(f"{where}: malformed result field ({exc})") from None
        n_l, n_t, n = len(kw["layer_names"]), kw["n_timesteps"], kw["n_samples"]
        for k in (*STEP_FIELDS, "leak_ops"):
            if kw.get(k) is not None and kw[k].shape != (n_l, n_t):
                raise FormatError(f"{where}: field '{k}' has shape {kw[k].shape}, expected "
                                  f"[layers, timesteps] = ({n_l}, {n_t})")
        for k in SAMPLE_FIELDS:
            if kw[k].shape != (n, n_l):
                raise FormatError(f"{where}: field '{k}' has shape {kw[k].shape}, expected "
                                  f"[samples, layers] = ({n}, {n_l})")
        return cls(**kw)

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> SimResult:
        """Read a result written by :meth:`save_json`."""
        return cls.from_dict(read_json(path), str(path))


def load_result(path: str | os.PathLike[str]) -> SimResult:
    """Read a ``flexspim-sim-result`` JSON file, or the simulation of a run document
    (``flexspim-run``, what ``flexspim simulate --json`` writes)."""
    doc = read_json(path)
    if isinstance(doc, dict) and doc.get("format") == "flexspim-run":
        return SimResult.from_dict(doc.get("simulation"), f"{path}: simulation")
    return SimResult.from_dict(doc, str(path))


def result_differences(a: SimResult, b: SimResult, *, membranes: bool = True) -> list[str]:
    """Names of the fields (predictions, counts, final membranes) in which two results differ.

    The engine name is not compared; an empty list means the two runs are bit-identical.
    """
    out: list[str] = []
    for k in ("n_samples", "n_timesteps", "layer_names"):
        if getattr(a, k) != getattr(b, k):
            out.append(k)
    for k in ("predictions", "output_counts", *STEP_FIELDS, *SAMPLE_FIELDS, "leak_ops"):
        x, y = getattr(a, k), getattr(b, k)
        if x.shape != y.shape or not np.array_equal(x, y):
            out.append(k)
    if membranes and (a.final_membranes is not None or b.final_membranes is not None):
        fa, fb = a.final_membranes, b.final_membranes
        if (fa is None or fb is None or len(fa) != len(fb)
                or any(p.shape != q.shape or not np.array_equal(p, q)
                       for p, q in zip(fa, fb, strict=True))):
            out.append("final_membranes")
    return out
