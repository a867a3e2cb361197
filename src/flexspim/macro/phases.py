"""The five phases of one in-memory addition and the column control-cell encoding.

Paper §II, Fig. 2-3: weights and membrane potentials share the bitline pair of a column; raising
two wordlines at once (one weight row, one membrane row) makes the bitline compute AND and the
complementary bitline NOR of the two stored bits, and per-column logic turns them into a 1-bit full
adder. One row operation is five phases of the 942 MHz CIM clock:

1. :func:`precharge` - BL and BLB of every column go to VDD (logic 1). Standby columns stay
   precharged for the whole row operation and are never evaluated (paper: 87% less energy).
2. :func:`dual_wordline_read` - the weight and membrane wordlines rise together; a cell holding 0
   discharges BL, a cell holding 1 discharges BLB, so BL = w AND m and BLB = NOR(w, m).
   :func:`single_wordline_read` is the sign-extension variant: only the membrane wordline rises
   (BL = m, BLB = NOT m) and the column logic combines them with the lane's latched weight sign s:
   AND = BL AND s, NOR = BLB AND NOT s.
3. :func:`carry_chain` - generate g = AND, propagate p = NOT(AND OR NOR) = w XOR m; the carry
   ripples from the lane's least significant column to its most significant one,
   c[j+1] = g[j] OR (p[j] AND c[j]); c[0] is the lane's carry latch (0 in the first segment).
   The carry out of the most significant column is latched for the next row segment.
4. :func:`sum_bits` - s[j] = p[j] XOR c[j].
5. write-back - the sum bits are written into the membrane row's cells of the active columns
   (done by :class:`flexspim.macro.Macro`, which owns the array); the overflow flag
   c[msb] XOR c_out is formed at the lane's most significant column.

All functions are pure NumPy over arrays whose last axis is the bit position within a row segment
(least significant first); leading axes are independent lanes / row operations.

Control cells (2 bits per column, paper: "set per column by 2-bit control cells"):

======  ========  =================================================================
code    name      meaning
======  ========  =================================================================
0b00    STANDBY   precharge standby: not read, not written, no carry
0b01    START     least significant column of a lane of 2+ columns; carry-in = latch
0b10    MID       inner column: carry-in = carry-out of the column to its left
0b11    END       most significant column of a lane; its carry-out is latched.
                  An END not preceded by START/MID is a one-column lane (carry-in =
                  latch, carry-out latched).
======  ========  =================================================================

Columns are in bit order: within a lane, column index increases with bit significance.
"""

from __future__ import annotations

import numpy as np

from flexspim.errors import OperandError

STANDBY = 0b00
START = 0b01
MID = 0b10
END = 0b11

CTRL_NAMES: dict[int, str] = {STANDBY: "standby", START: "start", MID: "mid", END: "end"}


def precharge(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Phase 1: bitlines BL and BLB of ``shape`` columns precharged to 1 (uint8)."""
    ones = np.ones(shape, dtype=np.uint8)
    return ones, ones.copy()


def dual_wordline_read(bl: np.ndarray, blb: np.ndarray, w: np.ndarray, m: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Phase 2: both wordlines up; return (BL, BLB) = (w AND m, NOR(w, m)) on precharged lines.

    A cell holding 0 pulls BL low, a cell holding 1 pulls BLB low; a precharged line stays 1 only
    if no cell on it pulls it down. ``w`` and ``m`` are uint8 bit arrays (0/1).
    """
    return bl & w & m, blb & (w ^ 1) & (m ^ 1)


def single_wordline_read(bl: np.ndarray, blb: np.ndarray, m: np.ndarray, sign: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Phase 2 in sign-extension mode: only the membrane wordline rises (BL = m, BLB = NOT m).

    The column logic substitutes the lane's latched weight sign bit ``sign`` (broadcast against
    ``m``) for the absent weight cell: AND = BL AND sign, NOR = BLB AND NOT sign.
    """
    bl = bl & m
    blb = blb & (m ^ 1)
    return bl & sign, blb & (sign ^ 1)


def carry_chain(and_: np.ndarray, nor: np.ndarray, carry_in: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Phase 3: ripple carry over the last axis (bit positions, LSB first).

    Returns ``(c, c_out)``: ``c[..., j]`` is the carry into position j (``c[..., 0]`` =
    ``carry_in``, the lane's carry latch) and ``c_out`` the carry out of the last position, which
    the lane latches for its next row segment.
    """
    # bit position first, so each step of the ripple works on one contiguous slice of lanes
    g = np.moveaxis(and_, -1, 0).copy()
    p = np.moveaxis((and_ | nor) ^ 1, -1, 0).copy()
    c = np.empty_like(g)
    carry = np.asarray(carry_in, dtype=np.uint8)
    for j in range(g.shape[0]):
        c[j] = carry
        carry = g[j] | (p[j] & carry)
    return np.moveaxis(c, 0, -1), np.asarray(carry, dtype=np.uint8)


def sum_bits(and_: np.ndarray, nor: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Phase 4: sum bit per column, s = (w XOR m) XOR c = NOT(AND OR NOR) XOR c."""
    return ((and_ | nor) ^ 1) ^ c


def overflow_direction(c: np.ndarray, c_out: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Overflow of the final segment at the lane's most significant column (two's complement).

    Overflow when the carry into the sign position differs from the carry out of it. Direction:
    +1 if the sum wrapped past the maximum (result's sign bit 1), -1 past the minimum, 0 none.
    Returns int8 per lane.
    """
    ovf = c[..., -1] ^ c_out
    direction = np.where(s[..., -1] == 1, 1, -1).astype(np.int8)
    return np.where(ovf == 1, direction, 0).astype(np.int8)


def parse_lanes(ctrl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lanes of a control-cell row: ``(starts, widths)`` (int64), in column order.

    Raises OperandError naming the column when the codes do not form lanes (a START or MID not
    closed by an END, a MID without a START, a code outside 0..3).
    """
    codes = np.asarray(ctrl)
    bad = np.flatnonzero((codes < 0) | (codes > 3))
    if bad.size:
        c = int(bad[0])
        raise OperandError(f"control cell of column {c} = {int(codes[c])}: codes are 0 standby, "
                           f"1 start, 2 mid, 3 end")
    starts: list[int] = []
    widths: list[int] = []
    open_at = -1
    for col, code in enumerate(codes.tolist()):
        if code == STANDBY:
            if open_at >= 0:
                raise OperandError(f"control cells: lane starting at column {open_at} is not "
                                   f"closed by an 'end' cell before standby column {col}")
        elif code == START:
            if open_at >= 0:
                raise OperandError(f"control cells: lane starting at column {open_at} is not "
                                   f"closed by an 'end' cell before the 'start' at column {col}")
            open_at = col
        elif code == MID:
            if open_at < 0:
                raise OperandError(f"control cells: 'mid' at column {col} has no 'start' on its "
                                   f"left; begin the lane with a 'start' cell")
        else:
            first = col if open_at < 0 else open_at
            starts.append(first)
            widths.append(col - first + 1)
            open_at = -1
    if open_at >= 0:
        raise OperandError(f"control cells: lane starting at column {open_at} runs past the last "
                           f"column without an 'end' cell")
    return np.asarray(starts, dtype=np.int64), np.asarray(widths, dtype=np.int64)


def lane_codes(n_lanes: int, lane_cols: int, width: int | None = None) -> np.ndarray:
    """Control codes of ``n_lanes`` adjacent lanes of ``lane_cols`` columns each.

    Each lane computes on its first ``width`` columns (default all): START, MID..., END, then
    STANDBY for the rest (used for a last row segment narrower than the lane's column span).
    """
    w = lane_cols if width is None else width
    one = np.full(lane_cols, STANDBY, dtype=np.uint8)
    if w == 1:
        one[0] = END
    elif w > 1:
        one[0] = START
        one[1:w - 1] = MID
        one[w - 1] = END
    return np.tile(one, n_lanes)
