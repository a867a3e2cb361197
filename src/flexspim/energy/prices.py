"""Prices of the counted units: the one place where counts become energy (pJ) and time (ns).

:class:`Prices` is built from the hardware description (macro units from
:mod:`flexspim.energy.ops`, calibrated on the paper's Table I; buffer, DRAM, routing and leakage
from ``hw.system_energy`` / ``hw.system``). :func:`energy_components` prices a
:class:`~flexspim.energy.counts.WorkCounts` per component; :func:`timeline` turns it into phase
durations and per-macro busy times (docs/system-model.md §Latency):

- a macro is busy for its row operations (``row_op_ns`` each) and its row reads/writes (one row
  per system cycle), plus the transfers of its own streamed operands: it waits for them (one
  scratch slot per operand kind, no double buffering);
- the buffer port (``buffer_bits_per_cycle``) and the DRAM channel (``dram_gbit_per_s``) are
  shared by all macros, so a phase lasts at least as long as their total traffic;
- a phase ends when its slowest macro and the shared memories are done: its duration is the
  largest of these; phases run one after the other (layer-first, paper Fig. 1c).

Latency is the sum of the phase durations (the makespan); leakage is every macro's and the
buffer's leakage power over that time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexspim.energy import ops
from flexspim.energy.counts import COUNT_FIELDS, FIELD_INDEX, WorkCounts
from flexspim.hw import Hardware

#: Energy components of a cost report, in order.
COMPONENTS: tuple[str, ...] = ("macro_compute", "array_io", "buffer", "dram", "transfer",
                               "routing", "leakage")


@dataclass(frozen=True)
class Prices:
    """Energy (pJ) and time (ns) of each counted unit on ``hw``.

    Macro units are voltage-scaled (:mod:`flexspim.energy.ops`); a row read or write moves all
    ``row_bits`` columns of a row; buffer, DRAM and routing energies sit outside the macro's
    supply and are not scaled.
    """

    row_pj: float
    active_col_pj: float
    standby_col_pj: float
    read_bit_pj: float
    write_bit_pj: float
    compare_bit_pj: float
    buffer_bit_pj: float
    dram_bit_pj: float
    routing_event_pj: float
    transfer_bit_pj: float
    macro_leakage_uw: float
    buffer_leakage_uw: float
    row_op_ns: float
    cycle_ns: float
    row_bits: int
    buffer_bits_per_cycle: float
    dram_bits_per_ns: float

    @classmethod
    def from_hw(cls, hw: Hardware) -> Prices:
        e0 = ops.row_op_energy_pj(hw, 0, 0)
        se, sys = hw.system_energy, hw.system
        return cls(
            row_pj=e0,
            active_col_pj=ops.row_op_energy_pj(hw, 1, 0) - e0,
            standby_col_pj=ops.row_op_energy_pj(hw, 0, 1) - e0,
            read_bit_pj=ops.row_io_energy_pj(hw, read_bits=1),
            write_bit_pj=ops.row_io_energy_pj(hw, write_bits=1),
            compare_bit_pj=se.compare_pj_per_bit * ops.voltage_scale(hw),
            buffer_bit_pj=se.buffer_pj_per_bit,
            dram_bit_pj=sys.dram.pj_per_bit,
            routing_event_pj=se.routing_pj_per_event,
            transfer_bit_pj=se.transfer_pj_per_bit,
            macro_leakage_uw=ops.leakage_power_uw(hw),
            buffer_leakage_uw=sys.buffer_kib * se.buffer_leakage_uw_per_kib,
            row_op_ns=ops.row_op_time_ns(hw),
            cycle_ns=1000.0 / hw.clock_mhz,
            row_bits=hw.macro.cols,
            buffer_bits_per_cycle=float(sys.buffer_bits_per_cycle),
            dram_bits_per_ns=sys.dram_gbit_per_s,
        )

    def component_matrix(self) -> np.ndarray:
        """``[fields, components]``: pJ that one unit of each count field adds to each component
        (leakage, which comes from the timeline, is zero here)."""
        m = np.zeros((len(COUNT_FIELDS), len(COMPONENTS)))
        c = {name: i for i, name in enumerate(COMPONENTS)}

        def put(field: str, comp: str, pj: float) -> None:
            m[FIELD_INDEX[field], c[comp]] = pj

        put("row_ops", "macro_compute", self.row_pj)
        put("active_col_ops", "macro_compute", self.active_col_pj)
        put("standby_col_ops", "macro_compute", self.standby_col_pj)
        put("compare_row_reads", "macro_compute", self.compare_bit_pj * self.row_bits)
        put("array_row_writes", "array_io", self.write_bit_pj * self.row_bits)
        put("array_row_reads", "array_io", self.read_bit_pj * self.row_bits)
        put("buffer_read_bits", "buffer", self.buffer_bit_pj)
        put("buffer_write_bits", "buffer", self.buffer_bit_pj)
        put("dram_read_bits", "dram", self.dram_bit_pj)
        put("dram_write_bits", "dram", self.dram_bit_pj)
        put("transfer_bits", "transfer", self.transfer_bit_pj)
        put("routed_events", "routing", self.routing_event_pj)
        return m

    def busy_ns(self, data: np.ndarray) -> np.ndarray:
        """Time each macro works on its own, ``[..., macro]``, from counts ``[..., macro, field]``:
        row operations, row accesses, and the transfers of its streamed operands."""
        f = FIELD_INDEX
        rows = data[..., f["array_row_writes"]] + data[..., f["array_row_reads"]] \
            + data[..., f["compare_row_reads"]]
        return (data[..., f["row_ops"]] * self.row_op_ns + rows * self.cycle_ns
                + self.buffer_ns(data) + self.dram_ns(data))

    def buffer_ns(self, data: np.ndarray) -> np.ndarray:
        """Time the on-chip bus (the buffer port, which also carries slices moved between
        macros) spends on the traffic of ``data`` (``[..., field]``)."""
        bits = data[..., FIELD_INDEX["buffer_read_bits"]] \
            + data[..., FIELD_INDEX["buffer_write_bits"]] + data[..., FIELD_INDEX["transfer_bits"]]
        return bits / self.buffer_bits_per_cycle * self.cycle_ns

    def dram_ns(self, data: np.ndarray) -> np.ndarray:
        """Time the DRAM channel spends on the traffic of ``data`` (``[..., field]``)."""
        bits = data[..., FIELD_INDEX["dram_read_bits"]] + data[..., FIELD_INDEX["dram_write_bits"]]
        return bits / self.dram_bits_per_ns


@dataclass(frozen=True, eq=False)
class Timeline:
    """When each phase of each sample runs and how long each macro is busy in it.

    ``phase_ns[sample, timestep, layer, phase]``: duration of the phase (its makespan);
    ``macro_busy_ns[sample, timestep, layer, phase, macro]``: time the macro works in it (it
    starts at the phase start); ``latency_ns[sample]``: the sum of the sample's phases.
    """

    phase_ns: np.ndarray
    macro_busy_ns: np.ndarray

    @property
    def latency_ns(self) -> np.ndarray:
        return self.phase_ns.reshape(self.phase_ns.shape[0], -1).sum(axis=1)

    @property
    def utilisation(self) -> np.ndarray:
        """Per macro: busy time / makespan over all samples (0..1)."""
        total = float(self.phase_ns.sum())
        busy = self.macro_busy_ns.sum(axis=(0, 1, 2, 3))
        return busy / total if total > 0 else np.zeros_like(busy)


def timeline(counts: WorkCounts, prices: Prices) -> Timeline:
    """Phase durations and macro busy times of ``counts`` (module docstring)."""
    d = counts.data
    busy = prices.busy_ns(d)                                  # [N, T, L, P, M]
    shared = np.maximum(prices.buffer_ns(d).sum(axis=-1), prices.dram_ns(d).sum(axis=-1))
    phase = np.maximum(busy.max(axis=-1) if busy.shape[-1] else 0.0, shared)
    return Timeline(phase_ns=phase, macro_busy_ns=busy)


def energy_components(counts: WorkCounts, prices: Prices, tl: Timeline,
                      n_macros: int) -> np.ndarray:
    """Energy (pJ) per spiking layer and component, ``[layers, components]``, summed over samples.

    Leakage is every macro's (``n_macros``) and the buffer's leakage power over the makespan of
    ``tl``, spread over the layers in proportion to their phase time.
    """
    out = counts.data.sum(axis=(0, 1, 3, 4)) @ prices.component_matrix()
    latency_ns = float(tl.phase_ns.sum())
    leak_pj = (n_macros * prices.macro_leakage_uw + prices.buffer_leakage_uw) * latency_ns * 1e-3
    layer_ns = tl.phase_ns.sum(axis=(0, 1, 3))
    share = layer_ns / latency_ns if latency_ns > 0 else np.full(len(layer_ns),
                                                                 1 / max(len(layer_ns), 1))
    out[:, COMPONENTS.index("leakage")] = leak_pj * share
    return out


def phase_energy(counts: WorkCounts, prices: Prices, tl: Timeline, n_macros: int) -> np.ndarray:
    """Energy (pJ) per phase and component, ``[phases, components]``, summed over samples and
    layers; leakage is spread over the phases in proportion to their time."""
    out = counts.data.sum(axis=(0, 1, 2, 4)) @ prices.component_matrix()
    latency_ns = float(tl.phase_ns.sum())
    leak_pj = (n_macros * prices.macro_leakage_uw + prices.buffer_leakage_uw) * latency_ns * 1e-3
    ph_ns = tl.phase_ns.sum(axis=(0, 1, 2))
    share = ph_ns / latency_ns if latency_ns > 0 else np.zeros(len(ph_ns))
    out[:, COMPONENTS.index("leakage")] = leak_pj * share
    return out


def price(counts: WorkCounts, prices: Prices) -> tuple[np.ndarray, Timeline]:
    """``(energy [layers, components] in pJ over all samples, timeline)`` of ``counts``."""
    tl = timeline(counts, prices)
    return energy_components(counts, prices, tl, counts.n_macros), tl


def dynamic_energy_pj(totals: np.ndarray, prices: Prices) -> float:
    """Energy (pJ) of counts ``[..., fields]`` without leakage."""
    return float((np.asarray(totals).reshape(-1, len(COUNT_FIELDS))
                  @ prices.component_matrix()).sum())
