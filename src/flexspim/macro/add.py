"""``in_memory_add``: lane additions through the bit-level macro (docs/design.md §3, paper §II).

This is the entry point the bit-level simulator engine calls for every event's fan-out: it lays
the lanes out in one fresh macro, runs the row operations on the bit array and reads the results
back from the cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexspim.errors import OperandError
from flexspim.hw.spec import MacroSpec
from flexspim.macro.array import Macro, check_values
from flexspim.macro.counters import MacroCounters


@dataclass(frozen=True, eq=False)
class InMemoryAddResult:
    """Result of :func:`in_memory_add`.

    - ``membranes``: int64, the updated membranes (same shape as the input), read from the cells.
    - ``overflow``: int8 per lane: +1 wrapped past the max, -1 past the min, 0 none.
    - ``counters``: the row operations of the addition (set-up writes and the read-back of the
      fresh macro are not counted: in a mapped network the membranes stay in the array).

    Unpacks as ``membranes, counters = in_memory_add(...)``.
    """

    membranes: np.ndarray
    overflow: np.ndarray
    counters: MacroCounters

    def __iter__(self) -> Iterator[Any]:
        yield self.membranes
        yield self.counters


def in_memory_add(membranes: Any, weights: Any, *, v_bits: int, w_bits: int,
                  cols: int | None = None, spec: MacroSpec | None = None,
                  lanes_per_row: int | None = None) -> InMemoryAddResult:
    """membrane += weight for every lane, computed by the bit-level array (wraps mod 2**v_bits).

    ``membranes`` and ``weights`` are sequences of Python ints or integer arrays of the same
    shape (one lane per element). ``cols`` is the columns per lane: an operand of ``bits`` bits
    then spans ceil(bits / cols) rows (default ``cols = v_bits`` capped at ``spec.cols``: one row
    per membrane). The lanes go into one fresh macro, ``lanes_per_row`` side by side (default:
    as many as fit), more row groups as needed; each row group is the weight rows then the
    membrane rows. Weights narrower than ``v_bits`` are sign-extended (docs/macro.md).

    Raises OperandError (one line) when a value does not fit its width, the shapes differ, or
    the lanes do not fit the macro's rows and columns.
    """
    spec = spec if spec is not None else MacroSpec()
    m_in = np.asarray(membranes) if not isinstance(membranes, np.ndarray) else membranes
    w_in = np.asarray(weights) if not isinstance(weights, np.ndarray) else weights
    if m_in.shape != w_in.shape:
        raise OperandError(f"in_memory_add: {m_in.size} membranes (shape {m_in.shape}) and "
                           f"{w_in.size} weights (shape {w_in.shape}); pass one weight per lane")
    macro = Macro(spec)
    block = macro.allocate(int(m_in.size), w_bits=w_bits, v_bits=v_bits, cols=cols,
                           lanes_per_row=lanes_per_row)
    m_vals = check_values(m_in, block.v_bits, "membranes")
    w_vals = check_values(w_in, block.w_bits, "weights")
    macro.load(block, w_vals, m_vals)
    overflow = macro.add(block)
    out = macro.read_membranes(block, count=False)
    return InMemoryAddResult(out.reshape(m_in.shape), overflow.reshape(m_in.shape),
                             macro.counters)
