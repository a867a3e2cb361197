"""The physics an architect expects of the system model (docs/system-model.md, "Invariants"),
as property tests over random networks, hardware and controller rules, on the system engine (and
the first two on the analytic estimator too):

- adding a macro (same policy, same controller, each layer's stationary operand and operand
  shape kept) never moves more bits to or from DRAM, for the policies that weigh traffic or fix
  the stationary operand (``optimal`` weighs energy and may trade DRAM bits for energy: more
  macros also leak more);
- adding buffer (the same, every policy) never moves more bits to or from DRAM;

With more rows a policy may also pick another operand shape (cheaper per operation by the
estimator); that choice moves the bits of another shape, so the invariants hold the shapes
fixed and let the policy decide what is resident, where, and what sits in the buffer.
- the energy is never below what must happen: every SOP's active columns, and every weight
  outside the arrays that an event uses loaded at least once;
- a slice that moves between macros crosses the on-chip bus, never DRAM.

``FLEXSPIM_THOROUGH=1`` runs many more examples.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from strategies import int_networks, spike_inputs
from system_cases import conv_networks, hw_with, with_controller

from flexspim.compile import POLICIES, compile_network, estimate_counts
from flexspim.compile.geometry import event_targets
from flexspim.energy.prices import Prices
from flexspim.energy.system import system_cost
from flexspim.errors import MappingError
from flexspim.hw import Hardware
from flexspim.mapped import measured_activity, record
from flexspim.system import run_system

THOROUGH = bool(os.environ.get("FLEXSPIM_THOROUGH"))
RULES = [dict(event_order=o, scratch_slices=k, scratch_reuse=r)
         for o in ("arrival", "target") for k in ("auto", 1, 2) for r in (True, False)]


def dram_bits(run) -> float:
    return run.counts.total("dram_read_bits") + run.counts.total("dram_write_bits")


@st.composite
def physics_cases(draw: st.DrawFn, policies: tuple[str, ...] = POLICIES):
    """(network, inputs, policy, rules, rows, cols, macros, buffer KiB): networks that need
    several small macros, so that residency, scratch slots and spilling all change with the
    macro count."""
    net = draw(st.one_of(conv_networks(), int_networks(leaky=True)))
    x = draw(spike_inputs(net, max_t=3, max_n=2))
    rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), x.size, int(x.sum())])
    rows, cols = [16, 24, 32, 48][int(rng.integers(4))], [16, 32, 64][int(rng.integers(3))]
    n = int(rng.integers(1, 4))
    policy = policies[int(rng.integers(len(policies)))]
    rules = RULES[int(rng.integers(len(RULES)))]
    buffer = [0.0, 0.02, 0.1][int(rng.integers(3))]
    event(f"policy {policy}, rules {sorted(rules.items())}")
    return net, x, policy, rules, rows, cols, n, buffer


def _run(net, x, policy: str, hw: Hardware, like=None):
    """Compile ``policy`` for the measured activity and execute it; with ``like`` (a run), the
    layers keep that run's stationary operands and operand shapes (the policy still decides
    what is resident, where, and what sits in the buffer)."""
    trace = record(net, x)
    fixed = {}
    if like is not None:
        layers = like.program.layers
        fixed = {"stationary": {lp.name: lp.stationary for lp in layers},
                 "shapes": {lp.name: (lp.cols, lp.pack) for lp in layers}}
    try:
        m = compile_network(net, hw, policy=policy, activity=measured_activity(net, trace),
                            **fixed)
    except MappingError:
        return None
    return run_system(net, m, hw, trace)


@settings(max_examples=400 if THOROUGH else 60, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(case=physics_cases(tuple(p for p in POLICIES if p != "optimal")))
def test_adding_a_macro_never_moves_more_dram_bits(case) -> None:
    net, x, policy, rules, rows, cols, n, buffer = case
    small = with_controller(hw_with(n, rows, cols, buffer_kib=buffer), **rules)
    big = with_controller(hw_with(n + 1, rows, cols, buffer_kib=buffer), **rules)
    a = _run(net, x, policy, small)
    assume(a is not None)
    b = _run(net, x, policy, big, like=a)
    assume(b is not None)
    event(f"DRAM bits on {n} macro(s) > 0: {dram_bits(a) > 0}")
    assert dram_bits(b) <= dram_bits(a) + 1e-9, (dram_bits(a), dram_bits(b))


@settings(max_examples=400 if THOROUGH else 60, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(case=physics_cases(), more=st.sampled_from([0.02, 0.1, 1.0]))
def test_adding_buffer_never_moves_more_dram_bits(case, more: float) -> None:
    net, x, policy, rules, rows, cols, n, buffer = case
    small = with_controller(hw_with(n, rows, cols, buffer_kib=buffer), **rules)
    big = with_controller(hw_with(n, rows, cols, buffer_kib=buffer + more), **rules)
    a = _run(net, x, policy, small)
    assume(a is not None)
    b = _run(net, x, policy, big, like=a)
    assume(b is not None)
    assert dram_bits(b) <= dram_bits(a) + 1e-9, (dram_bits(a), dram_bits(b))


def _estimated_dram_bits(net, x, policy: str, hw: Hardware, like) -> float | None:
    """DRAM bits per sample that the analytic estimator predicts for the mapping :func:`_run`
    compiles (``like``: the engine run whose stationary operands and shapes it keeps)."""
    act = measured_activity(net, record(net, x))
    layers = like.program.layers
    try:
        m = compile_network(net, hw, policy=policy, activity=act,
                            stationary={lp.name: lp.stationary for lp in layers},
                            shapes={lp.name: (lp.cols, lp.pack) for lp in layers})
    except MappingError:
        return None
    c = estimate_counts(net, m, hw, act)
    return c.total("dram_read_bits") + c.total("dram_write_bits")


@settings(max_examples=300 if THOROUGH else 40, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(case=physics_cases(tuple(p for p in POLICIES if p != "optimal")),
       more=st.sampled_from([0.02, 0.1, 1.0]))
def test_the_estimate_obeys_the_same_physics(case, more: float) -> None:
    """The estimator's DRAM bits, like the engine's, never grow with a macro or with buffer."""
    net, x, policy, rules, rows, cols, n, buffer = case
    base = with_controller(hw_with(n, rows, cols, buffer_kib=buffer), **rules)
    a = _run(net, x, policy, base)
    assume(a is not None)
    here = _estimated_dram_bits(net, x, policy, base, a)
    macro = _estimated_dram_bits(net, x, policy, with_controller(
        hw_with(n + 1, rows, cols, buffer_kib=buffer), **rules), a)
    buffered = _estimated_dram_bits(net, x, policy, with_controller(
        hw_with(n, rows, cols, buffer_kib=buffer + more), **rules), a)
    assume(here is not None)
    tol = 1e-9 * max(1.0, here)
    if macro is not None:
        assert macro <= here + tol, ("macro", here, macro)
    if buffered is not None:
        assert buffered <= here + tol, ("buffer", here, buffered)


def taps_used(lp, event_map: np.ndarray) -> np.ndarray:
    """``[c_in, taps]``: whether an input event of channel c reaches an output through tap t
    (an event at a position that no tap maps to an output uses no weight)."""
    g = lp.geo
    ev = event_map.reshape(g.in_channels, -1) > 0
    used = np.zeros((g.in_channels, g.kernel[0] * g.kernel[1]), dtype=bool)
    for tap, idx, _, _ in event_targets(g.kernel, g.stride, g.padding, g.in_hw, g.out_hw):
        used[:, tap] |= ev[:, idx].any(axis=1)
    return used


def energy_floor_pj(run, hw: Hardware) -> float:
    """What any controller must spend: every SOP's active columns (an addition of v_bits per
    lane), and every weight kept outside the arrays that an event uses, loaded once."""
    prices = Prices.from_hw(hw)
    total = 0.0
    for k, lp in enumerate(run.program.layers):
        sops = float(run.counts.data[:, :, k, :, :, 12].sum()) / run.counts.n_samples
        total += sops * lp.v_bits * prices.active_col_pj
        used = taps_used(lp, run.event_maps[k])                     # [c_in, taps]
        if lp.ws:      # spilled weight groups (c_in, tap block, cg) that an event reaches
            n_taps = used.shape[1]
            blocks = np.stack([used[:, b:b + lp.pack].any(axis=1)
                               for b in range(0, n_taps, lp.pack)], axis=1)
            shape = (lp.geo.in_channels, blocks.shape[1], -1)
            bits = (lp.stat_bits * (lp.stat_macro < 0)).reshape(shape) * blocks[:, :, None]
            buf = lp.stat_buffered.reshape(shape)
        else:          # streamed weight groups (c_in, tap, cg) that an event reaches
            shape = (lp.geo.in_channels, used.shape[1], -1)
            bits = lp.mem_bits.reshape(shape) * used[:, :, None]
            buf = lp.mem_buffered.reshape(shape)
        once = float((bits * (buf * prices.buffer_bit_pj + (1 - buf) * prices.dram_bit_pj)).sum())
        total += once / run.counts.n_samples
    return total


@settings(max_examples=300 if THOROUGH else 40, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(case=physics_cases())
def test_energy_never_falls_below_what_must_happen(case) -> None:
    net, x, policy, rules, rows, cols, n, buffer = case
    hw = with_controller(hw_with(n, rows, cols, buffer_kib=buffer), **rules)
    run = _run(net, x, policy, hw)
    assume(run is not None)
    cost = system_cost(run.counts, hw)
    per_sample = cost.total_energy_pj / run.counts.n_samples
    assert per_sample >= energy_floor_pj(run, hw) * (1 - 1e-9)


@settings(max_examples=200 if THOROUGH else 30, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(case=physics_cases())
def test_a_larger_scratch_pool_never_moves_more_dram_bits(case) -> None:
    """One mapping, the same events, one scratch slot of each kind per macro or three: the pools
    are least-recently-used caches over the whole chip (a slice that another macro needs moves
    there over the bus), so a larger pool never loads more from DRAM (LRU inclusion), and only
    slices that change macro cross the bus."""
    net, x, policy, rules, rows, cols, n, buffer = case
    hw3 = with_controller(hw_with(n, rows, cols, buffer_kib=buffer), **{**rules,
                                                                       "scratch_slices": 3})
    trace = record(net, x)
    try:
        m = compile_network(net, hw3, policy=policy, activity=measured_activity(net, trace))
    except MappingError:
        assume(False)
    one = run_system(net, m, with_controller(hw3, scratch_slices=1), trace)
    three = run_system(net, m, hw3, trace)
    assert dram_bits(three) <= dram_bits(one) + 1e-9
    if n == 1:
        assert one.counts.total("transfer_bits") == three.counts.total("transfer_bits") == 0
