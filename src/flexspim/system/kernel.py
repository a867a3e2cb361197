"""The fast mode of the system engine: one compiled pass per spiking layer that replays the
layer's recorded activity (:mod:`flexspim.system.trace`) on the mapping and counts every unit
of work (docs/system-model.md).

The arithmetic does not depend on the mapping, so the spikes come from the trace and this pass
only counts. Per sample and timestep (in parallel: the scratch rows are emptied at the end of
each integrate phase, so timesteps are independent), :func:`_units` expands the timestep's input
events, in arrival order (C-order over ``[c_in, h, w]``, an input count k being k events), into
*units*: one event's lanes that one row-operation group updates together (module docstring of
:mod:`flexspim.compile.geometry`). With ``event_order == "target"`` the units are sorted: units
on resident row groups by the streamed slice they need, then the units on spilled groups, one
spilled group after the other (each loaded once), by streamed slice within a group.

:func:`_integrate` runs the units in that order on the macro holding their stationary group (the
layer's home macro for a spilled group) and keeps the controller's two scratch pools:

- the **streamed pool** holds streamed slices (membranes under WS, weights under OS) in the
  scratch slots of every macro, as one least-recently-used cache over the whole chip: a slice
  held by another macro moves to the macro that needs it over the on-chip bus (and, when that
  macro is full, its least recently used slice moves into the freed slot), a slice held by no
  macro is loaded from the buffer or DRAM after the chip's least recently used slice is written
  back (a membrane slice) or dropped (a weight slice);
- the **spill pool** holds spilled stationary groups in the home macro's spill slots (LRU).

:func:`_fire` counts the compare and reset traffic from the recorded spikes. Routing counts each
event's deliveries to macros other than the one it left from.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

try:
    from numba import njit, prange
except ImportError:  # pragma: no cover - without Numba the same code runs as plain Python
    prange = range

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        if args and callable(args[0]):
            return args[0]
        return lambda f: f

from flexspim.energy.counts import FIELD_INDEX, PHASES

# Phase and field indices, written out: Numba's cache keeps compiled constants until this
# file changes, so they must not come from another module's values (checked at import below).
P_INTEGRATE = 2
P_FIRE = 3
F_ROW_OPS = 0
F_ACTIVE = 1
F_STANDBY = 2
F_ROW_WRITES = 3
F_ROW_READS = 4
F_COMPARE = 5
F_BUF_R = 6
F_BUF_W = 7
F_DRAM_R = 8
F_DRAM_W = 9
F_TRANSFER = 10
F_ROUTED = 11
F_SOPS = 12
F_UNITS = 13
_WRITTEN = {"integrate": P_INTEGRATE, "fire": P_FIRE}
_FIELDS = {"row_ops": F_ROW_OPS, "active_col_ops": F_ACTIVE, "standby_col_ops": F_STANDBY,
           "array_row_writes": F_ROW_WRITES, "array_row_reads": F_ROW_READS,
           "compare_row_reads": F_COMPARE, "buffer_read_bits": F_BUF_R,
           "buffer_write_bits": F_BUF_W, "dram_read_bits": F_DRAM_R,
           "dram_write_bits": F_DRAM_W, "transfer_bits": F_TRANSFER,
           "routed_events": F_ROUTED, "sops": F_SOPS, "units": F_UNITS}
if any(PHASES.index(k) != v for k, v in _WRITTEN.items()) or \
        any(FIELD_INDEX[k] != v for k, v in _FIELDS.items()) or len(FIELD_INDEX) != len(_FIELDS):
    raise ImportError("flexspim.system.kernel: its phase and field indices differ from "
                      "flexspim.energy.counts; update them")

# unit table columns (see _units)
U_Q, U_BLOCK, U_CG, U_MACRO, U_KEY, U_LANES, U_GROUP = range(7)
U_COLS = 7


class Layer(NamedTuple):
    """What the kernels need of one layer on the macros (all integers; docs/system-model.md).

    Geometry of the layer as a convolution, its mapping (stationary operand ``st``: 0 weights,
    1 membranes; lane packing, channel groups, operand rows), the controller's rules and the
    scratch pools: ``s_rows`` rows per streamed slot, ``sp_rows`` rows and ``k_spill`` slots of
    the home macro's spill pool, ``keyspace`` streamed slice keys.
    """

    cin: int
    h: int
    w: int
    cout: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    st: int
    pack: int
    ncg: int
    cpg: int
    nblk: int
    v_rows: int
    w_rows: int
    mcols: int
    v_bits: int
    w_bits: int
    home: int
    nmac: int
    reuse: int
    target: int
    cactive: int
    s_rows: int
    sp_rows: int
    k_spill: int
    keyspace: int


@njit(cache=True)
def _mem(row: np.ndarray, buffered: float, bits: float, read: bool) -> None:
    """Add ``bits`` of traffic to a count row, the fraction ``buffered`` of them at the buffer,
    the rest at DRAM."""
    row[F_BUF_R if read else F_BUF_W] += bits * buffered
    row[F_DRAM_R if read else F_DRAM_W] += bits * (1.0 - buffered)


@njit(cache=True)
def _tap_target(y: int, x: int, tap: int, p: Layer) -> int:
    """Output position (``oy * ow + ox``) that kernel tap ``tap`` of an input event at (y, x)
    reaches, or -1 when it falls outside the map or between strides."""
    ny = y + p.ph - tap // p.kw
    nx = x + p.pw - tap % p.kw
    if ny < 0 or nx < 0 or ny % p.sh != 0 or nx % p.sw != 0:
        return -1
    if ny // p.sh >= p.oh or nx // p.sw >= p.ow:
        return -1
    return (ny // p.sh) * p.ow + nx // p.sw


@njit(cache=True)
def _emit(out: np.ndarray, n: int, q: int, b: int, cg: int, m: int, key: int, lanes: int,
          g: int) -> int:
    out[n, U_Q] = q
    out[n, U_BLOCK] = b
    out[n, U_CG] = cg
    out[n, U_MACRO] = m
    out[n, U_KEY] = key
    out[n, U_LANES] = lanes
    out[n, U_GROUP] = g
    return n + 1


@njit(cache=True)
def _ws_units(q: int, p: Layer, stat_macro: np.ndarray, out: np.ndarray, n: int) -> int:
    """Units of one WS event at flat input ``q``: tap blocks holding a valid tap, channel
    groups inner."""
    c = q // (p.h * p.w)
    y = (q // p.w) % p.h
    x = q % p.w
    for b in range(p.nblk):
        slots = 0
        tap1 = -1
        for s in range(p.pack):
            tap = b * p.pack + s
            if tap >= p.kh * p.kw:
                break
            pos = _tap_target(y, x, tap, p)
            if pos >= 0:
                slots += 1
                tap1 = pos
        if slots == 0:
            continue
        for cg in range(p.ncg):
            g = ((c * p.nblk) + b) * p.ncg + cg
            m = stat_macro[g] if stat_macro[g] >= 0 else p.home
            key = tap1 * p.ncg + cg if p.pack == 1 else ((y * p.w + x) * p.nblk + b) * p.ncg + cg
            chans = min(p.cpg, p.cout - cg * p.cpg)
            n = _emit(out, n, q, b, cg, m, key, slots * chans, g)
    return n


@njit(cache=True)
def _os_units(q: int, p: Layer, stat_macro: np.ndarray, out: np.ndarray, n: int,
              hits: np.ndarray) -> int:
    """Units of one OS event at flat input ``q``: x blocks of the output rows it reaches
    (ascending), channel groups inner."""
    c = q // (p.h * p.w)
    y = (q // p.w) % p.h
    x = q % p.w
    jr = p.kw + (p.pack - 1) * p.sw
    nh = 0
    for i in range(p.kh):
        ny = y + p.ph - i
        if ny < 0 or ny % p.sh != 0 or ny // p.sh >= p.oh:
            continue
        for j in range(p.kw):
            nx = x + p.pw - j
            if nx < 0 or nx % p.sw != 0 or nx // p.sw >= p.ow:
                continue
            hits[nh] = (ny // p.sh) * p.nblk + (nx // p.sw) // p.pack
            nh += 1
    for a in range(1, nh):                # insertion sort of a few blocks
        val = hits[a]
        b2 = a - 1
        while b2 >= 0 and hits[b2] > val:
            hits[b2 + 1] = hits[b2]
            b2 -= 1
        hits[b2 + 1] = val
    u = 0
    while u < nh:
        pb = hits[u]
        slots = 0
        while u < nh and hits[u] == pb:
            slots += 1
            u += 1
        oy = pb // p.nblk
        xb = pb % p.nblk
        i = y + p.ph - oy * p.sh
        j0 = x + p.pw - xb * p.pack * p.sw
        partial = 1 if (xb == p.nblk - 1 and p.ow % p.pack != 0) else 0
        for cg in range(p.ncg):
            g = pb * p.ncg + cg
            m = stat_macro[g] if stat_macro[g] >= 0 else p.home
            if p.pack == 1:
                key = (c * p.kh * p.kw + i * p.kw + j0) * p.ncg + cg
            else:
                key = (((c * p.kh + i) * jr + j0) * 2 + partial) * p.ncg + cg
            chans = min(p.cpg, p.cout - cg * p.cpg)
            n = _emit(out, n, q, pb, cg, m, key, slots * chans, g)
    return n


@njit(cache=True)
def _units(xs: np.ndarray, srcs: np.ndarray, p: Layer, stat_macro: np.ndarray,
           counts_t: np.ndarray, out: np.ndarray, seen: np.ndarray, hits: np.ndarray
           ) -> np.ndarray:
    """Units of one sample's timestep in arrival order: rows ``[q, block, cg, macro, key,
    lanes, stationary group]``.

    Also counts routed events into ``counts_t[P_INTEGRATE, macro]`` (each event's deliveries
    to the macros running its units, the source macro excluded; sensor events count every
    delivery).
    """
    seen[:] = -1
    n = 0
    ev = 0
    for q in range(xs.size):
        k = xs[q]
        for _rep in range(k):
            first = n
            if p.st == 0:
                n = _ws_units(q, p, stat_macro, out, n)
            else:
                n = _os_units(q, p, stat_macro, out, n, hits)
            src = srcs[q]
            for r in range(first, n):
                m = out[r, U_MACRO]
                if seen[m] != ev:
                    seen[m] = ev
                    if m != src:
                        counts_t[P_INTEGRATE, m, F_ROUTED] += 1.0
            ev += 1
    return out[:n]


@njit(cache=True)
def _target_order(units: np.ndarray, p: Layer, stat_macro: np.ndarray) -> np.ndarray:
    """``event_order = "target"``: resident units by streamed key, then spilled units by
    (stationary group, key); stable (arrival order within equal keys)."""
    sortval = np.empty(units.shape[0], dtype=np.int64)
    for u in range(units.shape[0]):
        g = units[u, U_GROUP]
        key = units[u, U_KEY]
        sortval[u] = key if stat_macro[g] >= 0 else (g + 1) * p.keyspace + key
    return units[np.argsort(sortval, kind="mergesort")]


@njit(cache=True)
def _slice_bits(units: np.ndarray, u: int, p: Layer, mem_buffered: np.ndarray,
                touched: np.ndarray) -> tuple[float, float]:
    """(buffer, DRAM) bits of unit ``u``'s streamed slice (the lanes' membranes under WS,
    weights under OS, at their memory level); marks the compare groups it touches."""
    q, blk, cg = units[u, U_Q], units[u, U_BLOCK], units[u, U_CG]
    c = q // (p.h * p.w)
    y = (q // p.w) % p.h
    x = q % p.w
    chans = min(p.cpg, p.cout - cg * p.cpg)
    b_buf = 0.0
    b_dram = 0.0
    for s in range(p.pack):
        if p.st == 0:
            tap = blk * p.pack + s
            if tap >= p.kh * p.kw:
                break
            pos = _tap_target(y, x, tap, p)
            if pos < 0:
                continue
            touched[pos * p.ncg + cg] = 1
            f = mem_buffered[pos * p.ncg + cg]
            b = chans * p.v_bits
        else:
            oy = blk // p.nblk
            ox = (blk % p.nblk) * p.pack + s
            if ox >= p.ow:
                break
            i = y + p.ph - oy * p.sh
            j = x + p.pw - ox * p.sw
            if i < 0 or i >= p.kh or j < 0 or j >= p.kw:
                continue
            touched[blk * p.ncg + cg] = 1
            f = mem_buffered[(c * p.kh * p.kw + i * p.kw + j) * p.ncg + cg]
            b = chans * p.w_bits
        b_buf += b * f
        b_dram += b * (1.0 - f)
    return b_buf, b_dram


@njit(cache=True)
def _unit_groups(units: np.ndarray, u: int, p: Layer, out: np.ndarray) -> int:
    """Membrane memory groups (WS) of unit ``u``'s valid slots; returns how many."""
    q = units[u, U_Q]
    return _slot_groups((q // p.w) % p.h, q % p.w, units[u, U_BLOCK], units[u, U_CG], p, out)


@njit(cache=True)
def _key_groups(key: int, p: Layer, out: np.ndarray) -> int:
    """Membrane memory groups of a packed WS slice key ``((y * w + x) * nblk + b) * ncg + cg``."""
    cg = key % p.ncg
    rest = key // p.ncg
    return _slot_groups((rest // p.nblk) // p.w, (rest // p.nblk) % p.w, rest % p.nblk, cg, p,
                        out)


@njit(cache=True)
def _slot_groups(y: int, x: int, blk: int, cg: int, p: Layer, out: np.ndarray) -> int:
    n = 0
    for s in range(p.pack):
        tap = blk * p.pack + s
        if tap >= p.kh * p.kw:
            break
        pos = _tap_target(y, x, tap, p)
        if pos >= 0:
            out[n] = pos * p.ncg + cg
            n += 1
    return n


# ----------------------------------------------------------------------------- the pools
# Streamed pool state, in a few arrays (a tuple of arrays would be reference-counted at every
# access inside the compiled loops):
# - ``ist[.., key]`` int64: KMAC macro holding the key (-1: none), GPREV/GNEXT a doubly linked
#   list over all cached keys in recency order, MPREV/MNEXT one list per macro;
# - ``fst[.., key]`` float64: PBUF/PDRAM bits to write back when the key leaves (0 for a
#   weight slice), KBITS the slice's bits;
# - ``mst[.., macro]`` int64: MHEAD/MTAIL of each macro's list, OCC/CAP slots used/available;
# - ``hs`` = (head, tail, keys cached) of the chip-wide list; ``holder[group]``: the key
#   holding each membrane memory group (packed WS slices only).
KMAC, GPREV, GNEXT, MPREV, MNEXT = range(5)
PBUF, PDRAM, KBITS = range(3)
MHEAD, MTAIL, OCC, CAP = range(4)


@njit(cache=True)
def new_pool(keyspace: int, cap: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An empty streamed pool of ``keyspace`` keys and ``cap[m]`` slots per macro:
    ``(ist, fst, mst, hs)``."""
    ist = np.full((5, keyspace), -1, dtype=np.int64)
    fst = np.zeros((3, keyspace))
    mst = np.full((4, cap.size), -1, dtype=np.int64)
    mst[OCC] = 0
    mst[CAP] = cap
    hs = np.array([-1, -1, 0], dtype=np.int64)
    return ist, fst, mst, hs


@njit(cache=True)
def _g_unlink(ist: np.ndarray, hs: np.ndarray, x: int) -> None:
    a, b = ist[GPREV, x], ist[GNEXT, x]
    if a >= 0:
        ist[GNEXT, a] = b
    else:
        hs[0] = b
    if b >= 0:
        ist[GPREV, b] = a
    else:
        hs[1] = a
    ist[GPREV, x] = -1
    ist[GNEXT, x] = -1


@njit(cache=True)
def _g_front(ist: np.ndarray, hs: np.ndarray, x: int) -> None:
    ist[GPREV, x] = -1
    ist[GNEXT, x] = hs[0]
    if hs[0] >= 0:
        ist[GPREV, hs[0]] = x
    hs[0] = x
    if hs[1] < 0:
        hs[1] = x


@njit(cache=True)
def _m_unlink(ist: np.ndarray, mst: np.ndarray, m: int, x: int) -> None:
    a, b = ist[MPREV, x], ist[MNEXT, x]
    if a >= 0:
        ist[MNEXT, a] = b
    else:
        mst[MHEAD, m] = b
    if b >= 0:
        ist[MPREV, b] = a
    else:
        mst[MTAIL, m] = a
    ist[MPREV, x] = -1
    ist[MNEXT, x] = -1


@njit(cache=True)
def _m_front(ist: np.ndarray, mst: np.ndarray, m: int, x: int) -> None:
    ist[MPREV, x] = -1
    ist[MNEXT, x] = mst[MHEAD, m]
    if mst[MHEAD, m] >= 0:
        ist[MPREV, mst[MHEAD, m]] = x
    mst[MHEAD, m] = x
    if mst[MTAIL, m] < 0:
        mst[MTAIL, m] = x


@njit(cache=True)
def _m_back(ist: np.ndarray, mst: np.ndarray, m: int, x: int) -> None:
    ist[MNEXT, x] = -1
    ist[MPREV, x] = mst[MTAIL, m]
    if mst[MTAIL, m] >= 0:
        ist[MNEXT, mst[MTAIL, m]] = x
    mst[MTAIL, m] = x
    if mst[MHEAD, m] < 0:
        mst[MHEAD, m] = x


@njit(cache=True)
def _move(ist: np.ndarray, fst: np.ndarray, mst: np.ndarray, x: int, dst: int,
          counts_t: np.ndarray, s_rows: int) -> None:
    """Move cached slice ``x`` to macro ``dst`` over the on-chip bus (read out of the source's
    scratch rows, written into the destination's); it keeps its recency (oldest there)."""
    src = ist[KMAC, x]
    _m_unlink(ist, mst, src, x)
    mst[OCC, src] -= 1
    counts_t[P_INTEGRATE, src, F_ROW_READS] += s_rows
    counts_t[P_INTEGRATE, dst, F_ROW_WRITES] += s_rows
    counts_t[P_INTEGRATE, dst, F_TRANSFER] += fst[KBITS, x]
    ist[KMAC, x] = dst
    _m_back(ist, mst, dst, x)
    mst[OCC, dst] += 1


@njit(cache=True)
def _drop(ist: np.ndarray, fst: np.ndarray, mst: np.ndarray, hs: np.ndarray,
          holder: np.ndarray, x: int, counts_t: np.ndarray, p: Layer,
          scratch: np.ndarray) -> None:
    """Write slice ``x`` back (when it holds membranes) and forget it."""
    m = ist[KMAC, x]
    if fst[PBUF, x] > 0 or fst[PDRAM, x] > 0:
        counts_t[P_INTEGRATE, m, F_ROW_READS] += p.s_rows
        counts_t[P_INTEGRATE, m, F_BUF_W] += fst[PBUF, x]
        counts_t[P_INTEGRATE, m, F_DRAM_W] += fst[PDRAM, x]
    fst[PBUF, x] = 0.0
    fst[PDRAM, x] = 0.0
    _g_unlink(ist, hs, x)
    _m_unlink(ist, mst, m, x)
    mst[OCC, m] -= 1
    hs[2] -= 1
    ist[KMAC, x] = -1
    if p.st == 0 and p.pack > 1:
        for i in range(_key_groups(x, p, scratch)):
            if holder[scratch[i]] == x:
                holder[scratch[i]] = -1


@njit(cache=True)
def _free_macro(mst: np.ndarray, avoid: int) -> int:
    """The lowest-index macro other than ``avoid`` with a free streamed slot (-1: none)."""
    for m in range(mst.shape[1]):
        if m != avoid and mst[OCC, m] < mst[CAP, m]:
            return m
    return -1


@njit(cache=True)
def _stream(ist: np.ndarray, fst: np.ndarray, mst: np.ndarray, hs: np.ndarray,
            holder: np.ndarray, total: int, units: np.ndarray, u: int, m: int, bb: float,
            bd: float, counts_t: np.ndarray, p: Layer, groups: np.ndarray) -> None:
    """Bring unit ``u``'s streamed slice into macro ``m``'s scratch slots (module docstring);
    ``total``: streamed slots of all macros."""
    x = units[u, U_KEY]
    a = ist[KMAC, x]
    if a == m:
        _g_unlink(ist, hs, x)
        _g_front(ist, hs, x)
        _m_unlink(ist, mst, m, x)
        _m_front(ist, mst, m, x)
        return
    if a >= 0:                                    # on another macro: move it here
        if mst[OCC, m] >= mst[CAP, m]:
            _move(ist, fst, mst, mst[MTAIL, m], a, counts_t, p.s_rows)
        _move(ist, fst, mst, x, m, counts_t, p.s_rows)
        _m_unlink(ist, mst, m, x)
        _m_front(ist, mst, m, x)
        _g_unlink(ist, hs, x)
        _g_front(ist, hs, x)
        return
    scratch = groups[p.pack:]
    if p.st == 0 and p.pack > 1:                  # a membrane lives in one slice at a time
        ng = _unit_groups(units, u, p, groups)
        for i in range(ng):
            h = holder[groups[i]]
            if h >= 0:
                _drop(ist, fst, mst, hs, holder, h, counts_t, p, scratch)
    freed = -1
    if hs[2] >= total:                            # the chip's least recently used slice leaves
        v = hs[1]
        freed = ist[KMAC, v]
        _drop(ist, fst, mst, hs, holder, v, counts_t, p, scratch)
    if mst[OCC, m] >= mst[CAP, m]:
        dst = freed if freed >= 0 and freed != m else _free_macro(mst, m)
        _move(ist, fst, mst, mst[MTAIL, m], dst, counts_t, p.s_rows)
    counts_t[P_INTEGRATE, m, F_ROW_WRITES] += p.s_rows
    counts_t[P_INTEGRATE, m, F_BUF_R] += bb
    counts_t[P_INTEGRATE, m, F_DRAM_R] += bd
    ist[KMAC, x] = m
    fst[KBITS, x] = bb + bd
    if p.st == 0:
        fst[PBUF, x] = bb
        fst[PDRAM, x] = bd
        if p.pack > 1:
            for i in range(_unit_groups(units, u, p, groups)):
                holder[groups[i]] = x
    mst[OCC, m] += 1
    hs[2] += 1
    _g_front(ist, hs, x)
    _m_front(ist, mst, m, x)


@njit(cache=True)
def _flush_stream(ist: np.ndarray, fst: np.ndarray, mst: np.ndarray, hs: np.ndarray,
                  holder: np.ndarray, counts_t: np.ndarray, p: Layer,
                  groups: np.ndarray) -> None:
    while hs[1] >= 0:
        _drop(ist, fst, mst, hs, holder, hs[1], counts_t, p, groups[p.pack:])


@njit(cache=True)
def _spill(sp: np.ndarray, g: int, clock: int, p: Layer, stat_buffered: np.ndarray,
           stat_bits: np.ndarray, row: np.ndarray) -> None:
    """Bring spilled stationary group ``g`` into the home macro's spill slots (LRU).

    ``sp[slot] = (group, last use, pending buffer bits, pending DRAM bits)``; a spilled
    membrane group (OS) is written back when it leaves."""
    k = sp.shape[0]
    victim = 0
    for s in range(k):
        if sp[s, 0] == g:
            sp[s, 1] = clock
            return
        if sp[s, 1] < sp[victim, 1]:
            victim = s
    _spill_out(sp, victim, p, row)
    row[F_ROW_WRITES] += p.sp_rows
    _mem(row, stat_buffered[g], stat_bits[g], True)
    sp[victim, 0] = g
    sp[victim, 1] = clock
    if p.st == 1:
        sp[victim, 2] = stat_bits[g] * stat_buffered[g]
        sp[victim, 3] = stat_bits[g] * (1.0 - stat_buffered[g])


@njit(cache=True)
def _spill_out(sp: np.ndarray, s: int, p: Layer, row: np.ndarray) -> None:
    if sp[s, 0] >= 0 and (sp[s, 2] > 0 or sp[s, 3] > 0):
        row[F_ROW_READS] += p.sp_rows
        row[F_BUF_W] += sp[s, 2]
        row[F_DRAM_W] += sp[s, 3]
    sp[s, 0] = -1
    sp[s, 1] = -1
    sp[s, 2] = 0
    sp[s, 3] = 0


@njit(cache=True)
def _integrate(units: np.ndarray, touched: np.ndarray, p: Layer, stat_buffered: np.ndarray,
               stat_bits: np.ndarray, mem_buffered: np.ndarray, stat_macro: np.ndarray,
               counts_t: np.ndarray, cap: np.ndarray, sp: np.ndarray, groups: np.ndarray,
               holder: np.ndarray) -> None:
    """Run the units in order on their macros and count them (module docstring)."""
    ist, fst, mst, hs = new_pool(p.keyspace, cap)
    total = 0
    for i in range(cap.size):
        total += cap[i]
    home = counts_t[P_INTEGRATE, p.home]
    for u in range(units.shape[0]):
        m = units[u, U_MACRO]
        lanes = units[u, U_LANES]
        g = units[u, U_GROUP]
        counts_t[P_INTEGRATE, m, F_SOPS] += lanes
        counts_t[P_INTEGRATE, m, F_UNITS] += 1.0
        counts_t[P_INTEGRATE, m, F_ROW_OPS] += p.v_rows
        counts_t[P_INTEGRATE, m, F_ACTIVE] += lanes * p.v_bits
        counts_t[P_INTEGRATE, m, F_STANDBY] += p.v_rows * p.mcols - lanes * p.v_bits
        if stat_macro[g] < 0:
            _spill(sp, g, u, p, stat_buffered, stat_bits, home)
        x = units[u, U_KEY]
        if ist[KMAC, x] == m and p.cactive == 0:
            # the slice is in this macro: it becomes the most recent, in the chip's list and in
            # the macro's (written out here: a call per unit costs more than the work)
            a, b = ist[GPREV, x], ist[GNEXT, x]
            if a >= 0:
                ist[GNEXT, a] = b
                if b >= 0:
                    ist[GPREV, b] = a
                else:
                    hs[1] = a
                ist[GPREV, x] = -1
                ist[GNEXT, x] = hs[0]
                ist[GPREV, hs[0]] = x
                hs[0] = x
            a, b = ist[MPREV, x], ist[MNEXT, x]
            if a >= 0:
                ist[MNEXT, a] = b
                if b >= 0:
                    ist[MPREV, b] = a
                else:
                    mst[MTAIL, m] = a
                ist[MPREV, x] = -1
                ist[MNEXT, x] = mst[MHEAD, m]
                ist[MPREV, mst[MHEAD, m]] = x
                mst[MHEAD, m] = x
        else:
            bb, bd = _slice_bits(units, u, p, mem_buffered, touched)
            _stream(ist, fst, mst, hs, holder, total, units, u, m, bb, bd, counts_t, p, groups)
        if p.reuse == 0:
            _flush_stream(ist, fst, mst, hs, holder, counts_t, p, groups)
            for s in range(sp.shape[0]):
                _spill_out(sp, s, p, home)
    _flush_stream(ist, fst, mst, hs, holder, counts_t, p, groups)
    for s in range(sp.shape[0]):
        _spill_out(sp, s, p, home)


@njit(cache=True)
def _compare_group(nidx: int, p: Layer) -> int:
    """Compare group of neuron ``nidx`` (C-order over ``[c_out, oh, ow]``)."""
    npos = p.oh * p.ow
    ch = nidx // npos
    pos = nidx % npos
    if p.st == 0:
        return pos * p.ncg + ch // p.cpg
    return ((pos // p.ow) * p.nblk + (pos % p.ow) // p.pack) * p.ncg + ch // p.cpg


@njit(cache=True)
def _fire(out_t: np.ndarray, prev: np.ndarray, touched: np.ndarray, t: int, p: Layer,
          stat_macro: np.ndarray, stat_buffered: np.ndarray, stat_bits: np.ndarray,
          mem_buffered: np.ndarray, counts_t: np.ndarray, fired: np.ndarray,
          spiked: np.ndarray) -> None:
    """Compare and reset counts of one timestep from its recorded spikes ``out_t`` (and those of
    the previous timestep, ``prev``, for ``compare = active``)."""
    fired[:] = 0
    spiked[:] = 0
    for nidx in range(out_t.size):
        if out_t[nidx] > 0:
            fired[_compare_group(nidx, p)] += 1
        if t > 0 and prev[nidx] > 0:
            spiked[_compare_group(nidx, p)] = 1
    for g in range(fired.size):
        if not (p.cactive == 0 or t == 0 or touched[g] == 1 or spiked[g] > 0):
            continue
        if p.st == 1 and stat_macro[g] >= 0:
            row = counts_t[P_FIRE, stat_macro[g]]
            row[F_COMPARE] += p.v_rows
            if fired[g] > 0:
                row[F_ROW_WRITES] += p.v_rows
        else:
            row = counts_t[P_FIRE, p.home]
            if p.st == 1:
                f, bits = stat_buffered[g], stat_bits[g]
            else:
                f, bits = mem_buffered[g], min(p.cpg, p.cout - (g % p.ncg) * p.cpg) * p.v_bits
            _mem(row, f, bits, True)
            _mem(row, f, fired[g] * p.v_bits, False)


@njit(cache=True, parallel=True)
def count_layer(x: np.ndarray, srcs: np.ndarray, spikes: np.ndarray, p: Layer,
                stat_macro: np.ndarray, stat_buffered: np.ndarray, stat_bits: np.ndarray,
                mem_buffered: np.ndarray, cap: np.ndarray, n_groups: int, counts: np.ndarray
                ) -> None:
    """Count one spiking layer's work on every sample and timestep (in parallel).

    ``x``: input counts ``[T, N, c_in*h*w]``; ``srcs``: macro each input event leaves from,
    ``[T or 1, N or 1, c_in*h*w]`` (-1: the sensor); ``spikes``: the layer's recorded output
    ``[T, N, neurons]`` (C-order over ``[c_out, oh, ow]``); ``cap``: streamed slots per macro;
    ``n_groups``: compare groups. Fills ``counts`` ``[N, T, phases, macros, fields]``.
    """
    n_t, n_s = x.shape[0], x.shape[1]
    per_event = (p.nblk if p.st == 0 else p.kh * p.kw) * p.ncg
    n_mem = mem_buffered.size
    for it in prange(n_s * n_t):
        n = it // n_t
        t = it % n_t
        tot = 0
        for q in range(x.shape[2]):
            tot += x[t, n, q]
        buf = np.empty((tot * per_event, U_COLS), dtype=np.int64)
        seen = np.empty(p.nmac, dtype=np.int64)
        hits = np.empty(p.kh * p.kw, dtype=np.int64)
        groups = np.empty(2 * p.pack, dtype=np.int64)
        touched = np.zeros(n_groups, dtype=np.int64)
        fired = np.zeros(n_groups, dtype=np.int64)
        spiked = np.zeros(n_groups, dtype=np.int64)
        holder = np.full(n_mem if (p.st == 0 and p.pack > 1) else 1, -1, dtype=np.int64)
        sp = np.full((p.k_spill, 4), -1.0)
        sp[:, 2:] = 0.0
        src = srcs[t % srcs.shape[0], n % srcs.shape[1]]
        units = _units(x[t, n], src, p, stat_macro, counts[n, t], buf, seen, hits)
        if p.target == 1 and units.shape[0] > 1:
            units = _target_order(units, p, stat_macro)
        _integrate(units, touched, p, stat_buffered, stat_bits, mem_buffered, stat_macro,
                   counts[n, t], cap, sp, groups, holder)
        prev = spikes[t - 1, n] if t > 0 else spikes[t, n]
        _fire(spikes[t, n], prev, touched, t, p, stat_macro, stat_buffered, stat_bits,
              mem_buffered, counts[n, t], fired, spiked)


@njit(cache=True, parallel=True)
def route_maxpool(x: np.ndarray, srcs: np.ndarray, c: int, h: int, w: int, kh: int, kw: int,
                  sh: int, sw: int, out: np.ndarray, out_src: np.ndarray) -> None:
    """Max-pool (OR) of ``x`` ``[T, N, c*h*w]`` into ``out`` ``[T, N, c*oh*ow]``; ``out_src``
    gets the macro of the first spiking input of each window (row-major), -1 without one.
    ``srcs`` is ``[T or 1, N or 1, c*h*w]``."""
    n_t, n_s = x.shape[0], x.shape[1]
    oh = (h - kh) // sh + 1
    ow = (w - kw) // sw + 1
    for n in prange(n_s):
        for t in range(n_t):
            src = srcs[t % srcs.shape[0], n % srcs.shape[1]]
            for ch in range(c):
                for oy in range(oh):
                    for ox in range(ow):
                        o = (ch * oh + oy) * ow + ox
                        out[t, n, o] = 0
                        out_src[t, n, o] = -1
                        done = False
                        for i in range(kh):
                            for j in range(kw):
                                q = (ch * h + oy * sh + i) * w + ox * sw + j
                                if x[t, n, q] > 0:
                                    out[t, n, o] = 1
                                    out_src[t, n, o] = src[q]
                                    done = True
                                    break
                            if done:
                                break
