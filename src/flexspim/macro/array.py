"""The bit-level model of one FlexSpIM macro: bit array, control cells, latches, row operations.

Paper §II, Fig. 2-3. The macro is an explicit ``rows x cols`` array of bits (uint8 0/1), one
2-bit control cell per column (:mod:`flexspim.macro.phases` gives the encoding), and per lane a
carry latch and a weight-sign latch, both kept at the lane's least significant (START) column.

Operands (docs/design.md §3) are signed two's-complement integers of ``bits`` bits stored as
``rows x cols`` cells in one column span; segment k (row k of the operand) holds bits
``[k*cols, (k+1)*cols)``, least significant bit in the span's leftmost column. A weight and the
membrane it is added to share the same column span in different rows.

Sign extension: a weight of ``w_bits`` is stored sign-extended to the ``w_rows * cols`` cells of
its rows (cells past ``w_bits`` in its last segment hold the sign bit), so the weight's sign is
the bit under the lane's END column in its last segment; that read latches it in the lane's sign
latch. Membrane segments past the weight's rows run in sign-extension mode: only the membrane
wordline rises and the column logic uses the latched sign as the weight bit
(:func:`~flexspim.macro.phases.single_wordline_read`).

Membrane width: when ``v_bits`` is not a multiple of ``cols``, the last membrane segment computes
only on its first ``v_bits - (v_rows - 1) * cols`` columns; the controller rewrites the control
cells before that row operation so the lane ends (END) at the membrane's most significant bit and
the columns past it are in standby. Cells past ``v_bits`` are padding: written sign-extended when
the membrane is written from outside, never changed by additions, ignored when read.

Every method validates all of its arguments before it changes anything: an error never leaves
the array half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from flexspim.errors import OperandError
from flexspim.hw.spec import MacroSpec
from flexspim.macro.counters import COUNTER_FIELDS, MacroCounters
from flexspim.macro.phases import (
    carry_chain,
    dual_wordline_read,
    lane_codes,
    overflow_direction,
    parse_lanes,
    precharge,
    single_wordline_read,
    sum_bits,
)

#: Widest operand the model reads and writes as integers (int64 values).
MAX_OPERAND_BITS = 64


@dataclass(frozen=True)
class LaneBlock:
    """Where ``n_lanes`` weight/membrane operand pairs sit in a macro (docs/design.md §3).

    Lanes are packed ``lanes_per_row`` side by side from column ``col0``, each ``cols`` columns
    wide; lane ``i`` is in *row group* ``i // lanes_per_row`` at slot ``i % lanes_per_row``
    (columns ``col0 + slot*cols ...``). A row group is ``w_rows`` weight rows followed by
    ``v_rows`` membrane rows; groups follow each other from row ``row0``.
    """

    n_lanes: int
    w_bits: int
    v_bits: int
    cols: int
    lanes_per_row: int
    row0: int = 0
    col0: int = 0

    @property
    def w_rows(self) -> int:
        """Rows of one weight operand, ceil(w_bits / cols)."""
        return -(-self.w_bits // self.cols)

    @property
    def v_rows(self) -> int:
        """Rows of one membrane operand, ceil(v_bits / cols)."""
        return -(-self.v_bits // self.cols)

    @property
    def group_rows(self) -> int:
        """Rows of one row group (weight rows + membrane rows)."""
        return self.w_rows + self.v_rows

    @property
    def groups(self) -> int:
        """Row groups, ceil(n_lanes / lanes_per_row)."""
        return -(-self.n_lanes // self.lanes_per_row)

    @property
    def rows_used(self) -> int:
        """Rows the block occupies."""
        return self.groups * self.group_rows

    @property
    def span(self) -> int:
        """Columns of one row group (lanes_per_row * cols)."""
        return self.lanes_per_row * self.cols

    @property
    def last_width(self) -> int:
        """Columns that compute in the last membrane segment (v_bits - (v_rows-1)*cols)."""
        return self.v_bits - (self.v_rows - 1) * self.cols

    @cached_property
    def _group_base(self) -> np.ndarray:
        return self.row0 + self.group_rows * np.arange(self.groups, dtype=np.int64)[:, None]

    def weight_rows(self) -> np.ndarray:
        """Row index of each weight segment, int64 ``[groups, w_rows]``."""
        return self._group_base + np.arange(self.w_rows, dtype=np.int64)[None, :]

    def membrane_rows(self) -> np.ndarray:
        """Row index of each membrane segment, int64 ``[groups, v_rows]``."""
        return self._group_base + (self.w_rows + np.arange(self.v_rows, dtype=np.int64))[None, :]

    def valid(self) -> np.ndarray:
        """Which slots hold a lane, bool ``[groups, lanes_per_row]`` (the last group may be short)."""
        idx = np.arange(self.groups * self.lanes_per_row).reshape(self.groups,
                                                                  self.lanes_per_row)
        return idx < self.n_lanes


def check_values(values: Any, bits: int, name: str) -> np.ndarray:
    """Integers that fit ``bits``-bit two's complement, as a flat int64 array.

    Raises OperandError naming the first value (by index) outside [-2**(bits-1), 2**(bits-1)-1]
    or a non-integer input.
    """
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    flat = arr.reshape(-1)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if flat.dtype.kind == "O":
        for i, v in enumerate(flat.tolist()):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise OperandError(f"{name}[{i}] = {v!r} is not an integer; pass integers")
            if not lo <= int(v) <= hi:
                raise OperandError(f"{name}[{i}] = {int(v)} does not fit {bits}-bit two's "
                                   f"complement [{lo}, {hi}]; widen the operand or clip the value")
        return np.asarray([int(v) for v in flat.tolist()], dtype=np.int64)
    if flat.dtype.kind not in "iub":
        raise OperandError(f"{name} has dtype {flat.dtype}, expected integers; convert with "
                           f"np.asarray(..., dtype=np.int64) after rounding")
    if flat.dtype.kind == "u":
        bad = flat > np.uint64(hi)
    else:
        flat = flat.astype(np.int64, copy=False)
        bad = (flat < lo) | (flat > hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise OperandError(f"{name}[{i}] = {int(flat[i])} does not fit {bits}-bit two's "
                           f"complement [{lo}, {hi}]; widen the operand or clip the value")
    return flat.astype(np.int64, copy=False)


def encode_bits(values: np.ndarray, n_bits: int) -> np.ndarray:
    """Two's-complement bits of int64 ``values``, LSB first, sign-extended to ``n_bits``: uint8."""
    shifts = np.minimum(np.arange(n_bits, dtype=np.int64), 63)
    return ((values[:, None] >> shifts[None, :]) & 1).astype(np.uint8)


def decode_bits(cells: np.ndarray, bits: int) -> np.ndarray:
    """Signed int64 values of the first ``bits`` columns of ``cells`` (uint8 ``[n, >=bits]``)."""
    if cells.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    powers = np.left_shift(np.uint64(1), np.arange(bits, dtype=np.uint64))
    u = (cells[:, :bits].astype(np.uint64) * powers[None, :]).sum(axis=1, dtype=np.uint64)
    sb = np.uint64(1) << np.uint64(bits - 1)
    return ((u ^ sb) - sb).view(np.int64)


def _check_bits(value: Any, name: str, hi: int = MAX_OPERAND_BITS) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise OperandError(f"{name} = {value!r}: expected a whole number of bits in [1, {hi}]")
    if not 1 <= int(value) <= hi:
        raise OperandError(f"{name} = {value}: must be in [1, {hi}] bits")
    return int(value)


class Macro:
    """Mutable state of one macro: bits ``uint8 [rows, cols]``, control cells, latches, counters.

    Row operations (:meth:`row_op`, :meth:`add`) count ``phases_per_add`` phases each and split
    the columns into active (lane) and standby column-phases; :meth:`read_row` /
    :meth:`write_row` and the operand writes/reads count external row reads and writes.
    """

    def __init__(self, spec: MacroSpec | None = None) -> None:
        self.spec = spec if spec is not None else MacroSpec()
        rows, cols = self.spec.rows, self.spec.cols
        self._bits = np.zeros((rows, cols), dtype=np.uint8)
        self._ctrl = np.zeros(cols, dtype=np.uint8)
        self._carry = np.zeros(cols, dtype=np.uint8)
        self._sign = np.zeros(cols, dtype=np.uint8)
        self._starts = np.zeros(0, dtype=np.int64)
        self._widths = np.zeros(0, dtype=np.int64)
        self._next_row = 0
        self._counts = dict.fromkeys(COUNTER_FIELDS, 0)

    # ------------------------------------------------------------------ state views
    @property
    def bits(self) -> np.ndarray:
        """The bit array (read-only view, uint8 ``[rows, cols]``)."""
        view = self._bits.view()
        view.flags.writeable = False
        return view

    @property
    def ctrl(self) -> np.ndarray:
        """Control code of each column (copy, uint8 ``[cols]``; see :mod:`.phases`)."""
        return self._ctrl.copy()

    @property
    def lanes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(start column, width)`` of each configured lane (copies)."""
        return self._starts.copy(), self._widths.copy()

    @property
    def carry_latch(self) -> np.ndarray:
        """Carry latch of each configured lane (uint8)."""
        return self._carry[self._starts].copy()

    @property
    def sign_latch(self) -> np.ndarray:
        """Weight-sign latch of each configured lane (uint8)."""
        return self._sign[self._starts].copy()

    @property
    def counters(self) -> MacroCounters:
        """Everything counted since creation or the last :meth:`reset_counters`."""
        return MacroCounters(**self._counts)

    @property
    def free_rows(self) -> int:
        """Rows not yet handed out by :meth:`allocate`."""
        return self.spec.rows - self._next_row

    def reset_counters(self) -> None:
        """Set every counter to zero (the array and latches are kept)."""
        self._counts = dict.fromkeys(COUNTER_FIELDS, 0)

    # ------------------------------------------------------------------ control cells
    def configure(self, ctrl: Any) -> None:
        """Write the per-column control cells (codes 0..3, one per column)."""
        codes = np.asarray(ctrl)
        if codes.shape != (self.spec.cols,):
            raise OperandError(f"control cells: got shape {codes.shape}, the macro has "
                               f"{self.spec.cols} columns; pass one code per column")
        starts, widths = parse_lanes(codes)
        self._ctrl = codes.astype(np.uint8)
        self._starts, self._widths = starts, widths

    def configure_lanes(self, n_lanes: int, lane_cols: int, *, col0: int = 0,
                        width: int | None = None) -> None:
        """Configure ``n_lanes`` adjacent lanes of ``lane_cols`` columns from ``col0``.

        Each lane computes on its first ``width`` columns (default all); every other column is
        in standby.
        """
        w = lane_cols if width is None else width
        end = col0 + n_lanes * lane_cols
        if n_lanes < 0 or lane_cols < 1 or not 1 <= w <= lane_cols or col0 < 0 \
                or end > self.spec.cols:
            raise OperandError(
                f"configure_lanes: {n_lanes} lanes x {lane_cols} columns (computing on {w}) from "
                f"column {col0} do not fit {self.spec.cols} columns; use fewer or narrower lanes")
        codes = np.zeros(self.spec.cols, dtype=np.uint8)
        codes[col0:end] = lane_codes(n_lanes, lane_cols, w)
        self._ctrl = codes
        self._starts = col0 + lane_cols * np.arange(n_lanes, dtype=np.int64)
        self._widths = np.full(n_lanes, w, dtype=np.int64)

    def configure_lanes_at(self, starts: Any, lane_cols: int, width: int | None = None) -> None:
        """Configure lanes of ``lane_cols`` columns starting at the given columns (increasing,
        not overlapping), each computing on its first ``width`` columns (default all); every
        other column is in standby. The same codes as :meth:`configure` would parse, set
        directly (the controller of the system engine reconfigures per row operation)."""
        st = np.asarray(starts, dtype=np.int64).reshape(-1)
        w = lane_cols if width is None else width
        if lane_cols < 1 or not 1 <= w <= lane_cols or (st.size and (
                st[0] < 0 or st[-1] + lane_cols > self.spec.cols
                or np.any(np.diff(st) < lane_cols))):
            raise OperandError(
                f"configure_lanes_at: lanes of {lane_cols} columns (computing on {w}) at "
                f"columns {st.tolist()[:8]} do not fit {self.spec.cols} columns without "
                f"overlapping; pass increasing starts at least {lane_cols} apart")
        codes = np.zeros(self.spec.cols, dtype=np.uint8)
        one = lane_codes(1, lane_cols, w)
        for c in st.tolist():
            codes[c:c + lane_cols] = one
        self._ctrl = codes
        self._starts = st.copy()
        self._widths = np.full(st.size, w, dtype=np.int64)

    # ------------------------------------------------------------------ external row I/O
    def _check_row(self, row: Any, name: str = "row") -> int:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) \
                or not 0 <= int(row) < self.spec.rows:
            raise OperandError(f"{name} = {row!r}: must be a row index in [0, {self.spec.rows})")
        return int(row)

    def read_row(self, row: int) -> np.ndarray:
        """Read one whole row from outside the array (counted as a row read); uint8 ``[cols]``."""
        r = self._check_row(row)
        self._counts["row_reads"] += 1
        return self._bits[r].copy()

    def write_row(self, row: int, bits: Any) -> None:
        """Write one whole row from outside the array (counted as a row write)."""
        r = self._check_row(row)
        data = np.asarray(bits)
        if data.shape != (self.spec.cols,):
            raise OperandError(f"write_row({r}): got shape {data.shape}, expected "
                               f"({self.spec.cols},) bits")
        if data.size and (data.dtype.kind not in "iub" or data.min() < 0 or data.max() > 1):
            raise OperandError(f"write_row({r}): cells must be 0 or 1")
        self._bits[r] = data.astype(np.uint8)
        self._counts["row_writes"] += 1

    # ------------------------------------------------------------------ one row operation
    def _count_row_ops(self, n_ops: int, active_cols: int) -> None:
        p = self.spec.phases_per_add
        self._counts["row_ops"] += n_ops
        self._counts["phases"] += n_ops * p
        self._counts["active_col_phases"] += p * active_cols
        self._counts["standby_col_phases"] += p * (n_ops * self.spec.cols - active_cols)

    def row_op(self, membrane_row: int, weight_row: int | None = None, *,
               first_segment: bool = True, last_segment: bool = True,
               sop: bool = True) -> np.ndarray:
        """One row operation (five phases) on every configured lane, in parallel.

        Reads ``weight_row`` and ``membrane_row`` with both wordlines (or, with
        ``weight_row=None``, the membrane row alone in sign-extension mode, using each lane's
        latched weight sign), adds them per lane with a ripple carry whose carry-in is 0 when
        ``first_segment`` else the lane's carry latch, writes the sums back into the membrane
        row and latches each lane's carry out. Standby columns are neither read nor written.

        Returns int8 per lane: the overflow direction of this segment's most significant column
        (+1 past the max, -1 past the min, 0 none) - meaningful when ``last_segment``, where one
        SOP per lane is counted unless ``sop`` is False (an addition that is no synaptic
        operation, such as a leak: :mod:`flexspim.macro.leak`).
        """
        m_row = self._check_row(membrane_row, "membrane_row")
        w_row = None if weight_row is None else self._check_row(weight_row, "weight_row")
        if w_row == m_row:
            raise OperandError(f"row_op: weight row and membrane row are both {m_row}; a "
                               f"dual-wordline read needs two different rows")
        ovf = np.zeros(self._starts.size, dtype=np.int8)
        for width in np.unique(self._widths).tolist():
            sel = np.flatnonzero(self._widths == width)
            starts = self._starts[sel]
            idx = starts[:, None] + np.arange(width)[None, :]
            m = self._bits[m_row, idx]
            carry = (np.zeros(sel.size, dtype=np.uint8) if first_segment
                     else self._carry[starts])
            bl, blb = precharge(m.shape)
            if w_row is None:
                and_, nor = single_wordline_read(bl, blb, m, self._sign[starts][:, None])
            else:
                w = self._bits[w_row, idx]
                and_, nor = dual_wordline_read(bl, blb, w, m)
                self._sign[starts] = w[:, -1]
            c, c_out = carry_chain(and_, nor, carry)
            s = sum_bits(and_, nor, c)
            self._bits[m_row, idx] = s
            self._carry[starts] = c_out
            ovf[sel] = overflow_direction(c, c_out, s)
        self._count_row_ops(1, int(self._widths.sum()))
        if last_segment and sop:
            self._counts["sops"] += int(self._starts.size)
        return ovf

    # ------------------------------------------------------------------ operand blocks
    def allocate(self, n_lanes: int, *, w_bits: int, v_bits: int, cols: int | None = None,
                 lanes_per_row: int | None = None, col0: int = 0) -> LaneBlock:
        """Reserve rows for ``n_lanes`` weight/membrane pairs sharing column spans.

        ``cols`` columns per lane (default ``v_bits`` capped at the macro's columns); lanes are
        packed ``lanes_per_row`` per row group (default: as many as fit from ``col0``). Raises
        OperandError, changing nothing, when the block does not fit the free rows or columns.
        """
        v = _check_bits(v_bits, "v_bits")
        w = _check_bits(w_bits, "w_bits")
        if w > v:
            raise OperandError(f"w_bits = {w} > v_bits = {v}: a weight must not be wider than "
                               f"the membrane it is added to; widen the membrane")
        if isinstance(n_lanes, bool) or not isinstance(n_lanes, (int, np.integer)) \
                or n_lanes < 0:
            raise OperandError(f"n_lanes = {n_lanes!r}: expected a count >= 0")
        avail = self.spec.cols - col0
        if not 0 <= col0 < self.spec.cols:
            raise OperandError(f"col0 = {col0}: must be a column in [0, {self.spec.cols})")
        c = min(v, avail) if cols is None else cols
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 1 <= c <= avail:
            raise OperandError(f"cols = {c!r} columns per lane: must be in [1, {avail}] "
                               f"(macro columns from column {col0})")
        max_lpr = avail // int(c)
        lpr = max_lpr if lanes_per_row is None else lanes_per_row
        if isinstance(lpr, bool) or not isinstance(lpr, (int, np.integer)) \
                or not 1 <= lpr <= max_lpr:
            raise OperandError(f"lanes_per_row = {lpr!r}: must be in [1, {max_lpr}] for "
                               f"{c}-column lanes in {avail} columns")
        block = LaneBlock(int(n_lanes), w, v, int(c), int(lpr), self._next_row, int(col0))
        if block.rows_used > self.free_rows:
            most = (self.free_rows // block.group_rows) * block.lanes_per_row
            raise OperandError(
                f"{block.n_lanes} lanes of {w}-bit weights / {v}-bit membranes at {c} columns "
                f"per lane ({block.lanes_per_row} per row) need {block.rows_used} rows "
                f"({block.groups} row groups x {block.group_rows} rows), the macro has "
                f"{self.free_rows} free of {self.spec.rows}; pass at most {most} lanes per "
                f"macro or choose a wider shape")
        self._next_row += block.rows_used
        return block

    def _check_block(self, block: LaneBlock) -> None:
        if block.row0 + block.rows_used > self.spec.rows or \
                block.col0 + block.span > self.spec.cols:
            raise OperandError(f"lane block at row {block.row0}, column {block.col0} does not "
                               f"fit this {self.spec.rows} x {self.spec.cols} macro; allocate "
                               f"it with Macro.allocate")

    def _block_cells(self, block: LaneBlock, rows: np.ndarray) -> np.ndarray:
        """Cells of the block's rows ``[G, R]`` as ``[G, R, lanes_per_row, cols]`` (copy)."""
        g, r = rows.shape
        region = self._bits[rows, block.col0:block.col0 + block.span]
        return region.reshape(g, r, block.lanes_per_row, block.cols)

    def _write_block(self, block: LaneBlock, rows: np.ndarray, values: np.ndarray) -> None:
        g, r = rows.shape
        if g == 0:
            return
        cells = encode_bits(values, r * block.cols)
        padded = np.zeros((g * block.lanes_per_row, r * block.cols), dtype=np.uint8)
        padded[:block.n_lanes] = cells
        new = padded.reshape(g, block.lanes_per_row, r, block.cols).transpose(0, 2, 1, 3)
        old = self._block_cells(block, rows)
        keep = ~block.valid()[:, None, :, None]
        merged = np.where(keep, old, new).reshape(g, r, block.span)
        self._bits[rows, block.col0:block.col0 + block.span] = merged

    def _read_block(self, block: LaneBlock, rows: np.ndarray, bits: int) -> np.ndarray:
        g, r = rows.shape
        cells = self._block_cells(block, rows).transpose(0, 2, 1, 3)
        flat = cells.reshape(g * block.lanes_per_row, r * block.cols)[:block.n_lanes]
        return decode_bits(flat, bits)

    def load(self, block: LaneBlock, weights: np.ndarray, membranes: np.ndarray) -> None:
        """Set-up load of a block from int64 arrays already checked with :func:`check_values`.

        Not counted (the operands of a mapped network are in the array before it runs).
        """
        self._check_block(block)
        if weights.shape != (block.n_lanes,) or membranes.shape != (block.n_lanes,):
            raise OperandError(f"load: expected {block.n_lanes} weights and membranes, got "
                               f"{weights.size} and {membranes.size}")
        self._write_block(block, block.weight_rows(), weights)
        self._write_block(block, block.membrane_rows(), membranes)

    def write_weights(self, block: LaneBlock, values: Any, *, count: bool = True) -> None:
        """Write one weight per lane (sign-extended over the weight rows).

        ``count`` counts one row write per weight row; pass False for set-up that is not part
        of the workload (loading a fresh macro).
        """
        self._write_operand(block, values, "weights", count)

    def write_membranes(self, block: LaneBlock, values: Any, *, count: bool = True) -> None:
        """Write one membrane potential per lane (padding cells sign-extended)."""
        self._write_operand(block, values, "membranes", count)

    def read_membranes(self, block: LaneBlock, *, count: bool = True) -> np.ndarray:
        """The lanes' membrane potentials (int64), read from the array's cells."""
        return self._read_operand(block, "membranes", count)

    def read_weights(self, block: LaneBlock, *, count: bool = True) -> np.ndarray:
        """The lanes' weights (int64), read from the array's cells."""
        return self._read_operand(block, "weights", count)

    def _operand_rows(self, block: LaneBlock, operand: str) -> tuple[np.ndarray, int]:
        self._check_block(block)
        if operand == "weights":
            return block.weight_rows(), block.w_bits
        return block.membrane_rows(), block.v_bits

    def _write_operand(self, block: LaneBlock, values: Any, operand: str, count: bool) -> None:
        rows, bits = self._operand_rows(block, operand)
        vals = check_values(values, bits, operand)
        if vals.size != block.n_lanes:
            raise OperandError(f"{operand}: got {vals.size} values for {block.n_lanes} lanes")
        self._write_block(block, rows, vals)
        if count:
            self._counts["row_writes"] += int(rows.size)

    def _read_operand(self, block: LaneBlock, operand: str, count: bool) -> np.ndarray:
        rows, bits = self._operand_rows(block, operand)
        if count:
            self._counts["row_reads"] += int(rows.size)
        return self._read_block(block, rows, bits)

    def add(self, block: LaneBlock) -> np.ndarray:
        """membrane += weight on every lane of ``block``; returns the overflow direction (int8).

        Runs, for each row group, one row operation per membrane segment (dual-wordline while
        weight segments remain, sign-extension mode after), exactly as :meth:`row_op` would in
        that order, with the control cells configured for the group's lanes. Independent row
        groups are computed together (NumPy across groups and lanes); the counters are those of
        the individual row operations, and the latches and control cells end as after the last
        group's last row operation.
        """
        self._check_block(block)
        if block.n_lanes == 0:
            return np.zeros(0, dtype=np.int8)
        g, lpr, cols = block.groups, block.lanes_per_row, block.cols
        w_rows, m_rows = block.weight_rows(), block.membrane_rows()
        valid = (np.arange(g * lpr) < block.n_lanes).reshape(g, lpr, 1)
        # every row of the block is read and written by exactly one row operation per group,
        # so the rows are gathered once and written back once
        weights = self._block_cells(block, w_rows)
        membranes = self._block_cells(block, m_rows)
        carry = np.zeros((g, lpr), dtype=np.uint8)
        sign = carry
        ovf = carry.astype(np.int8)
        active = 0
        for k in range(block.v_rows):
            width = cols if k < block.v_rows - 1 else block.last_width
            m = membranes[:, k, :, :width]
            bl, blb = precharge(m.shape)
            if k < block.w_rows:
                w = weights[:, k, :, :width]
                and_, nor = dual_wordline_read(bl, blb, w, m)
                sign = w[:, :, -1]
            else:
                and_, nor = single_wordline_read(bl, blb, m, sign[:, :, None])
            c, carry = carry_chain(and_, nor, carry)
            s = sum_bits(and_, nor, c)
            membranes[:, k, :, :width] = np.where(valid, s, m)
            if k == block.v_rows - 1:
                ovf = overflow_direction(c, carry, s)
            active += block.n_lanes * width
        self._bits[m_rows, block.col0:block.col0 + block.span] = \
            membranes.reshape(g, block.v_rows, block.span)
        self._count_row_ops(g * block.v_rows, active)
        self._counts["sops"] += block.n_lanes
        n_last = block.n_lanes - (g - 1) * lpr
        self.configure_lanes(n_last, cols, col0=block.col0, width=block.last_width)
        self._carry[self._starts] = carry[-1, :n_last]
        self._sign[self._starts] = sign[-1, :n_last]
        return ovf.reshape(-1)[:block.n_lanes].copy()


__all__ = ["LaneBlock", "MAX_OPERAND_BITS", "Macro", "check_values", "decode_bits",
           "encode_bits"]
