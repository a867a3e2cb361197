"""The run document (format ``flexspim-run`` version 1) that a report is made from.

A run document bundles one simulation with what explains its cost::

    {"format": "flexspim-run", "version": 1,
     "simulation": SimResult.to_dict(),          # required
     "mapping": Mapping.to_dict() | null,        # optional: stationarity, macro occupancy
     "cost": CostReport.to_dict() | null,        # optional: energy breakdown, latency
     "hardware": hardware_to_dict(hw) | null,    # optional: the hardware description used
     "extra": {...} | null}                      # optional: anything else worth showing

A bare simulation result (format ``flexspim-sim-result``) is read as a run document with only its
simulation. :func:`load_run` validates every part and builds :class:`RunData` (typed objects; the
cost stays a checked mapping of names to numbers because its breakdown is open-ended).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from flexspim._io import WRITER_KEY, check_versioned, read_json, write_json
from flexspim.compile.mapping import Mapping
from flexspim.errors import FlexspimError, FormatError
from flexspim.hw import Hardware, hardware_from_dict, hardware_to_dict
from flexspim.sim.result import RESULT_FORMAT, SimResult

RUN_FORMAT = "flexspim-run"
RUN_VERSION = 1
_PARTS: tuple[str, ...] = ("simulation", "mapping", "cost", "hardware", "extra")


def _to_doc(obj: Any, what: str) -> dict[str, Any] | None:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, Hardware):
        return hardware_to_dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        out = to_dict()
        if isinstance(out, dict):
            return out
    raise TypeError(f"{what}: expected an object with to_dict() or a dict, got "
                    f"{type(obj).__name__}")


def make_run_document(sim_result: Any, *, mapping: Any = None, cost: Any = None,
                      hardware: Any = None, extra: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
    """A ``flexspim-run`` v1 document from a SimResult and, optionally, its Mapping, CostReport,
    Hardware (objects or their ``to_dict()`` documents) and extra JSON-ready data."""
    sim = _to_doc(sim_result, "sim_result")
    if sim is None:
        raise TypeError("sim_result: a run document needs a simulation result")
    return {"format": RUN_FORMAT, "version": RUN_VERSION, "simulation": sim,
            "mapping": _to_doc(mapping, "mapping"), "cost": _to_doc(cost, "cost"),
            "hardware": _to_doc(hardware, "hardware"),
            "extra": dict(extra) if extra is not None else None}


def save_run_document(doc: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a run document as JSON (atomically)."""
    write_json(path, doc)


@dataclass(frozen=True, eq=False)
class RunData:
    """A validated run document, ready to report on. Parts that were absent are None."""

    simulation: SimResult
    mapping: Mapping | None = None
    cost: dict[str, Any] | None = None
    hardware: Hardware | None = None
    extra: dict[str, Any] | None = None
    source: str = "<run>"


def _check_cost(cost: Any, where: str) -> dict[str, Any]:
    if not isinstance(cost, dict):
        raise FormatError(f"{where}: 'cost' must be an object (CostReport.to_dict()), got "
                          f"{type(cost).__name__}")
    for key in ("energy_per_inference_uj", "latency_per_inference_us",
                "latency_per_timestep_us", "n_samples"):
        val = cost.get(key)
        if val is not None and (isinstance(val, bool) or not isinstance(val, (int, float))):
            raise FormatError(f"{where}: cost field '{key}' = {val!r} must be a number")
    for key in ("total_pj", "per_layer_pj", "per_layer_latency_us"):
        val = cost.get(key)
        if val is not None and not isinstance(val, dict):
            raise FormatError(f"{where}: cost field '{key}' must be an object of name: value")
    return cost


def run_data(doc: Any, where: str = "<run>") -> RunData:
    """Validate a run document (or a bare simulation result) and build :class:`RunData`."""
    if isinstance(doc, dict) and doc.get("format") == RESULT_FORMAT:
        return RunData(simulation=SimResult.from_dict(doc, where), source=where)
    check_versioned(doc, RUN_FORMAT, RUN_VERSION, where,
                    what="simulation result or run document",
                    fix_format=f"give a simulation result ('{RESULT_FORMAT}') or a run document "
                               f"written by 'flexspim simulate --json'",
                    fix="re-create the file with 'flexspim simulate --json'")
    for key in doc:
        if key not in ("format", "version", WRITER_KEY, *_PARTS):
            raise FormatError(f"{where}: unknown run-document part '{key}'; parts: "
                              f"{', '.join(_PARTS)}")
    if doc.get("simulation") is None:
        raise FormatError(f"{where}: the run document has no 'simulation' part")
    try:
        sim = SimResult.from_dict(doc["simulation"], f"{where}: simulation")
        mapping = (Mapping.from_dict(doc["mapping"], f"{where}: mapping")
                   if doc.get("mapping") is not None else None)
        hw = (hardware_from_dict(doc["hardware"], f"{where}: hardware")
              if doc.get("hardware") is not None else None)
    except FlexspimError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise FormatError(f"{where}: malformed run document ({type(exc).__name__}: {exc})"
                          ) from None
    cost = _check_cost(doc["cost"], where) if doc.get("cost") is not None else None
    extra = doc.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise FormatError(f"{where}: 'extra' must be an object")
    return RunData(simulation=sim, mapping=mapping, cost=cost, hardware=hw, extra=extra,
                   source=where)


def load_run(path: str | os.PathLike[str]) -> RunData:
    """Read a run document or a simulation-result JSON file."""
    return run_data(read_json(path), str(path))
