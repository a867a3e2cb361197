"""Named mapping rules. Each rule is a small function that raises
:class:`~flexspim.errors.MappingError` (rule name, layer, and what is short) or returns quietly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from flexspim.compile.geometry import LayerGeometry, shape_candidates
from flexspim.errors import MappingError
from flexspim.hw import Hardware

BITS_PER_KIB = 8 * 1024


def operand_fits_macro(geo: LayerGeometry, hw: Hardware) -> None:
    """Rule ``operand-fits-macro``: one membrane (the wider operand) fits a macro's cells."""
    m = hw.macro
    if geo.v_bits > m.rows * m.cols:
        raise MappingError(
            "operand-fits-macro",
            f"layer '{geo.name}': a {geo.v_bits}-bit membrane is wider than a macro of "
            f"{m.rows} x {m.cols} = {m.rows * m.cols} cells; lower v_bits or use a larger macro")


def scratch_rows_fit(geo: LayerGeometry, hw: Hardware) -> tuple[int, ...]:
    """Rule ``scratch-rows``: some operand shape leaves room for one streamed weight and one
    streamed membrane (the scratch rows); returns the shapes (lane widths) that do."""
    operand_fits_macro(geo, hw)
    cands = shape_candidates(geo, hw)
    if not cands:
        c = min(hw.macro.cols, geo.v_bits)
        need = math.ceil(geo.v_bits / c) + math.ceil(geo.w_bits / c)
        raise MappingError(
            "scratch-rows",
            f"layer '{geo.name}': scratch rows for one {geo.w_bits}-bit weight and one "
            f"{geo.v_bits}-bit membrane need {need} rows, the macro has {hw.macro.rows}; "
            f"lower the bit widths or use a macro with more rows or columns")
    return cands


def scratch_reserve_fits(scratch_rows: int, hw: Hardware, layer: str) -> None:
    """Rule ``scratch-rows``: the scratch rows reserved in every macro leave the array usable."""
    if scratch_rows > hw.macro.rows:
        raise MappingError(
            "scratch-rows",
            f"layer '{layer}': needs {scratch_rows} scratch rows per macro, the macro has "
            f"{hw.macro.rows}; choose narrower bit widths or a larger macro")


def buffer_capacity(off_array_bits: Sequence[tuple[str, float]], hw: Hardware) -> None:
    """Rule ``buffer-capacity``: with DRAM disabled, everything outside the arrays (streamed
    operands and spilled parts, given as ``(layer, bits)`` in layer order) fits the buffer."""
    if hw.system.dram.enabled:
        return
    cap = hw.system.buffer_kib * BITS_PER_KIB
    total = 0.0
    for layer, bits in off_array_bits:
        total += bits
        if total > cap + 1e-9:
            short = math.ceil(sum(b for _, b in off_array_bits) - cap)
            raise MappingError(
                "buffer-capacity",
                f"layer '{layer}': the operands outside the arrays need "
                f"{sum(b for _, b in off_array_bits) / BITS_PER_KIB:.1f} KiB, the buffer holds "
                f"{hw.system.buffer_kib:g} KiB ({short} bits short) and DRAM is disabled; "
                f"enable system.dram, enlarge system.buffer_kib or add macros")


def mapping_matches(expected: Sequence[tuple[str, int, int, int, int]],
                    actual: Sequence[tuple[str, int, int, int, int]], where: str) -> None:
    """Rule ``network-match``: the mapping was compiled for this network's spiking layers
    (name, weights, neurons, w_bits, v_bits)."""
    if len(expected) != len(actual):
        raise MappingError(
            "network-match",
            f"{where}: the mapping has {len(actual)} spiking layers, the network "
            f"{len(expected)}; compile the mapping for this network")
    for e, a in zip(expected, actual, strict=True):
        if tuple(e) != tuple(a):
            raise MappingError(
                "network-match",
                f"{where}: layer '{e[0]}' (weights, neurons, w_bits, v_bits = {tuple(e[1:])}) "
                f"differs from the mapping's '{a[0]}' {tuple(a[1:])}; recompile the mapping")


def hardware_matches(rows: int, cols: int, n_macros: int, hw: Hardware, where: str) -> None:
    """Rule ``hardware-match``: the mapping was compiled for this macro geometry and count."""
    m = hw.macro
    if (rows, cols, n_macros) != (m.rows, m.cols, hw.system.n_macros):
        raise MappingError(
            "hardware-match",
            f"{where}: the mapping is for {n_macros} macro(s) of {rows} x {cols}, the hardware "
            f"has {hw.system.n_macros} of {m.rows} x {m.cols}; recompile with this hardware")
