"""Operation counters of the bit-level macro model (docs/macro.md, "Counters").

The cost model (:mod:`flexspim.energy.ops`) turns these counts into energy: active and standby
column-phases into column energy, row operations into the fixed per-row energy (wordline drivers,
decoders, control), row reads and writes into array I/O energy.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class MacroCounters:
    """Counts of what one macro did (paper §II, Fig. 3: one in-memory addition = five phases).

    - ``phases``: CIM clock phases spent in row operations (``phases_per_add`` per row operation).
    - ``row_ops``: row operations (one dual-wordline or sign-extended addition step over a row).
    - ``active_col_phases``: column x phase pairs in which a column computed (lane columns).
    - ``standby_col_phases``: column x phase pairs in which a column sat in precharge standby.
    - ``row_reads`` / ``row_writes``: whole rows read from / written into the array from outside
      (streamed operands, threshold compare); each moves ``cols`` bits.
    - ``sops``: synaptic operations, one per lane addition completed (membrane += weight).

    Counters add with ``+`` and turn into a plain dict with :meth:`as_dict`.
    """

    phases: int = 0
    row_ops: int = 0
    active_col_phases: int = 0
    standby_col_phases: int = 0
    row_reads: int = 0
    row_writes: int = 0
    sops: int = 0

    def __add__(self, other: MacroCounters) -> MacroCounters:
        if not isinstance(other, MacroCounters):
            return NotImplemented
        return MacroCounters(**{name: getattr(self, name) + getattr(other, name)
                                for name in COUNTER_FIELDS})

    def __radd__(self, other: object) -> MacroCounters:
        # lets ``sum(list_of_counters)`` start from the integer 0
        if other == 0:
            return self
        if isinstance(other, MacroCounters):
            return other.__add__(self)
        return NotImplemented

    def as_dict(self) -> dict[str, int]:
        """The counts as ``{field: int}`` (for JSON and tables)."""
        return {name: int(getattr(self, name)) for name in COUNTER_FIELDS}


#: Names of the counters, in order.
COUNTER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MacroCounters))
