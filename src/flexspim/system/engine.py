"""The system engine: run a compiled mapping on an event trace (docs/system-model.md).

:func:`run_system` executes the paper's layer-first, event-driven schedule (Fig. 1c: per
timestep, per layer, that layer's input events, then threshold compare and reset) on the
mapping's macros and returns a :class:`SystemRun`: the simulation result (spikes, membranes,
predictions; identical to :func:`flexspim.sim.simulate`, the arithmetic being the same) and the
:class:`~flexspim.energy.counts.WorkCounts` counted from the executed events. Two modes give the
same results and counts:

- ``fast``: one compiled pass per layer (:mod:`flexspim.system.kernel`);
- ``bitlevel``: every row operation through the bit-level macro model with the mapping's real
  operand shapes and rows (:mod:`flexspim.system.bitlevel`); for small networks.

Pooling and flattening are done by the event router between layers (no macro work); an event
after a max-pool leaves from the macro of the first input spike of its window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexspim.compile.mapping import Mapping
from flexspim.compile.program import (
    LayerProgram,
    Program,
    build_program,
    compare_groups,
    init_counts,
)
from flexspim.energy.counts import COUNT_FIELDS, PHASES, WorkCounts
from flexspim.errors import ConfigError
from flexspim.hw import Hardware
from flexspim.net.layers import SpikingLayer
from flexspim.net.network import IntNetwork
from flexspim.sim.common import (
    batch_stats,
    layer_input_bounds,
    merge_stats,
    new_tallies,
    refuse_leaky,
)
from flexspim.sim.engine import assemble_result, prepare_inputs
from flexspim.sim.result import SimResult
from flexspim.system import kernel
from flexspim.system.routing import passive

#: Modes of the system engine.
MODES: tuple[str, ...] = ("fast", "bitlevel")


@dataclass(frozen=True, eq=False)
class SystemRun:
    """What :func:`run_system` returns: the result of the run and the work it counted."""

    result: SimResult
    counts: WorkCounts
    mode: str
    program: Program


def _layer_params(lp: LayerProgram, hw: Hardware, n_macros: int) -> tuple[np.ndarray, np.ndarray]:
    g = lp.geo
    geom = np.array([g.in_channels, g.in_hw[0], g.in_hw[1], g.out_channels, g.out_hw[0],
                     g.out_hw[1], g.kernel[0], g.kernel[1], g.stride[0], g.stride[1],
                     g.padding[0], g.padding[1]], dtype=np.int64)
    ctl = hw.system.controller
    par = np.array([lp.stationary, lp.pack, lp.n_cg, lp.channels_per_group, lp.n_blocks,
                    lp.v_rows, lp.w_rows, hw.macro.cols, lp.v_bits, lp.w_bits, lp.threshold,
                    int(lp.reset_zero), lp.home, n_macros, int(ctl.scratch_reuse),
                    int(ctl.event_order == "target"), int(ctl.compare == "active")],
                   dtype=np.int64)
    return geom, par


def _run_spiking_fast(lp: LayerProgram, hw: Hardware, prog: Program, x: np.ndarray,
                      srcs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run one layer on ``x`` ``[T, N, inputs]``; returns (spikes, counts, stats, final)."""
    n_t, n = x.shape[0], x.shape[1]
    geom, par = _layer_params(lp, hw, prog.n_macros)
    spikes = np.zeros((n_t, n, lp.n_neurons), dtype=np.uint8)
    counts = np.zeros((n, n_t, len(PHASES), prog.n_macros, len(COUNT_FIELDS)))
    stats = np.zeros((n, n_t, 5), dtype=np.int64)
    final = np.zeros((n, lp.n_neurons), dtype=np.int64)
    cout, npos = lp.geo.out_channels, lp.geo.out_positions
    kernel.run_layer(np.ascontiguousarray(x),
                     np.ascontiguousarray(srcs, dtype=np.int64),
                     np.ascontiguousarray(lp.weight.transpose(1, 2, 3, 0)),
                     np.ascontiguousarray(lp.initial.reshape(cout, npos).T).reshape(-1), geom,
                     par, lp.stat_macro, lp.stat_level, lp.stat_bits, lp.mem_level,
                     compare_groups(lp), spikes, counts, stats, final)
    final = np.ascontiguousarray(final.reshape(n, npos, cout).transpose(0, 2, 1)).reshape(n, -1)
    counts[:, 0, PHASES.index("init")] += init_counts(lp, prog.n_macros)
    return spikes, counts, stats, final


def _run_batch_fast(net: IntNetwork, prog: Program, hw: Hardware, spikes: np.ndarray,
                    return_membranes: bool) -> tuple[Any, np.ndarray]:
    """One batch ``[T, N, ...]`` through the fast kernels; returns (BatchStats, counts)."""
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    steps, samples = new_tallies(len(net.layers), n_t, n)
    x = np.ascontiguousarray(spikes.reshape(n_t, n, -1), dtype=np.int64)
    srcs = np.full((1, 1, x.shape[2]), -1, dtype=np.int64)
    counts = np.zeros((n, n_t, len(prog.layers), len(PHASES), prog.n_macros,
                       len(COUNT_FIELDS)))
    finals: list[np.ndarray] = []
    k = 0
    for li, layer in enumerate(net.layers):
        per = x.sum(axis=2, dtype=np.int64)                  # [T, N] input events
        steps["inputs"][li] = per.sum(axis=1)
        samples["inputs"][:, li] = per.sum(axis=0)
        if isinstance(layer, SpikingLayer):
            lp = prog.layers[k]
            out, c, st, final = _run_spiking_fast(lp, hw, prog, x, srcs)
            counts[:, :, k] = c
            steps["sops"][li] = st[:, :, 0].sum(axis=0)
            samples["sops"][:, li] = st[:, :, 0].sum(axis=1)
            steps["overflow"][li] = st[:, :, 2].sum(axis=0)
            steps["vmin"][li] = st[:, :, 3].min(axis=0)
            steps["vmax"][li] = st[:, :, 4].max(axis=0)
            finals.append(final.reshape(n, *net.shapes[li][1]))
            x = out
            srcs = lp.neuron_macro.reshape(1, 1, -1)
            k += 1
        else:
            x, srcs = passive(layer, x, srcs, net.shapes[li][0])
        spk = x.sum(axis=2, dtype=np.int64)
        steps["spikes"][li] = spk.sum(axis=1)
        samples["spikes"][:, li] = spk.sum(axis=0)
    output = x.sum(axis=0, dtype=np.int64)
    return batch_stats(output, steps, samples, finals if return_membranes else None), counts


def run_system(net: IntNetwork, mapping: Mapping, hw: Hardware, inputs: Any, *,
               mode: str = "fast", labels: Any = None, n_time_bins: int | None = None,
               sensor_size: Sequence[int] | None = None, batch_size: int = 64,
               progress: bool = False, return_membranes: bool = False) -> SystemRun:
    """Execute ``mapping`` (compiled for ``net`` on ``hw``) on ``inputs`` (binned spikes
    ``[T, N, *input_shape]`` or event streams, as :func:`flexspim.sim.simulate` takes them).

    The mapping, the capacities and the inputs are checked before anything runs (MappingError
    names the rule). ``mode``: ``fast`` or ``bitlevel`` (same results and counts).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown system-engine mode '{mode}'; use one of {', '.join(MODES)}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size = {batch_size} must be >= 1")
    refuse_leaky(net, "the system engine")  # until it executes leaks (docs/arithmetic.md)
    prog = build_program(net, mapping, hw)
    spikes = prepare_inputs(net, inputs, n_time_bins=n_time_bins, sensor_size=sensor_size)
    layer_input_bounds(net, int(spikes.max()) if spikes.size else 0)
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    lab = None
    if labels is not None:
        lab = np.asarray(labels).astype(np.int64).reshape(-1)
        if lab.shape != (n,):
            raise ConfigError(f"labels: {lab.size} labels for {n} samples; give one per sample")
    if mode == "bitlevel":
        from flexspim.system.bitlevel import run_batch_bitlevel as run_batch
    else:
        run_batch = _run_batch_fast
    from tqdm import tqdm

    parts, counts = [], []
    with tqdm(total=n, desc=f"system engine ({mode})", unit="sample",
              disable=not progress) as bar:
        for s0 in range(0, n, int(batch_size)):
            chunk = np.asarray(spikes[:, s0:s0 + int(batch_size)])
            stats, c = run_batch(net, prog, hw, chunk, return_membranes)
            parts.append(stats)
            counts.append(c)
            bar.update(chunk.shape[1])
    result = assemble_result(net, merge_stats(parts), f"system-{mode}", n_t, lab)
    wc = WorkCounts(np.concatenate(counts, axis=0), tuple(lp.name for lp in prog.layers),
                    policy=mapping.policy, source="engine")
    return SystemRun(result=result, counts=wc, mode=mode, program=prog)
