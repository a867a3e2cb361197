"""What a mapped run does, in countable units (docs/system-model.md §Counts).

The system engine (:mod:`flexspim.system`) counts these units from the executed events; the
compiler's analytic estimator (:mod:`flexspim.compile.estimate`) fills the same container with
expected values; :mod:`flexspim.energy.prices` prices either of them. Counts are kept per sample,
timestep, spiking layer, phase and macro, so that latency can be taken as the makespan of each
phase of the layer-first schedule (paper Fig. 1c).

Phases of one (timestep, layer) step: ``init`` (membranes set to their initial values, at the
first timestep only), ``leak`` (a leaky layer's membranes decayed, every timestep, before its
events: docs/arithmetic.md "Leak"), ``integrate`` (the layer's input events: row operations, streamed operands
moved into and out of scratch rows) and ``fire`` (threshold compare and reset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Phases of one (timestep, layer) step, in execution order.
PHASES: tuple[str, ...] = ("init", "leak", "integrate", "fire")

#: Counted units. Rows are whole 256-column rows of a macro; bits are operand bits moved.
COUNT_FIELDS: tuple[str, ...] = (
    "row_ops",            # in-memory additions, one row segment each (five phases, Fig. 3)
    "active_col_ops",     # columns computing, summed over row operations
    "standby_col_ops",    # columns in precharge standby, summed over row operations
    "array_row_writes",   # rows written from outside: scratch loads, resets, initialisation
    "array_row_reads",    # rows read out: streamed membranes stored back from scratch rows
    "compare_row_reads",  # membrane rows read in place by the threshold compare
    "buffer_read_bits",
    "buffer_write_bits",
    "dram_read_bits",
    "dram_write_bits",
    "transfer_bits",      # operand bits moved from one macro's scratch rows to another's
    "routed_events",      # event deliveries to another macro (or from the sensor)
    "sops",               # synaptic operations (one per weight added into a membrane)
    "units",              # row-operation groups: one event's lanes updated together
)
FIELD_INDEX: dict[str, int] = {name: i for i, name in enumerate(COUNT_FIELDS)}


@dataclass(frozen=True, eq=False)
class WorkCounts:
    """Counts ``data[sample, timestep, layer, phase, macro, field]`` (float64; the engine's are
    whole numbers, the estimator's expected values).

    ``layers`` names the spiking layers in order; ``samples`` is the number of inferences.
    """

    data: np.ndarray
    layers: tuple[str, ...]
    policy: str = ""
    source: str = "engine"   # "engine" (executed events) or "estimate" (analytic)

    def __post_init__(self) -> None:
        d = np.asarray(self.data, dtype=np.float64)
        if d.ndim != 6 or d.shape[2] != len(self.layers) or d.shape[3] != len(PHASES) \
                or d.shape[5] != len(COUNT_FIELDS):
            raise ValueError(f"WorkCounts: data of shape {d.shape} is not [samples, timesteps, "
                             f"{len(self.layers)} layers, {len(PHASES)} phases, macros, "
                             f"{len(COUNT_FIELDS)} fields]")
        object.__setattr__(self, "data", d)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_timesteps(self) -> int:
        return int(self.data.shape[1])

    @property
    def n_macros(self) -> int:
        return int(self.data.shape[4])

    def field(self, name: str) -> np.ndarray:
        """``[sample, timestep, layer, phase, macro]`` of one count field."""
        return self.data[..., FIELD_INDEX[name]]

    def total(self, name: str) -> float:
        """One field summed over everything."""
        return float(self.field(name).sum())

    def per_layer(self) -> dict[str, dict[str, float]]:
        """``{layer: {field: total}}``."""
        sums = self.data.sum(axis=(0, 1, 3, 4))
        return {name: dict(zip(COUNT_FIELDS, map(float, sums[i]), strict=True))
                for i, name in enumerate(self.layers)}

    def per_macro(self) -> list[dict[str, float]]:
        """One ``{field: total}`` per macro."""
        sums = self.data.sum(axis=(0, 1, 2, 3))
        return [dict(zip(COUNT_FIELDS, map(float, sums[m]), strict=True))
                for m in range(self.n_macros)]

    def per_timestep(self) -> list[dict[str, float]]:
        """One ``{field: total}`` per timestep (over samples, layers, phases and macros)."""
        sums = self.data.sum(axis=(0, 2, 3, 4))
        return [dict(zip(COUNT_FIELDS, map(float, sums[t]), strict=True))
                for t in range(self.n_timesteps)]

    def totals(self) -> dict[str, float]:
        """``{field: total}`` over everything."""
        return dict(zip(COUNT_FIELDS, map(float, self.data.sum(axis=(0, 1, 2, 3, 4))),
                        strict=True))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: totals, per layer, per macro and per timestep (the full array is
        not written)."""
        return {"policy": self.policy, "source": self.source, "n_samples": self.n_samples,
                "n_timesteps": self.n_timesteps, "n_macros": self.n_macros,
                "layers": list(self.layers), "totals": self.totals(),
                "per_layer": self.per_layer(), "per_macro": self.per_macro(),
                "per_timestep": self.per_timestep()}
