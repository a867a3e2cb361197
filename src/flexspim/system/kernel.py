"""The fast mode of the system engine: one compiled pass per spiking layer that executes the
mapping on the layer's input events and counts every unit of work (docs/system-model.md).

Per sample (in parallel) and timestep, :func:`_units` expands the timestep's input events, in
arrival order (C-order over ``[c_in, h, w]``, an input count k being k events), into *units*:
one event's lanes that one row-operation group updates together (module docstring of
:mod:`flexspim.compile.geometry`). With ``event_order == "target"`` the units are sorted by the
streamed slice they need (stable). :func:`_integrate` then runs them in that order on the macro
holding their stationary group (or the layer's home macro when it is spilled): it adds the
weights into exact int64 membranes and counts row operations, active and standby columns, scratch
loads and stores, and buffer/DRAM bits, keeping one streamed weight slice and one streamed
membrane slice in each macro's scratch rows. :func:`_fire` wraps, compares, resets and counts the
compare and reset traffic. Routing counts each event's deliveries to macros other than the one it
left from.

The arithmetic is the contract of :mod:`flexspim.net.layers` (exact sums, overflow when the
exact sum leaves the range, wrap, threshold, reset), so spikes and membranes equal the simulator's.
"""

from __future__ import annotations

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

P_INTEGRATE = PHASES.index("integrate")
P_FIRE = PHASES.index("fire")
F_ROW_OPS = FIELD_INDEX["row_ops"]
F_ACTIVE = FIELD_INDEX["active_col_ops"]
F_STANDBY = FIELD_INDEX["standby_col_ops"]
F_ROW_WRITES = FIELD_INDEX["array_row_writes"]
F_ROW_READS = FIELD_INDEX["array_row_reads"]
F_COMPARE = FIELD_INDEX["compare_row_reads"]
F_BUF_R = FIELD_INDEX["buffer_read_bits"]
F_BUF_W = FIELD_INDEX["buffer_write_bits"]
F_DRAM_R = FIELD_INDEX["dram_read_bits"]
F_DRAM_W = FIELD_INDEX["dram_write_bits"]
F_ROUTED = FIELD_INDEX["routed_events"]
F_SOPS = FIELD_INDEX["sops"]
F_UNITS = FIELD_INDEX["units"]

# geometry vector layout (``geom`` argument)
G_CIN, G_H, G_W, G_COUT, G_OH, G_OW, G_KH, G_KW, G_SH, G_SW, G_PH, G_PW = range(12)
# layer parameter vector layout (``par`` argument)
(P_ST, P_PACK, P_NCG, P_CPG, P_NBLK, P_VROWS, P_WROWS, P_MCOLS, P_VBITS, P_WBITS, P_THR,
 P_RZERO, P_HOME, P_NMAC, P_REUSE, P_TARGET, P_CACTIVE) = range(17)


@njit(cache=True)
def _mem(row: np.ndarray, level: int, bits: float, read: bool) -> None:
    """Add ``bits`` of traffic at ``level`` (0 buffer, 1 DRAM) to a count row."""
    if level == 0:
        row[F_BUF_R if read else F_BUF_W] += bits
    else:
        row[F_DRAM_R if read else F_DRAM_W] += bits


@njit(cache=True)
def _tap_target(y: int, x: int, tap: int, geom: np.ndarray) -> int:
    """Output position (``oy * ow + ox``) that kernel tap ``tap`` of an input event at (y, x)
    reaches, or -1 when it falls outside the map or between strides."""
    kw, sh, sw = geom[G_KW], geom[G_SH], geom[G_SW]
    ny = y + geom[G_PH] - tap // kw
    nx = x + geom[G_PW] - tap % kw
    if ny < 0 or nx < 0 or ny % sh != 0 or nx % sw != 0:
        return -1
    if ny // sh >= geom[G_OH] or nx // sw >= geom[G_OW]:
        return -1
    return (ny // sh) * geom[G_OW] + nx // sw


@njit(cache=True)
def _units(xs: np.ndarray, srcs: np.ndarray, geom: np.ndarray, par: np.ndarray,
           stat_macro: np.ndarray, counts_t: np.ndarray, out: np.ndarray, seen: np.ndarray,
           hits: np.ndarray) -> np.ndarray:
    """Units of one sample's timestep: rows ``[event q, block, cg, macro, key, lanes]``.

    Also counts routed events into ``counts_t[P_INTEGRATE, macro]`` (each event's deliveries
    to the macros running its units, the source macro excluded; sensor events count every
    delivery).
    """
    h, w, cout, oh, ow = geom[G_H], geom[G_W], geom[G_COUT], geom[G_OH], geom[G_OW]
    kh, kw, sh, sw, ph, pw = geom[G_KH], geom[G_KW], geom[G_SH], geom[G_SW], geom[G_PH], geom[G_PW]
    st, pack, ncg, cpg, nblk = par[P_ST], par[P_PACK], par[P_NCG], par[P_CPG], par[P_NBLK]
    home = par[P_HOME]
    seen[:] = -1
    n = 0
    ev = 0
    jr = kw + (pack - 1) * sw
    for q in range(xs.size):
        k = xs[q]
        if k == 0:
            continue
        c = q // (h * w)
        y = (q // w) % h
        x = q % w
        for _rep in range(k):
            first = n
            if st == 0:
                for b in range(nblk):
                    slots = 0
                    tap1 = -1
                    for s in range(pack):
                        tap = b * pack + s
                        if tap >= kh * kw:
                            break
                        pos = _tap_target(y, x, tap, geom)
                        if pos >= 0:
                            slots += 1
                            tap1 = pos
                    if slots == 0:
                        continue
                    for cg in range(ncg):
                        g = ((c * nblk) + b) * ncg + cg
                        m = stat_macro[g] if stat_macro[g] >= 0 else home
                        key = tap1 * ncg + cg if pack == 1 else ((y * w + x) * nblk + b) * ncg + cg
                        chans = min(cpg, cout - cg * cpg)
                        out[n, 0] = q
                        out[n, 1] = b
                        out[n, 2] = cg
                        out[n, 3] = m
                        out[n, 4] = key
                        out[n, 5] = slots * chans
                        n += 1
            else:
                nh = 0
                for i in range(kh):
                    ny = y + ph - i
                    if ny < 0 or ny % sh != 0 or ny // sh >= oh:
                        continue
                    for j in range(kw):
                        nx = x + pw - j
                        if nx < 0 or nx % sw != 0 or nx // sw >= ow:
                            continue
                        hits[nh] = (ny // sh) * nblk + (nx // sw) // pack
                        nh += 1
                for a in range(1, nh):            # insertion sort of a few blocks
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
                    oy = pb // nblk
                    xb = pb % nblk
                    i = y + ph - oy * sh
                    j0 = x + pw - xb * pack * sw
                    partial = 1 if (xb == nblk - 1 and ow % pack != 0) else 0
                    for cg in range(ncg):
                        g = pb * ncg + cg
                        m = stat_macro[g] if stat_macro[g] >= 0 else home
                        if pack == 1:
                            key = (c * kh * kw + i * kw + j0) * ncg + cg
                        else:
                            key = (((c * kh + i) * jr + j0) * 2 + partial) * ncg + cg
                        chans = min(cpg, cout - cg * cpg)
                        out[n, 0] = q
                        out[n, 1] = pb
                        out[n, 2] = cg
                        out[n, 3] = m
                        out[n, 4] = key
                        out[n, 5] = slots * chans
                        n += 1
            src = srcs[q]
            for r in range(first, n):
                m = out[r, 3]
                if seen[m] != ev:
                    seen[m] = ev
                    if m != src:
                        counts_t[P_INTEGRATE, m, F_ROUTED] += 1.0
            ev += 1
    return out[:n]


@njit(cache=True)
def _add_lanes(unit: np.ndarray, v: np.ndarray, touched: np.ndarray, weight: np.ndarray,
               geom: np.ndarray, par: np.ndarray, mem_level: np.ndarray) -> tuple[float, float]:
    """Add one unit's weights into the membranes; returns the (buffer, DRAM) bits of its
    streamed slice (membranes under WS, weights under OS) and marks touched compare groups."""
    h, w, cout, ow = geom[G_H], geom[G_W], geom[G_COUT], geom[G_OW]
    kh, kw, sh, sw, ph, pw = geom[G_KH], geom[G_KW], geom[G_SH], geom[G_SW], geom[G_PH], geom[G_PW]
    st, pack, ncg, cpg, nblk = par[P_ST], par[P_PACK], par[P_NCG], par[P_CPG], par[P_NBLK]
    vbits, wbits = par[P_VBITS], par[P_WBITS]
    q, blk, cg = unit[0], unit[1], unit[2]
    c = q // (h * w)
    y = (q // w) % h
    x = q % w
    c0 = cg * cpg
    c1 = min(cout, c0 + cpg)
    b_buf = 0.0
    b_dram = 0.0
    for s in range(pack):
        if st == 0:
            tap = blk * pack + s
            if tap >= kh * kw:
                break
            pos = _tap_target(y, x, tap, geom)
            if pos < 0:
                continue
            i = tap // kw
            j = tap % kw
            oy = pos // ow
            ox = pos % ow
        else:
            oy = blk // nblk
            ox = (blk % nblk) * pack + s
            if ox >= ow:
                break
            i = y + ph - oy * sh
            j = x + pw - ox * sw
            if i < 0 or i >= kh or j < 0 or j >= kw:
                continue
        pos = oy * ow + ox
        base = pos * cout
        for ch in range(c0, c1):
            v[base + ch] += weight[c, i, j, ch]
        if st == 0:
            touched[pos * ncg + cg] = 1
            lvl = mem_level[pos * ncg + cg]
            b = (c1 - c0) * vbits
        else:
            touched[((oy * nblk) + ox // pack) * ncg + cg] = 1
            lvl = mem_level[(c * kh * kw + i * kw + j) * ncg + cg]
            b = (c1 - c0) * wbits
        if lvl == 0:
            b_buf += b
        else:
            b_dram += b
    return b_buf, b_dram


@njit(cache=True)
def _evict(counts_t: np.ndarray, ws: np.ndarray, m: int, v_rows: int) -> None:
    """Write the membrane slice held in macro m's scratch rows back to memory and forget it.

    ``ws``: the scratch workspace (see :func:`_integrate`)."""
    pend, vkey, holder, sgroups, sn = ws
    row = counts_t[P_INTEGRATE, m]
    row[F_ROW_READS] += v_rows
    row[F_BUF_W] += pend[m, 0]
    row[F_DRAM_W] += pend[m, 1]
    pend[m, 0] = 0.0
    pend[m, 1] = 0.0
    for a in range(sn[m]):
        holder[sgroups[m, a]] = -1
    sn[m] = 0
    vkey[m] = -1


@njit(cache=True)
def _unit_groups(unit: np.ndarray, geom: np.ndarray, par: np.ndarray, out: np.ndarray) -> int:
    """Membrane memory groups (WS) of a unit's valid slots; returns how many."""
    h, w, oh, ow = geom[G_H], geom[G_W], geom[G_OH], geom[G_OW]
    kh, kw, sh, sw, ph, pw = geom[G_KH], geom[G_KW], geom[G_SH], geom[G_SW], geom[G_PH], geom[G_PW]
    pack, ncg = par[P_PACK], par[P_NCG]
    q, blk, cg = unit[0], unit[1], unit[2]
    y = (q // w) % h
    x = q % w
    n = 0
    for s in range(pack):
        tap = blk * pack + s
        if tap >= kh * kw:
            break
        ny = y + ph - tap // kw
        nx = x + pw - tap % kw
        if ny < 0 or nx < 0 or ny % sh != 0 or nx % sw != 0:
            continue
        if ny // sh >= oh or nx // sw >= ow:
            continue
        out[n] = ((ny // sh) * ow + nx // sw) * ncg + cg
        n += 1
    return n


@njit(cache=True)
def _integrate(units: np.ndarray, v: np.ndarray, touched: np.ndarray, weight: np.ndarray,
               geom: np.ndarray, par: np.ndarray, stat_level: np.ndarray,
               stat_bits: np.ndarray, mem_level: np.ndarray, stat_macro: np.ndarray,
               counts_t: np.ndarray, wkey: np.ndarray, ws: tuple) -> int:
    """Run the units in order on their macros; returns the SOPs.

    ``wkey``: the streamed weight slice in each macro's scratch rows; ``ws`` = (pending bits
    of each macro's membrane slice, its key, the macro holding each membrane memory group, the
    groups of each macro's slice, their number). A membrane slice lives in one macro at a time:
    loading it where another macro holds part of it makes that macro store its slice first.
    """
    st, ncg, nblk = par[P_ST], par[P_NCG], par[P_NBLK]
    v_rows, w_rows, mcols, vbits = par[P_VROWS], par[P_WROWS], par[P_MCOLS], par[P_VBITS]
    nmac, reuse = par[P_NMAC], par[P_REUSE] == 1
    pend, vkey, holder, sgroups, sn = ws
    wkey[:] = -1
    sops = 0
    for u in range(units.shape[0]):
        m = units[u, 3]
        lanes = units[u, 5]
        row = counts_t[P_INTEGRATE, m]
        bb, bd = _add_lanes(units[u], v, touched, weight, geom, par, mem_level)
        sops += lanes
        row[F_SOPS] += lanes
        row[F_UNITS] += 1.0
        row[F_ROW_OPS] += v_rows
        row[F_ACTIVE] += lanes * vbits
        row[F_STANDBY] += v_rows * mcols - lanes * vbits
        c = units[u, 0] // (geom[G_H] * geom[G_W])
        g = ((c * nblk) + units[u, 1]) * ncg + units[u, 2] if st == 0 else \
            units[u, 1] * ncg + units[u, 2]
        spilled = stat_macro[g] < 0
        key = units[u, 4]
        if st == 0:
            if spilled and not (reuse and wkey[m] == g):       # spilled weight group
                row[F_ROW_WRITES] += w_rows
                _mem(row, stat_level[g], stat_bits[g], True)
                wkey[m] = g
            if not (reuse and vkey[m] == key):                  # streamed membrane slice
                ng = _unit_groups(units[u], geom, par, sgroups[nmac])
                for a in range(ng):
                    hm = holder[sgroups[nmac, a]]
                    if hm >= 0 and hm != m:
                        _evict(counts_t, ws, hm, v_rows)
                if vkey[m] >= 0:
                    _evict(counts_t, ws, m, v_rows)
                row[F_ROW_WRITES] += v_rows
                row[F_BUF_R] += bb
                row[F_DRAM_R] += bd
                pend[m, 0] = bb
                pend[m, 1] = bd
                for a in range(ng):
                    holder[sgroups[nmac, a]] = m
                    sgroups[m, a] = sgroups[nmac, a]
                sn[m] = ng
                vkey[m] = key
        else:
            if not (reuse and wkey[m] == key):                  # streamed weight slice
                row[F_ROW_WRITES] += w_rows
                row[F_BUF_R] += bb
                row[F_DRAM_R] += bd
                wkey[m] = key
            if spilled and not (reuse and vkey[m] == g):        # spilled membrane group
                if vkey[m] >= 0:
                    _evict(counts_t, ws, m, v_rows)
                row[F_ROW_WRITES] += v_rows
                _mem(row, stat_level[g], stat_bits[g], True)
                pend[m, stat_level[g]] = stat_bits[g]
                vkey[m] = g
        if not reuse and vkey[m] >= 0:
            _evict(counts_t, ws, m, v_rows)
    for m in range(nmac):
        if vkey[m] >= 0:
            _evict(counts_t, ws, m, v_rows)
    return sops


@njit(cache=True)
def _fire(v: np.ndarray, touched: np.ndarray, spiked: np.ndarray, t: int, geom: np.ndarray,
          par: np.ndarray, stat_macro: np.ndarray, stat_level: np.ndarray,
          stat_bits: np.ndarray, mem_level: np.ndarray, out: np.ndarray,
          counts_t: np.ndarray, fired: np.ndarray) -> tuple[int, int, int, int]:
    """Overflow, wrap, compare, reset; returns (spikes, overflow events, v min, v max)."""
    cout, oh, ow = geom[G_COUT], geom[G_OH], geom[G_OW]
    st, pack, ncg, cpg, nblk = par[P_ST], par[P_PACK], par[P_NCG], par[P_CPG], par[P_NBLK]
    v_rows, vbits, thr, home = par[P_VROWS], par[P_VBITS], par[P_THR], par[P_HOME]
    half = np.int64(1) << np.int64(vbits - 1)
    mask = (np.int64(1) << np.int64(vbits)) - 1 if vbits < 63 else np.int64(-1)
    n_spk = 0
    n_ovf = 0
    vmin = np.iinfo(np.int64).max
    vmax = np.iinfo(np.int64).min
    n_groups = touched.size
    fired[:] = 0
    npos = oh * ow
    for pos in range(npos):
        for ch in range(cout):
            vidx = pos * cout + ch
            nidx = ch * npos + pos
            exact = v[vidx]
            wrapped = ((exact + half) & mask) - half if vbits < 63 else exact
            if wrapped != exact:
                n_ovf += 1
            vmin = min(vmin, wrapped)
            vmax = max(vmax, wrapped)
            if wrapped >= thr:
                n_spk += 1
                out[nidx] = 1
                wrapped = 0 if par[P_RZERO] == 1 else wrapped - thr
                if st == 0:
                    g = pos * ncg + ch // cpg
                else:
                    g = ((pos // ow) * nblk + (pos % ow) // pack) * ncg + ch // cpg
                fired[g] += 1
            v[vidx] = wrapped
    for g in range(n_groups):
        if not (par[P_CACTIVE] == 0 or t == 0 or touched[g] == 1 or spiked[g] > 0):
            spiked[g] = fired[g]
            continue
        if st == 1 and stat_macro[g] >= 0:
            row = counts_t[P_FIRE, stat_macro[g]]
            row[F_COMPARE] += v_rows
            if fired[g] > 0:
                row[F_ROW_WRITES] += v_rows
        else:
            row = counts_t[P_FIRE, home]
            if st == 1:
                lvl, bits = stat_level[g], stat_bits[g]
            else:
                lvl, bits = mem_level[g], min(cpg, cout - (g % ncg) * cpg) * vbits
            _mem(row, lvl, bits, True)
            _mem(row, lvl, fired[g] * vbits, False)
        spiked[g] = fired[g]
    return n_spk, n_ovf, vmin, vmax


@njit(cache=True, parallel=True)
def run_layer(x: np.ndarray, srcs: np.ndarray, weight: np.ndarray, initial: np.ndarray,
              geom: np.ndarray, par: np.ndarray, stat_macro: np.ndarray,
              stat_level: np.ndarray, stat_bits: np.ndarray, mem_level: np.ndarray,
              n_groups: int, spikes: np.ndarray, counts: np.ndarray, stats: np.ndarray,
              final: np.ndarray) -> None:
    """Execute one spiking layer on every sample (in parallel) and timestep.

    ``weight`` is ``[c_in, kh, kw, c_out]`` and the membranes ``initial``/``final`` are
    channels-last ``[oh*ow, c_out]`` (contiguous lanes); spikes are C-order ``[c_out, oh, ow]``.
    ``x``: input counts ``[T, N, c_in*h*w]``; ``srcs``: macro each input event leaves from,
    ``[T or 1, N or 1, c_in*h*w]`` (-1: the sensor). Fills ``spikes`` ``[T, N, neurons]`` (uint8), ``counts``
    ``[N, T, phases, macros, fields]``, ``stats`` ``[N, T, 5]`` (SOPs, spikes, overflow, v min,
    v max) and ``final`` ``[N, neurons]``.
    """
    n_t, n_s = x.shape[0], x.shape[1]
    kh, kw = geom[G_KH], geom[G_KW]
    per_event = (par[P_NBLK] if par[P_ST] == 0 else kh * kw) * par[P_NCG]
    nmac = par[P_NMAC]
    for n in prange(n_s):
        most = 0
        for t in range(n_t):
            tot = 0
            for q in range(x.shape[2]):
                tot += x[t, n, q]
            most = max(most, tot)
        buf = np.empty((most * per_event, 6), dtype=np.int64)
        seen = np.empty(nmac, dtype=np.int64)
        hits = np.empty(kh * kw, dtype=np.int64)
        wkey = np.empty(nmac, dtype=np.int64)
        ws = (np.zeros((nmac, 2)), np.full(nmac, -1, dtype=np.int64),
              np.full(n_groups if par[P_ST] == 0 else 1, -1, dtype=np.int64),
              np.zeros((nmac + 1, par[P_PACK]), dtype=np.int64),
              np.zeros(nmac, dtype=np.int64))
        fired = np.zeros(n_groups, dtype=np.int64)
        touched = np.zeros(n_groups, dtype=np.int64)
        v = initial.copy()
        spiked = np.zeros(n_groups, dtype=np.int64)
        for t in range(n_t):
            touched[:] = 0
            src = srcs[t % srcs.shape[0], n % srcs.shape[1]]
            units = _units(x[t, n], src, geom, par, stat_macro, counts[n, t], buf, seen, hits)
            if par[P_TARGET] == 1 and units.shape[0] > 1:
                units = units[np.argsort(units[:, 4], kind="mergesort")]
            sops = _integrate(units, v, touched, weight, geom, par, stat_level, stat_bits,
                              mem_level, stat_macro, counts[n, t], wkey, ws)
            n_spk, n_ovf, vmin, vmax = _fire(v, touched, spiked, t, geom, par, stat_macro,
                                             stat_level, stat_bits, mem_level, spikes[t, n],
                                             counts[n, t], fired)
            stats[n, t, 0] = sops
            stats[n, t, 1] = n_spk
            stats[n, t, 2] = n_ovf
            stats[n, t, 3] = vmin
            stats[n, t, 4] = vmax
        final[n] = v


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
