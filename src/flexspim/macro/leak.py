"""The leak of a row group of membranes as an in-memory operation (docs/macro.md "Leak").

A leaky layer decays every membrane once per timestep, before that timestep's events are
integrated (docs/arithmetic.md "Leak"; :mod:`flexspim.net.layers` states the arithmetic). The
leak is time-driven, not event-driven: every membrane, every timestep. On the macro, one leak
of a *row group* (lanes side by side in one column span, a membrane of ``v_rows`` rows each) is:

1. **read** - the ``v_rows`` membrane rows are read out of the array (``v_rows`` row reads);
2. **periphery** - per lane, the leak term ``t`` of the membrane value ``v`` read:

   - ``shift`` by ``k``: ``t = trunc(v / 2**k)``, rounded toward zero, formed as an
     arithmetic shift of ``v`` biased by ``2**k - 1`` where ``v`` is negative:
     ``t = (v + (sign(v) < 0 ? 2**k - 1 : 0)) >> k``;
   - ``constant`` ``c``: ``t = clamp(v, -c, c)`` (two comparisons and a multiplexer);

   then its two's-complement negative ``-t`` is written into the scratch rows as a
   weight-like operand, sign-extended over ``operand_rows`` rows (``operand_rows`` row writes;
   by default ``v_rows``: the operand as wide as the membrane);
3. **add** - ``membrane += -t`` by the in-memory addition of the macro (``v_rows`` row
   operations of five phases, dual wordline while operand rows remain and sign-extension mode
   after, carries chained across segments), exactly as a synaptic addition but counted as no
   SOP.

``|v - t| <= |v|`` with the sign of ``v`` (or 0), so the result stays in the membrane's range and
the adder never overflows: :class:`LeakResult` returns the adder's overflow flags, all zero.
``-t`` needs :func:`leak_operand_bits` bits (``v_bits - k + 1`` for a shift, ``bit_length(c) +
1`` for a constant, both at most ``v_bits``), so ``operand_rows`` may be as few as
``ceil(leak_operand_bits / cols)``: fewer row writes, the same row operations.

:func:`leak_row_group` runs one leak on membranes already in a macro (what an engine that keeps
membranes resident calls); :func:`in_memory_leak` lays membranes out in a fresh macro and leaks
them all (the counterpart of :func:`flexspim.macro.in_memory_add`); :func:`leak_cost` gives the
counters of one leak of a row group without running it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexspim.errors import OperandError
from flexspim.hw.spec import MacroSpec
from flexspim.macro.array import (
    MAX_OPERAND_BITS,
    LaneBlock,
    Macro,
    check_values,
    decode_bits,
    encode_bits,
)
from flexspim.macro.counters import COUNTER_FIELDS, MacroCounters

#: Leak kinds: ``shift`` (``v <- v - trunc(v / 2**k)``) and ``constant`` (``v <- v -
#: clamp(v, -c, c)``, a constant step toward zero that never crosses it).
LEAK_KINDS: tuple[str, ...] = ("shift", "constant")


def leak_range(kind: str, v_bits: int) -> tuple[int, int]:
    """Smallest and largest leak amount of ``kind`` for ``v_bits``-bit membranes: a shift k in
    ``[1, v_bits - 1]``, a constant c in ``[1, 2**(v_bits-1) - 1]``."""
    if kind == "shift":
        return 1, v_bits - 1
    return 1, (1 << (v_bits - 1)) - 1


def leak_operand_bits(kind: str, amount: int, v_bits: int) -> int:
    """Bits of the operand ``-t`` (two's complement): ``-trunc(v / 2**k)`` lies in
    ``[-(2**(v_bits-1-k) - 1), 2**(v_bits-1-k)]`` (``v_bits - k + 1`` bits), ``-clamp(v, -c,
    c)`` in ``[-c, c]`` (``bit_length(c) + 1`` bits)."""
    if kind == "shift":
        return v_bits - int(amount) + 1
    return int(amount).bit_length() + 1


def leak_operand(values: np.ndarray, kind: str, amount: int) -> np.ndarray:
    """The periphery: ``-t(v)`` of int64 membrane values (module docstring), int64."""
    v = np.asarray(values, dtype=np.int64)
    if kind == "shift":
        bias = np.where(v < 0, np.int64((1 << amount) - 1), np.int64(0))
        return -((v + bias) >> np.int64(amount))
    return -np.clip(v, -int(amount), int(amount))


def _check_leak(kind: Any, amount: Any, v_bits: Any) -> tuple[str, int, int]:
    if kind not in LEAK_KINDS:
        raise OperandError(f"leak kind {kind!r}: use one of {', '.join(LEAK_KINDS)}")
    if isinstance(v_bits, bool) or not isinstance(v_bits, (int, np.integer)) \
            or not 2 <= int(v_bits) <= MAX_OPERAND_BITS:
        raise OperandError(f"v_bits = {v_bits!r}: a leaky membrane needs [2, "
                           f"{MAX_OPERAND_BITS}] bits")
    lo, hi = leak_range(kind, int(v_bits))
    if isinstance(amount, bool) or not isinstance(amount, (int, np.integer)) \
            or not lo <= int(amount) <= hi:
        raise OperandError(f"leak {kind} = {amount!r} must be an integer in [{lo}, {hi}] for "
                           f"v_bits = {v_bits}")
    return str(kind), int(amount), int(v_bits)


@dataclass(frozen=True, eq=False)
class LeakResult:
    """What :func:`leak_row_group` did: the adder's overflow flags per lane (int8, in the order
    of ``starts``; always 0, since a leak cannot leave the range) and the counters of this leak
    alone (row reads, row writes, row operations, phases, active and standby column-phases; no
    SOP)."""

    overflow: np.ndarray
    counters: MacroCounters


@dataclass(frozen=True)
class _Group:
    """A validated leak of one row group: rows, lanes and widths."""

    kind: str
    amount: int
    v_bits: int
    cols: int
    starts: np.ndarray
    membrane_row: int
    scratch_row: int
    v_rows: int
    operand_rows: int

    def width(self, k: int) -> int:
        """Columns computing in membrane segment k (the last one: up to the sign bit)."""
        return self.cols if k < self.v_rows - 1 else self.v_bits - (self.v_rows - 1) * self.cols


def _check_rows(spec: MacroSpec, first: int, n: int, name: str) -> int:
    if isinstance(first, bool) or not isinstance(first, (int, np.integer)) \
            or not 0 <= int(first) <= spec.rows - n:
        raise OperandError(f"{name} = {first!r}: its {n} row(s) must lie in [0, {spec.rows})")
    return int(first)


def _group(spec: MacroSpec, kind: Any, amount: Any, v_bits: Any, cols: Any, starts: Any,
           membrane_row: Any, scratch_row: Any, operand_rows: Any) -> _Group:
    """Every argument of :func:`leak_row_group` checked (OperandError, one line)."""
    kind, amount, v_bits = _check_leak(kind, amount, v_bits)
    if isinstance(cols, bool) or not isinstance(cols, (int, np.integer)) \
            or not 1 <= int(cols) <= spec.cols:
        raise OperandError(f"cols = {cols!r} columns per lane: must be in [1, {spec.cols}]")
    cols = int(cols)
    st = np.asarray(starts, dtype=np.int64).reshape(-1)
    if st.size and (st[0] < 0 or st[-1] + cols > spec.cols or np.any(np.diff(st) < cols)):
        raise OperandError(f"lanes of {cols} columns at columns {st.tolist()[:8]} do not fit "
                           f"{spec.cols} columns without overlapping; pass increasing starts at "
                           f"least {cols} apart")
    v_rows = -(-v_bits // cols)
    least = -(-leak_operand_bits(kind, amount, v_bits) // cols)
    rows = v_rows if operand_rows is None else operand_rows
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) \
            or not least <= int(rows) <= v_rows:
        raise OperandError(f"operand_rows = {rows!r}: the leak operand of a {kind} leak of "
                           f"{amount} needs [{least}, {v_rows}] rows of {cols} columns")
    m0 = _check_rows(spec, membrane_row, v_rows, "membrane_row")
    s0 = _check_rows(spec, scratch_row, int(rows), "scratch_row")
    if s0 < m0 + v_rows and m0 < s0 + int(rows):
        raise OperandError(f"scratch rows {s0}..{s0 + int(rows) - 1} overlap membrane rows "
                           f"{m0}..{m0 + v_rows - 1}; put the leak operand in other rows")
    return _Group(kind, amount, v_bits, cols, st, m0, s0, v_rows, int(rows))


def _lane_cells(rows: np.ndarray, starts: np.ndarray, cols: int) -> np.ndarray:
    """uint8 ``[lanes, rows * cols]``: each lane's cells of ``rows`` ``[R, spec.cols]``,
    segment after segment (bit order)."""
    idx = starts[:, None] + np.arange(cols)[None, :]
    return rows[:, idx].transpose(1, 0, 2).reshape(starts.size, -1)


def leak_row_group(macro: Macro, *, kind: str, amount: int, v_bits: int, cols: int,
                   starts: Any, membrane_row: int, scratch_row: int,
                   operand_rows: int | None = None) -> LeakResult:
    """Leak the membranes of one row group held in ``macro`` (module docstring), in place.

    ``starts``: the first column of each lane (increasing, ``cols`` columns per lane); each lane's
    membrane of ``v_bits`` bits occupies rows ``membrane_row .. membrane_row + v_rows - 1``
    (``v_rows = ceil(v_bits / cols)``), bit ``j`` in row ``j // cols``, column ``start + j %
    cols``. The operand ``-t`` goes into rows ``scratch_row .. scratch_row + operand_rows - 1``
    of the same columns (default ``operand_rows = v_rows``; other columns of those rows keep
    their cells). ``kind``/``amount``: a :data:`LEAK_KINDS` leak and its shift k or constant c.

    Counts, through the macro's counters: ``v_rows`` row reads, ``operand_rows`` row writes,
    ``v_rows`` row operations (``phases_per_add`` phases each; active columns: the lanes'
    computing columns, the rest standby); no SOP. Every argument is checked before the array
    changes (OperandError, one line).
    """
    g = _group(macro.spec, kind, amount, v_bits, cols, starts, membrane_row, scratch_row,
               operand_rows)
    before = macro.counters
    if g.starts.size == 0:
        return LeakResult(np.zeros(0, dtype=np.int8), MacroCounters())
    read = np.stack([macro.read_row(g.membrane_row + r) for r in range(g.v_rows)])
    values = decode_bits(_lane_cells(read, g.starts, g.cols), g.v_bits)
    cells = encode_bits(leak_operand(values, g.kind, g.amount), g.operand_rows * g.cols)
    for r in range(g.operand_rows):
        row = macro.bits[g.scratch_row + r].copy()  # the periphery keeps the other columns
        for i, c in enumerate(g.starts.tolist()):
            row[c:c + g.cols] = cells[i, r * g.cols:(r + 1) * g.cols]
        macro.write_row(g.scratch_row + r, row)
    ovf = np.zeros(g.starts.size, dtype=np.int8)
    for k in range(g.v_rows):
        macro.configure_lanes_at(g.starts, g.cols, g.width(k))
        ovf = macro.row_op(g.membrane_row + k,
                           g.scratch_row + k if k < g.operand_rows else None,
                           first_segment=k == 0, last_segment=k == g.v_rows - 1, sop=False)
    after = macro.counters
    return LeakResult(ovf, MacroCounters(**{f: getattr(after, f) - getattr(before, f)
                                             for f in COUNTER_FIELDS}))


def leak_cost(n_lanes: int, *, v_bits: int, cols: int, operand_rows: int | None = None,
              spec: MacroSpec | None = None) -> MacroCounters:
    """Counters of one :func:`leak_row_group` on ``n_lanes`` lanes (without running it):
    ``v_rows`` row reads and row operations, ``operand_rows`` (default ``v_rows``) row writes,
    ``phases_per_add * n_lanes * v_bits`` active column-phases, the rest of the row
    operations' column-phases standby, no SOP (0 for no lanes)."""
    spec = spec if spec is not None else MacroSpec()
    if n_lanes == 0:
        return MacroCounters()
    v_rows = -(-v_bits // cols)
    p = spec.phases_per_add
    active = p * n_lanes * v_bits
    return MacroCounters(phases=p * v_rows, row_ops=v_rows, active_col_phases=active,
                         standby_col_phases=p * v_rows * spec.cols - active,
                         row_reads=v_rows,
                         row_writes=v_rows if operand_rows is None else operand_rows)


@dataclass(frozen=True, eq=False)
class InMemoryLeakResult:
    """Result of :func:`in_memory_leak`: the leaked membranes (int64, the input's shape, read
    from the cells), the adder's overflow flags (int8, all 0) and the counters of every row
    group's leak (set-up writes and the final read-back not counted).

    Unpacks as ``membranes, counters = in_memory_leak(...)``."""

    membranes: np.ndarray
    overflow: np.ndarray
    counters: MacroCounters

    def __iter__(self) -> Iterator[Any]:
        yield self.membranes
        yield self.counters


def leak_block(macro: Macro, n_lanes: int, *, kind: str, amount: int, v_bits: int,
               cols: int | None = None, lanes_per_row: int | None = None,
               operand_rows: int | None = None) -> tuple[LaneBlock, int]:
    """Allocate ``n_lanes`` membranes in ``macro`` for :func:`in_memory_leak`: row groups of
    ``operand_rows`` scratch rows (the block's weight rows) then ``v_rows`` membrane rows, lanes
    ``cols`` columns wide (default ``v_bits`` capped at the macro's columns). Returns the block
    and the operand rows."""
    kind, amount, v_bits = _check_leak(kind, amount, v_bits)
    c = min(v_bits, macro.spec.cols) if cols is None else cols
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) \
            or not 1 <= int(c) <= macro.spec.cols:
        raise OperandError(f"cols = {c!r} columns per lane: must be in [1, {macro.spec.cols}]")
    v_rows = -(-v_bits // int(c))
    least = -(-leak_operand_bits(kind, amount, v_bits) // int(c))
    rows = v_rows if operand_rows is None else operand_rows
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) \
            or not least <= int(rows) <= v_rows:
        raise OperandError(f"operand_rows = {rows!r}: the leak operand of a {kind} leak of "
                           f"{amount} needs [{least}, {v_rows}] rows of {c} columns")
    block = macro.allocate(n_lanes, w_bits=min(v_bits, int(rows) * int(c)), v_bits=v_bits,
                           cols=int(c), lanes_per_row=lanes_per_row)
    return block, int(rows)


def in_memory_leak(membranes: Any, *, kind: str, amount: int, v_bits: int,
                   cols: int | None = None, spec: MacroSpec | None = None,
                   lanes_per_row: int | None = None, operand_rows: int | None = None
                   ) -> InMemoryLeakResult:
    """Leak every membrane once, through the bit-level array (module docstring).

    The lanes go into one fresh macro (:func:`leak_block`), each row group is leaked by
    :func:`leak_row_group` with its own scratch rows. Raises OperandError (one line) when a
    value does not fit ``v_bits``, the leak is out of range, or the lanes do not fit the macro.
    """
    macro = Macro(spec if spec is not None else MacroSpec())
    m_in = np.asarray(membranes)
    block, rows = leak_block(macro, int(m_in.size), kind=kind, amount=amount, v_bits=v_bits,
                             cols=cols, lanes_per_row=lanes_per_row, operand_rows=operand_rows)
    values = check_values(m_in, block.v_bits, "membranes")
    macro.write_membranes(block, values, count=False)
    m_rows, s_rows = block.membrane_rows(), block.weight_rows()
    ovf = []
    for g in range(block.groups):
        n = min(block.lanes_per_row, block.n_lanes - g * block.lanes_per_row)
        res = leak_row_group(macro, kind=kind, amount=amount, v_bits=v_bits, cols=block.cols,
                             starts=block.col0 + block.cols * np.arange(n),
                             membrane_row=int(m_rows[g, 0]), scratch_row=int(s_rows[g, 0]),
                             operand_rows=rows)
        ovf.append(res.overflow)
    out = macro.read_membranes(block, count=False)
    overflow = np.concatenate(ovf) if ovf else np.zeros(0, dtype=np.int8)
    return InMemoryLeakResult(out.reshape(m_in.shape), overflow.reshape(m_in.shape),
                              macro.counters)
