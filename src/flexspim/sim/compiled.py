"""The ``numba`` backend of the fast engine: event-driven compiled kernels on exact integer lanes.

Paper §III: the chip processes, per timestep and layer, that layer's input events, then compares
every membrane with the threshold. This backend does the same work on the CPU:

- **Event maps.** Spikes travel between layers as bit maps, channels-last: int64
  ``[T, N, H, W, words]``, bit ``c % 64`` of word ``c // 64`` set where channel c of pixel
  (y, x) spiked (:func:`pack_events`). A kernel visits only the set bits (count trailing zeros),
  so its work grows with the events, not with the map. Input counts above one (k events at one
  pixel and bin) ride beside the map as int32 counts. Max-pooling ORs words; flatten is free (a
  linear layer after it reads the map as a convolution whose kernel covers the whole map).
- **Integrate.** Each event adds its fan-out weights into the timestep's input accumulator
  ``acc`` of the output pixels it reaches (channels-last rows of ``lanes`` output channels,
  padded to a multiple of :data:`LANE_BLOCK`; padded lanes copy channel 0 and are masked out of
  every count). The events of one input pixel go together (:func:`_integrate`): per kernel row,
  the run of output lanes they reach is loaded into vector registers once, gets their weight
  rows, and is stored once (:func:`vsum`); small layers store the weights per group of 4 input
  channels as the 16 subset sums, so a pixel adds one row per group with events
  (:func:`weight_rows`). One SOP per (event, synapse): SOPs come from each pixel's fan-out.
- **Leak.** A leaky layer first decays its membranes, one pass per timestep before the events
  (:func:`_leak_lanes`: ``v - trunc(v / 2**k)`` as a biased arithmetic shift, or ``v -
  clamp(v, -c, c)``; the result stays in the lane and the ``v_bits`` range).
- **Fire.** One pass per timestep over the layer's membranes: ``v <- wrap(v + acc)``, overflow
  events counted, min/max, threshold, reset, spike bits; ``acc`` is cleared on the way.

**Lanes** (:func:`lane_dtype`). ``v`` and ``acc`` are int16 when ``v_bits <= 16`` and the
timestep's synaptic input of a neuron is bounded by ``2**15 - 1`` (16 lanes per 256-bit
register), int32 under the same rule at 32 bits, else int64 (sums < 2**62, common.py). The
accumulator then holds the exact input S; ``r = v + S`` is formed in the lane type, wrapping mod
``2**lane_bits`` like the macro's adder, and the exact sum left the ``v_bits`` range iff the lane
addition overflowed (signs of v and S equal, sign of r different) or r lies outside the range.
Since ``2**lane_bits`` is a multiple of ``2**v_bits``, wrapping r to ``v_bits`` gives the
membrane the macro holds (docs/design.md §3). Every count is exact.

Threads: samples run in parallel on Numba's thread pool, handed out one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # the compiled backend; without Numba the fast engine runs its torch backend
    import numba
    from numba import prange
    from numba.cpython.unsafe.numbers import trailing_zeros
except ImportError:  # pragma: no cover - exercised only where Numba is not installed
    numba = None
    prange = range
    trailing_zeros = None

from flexspim.errors import ConfigError
from flexspim.macro.bitslice import LEAK_CODES
from flexspim.net.layers import Conv2d, Flatten, Linear, SpikeMaxPool, SpikingLayer, int_range
from flexspim.net.network import IntNetwork
from flexspim.sim.common import (
    BatchStats,
    batch_stats,
    conv_fanout,
    layer_input_bounds,
    merge_stats,
    new_tallies,
)

#: Output channels are padded to a multiple of LANE_BLOCK lanes (16 int16 = one 256-bit AVX2
#: register); the kernels run whole blocks, which the compiler turns into vector instructions.
#: Not a model parameter.
LANE_BLOCK = 16
#: Blocks of output lanes one event-pixel addition keeps in registers (8 x 16 int16 = 128
#: channels in 8 of AVX2's 16 vector registers). Not a model parameter.
UNROLLED_BLOCKS = 8
#: Weight rows (events of one pixel) added per loop step; a pixel's list of events is padded
#: to a multiple with a row of zero weights, so that the loop runs a predictable number of
#: steps (a mispredicted loop exit costs more than a few vector additions). Not a model
#: parameter.
ROW_GROUP = 2
#: Channels per group of the grouped weight rows (:func:`weight_rows`): a pixel's events in one
#: group of 4 channels are one precomputed row (16 subsets per group). Not a model parameter.
CHANNEL_GROUP = 4
#: Largest grouped weight table per layer (bytes; 4x the per-channel weights): larger layers
#: read one row per event, so that the rows stay in the core's L2 cache (512 KiB on the
#: benchmark machine). Not a model parameter.
GROUP_TABLE_BYTES = 256 << 10
#: Rows of the per-sample tallies a layer kernel writes: input events, SOPs, output spikes,
#: overflow events, membrane min, membrane max (after integration, before reset).
TALLY_ROWS = ("inputs", "sops", "spikes", "overflow", "vmin", "vmax")
#: Largest event map + spike counts (bytes) one chunk of samples holds per layer; larger
#: batches run in chunks of samples, so memory stays bounded on large inputs (2 x 128 x 128).
#: Not a model parameter.
CHUNK_BYTES = 64 << 20


def lane_dtype(layer: SpikingLayer, bound: int) -> np.dtype:
    """Lane type of a layer's membranes and input accumulator (module docstring).

    int16 when ``v_bits <= 16`` and ``bound <= 2**15 - 1``; int32 when ``v_bits <= 32`` and
    ``bound <= 2**31 - 1``; else int64. ``bound``: the largest |synaptic input| of one neuron in
    one timestep (:func:`~flexspim.sim.common.layer_input_bounds`).
    """
    for bits, dtype in ((16, np.int16), (32, np.int32)):
        if layer.v_bits <= bits and bound <= (1 << (bits - 1)) - 1:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _jit(parallel: bool = False, inline: bool = False) -> Callable[[Any], Any]:
    """Numba's ``njit`` (compiled on first call, cached on disk; ``inline``: into its callers),
    or the plain function without Numba."""
    if numba is None:
        return lambda f: f
    return numba.njit(cache=True, nogil=True, parallel=parallel,
                      inline="always" if inline else "never")


# --------------------------------------------------------------------------------------------
# Kernels (compiled by Numba on first use)
# --------------------------------------------------------------------------------------------

def _popcount_py(word: int) -> int:
    """Set bits of a 64-bit word (the interpreted fallback of :func:`popcount`)."""
    return bin(int(word) & 0xFFFFFFFFFFFFFFFF).count("1")


def _vsum_py(acc: np.ndarray, ao: int, w: np.ndarray, rows: np.ndarray, m: int, wo: int,
             n_lanes: int) -> None:
    """The interpreted fallback of :func:`vsum`."""
    for r in rows[:m]:
        acc[ao : ao + n_lanes] += w[r + wo : r + wo + n_lanes]


def _block_bits_py(flags: np.ndarray, i: int) -> int:
    """The interpreted fallback of :func:`block_bits`."""
    return int(np.packbits(flags[i : i + LANE_BLOCK] != 0, bitorder="little")
               .view(np.uint16)[0])


if numba is not None:
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def popcount(typingctx: Any, word: Any) -> Any:
        """Set bits of an int64 word (LLVM's ctpop: one instruction)."""
        if word != types.int64:
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.ctpop(args[0])

        return types.int64(types.int64), codegen

    def _vsum_blocks(builder: Any, vec: Any, align: int, acc: Any, w: Any, rows: Any,
                     m: Any, wo: Any, n_blk: int) -> None:
        """IR of :func:`vsum` for ``n_blk`` blocks: the acc blocks live in registers while the
        weight blocks of the m rows are added (one loop over the rows)."""
        intp = wo.type
        ptrs = [builder.bitcast(builder.gep(acc, [intp(b * LANE_BLOCK)]), vec.as_pointer())
                for b in range(n_blk)]
        totals = [cgutils.alloca_once(builder, vec) for _ in range(n_blk)]
        for ptr, total in zip(ptrs, totals, strict=True):
            builder.store(builder.load(ptr, align=align), total)
        with cgutils.for_range(builder, builder.sdiv(m, intp(ROW_GROUP))) as group:
            first = builder.mul(group.index, intp(ROW_GROUP))
            for r in range(ROW_GROUP):
                row = builder.load(builder.gep(rows, [builder.add(first, intp(r))]))
                row = builder.add(row, wo)
                for b, total in enumerate(totals):
                    wp = builder.gep(w, [builder.add(row, intp(b * LANE_BLOCK))])
                    wv = builder.load(builder.bitcast(wp, vec.as_pointer()), align=align)
                    builder.store(builder.add(builder.load(total), wv), total)
        for ptr, total in zip(ptrs, totals, strict=True):
            builder.store(builder.load(total), ptr, align=align)

    @intrinsic
    def vsum(typingctx: Any, acc: Any, ao: Any, w: Any, rows: Any, m: Any, wo: Any,
             n_lanes: Any) -> Any:
        """``acc[ao:ao+n_lanes] += sum(w[r+wo : r+wo+n_lanes] for r in rows[:m])`` in vectors
        of LANE_BLOCK lanes of the arrays' integer type (wrapping). Up to
        :data:`UNROLLED_BLOCKS` blocks, the acc blocks are loaded once into registers, get the
        m weight rows added, and are stored once (code for each block count; wider rows run
        in slices of that many blocks). 1-D contiguous arrays; ``n_lanes`` a multiple of
        LANE_BLOCK; no bounds check (the caller's offsets stay inside)."""
        if not (isinstance(acc, types.Array) and acc.dtype == getattr(w, "dtype", None)):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            a_ty, _, w_ty, r_ty = signature.args[:4]
            vec = ir.VectorType(context.get_value_type(a_ty.dtype), LANE_BLOCK)
            align = a_ty.dtype.bitwidth // 8
            a_data = context.make_array(a_ty)(context, builder, args[0]).data
            w_data = context.make_array(w_ty)(context, builder, args[2]).data
            r_data = context.make_array(r_ty)(context, builder, args[3]).data
            ao, m, wo, n_lanes = args[1], args[4], args[5], args[6]
            intp = ao.type
            n_blk = builder.sdiv(n_lanes, intp(LANE_BLOCK))
            step = intp(UNROLLED_BLOCKS)
            # whole slices of UNROLLED_BLOCKS blocks, then the remaining 1..UNROLLED_BLOCKS-1
            with cgutils.for_range(builder, builder.sdiv(n_blk, step)) as sl:
                off = builder.mul(sl.index, intp(UNROLLED_BLOCKS * LANE_BLOCK))
                _vsum_blocks(builder, vec, align, builder.gep(a_data, [builder.add(ao, off)]),
                             w_data, r_data, m, builder.add(wo, off), UNROLLED_BLOCKS)
            rest = builder.srem(n_blk, step)
            off = builder.mul(builder.sub(n_blk, rest), intp(LANE_BLOCK))
            acc_rest = builder.gep(a_data, [builder.add(ao, off)])
            wo_rest = builder.add(wo, off)
            done = builder.append_basic_block("vsum.done")
            switch = builder.switch(rest, done)
            for count in range(1, UNROLLED_BLOCKS):
                case = builder.append_basic_block(f"vsum.{count}")
                switch.add_case(intp(count), case)
                with builder.goto_block(case):
                    _vsum_blocks(builder, vec, align, acc_rest, w_data, r_data, m, wo_rest,
                                 count)
                    builder.branch(done)
            builder.position_at_end(done)
            return context.get_dummy_value()

        return types.void(acc, types.intp, w, rows, types.intp, types.intp, types.intp), codegen

    @intrinsic
    def block_bits(typingctx: Any, flags: Any, i: Any) -> Any:
        """The LANE_BLOCK bytes ``flags[i:i+LANE_BLOCK]`` (uint8) as bits, bit b set where byte
        b is nonzero (a vector compare and a move-mask)."""
        if not (isinstance(flags, types.Array) and flags.dtype == types.uint8):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            vec = ir.VectorType(ir.IntType(8), LANE_BLOCK)
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            ptr = builder.bitcast(builder.gep(data, [args[1]]), vec.as_pointer())
            nonzero = builder.icmp_unsigned("!=", builder.load(ptr, align=1),
                                            ir.Constant(vec, None))
            bits = builder.bitcast(nonzero, ir.IntType(LANE_BLOCK))
            return builder.zext(bits, ir.IntType(64))

        return types.int64(flags, types.intp), codegen
else:  # pragma: no cover
    popcount = _popcount_py
    vsum = _vsum_py
    block_bits = _block_bits_py


@_jit()
def _integrate(bits: Any, counts: Any, has_counts: bool, geom: Any, w: Any, acc: Any,
               chans: Any) -> tuple[int, int]:
    """Add the fan-out weights of every event of one frame into ``acc`` (flat ``[OH*OW*lanes]``);
    returns (input events, SOPs).

    ``bits`` ``[H, W, words]`` (``counts`` ``[H, W, C]`` when ``has_counts``); ``w`` flat
    ``[KH, C, KW, lanes]`` with the kernel columns in :func:`column_order`; ``geom`` = (fan
    [H, W], rows, columns, channel step): per input row y, ``rows[y]`` = the number m of kernel
    rows that reach an output row, then m pairs (offset of kernel row i in w, offset of output
    row oy in acc); per input column x, ``columns[x]`` = (lanes of its run of taps, offset of
    the run in a kernel row of w, offset of its first output column in acc)
    (:func:`column_runs`). The events of one pixel go together: for each kernel row, the run
    of output lanes is loaded once, gets the weights of all the pixel's events (``chans``
    int64 scratch: their offsets in w), and is stored once. A count k > 1 adds k times the
    weights.
    """
    fan, rows, cols, step, zero_row, n_groups = geom
    n_in = 0
    n_sop = 0
    n_wd = bits.shape[2]
    for y in range(bits.shape[0]):
        for xx in range(bits.shape[1]):
            if n_wd == 1 and bits[y, xx, 0] == 0:  # most pixels of a sparse map: no event
                continue
            if n_groups:
                m, k_pixel = _group_rows(bits, y, xx, n_groups, step, chans)
            else:
                m, k_pixel = _event_rows(bits, counts, has_counts, y, xx, step, chans, acc, w,
                                         rows, cols)
            n_in += k_pixel
            n_sop += k_pixel * fan[y, xx]
            n_run = cols[xx, 0]
            if m == 0 or n_run == 0:
                continue
            for r in range(ROW_GROUP - 1):  # pad with rows of zero weights
                chans[m + r] = zero_row
            m += (-m) % ROW_GROUP
            for a in range(rows[y, 0]):
                vsum(acc, rows[y, 2 + 2 * a] + cols[xx, 2], w, chans, m,
                     rows[y, 1 + 2 * a] + cols[xx, 1], n_run)
    return n_in, n_sop


@_jit(inline=True)
def _event_rows(bits: Any, counts: Any, has_counts: bool, y: int, xx: int, step: int,
                chans: Any, acc: Any, w: Any, rows: Any, cols: Any) -> tuple[int, int]:
    """The weight rows of the events of pixel (y, x), one per event, into ``chans``; an event
    of count k > 1 is added k times at once. Returns (rows, events)."""
    m = 0
    k_pixel = 0
    for wi in range(bits.shape[2]):
        word = bits[y, xx, wi]
        while word != 0:
            c = wi * 64 + trailing_zeros(word)
            word &= word - 1
            k = 1
            if has_counts:
                k = counts[y, xx, c]
            k_pixel += k
            if k == 1:
                chans[m] = c * step
                m += 1
            else:
                _add_scaled(acc, w, c * step, k, rows, cols, y, xx)
    return m, k_pixel


@_jit(inline=True)
def _group_rows(bits: Any, y: int, xx: int, n_groups: int, step: int, chans: Any
                ) -> tuple[int, int]:
    """The weight rows of pixel (y, x) in grouped form: one row per group of 4 channels with an
    event, the row of that subset of the group (no loop over events, no mispredicted exits).
    Returns (rows, events)."""
    m = 0
    k_pixel = 0
    for wi in range(bits.shape[2]):
        word = bits[y, xx, wi]
        k_pixel += popcount(word)
        for g in range(min(16, n_groups - 16 * wi)):
            nib = (word >> (4 * g)) & 15
            chans[m] = ((16 * wi + g) * 16 + nib) * step
            m += nib != 0
    return m, k_pixel


@_jit()
def _add_scaled(acc: Any, w: Any, w0: int, k: int, rows: Any, cols: Any, y: int, xx: int
                ) -> None:
    """acc += k * w over the taps of the event at input pixel (y, x) (an input count k > 1);
    ``w0`` is the offset of the event's channel in w (tables of :func:`_integrate`)."""
    for a in range(rows[y, 0]):
        wo = w0 + rows[y, 1 + 2 * a] + cols[xx, 1]
        ao = rows[y, 2 + 2 * a] + cols[xx, 2]
        for o in range(cols[xx, 0]):
            acc[ao + o] += k * w[wo + o]


@_jit()
def _fire(v: Any, acc: Any, lim: Any, subtract: bool, flags: Any) -> tuple[Any, Any, bool]:
    """Integrate, wrap, threshold and reset every lane of one sample (``v``, ``acc`` flat, the
    lane type), clearing ``acc``; ``flags`` uint8 ``[2, lanes]``: row 0 is 1 where a lane fires,
    row 1 where its exact sum left the v_bits range. ``lim`` (lane type) = (lo, hi, half,
    mask, threshold). Every value is loaded from and stored to lane-typed arrays, so the
    compiler keeps 16-bit lanes (16 per vector). Returns (min, max, whether a lane
    overflowed)."""
    lo, hi, half, mask, thr = lim[0], lim[1], lim[2], lim[3], lim[4]
    fire, ovf = flags[0], flags[1]
    mn = hi
    mx = lo
    any_ovf = False
    for o in range(v.shape[0]):
        old = v[o]
        a = acc[o]
        v[o] = old + a  # the lane adder: wraps modulo 2**lane_bits
        r = v[o]
        v[o] = ((r + half) & mask) - half  # wrap to v_bits
        wr = v[o]
        # the exact sum left the range: the lane addition overflowed, or r was outside it
        out = (((old ^ r) & (a ^ r)) < 0) | (wr != r)
        ovf[o] = out
        any_ovf |= out
        mn = min(mn, wr)
        mx = max(mx, wr)
        f = wr >= thr
        fire[o] = f
        if subtract:
            v[o] = wr - thr if f else wr
        else:
            v[o] = 0 if f else wr
        acc[o] = 0
    return mn, mx, any_ovf


@_jit()
def _leak_lanes(v: Any, leak: Any) -> None:
    """``v <- v - leak_term(v)`` on every lane of one sample (``v`` flat, the lane type);
    ``leak`` int64 = (:data:`~flexspim.macro.bitslice.LEAK_CODES` code, shift k or constant c,
    ``2**k - 1``). The arithmetic runs in int64 and every result fits the lane."""
    kind, amount, mask = leak[0], leak[1], leak[2]
    if kind == 1:
        for o in range(v.shape[0]):
            x = np.int64(v[o])
            v[o] = x - ((x + (mask if x < 0 else 0)) >> amount)
    else:
        for o in range(v.shape[0]):
            x = np.int64(v[o])
            v[o] = x - min(max(x, -amount), amount)


def leak_parameters(layer: SpikingLayer) -> np.ndarray:
    """int64 (code, amount, 2**amount - 1) of a layer's leak for the kernels ((0, 0, 0): none)."""
    leak = layer.leak
    if leak is None:
        return np.zeros(3, dtype=np.int64)
    mask = (1 << leak.amount) - 1 if leak.kind == "shift" else 0
    return np.array([LEAK_CODES[leak.kind], leak.amount, mask], dtype=np.int64)


@_jit()
def _pack(flags: Any, any_ovf: bool, n_real: int, out: Any) -> tuple[int, int]:
    """Spike bits of every output pixel into ``out`` ``[Q, words]`` from the fire flags of
    :func:`_fire` (``[2, Q*lanes]``); lanes from ``n_real`` on are padding (they copy channel
    0) and are left out. Returns (spikes, overflow events)."""
    n_q, n_wd = out.shape
    n_lanes = flags.shape[1] // max(1, n_q)
    fire = flags[0]
    tail = (np.int64(1) << (n_real % 64)) - 1 if n_real % 64 else np.int64(-1)
    n_out = 0
    n_over = 0
    for q in range(n_q):
        for wi in range(n_wd):
            base = q * n_lanes + 64 * wi
            word = np.int64(0)
            for b in range(min(64, n_lanes - 64 * wi) // LANE_BLOCK):
                word |= block_bits(fire, base + LANE_BLOCK * b) << (LANE_BLOCK * b)
            if wi == n_wd - 1:
                word &= tail
            out[q, wi] = word
            n_out += popcount(word)
        if any_ovf:  # rare: count the overflowed lanes of this pixel
            for o in range(q * n_lanes, q * n_lanes + n_real):
                n_over += flags[1, o]
    return n_out, n_over


@_jit(parallel=True)
def _layer_kernel(bits: Any, counts: Any, has_counts: bool, geom: Any, w: Any, n_real: int,
                  lim: Any, subtract: bool, leak: Any, v: Any, out: Any, tallies: Any) -> None:
    """One IF or LIF layer over all T timesteps of every sample (parallel over samples);
    ``leak``: :func:`leak_parameters`.

    ``bits`` input event map ``[T, N, H, W, words]`` (``counts`` int32 ``[T, N, H, W, C]`` when
    ``has_counts``); ``w`` flat ``[KH*KW*C*lanes]`` and ``v`` ``[N, OH*OW*lanes]`` (initial
    membranes on entry, final on exit) in the lane type; ``out`` output event map
    ``[T, N, OH*OW, words]``; ``tallies`` int64 ``[6, T, N]`` (:data:`TALLY_ROWS`).
    """
    n_t, n_s = bits.shape[0], bits.shape[1]
    for s in prange(n_s):
        acc = np.zeros_like(v[s])
        flags = np.zeros((2, v.shape[1]), dtype=np.uint8)
        chans = np.empty(64 * bits.shape[4] + ROW_GROUP, dtype=np.int64)
        for t in range(n_t):
            if leak[0] != 0:
                _leak_lanes(v[s], leak)
            n_in, n_sop = _integrate(bits[t, s], counts[t, s] if has_counts else counts[0, 0],
                                     has_counts, geom, w, acc, chans)
            mn, mx, any_ovf = _fire(v[s], acc, lim, subtract, flags)
            n_out, n_over = _pack(flags, any_ovf, n_real, out[t, s])
            tallies[0, t, s] = n_in
            tallies[1, t, s] = n_sop
            tallies[2, t, s] = n_out
            tallies[3, t, s] = n_over
            tallies[4, t, s] = mn
            tallies[5, t, s] = mx
@_jit()
def _count_events(bits: Any) -> Any:
    """int64 ``[T, N]``: set bits of every frame of an event map ``[T, N, ...]``."""
    n_t, n_s = bits.shape[0], bits.shape[1]
    flat = bits.reshape(n_t, n_s, -1)
    out = np.zeros((n_t, n_s), dtype=np.int64)
    for t in range(n_t):
        for s in range(n_s):
            total = 0
            for word in flat[t, s]:
                while word != 0:  # one step per set bit (event maps are sparse)
                    word &= word - 1
                    total += 1
            out[t, s] = total
    return out


# --------------------------------------------------------------------------------------------
# Event maps and layers
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class EventMap:
    """Events of one layer's input for a chunk of samples (module docstring).

    ``bits`` int64 ``[T, N, H, W, ceil(C/64)]``; ``shape`` (C, H, W) of the map; ``counts``
    int32 ``[T, N, H, W, C]`` when some pixel holds more than one event, else None; ``flat``
    when a flatten made the map the vector (C*H*W,) in C-order.
    """

    bits: np.ndarray
    shape: tuple[int, int, int]
    counts: np.ndarray | None = None
    flat: bool = False

    def events(self) -> np.ndarray:
        """int64 ``[T, N]``: events of every frame (sum of counts)."""
        if self.counts is not None:
            n_t, n = self.counts.shape[:2]
            return self.counts.reshape(n_t, n, -1).sum(axis=2, dtype=np.int64)
        return _count_events(self.bits)

    def dense(self) -> np.ndarray:
        """uint8 ``[T, N, C, H, W]`` spikes (1 where a bit is set)."""
        c = self.shape[0]
        unpacked = np.unpackbits(self.bits.view(np.uint8), axis=-1, bitorder="little")
        return np.ascontiguousarray(unpacked[..., :c].transpose(0, 1, 4, 2, 3))


@_jit(parallel=True)
def _pack_frames(x: Any, bits: Any) -> None:
    """Event words ``bits`` ``[T, N, H, W, words]`` of counts ``x`` ``[T, N, C, H, W]``
    (parallel over samples)."""
    n_t, n_s, n_c, n_h, n_w = x.shape
    for s in prange(n_s):
        for t in range(n_t):
            for c in range(n_c):
                wi, bit = c // 64, np.int64(1) << (c % 64)
                for y in range(n_h):
                    for xx in range(n_w):
                        bits[t, s, y, xx, wi] |= bit * (x[t, s, c, y, xx] != 0)


def pack_events(spikes: np.ndarray) -> EventMap:
    """The event map of binned spikes ``[T, N, C, H, W]`` or ``[T, N, F]`` (counts >= 0)."""
    x = spikes if spikes.ndim == 5 else spikes.reshape(*spikes.shape, 1, 1)
    x = np.ascontiguousarray(x)
    n_t, n, c, h, w = x.shape
    bits = np.zeros((n_t, n, h, w, -(-c // 64)), dtype=np.int64)
    _pack_frames(x, bits)
    counts = None
    if x.size and int(x.max()) > 1:
        counts = np.ascontiguousarray(np.moveaxis(x, 2, -1), dtype=np.int32)
    return EventMap(bits, (c, h, w), counts, flat=spikes.ndim != 5)


def tap_table(n_in: int, n_out: int, k: int, stride: int, pad: int) -> np.ndarray:
    """int64 ``[n_in, 1 + 2*k]``: per input position p, the number m of kernel taps i with an
    output q inside the map (``q*stride - pad + i == p``), then the m pairs (i, q)."""
    table = np.zeros((n_in, 1 + 2 * k), dtype=np.int64)
    for p in range(n_in):
        for i in range(k):
            r = p + pad - i
            if r >= 0 and r % stride == 0 and r // stride < n_out:
                m = table[p, 0]
                table[p, 1 + 2 * m], table[p, 2 + 2 * m] = i, r // stride
                table[p, 0] = m + 1
    return table


def column_order(k: int, stride: int) -> np.ndarray:
    """Kernel columns in the order the weights are stored: grouped by phase (j mod stride),
    each group in decreasing j. An input column x reaches output columns through the taps j of
    one phase, (x + pad - j) / stride, which rise by one as j falls by the stride: in this
    order its taps are one run, and so are its outputs."""
    return np.array([j for r in range(stride) for j in range(k - 1, -1, -1) if j % stride == r],
                    dtype=np.int64)


def column_runs(n_in: int, n_out: int, k: int, stride: int, pad: int) -> np.ndarray:
    """int64 ``[n_in, 3]``: per input column x, (number of taps j with an output column
    q = (x + pad - j) / stride inside the map, position of the first of them in
    :func:`column_order`, its output column q). The taps are consecutive in that order and
    their outputs are q, q + 1, ... (a contiguous run)."""
    position = np.argsort(column_order(k, stride))
    table = np.zeros((n_in, 3), dtype=np.int64)
    for x in range(n_in):
        taps = [j for j in range(k) if (x + pad - j) % stride == 0
                and 0 <= (x + pad - j) // stride < n_out and x + pad - j >= 0]
        if taps:
            first = max(taps)  # the smallest output column
            table[x] = len(taps), position[first], (x + pad - first) // stride
    return table


@dataclass(frozen=True, eq=False)
class ConvForm:
    """A spiking layer as a convolution on the event map: weights ``[C, KH, KW, O]`` (int64),
    fan-out ``[H, W]``, row and column taps (:func:`tap_table`), column runs
    (:func:`column_runs`) and column order (:func:`column_order`), output (OH, OW)."""

    weight: np.ndarray
    fan: np.ndarray
    row_taps: np.ndarray
    col_taps: np.ndarray
    col_runs: np.ndarray
    col_order: np.ndarray
    out_hw: tuple[int, int]


def conv_form(layer: SpikingLayer, shape: tuple[int, int, int]) -> ConvForm:
    """A conv2d as it is; a linear layer on a (C, H, W) map (flattened, C-order) as the
    convolution whose (H, W) kernel covers the map once, giving a 1 x 1 output."""
    c, h, w = shape
    if isinstance(layer, Conv2d):
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        return ConvForm(np.transpose(np.asarray(layer.weight, dtype=np.int64), (1, 2, 3, 0)),
                        conv_fanout(layer, (h, w)), tap_table(h, oh, kh, sh, ph),
                        tap_table(w, ow, kw, sw, pw), column_runs(w, ow, kw, sw, pw),
                        column_order(kw, sw), (oh, ow))
    n_o = layer.weight.shape[0]
    weight = np.asarray(layer.weight, dtype=np.int64).reshape(n_o, c, h, w)
    return ConvForm(np.transpose(weight, (1, 2, 3, 0)), np.full((h, w), n_o, dtype=np.int64),
                    tap_table(h, 1, h, 1, 0), tap_table(w, 1, w, 1, 0),
                    column_runs(w, 1, w, 1, 0), column_order(w, 1), (1, 1))


def _lanes(n_o: int) -> np.ndarray:
    """Channel of every lane: 0..n_o-1, then channel 0 up to a multiple of LANE_BLOCK."""
    pad = -n_o % LANE_BLOCK
    return np.concatenate([np.arange(n_o), np.zeros(pad, dtype=np.int64)]).astype(np.int64)


def weight_rows(form: ConvForm, lanes: np.ndarray, grouped: bool) -> np.ndarray:
    """int64 weights ``[KH, R, KW, lanes]`` as :func:`_integrate` reads them, kernel columns in
    :func:`column_order`. Per channel (R = C + 1, row C all zeros), or grouped (R = 16 per group
    of 4 channels: row 16*g + s holds the sum of the weights of the channels of subset s of
    group g; row 0 is the empty subset, all zeros)."""
    per_channel = form.weight.transpose(1, 0, 2, 3)[:, :, form.col_order][..., lanes]
    kh, n_c, kw, n_l = per_channel.shape
    if not grouped:
        return np.concatenate([per_channel, np.zeros((kh, 1, kw, n_l), np.int64)], axis=1)
    n_g = -(-n_c // CHANNEL_GROUP)
    padded = np.zeros((kh, n_g * CHANNEL_GROUP, kw, n_l), dtype=np.int64)
    padded[:, :n_c] = per_channel
    members = (np.arange(16)[:, None] >> np.arange(CHANNEL_GROUP)[None, :]) & 1  # [16, 4]
    groups = padded.reshape(kh, n_g, CHANNEL_GROUP, kw, n_l)
    subsets = np.einsum("sc,hgcwl->hgswl", members, groups)
    return subsets.reshape(kh, n_g * 16, kw, n_l)


def grouped_rows(form: ConvForm, n_lanes: int, itemsize: int, has_counts: bool) -> bool:
    """Whether a layer reads its weights grouped (:func:`weight_rows`): without input counts
    above one, and while the grouped weights fit :data:`GROUP_TABLE_BYTES`."""
    n_c, kh, kw, _ = form.weight.shape
    size = kh * kw * 16 * -(-n_c // CHANNEL_GROUP) * n_lanes * itemsize
    return not has_counts and size <= GROUP_TABLE_BYTES


def _geometry(form: ConvForm, n_lanes: int, n_rows: int, grouped: bool) -> tuple[Any, ...]:
    """The tables of :func:`_integrate`: fan-out, row taps and column runs as flat offsets into
    the weights ``[KH, n_rows, KW, lanes]`` and the accumulator ``[OH, OW, lanes]``, the row
    step, the offset of a row of zeros, and the number of channel groups (0: per channel)."""
    n_c, _, kw, _ = form.weight.shape
    rows = form.row_taps.copy()
    rows[:, 1::2] *= n_rows * kw * n_lanes
    rows[:, 2::2] *= form.out_hw[1] * n_lanes
    zero = 0 if grouped else n_c * kw * n_lanes
    return (form.fan, rows, form.col_runs * n_lanes, np.int64(kw * n_lanes), np.int64(zero),
            np.int64(-(-n_c // CHANNEL_GROUP) if grouped else 0))


def _membranes(layer: SpikingLayer, n: int, out_hw: tuple[int, int], lanes: np.ndarray,
               dtype: np.dtype) -> np.ndarray:
    """Initial membranes ``[N, OH*OW*lanes]`` in the lane type (channels-last, padded)."""
    n_o = layer.weight.shape[0]
    v = np.zeros((n, *out_hw, lanes.size), dtype=dtype)
    if layer.initial_membrane is not None:
        init = np.asarray(layer.initial_membrane, dtype=np.int64).reshape(n_o, *out_hw)
        v[...] = init.transpose(1, 2, 0)[..., lanes]
    return v.reshape(n, -1)


def _limits(layer: SpikingLayer, dtype: np.dtype) -> np.ndarray:
    """(lo, hi, half, mask, threshold) of :func:`_fire` in the lane type (half and mask keep
    their low lane bits, which is all the wrapping lane arithmetic needs)."""
    lo, hi = int_range(layer.v_bits)
    values = [lo, hi, 1 << (layer.v_bits - 1), (1 << layer.v_bits) - 1, layer.threshold]
    bits = 8 * dtype.itemsize
    return np.array([((x + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))
                     for x in values], dtype=np.int64).astype(dtype)


_NO_COUNTS = np.zeros((1, 1, 1, 1, 1), dtype=np.int32)


def run_spiking(layer: SpikingLayer, events: EventMap, bound: int, membranes: bool = False
                ) -> tuple[EventMap, np.ndarray, np.ndarray | None]:
    """One spiking layer on an event map; returns (output events, tallies int64 ``[6, T, N]``
    (:data:`TALLY_ROWS`), final membranes ``[N, *output shape]`` int64 when ``membranes``)."""
    form = conv_form(layer, events.shape)
    n_t, n = events.bits.shape[:2]
    n_o = layer.weight.shape[0]
    dtype = lane_dtype(layer, bound)
    lanes = _lanes(n_o)
    n_l = lanes.size
    oh, ow = form.out_hw
    v = _membranes(layer, n, form.out_hw, lanes, dtype)
    grouped = grouped_rows(form, n_l, dtype.itemsize, events.counts is not None)
    # wrapping to the lane type keeps every sum exact modulo 2**lane_bits (module docstring)
    w = weight_rows(form, lanes, grouped).astype(dtype)
    out = np.empty((n_t, n, oh, ow, -(-n_o // 64)), dtype=np.int64)
    tallies = np.empty((len(TALLY_ROWS), n_t, n), dtype=np.int64)
    counts = events.counts if events.counts is not None else _NO_COUNTS
    geom = _geometry(form, n_l, w.shape[1], grouped)
    with numba.parallel_chunksize(1):  # samples one at a time: a busy core takes fewer
        _layer_kernel(events.bits, counts, events.counts is not None, geom, w.reshape(-1), n_o,
                      _limits(layer, dtype), layer.reset == "subtract", leak_parameters(layer),
                      v, out.reshape(n_t, n, oh * ow, -1), tallies)
    out_map = EventMap(out, (n_o, oh, ow), None, flat=isinstance(layer, Linear))
    if not membranes:
        return out_map, tallies, None
    final = v.reshape(n, oh, ow, n_l)[..., :n_o].astype(np.int64).transpose(0, 3, 1, 2)
    shape = (n_o, oh, ow) if isinstance(layer, Conv2d) else (n_o,)
    return out_map, tallies, np.ascontiguousarray(final).reshape(n, *shape)


def _maxpool(layer: SpikeMaxPool, events: EventMap) -> EventMap:
    """OR of the event words over each window."""
    kh, kw = layer.kernel
    sh, sw = layer.stride  # type: ignore[misc]
    win = np.lib.stride_tricks.sliding_window_view(events.bits, (kh, kw), axis=(2, 3))
    pooled = np.bitwise_or.reduce(win[:, :, ::sh, ::sw], axis=(-2, -1))
    c = events.shape[0]
    return EventMap(np.ascontiguousarray(pooled), (c, pooled.shape[2], pooled.shape[3]))


def _flatten(layer: Flatten, events: EventMap) -> EventMap:
    """The same map read as the C-order vector (C*H*W,)."""
    return EventMap(events.bits, events.shape, events.counts, flat=True)


#: Layers without neurons on event maps.
_PASSIVE: dict[type, Callable[[Any, EventMap], EventMap]] = {
    SpikeMaxPool: _maxpool, Flatten: _flatten,
}


#: A spiking-layer runner: (layer, input events, input bound, return membranes) -> (output
#: events, tallies [6, T, N], final membranes or None).
SpikingRunner = Callable[[SpikingLayer, EventMap, int, bool],
                         tuple[EventMap, np.ndarray, "np.ndarray | None"]]


def run_network(net: IntNetwork, spikes: np.ndarray, return_membranes: bool,
                spiking: SpikingRunner, record: bool = False) -> BatchStats:
    """Run ``net`` layer by layer on event maps, spiking layers through ``spiking``; returns
    the batch's statistics (passive layers: event counts only) and, with ``record``, every
    layer's output events."""
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    bounds = layer_input_bounds(net, int(spikes.max()) if spikes.size else 0)
    stats, samples = new_tallies(len(net.layers), n_t, n)
    events = pack_events(spikes)
    finals: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    for li, layer in enumerate(net.layers):
        if isinstance(layer, SpikingLayer):
            events, tallies, final = spiking(layer, events, bounds[li], return_membranes)
            for row, key in enumerate(TALLY_ROWS[:4]):
                stats[key][li] = tallies[row].sum(axis=1)
                if key != "overflow":
                    samples[key][:, li] = tallies[row].sum(axis=0)
            stats["vmin"][li], stats["vmax"][li] = tallies[4].min(axis=1), tallies[5].max(axis=1)
            if final is not None:
                finals.append(final)
        else:
            ins = events.events()
            stats["inputs"][li], samples["inputs"][:, li] = ins.sum(axis=1), ins.sum(axis=0)
            events = _PASSIVE[type(layer)](layer, events)
            outs = events.events()
            stats["spikes"][li], samples["spikes"][:, li] = outs.sum(axis=1), outs.sum(axis=0)
        if record:
            outputs.append(events.dense().reshape(n_t, n, -1) if events.counts is None else
                           np.moveaxis(events.counts, -1, 2).reshape(n_t, n, -1))
    counts = events.dense().reshape(n_t, n, -1).sum(axis=0, dtype=np.int64)
    return batch_stats(counts, stats, samples, finals if return_membranes else None,
                       outputs if record else None)


def sample_bytes(net: IntNetwork, n_t: int) -> int:
    """Bytes of the largest event map (and input counts) one sample needs over T."""
    largest = 0
    for in_shape, _ in net.shapes:
        c, h, w = (tuple(in_shape) + (1, 1))[:3]
        largest = max(largest, h * w * 8 * -(-c // 64))
    return n_t * (largest + 4 * int(np.prod(net.input_shape)))


def run_chunked(net: IntNetwork, spikes: np.ndarray, return_membranes: bool,
                spiking: SpikingRunner, record: bool = False) -> BatchStats:
    """:func:`run_network` over chunks of samples whose event maps stay within
    :data:`CHUNK_BYTES`."""
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    chunk = max(1, CHUNK_BYTES // max(1, sample_bytes(net, n_t)))
    return merge_stats([run_network(net, spikes[:, s : s + chunk], return_membranes, spiking,
                                    record) for s in range(0, n, chunk)])


def run_compiled(net: IntNetwork, spikes: np.ndarray, return_membranes: bool,
                 record: bool = False) -> BatchStats:
    """The compiled backend on binned spikes ``[T, N, *input_shape]``."""
    if numba is None:
        raise ConfigError("the 'numba' backend of the fast engine needs Numba; install "
                          "flexspim[fast] or use the 'torch' backend")
    return run_chunked(net, spikes, return_membranes, run_spiking, record)
