"""The system engine: run a compiled mapping on an event trace (docs/system-model.md).

:func:`run_system` executes the paper's layer-first, event-driven schedule (Fig. 1c: per
timestep, per layer, that layer's input events, then threshold compare and reset) on the
mapping's macros and returns a :class:`SystemRun`: the simulation result (spikes, membranes,
predictions; identical to :func:`flexspim.sim.simulate`, the arithmetic being the same) and the
:class:`~flexspim.energy.counts.WorkCounts` counted from the executed events. Two modes give the
same results and counts:

- ``fast``: the network's activity is simulated once (:func:`~flexspim.system.trace.record_trace`,
  or given as a :class:`~flexspim.system.trace.Trace`) and one compiled pass per layer counts
  the mapping's work from it (:mod:`flexspim.system.kernel`); a trace replays on any mapping;
- ``bitlevel``: every row operation through the bit-level macro model with the mapping's real
  operand shapes and rows (:mod:`flexspim.system.bitlevel`); for small networks.

Pooling and flattening are done by the event router between layers (no macro work); an event
after a max-pool leaves from the macro of the first input spike of its window.
"""

from __future__ import annotations

import dataclasses
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
    leak_counts,
)
from flexspim.energy.counts import COUNT_FIELDS, PHASES, WorkCounts
from flexspim.errors import ConfigError
from flexspim.hw import Hardware
from flexspim.net.layers import SpikingLayer
from flexspim.net.network import IntNetwork
from flexspim.sim.batches import check_batch_size, check_labels, run_batches
from flexspim.sim.common import BatchStats, merge_stats
from flexspim.sim.engine import assemble_result, prepare_inputs
from flexspim.sim.result import SimResult
from flexspim.system import kernel
from flexspim.system.bitlevel import run_batch_bitlevel
from flexspim.system.routing import passive
from flexspim.system.trace import Trace, record_trace

#: Modes of the system engine.
MODES: tuple[str, ...] = ("fast", "bitlevel")


@dataclass(frozen=True, eq=False)
class SystemRun:
    """What :func:`run_system` returns: the result of the run, the work it counted, the
    program it executed, and the input events per position of every spiking layer."""

    result: SimResult
    counts: WorkCounts
    mode: str
    program: Program
    event_maps: list[np.ndarray]


def layer_params(lp: LayerProgram, hw: Hardware, n_macros: int) -> kernel.Layer:
    """The kernels' view of one layer program on ``hw``."""
    g = lp.geo
    ctl = hw.system.controller
    return kernel.Layer(
        cin=g.in_channels, h=g.in_hw[0], w=g.in_hw[1], cout=g.out_channels, oh=g.out_hw[0],
        ow=g.out_hw[1], kh=g.kernel[0], kw=g.kernel[1], sh=g.stride[0], sw=g.stride[1],
        ph=g.padding[0], pw=g.padding[1], st=0 if lp.ws else 1, pack=lp.pack, ncg=lp.n_cg,
        cpg=lp.channels_per_group, nblk=lp.n_blocks, v_rows=lp.v_rows, w_rows=lp.w_rows,
        mcols=hw.macro.cols, v_bits=lp.v_bits, w_bits=lp.w_bits, home=lp.home, nmac=n_macros,
        reuse=int(ctl.scratch_reuse), target=int(ctl.event_order == "target"),
        cactive=int(ctl.compare == "active"), s_rows=lp.s_rows, sp_rows=lp.sp_rows,
        k_spill=lp.k_spill, keyspace=lp.keyspace)


def count_spiking(lp: LayerProgram, hw: Hardware, prog: Program, x: np.ndarray,
                  srcs: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Counts ``[N, T, phases, macros, fields]`` of one layer whose input events are ``x``
    ``[T, N, inputs]`` (leaving from macros ``srcs``) and output spikes ``out``."""
    n_t, n = x.shape[0], x.shape[1]
    counts = np.zeros((n, n_t, len(PHASES), prog.n_macros, len(COUNT_FIELDS)))
    kernel.count_layer(np.ascontiguousarray(x, dtype=np.int64),
                       np.ascontiguousarray(srcs, dtype=np.int64),
                       np.ascontiguousarray(out, dtype=np.uint8),
                       layer_params(lp, hw, prog.n_macros), lp.stat_macro, lp.stat_buffered,
                       lp.stat_bits.astype(np.float64), lp.mem_buffered, lp.cap,
                       compare_groups(lp), counts)
    counts[:, 0, PHASES.index("init")] += init_counts(lp, prog.n_macros)
    counts[:, :, PHASES.index("leak")] += leak_counts(lp, prog.n_macros, hw.macro.cols)
    return counts


def count_batch(net: IntNetwork, prog: Program, hw: Hardware, inputs: np.ndarray,
                outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Counts ``[N, T, layers, phases, macros, fields]`` of a batch of a trace: its inputs
    ``[T, N, inputs]`` and every layer's output events."""
    n_t, n = int(inputs.shape[0]), int(inputs.shape[1])
    counts = np.zeros((n, n_t, len(prog.layers), len(PHASES), prog.n_macros,
                       len(COUNT_FIELDS)))
    x = np.ascontiguousarray(inputs.reshape(n_t, n, -1), dtype=np.int64)
    srcs = np.full((1, 1, x.shape[2]), -1, dtype=np.int64)
    k = 0
    for li, layer in enumerate(net.layers):
        if isinstance(layer, SpikingLayer):
            lp = prog.layers[k]
            counts[:, :, k] = count_spiking(lp, hw, prog, x, srcs, outputs[li])
            srcs = lp.neuron_macro.reshape(1, 1, -1)
            k += 1
        else:
            _, srcs = passive(layer, x, srcs, net.shapes[li][0])
        x = outputs[li].reshape(n_t, n, -1)
    return counts


@dataclass(frozen=True, eq=False)
class ReplayEngine:
    """The fast mode as a :class:`~flexspim.sim.batches.BatchEngine`: replays a trace's events
    through the counting kernel; a batch's output is its counts
    ``[N, T, layers, phases, macros, fields]``."""

    net: IntNetwork
    program: Program
    hw: Hardware
    trace: Trace
    name: str = "system engine (fast)"

    def run_batch(self, start: int, stop: int) -> np.ndarray:
        inputs, outputs = self.trace.take(start, stop)
        return count_batch(self.net, self.program, self.hw, inputs, outputs)


@dataclass(frozen=True, eq=False)
class BitlevelSystemEngine:
    """The bit-level mode as a :class:`~flexspim.sim.batches.BatchEngine`: every sample on
    fresh macros; a batch's output is (its BatchStats, its counts)."""

    net: IntNetwork
    program: Program
    hw: Hardware
    spikes: np.ndarray
    return_membranes: bool = False
    name: str = "system engine (bitlevel)"

    def run_batch(self, start: int, stop: int) -> tuple[BatchStats, np.ndarray]:
        return run_batch_bitlevel(self.net, self.program, self.hw,
                                  np.asarray(self.spikes[:, start:stop]), self.return_membranes)


def run_system(net: IntNetwork, mapping: Mapping, hw: Hardware, inputs: Any, *,
               mode: str = "fast", program: Program | None = None, labels: Any = None,
               n_time_bins: int | None = None, sensor_size: Sequence[int] | None = None,
               batch_size: int = 64, progress: bool = False,
               return_membranes: bool = False) -> SystemRun:
    """Execute ``mapping`` (compiled for ``net`` on ``hw``) on ``inputs``: a
    :class:`~flexspim.system.trace.Trace` of ``net`` (replayed), or binned spikes
    ``[T, N, *input_shape]`` or event streams as :func:`flexspim.sim.simulate` takes them.

    The mapping, the capacities and the inputs are checked before anything runs (MappingError
    names the rule); ``program`` skips the check when the caller built it already. ``mode``:
    ``fast`` or ``bitlevel`` (same results and counts).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown system-engine mode '{mode}'; use one of {', '.join(MODES)}")
    check_batch_size(batch_size)
    prog = program if program is not None else build_program(net, mapping, hw)
    if isinstance(inputs, Trace):
        if inputs.network != net.name:
            raise ConfigError(f"the trace was recorded on network '{inputs.network}', not "
                              f"'{net.name}'; record it with record_trace(net, inputs)")
        trace = inputs
        spikes = inputs.inputs.reshape(inputs.n_timesteps, inputs.n_samples, *net.input_shape)
    else:
        spikes = prepare_inputs(net, inputs, n_time_bins=n_time_bins, sensor_size=sensor_size)
        trace = None
    n = int(spikes.shape[1])
    lab = check_labels(labels, n)
    if mode == "bitlevel":
        engine = BitlevelSystemEngine(net, prog, hw, spikes, return_membranes)
        parts = run_batches(engine, n, batch_size, progress)
        result = assemble_result(net, merge_stats([p[0] for p in parts]), "system-bitlevel",
                                 int(spikes.shape[0]), lab)
        data = np.concatenate([p[1] for p in parts], axis=0)
        maps = (trace or record_trace(net, spikes, batch_size=batch_size)).event_maps(net)
    else:
        if trace is None:
            trace = record_trace(net, spikes, labels=lab, batch_size=batch_size,
                                 progress=progress, return_membranes=return_membranes)
        elif return_membranes and trace.result.final_membranes is None:
            raise ConfigError("return_membranes: the trace was recorded without the final "
                              "membranes; record it with record_trace(..., "
                              "return_membranes=True)")
        data = np.concatenate(run_batches(ReplayEngine(net, prog, hw, trace), n, batch_size,
                                          progress), axis=0)
        result = dataclasses.replace(trace.result, engine="system-fast",
                                     labels=lab if lab is not None else trace.result.labels)
        if not return_membranes:
            result = dataclasses.replace(result, final_membranes=None)
        maps = trace.event_maps(net)
    wc = WorkCounts(data, tuple(lp.name for lp in prog.layers), policy=mapping.policy,
                    source="engine")
    return SystemRun(result=result, counts=wc, mode=mode, program=prog, event_maps=maps)
