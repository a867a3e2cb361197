"""One interface for every engine (flexspim.sim.batches): the network engines and both modes
of the system engine are driven by the same loop, and batching never changes a result."""

from __future__ import annotations

import numpy as np
import pytest
from system_cases import conv_inputs, conv_net, hw_with

from flexspim.compile import build_program, compile_network
from flexspim.errors import ConfigError
from flexspim.sim import ENGINES, simulate
from flexspim.sim.batches import NetworkEngine, check_labels, run_batches
from flexspim.sim.common import merge_stats
from flexspim.system.engine import BitlevelSystemEngine, ReplayEngine, count_batch
from flexspim.system.trace import record_trace


class _Halves:
    """A minimal engine: what it was asked to run."""

    name = "halves"

    def run_batch(self, start: int, stop: int) -> tuple[int, int]:
        return start, stop


def test_the_loop_covers_every_sample_once_in_order() -> None:
    assert run_batches(_Halves(), 7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert run_batches(_Halves(), 0, 3) == []
    with pytest.raises(ConfigError, match="batch_size = 0 must be >= 1"):
        run_batches(_Halves(), 7, 0)


def test_labels_are_checked_once_for_every_engine() -> None:
    assert check_labels(None, 3) is None
    assert check_labels([1, 2, 3], 3).dtype == np.int64
    with pytest.raises(ConfigError, match="2 labels for 3 samples"):
        check_labels([1, 2], 3)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_network_engines_give_the_same_result_in_any_batches(engine: str) -> None:
    net, x = conv_net(), conv_inputs(n=5, t=3)
    eng = NetworkEngine(net, x, ENGINES[engine], name=engine)
    whole = merge_stats(run_batches(eng, 5, 5))
    split = merge_stats(run_batches(eng, 5, 2))
    assert np.array_equal(whole.output_counts, split.output_counts)
    assert np.array_equal(whole.step_sops, split.step_sops)
    assert np.array_equal(whole.output_counts, simulate(net, x, engine=engine).output_counts)


def test_both_system_modes_are_batch_engines_with_the_same_counts() -> None:
    net, x = conv_net(), conv_inputs(n=4, t=3)
    hw = hw_with(2, buffer_kib=0.5)
    m = compile_network(net, hw, policy="hs-min")
    prog = build_program(net, m, hw)
    trace = record_trace(net, x)
    fast = np.concatenate(run_batches(ReplayEngine(net, prog, hw, trace), 4, 3), axis=0)
    inputs, outputs = trace.take(0, 4)
    assert np.array_equal(fast, count_batch(net, prog, hw, inputs, outputs))
    bit = run_batches(BitlevelSystemEngine(net, prog, hw, x), 4, 3)
    assert np.array_equal(np.concatenate([b[1] for b in bit], axis=0), fast)
    assert np.array_equal(merge_stats([b[0] for b in bit]).output_counts,
                          trace.result.output_counts)
