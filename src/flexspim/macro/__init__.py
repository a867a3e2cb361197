"""Bit-level model of one FlexSpIM macro (docs/design.md §4 ``macro``; paper §II, Fig. 2-3).

An explicit bit array (512 x 256 by default) holding weights and membrane potentials, per-column
2-bit control cells, dual-wordline AND/NOR reads, the five phases of an in-memory addition,
ripple carries chained across row segments, standby columns, external row reads and writes, and
counters of everything it does. It is the golden model of the arithmetic; docs/macro.md describes
it phase by phase.

Quick use::

    from flexspim.macro import in_memory_add
    membranes, counters = in_memory_add([100, -5], [27, -128], v_bits=16, w_bits=8)
    membranes, counters = in_memory_leak([100, -5], kind="shift", amount=2, v_bits=16)

The leak of a leaky layer's membranes is an in-memory operation too (:mod:`.leak`): read the
membrane rows, form ``-t(v)`` in the periphery, write it into scratch rows, add it in the
array (:func:`leak_row_group`, :func:`leak_cost`).
"""

from flexspim.macro.add import InMemoryAddResult, in_memory_add
from flexspim.macro.array import (
    MAX_OPERAND_BITS,
    LaneBlock,
    Macro,
    check_values,
    decode_bits,
    encode_bits,
)
from flexspim.macro.counters import MacroCounters
from flexspim.macro.leak import (
    LEAK_KINDS,
    InMemoryLeakResult,
    LeakResult,
    in_memory_leak,
    leak_cost,
    leak_operand_bits,
    leak_range,
    leak_row_group,
)
from flexspim.macro.phases import (
    CTRL_NAMES,
    END,
    MID,
    STANDBY,
    START,
    carry_chain,
    dual_wordline_read,
    lane_codes,
    overflow_direction,
    parse_lanes,
    precharge,
    single_wordline_read,
    sum_bits,
)

__all__ = [
    "CTRL_NAMES",
    "END",
    "LEAK_KINDS",
    "MAX_OPERAND_BITS",
    "MID",
    "STANDBY",
    "START",
    "InMemoryAddResult",
    "InMemoryLeakResult",
    "LaneBlock",
    "LeakResult",
    "Macro",
    "MacroCounters",
    "carry_chain",
    "check_values",
    "decode_bits",
    "dual_wordline_read",
    "encode_bits",
    "in_memory_add",
    "in_memory_leak",
    "lane_codes",
    "leak_cost",
    "leak_operand_bits",
    "leak_range",
    "leak_row_group",
    "overflow_direction",
    "parse_lanes",
    "precharge",
    "single_wordline_read",
    "sum_bits",
]
