"""The PyTorch integer reference against traces computed by hand (docs/design.md §3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flexspim.errors import FormatError, NetworkError
from flexspim.net import Conv2d, Flatten, IntNetwork, Leak, Linear, SpikeMaxPool
from flexspim.net.reference import leak_t, run_reference, wrap_t


def one_neuron(weight: int, *, threshold: int, v_bits: int = 8, reset: str = "subtract",
               init: int | None = None, leak: Leak | None = None) -> IntNetwork:
    """One input feature -> one IF (LIF with ``leak``) neuron of weight ``weight``."""
    fc = Linear(name="n", weight=np.array([[weight]]), w_bits=v_bits, v_bits=v_bits,
                threshold=threshold, reset=reset,
                initial_membrane=None if init is None else np.array([init]), leak=leak)
    return IntNetwork(input_shape=(1,), layers=(fc,))


def run_trace(net: IntNetwork, counts: list[int]) -> tuple[list[int], list[int], list[int]]:
    """(spikes, membranes after integration, overflow) per timestep for one sample."""
    x = np.array(counts, dtype=np.int64).reshape(-1, 1, 1)
    r = run_reference(net, x, return_membranes=True)
    assert r.membrane_trace is not None
    return (r.spikes[-1][:, 0, 0].tolist(), r.membrane_trace[0][:, 0, 0].tolist(),
            r.step_overflow[:, 0, 0].tolist())


def test_subtract_reset_trace() -> None:
    # w = 3, threshold 5: v = 3, 6 -> spike, 1; 4; 7 -> spike, 2; (no input) 2
    spikes, mem, over = run_trace(one_neuron(3, threshold=5), [1, 1, 1, 1, 0])
    assert mem == [3, 6, 4, 7, 2]
    assert spikes == [0, 1, 0, 1, 0]
    assert over == [0] * 5


def test_zero_reset_trace_and_counts() -> None:
    # w = 3, threshold 5, reset to zero; count 2 = two events in one bin
    spikes, mem, _ = run_trace(one_neuron(3, threshold=5, reset="zero"), [1, 1, 2, 0, 1])
    assert mem == [3, 6, 6, 0, 3]
    assert spikes == [0, 1, 1, 0, 0]


def test_wrap_trace_counts_overflow_once_per_neuron() -> None:
    # 4-bit membrane [-8, 7], w = 5, threshold 7 (never reached before the wrap)
    net = one_neuron(5, threshold=7, v_bits=4)
    spikes, mem, over = run_trace(net, [1, 1, 3])
    # 5; 10 wraps to -6 (overflow); -6 + 15 = 9 wraps to -7 (one neuron overflowed)
    assert mem == [5, -6, -7]
    assert over == [0, 1, 1]
    assert spikes == [0, 0, 0]
    r = run_reference(net, np.array([[[1]], [[1]], [[3]]]))
    assert r.sops[0, 0] == 5  # one SOP per event: counts 1 + 1 + 3


def test_initial_membrane_and_negative_wrap() -> None:
    spikes, mem, over = run_trace(one_neuron(-7, threshold=3, v_bits=4, init=-3), [1, 1])
    # -3 - 7 = -10 wraps to 6 (overflow) -> spike, reset to 3; 3 - 7 = -4 -> no spike
    assert mem == [6, -4]
    assert over == [1, 0]
    assert spikes == [1, 0]


def test_shift_leak_trace_before_integration_and_at_t0() -> None:
    # w = 20, threshold 50, shift 2 (v - trunc(v/4)), initial -9: the initial membrane is
    # leaked at t = 0 too, then each step leaks first and integrates after:
    # t0: -9 -> -7, +20 = 13; t1: 13 -> 10, +20 = 30; t2: 30 -> 23, +20 = 43;
    # t3: 43 -> 33, +20 = 53 -> spike, 53 - 50 = 3; t4: 3 -> 3 (|v| < 4 stays), no input = 3
    net = one_neuron(20, threshold=50, leak=Leak("shift", 2), init=-9)
    spikes, mem, over = run_trace(net, [1, 1, 1, 1, 0])
    assert mem == [13, 30, 43, 53, 3]
    assert spikes == [0, 0, 0, 1, 0]
    assert over == [0] * 5


def test_constant_leak_trace_and_zero_reset() -> None:
    # w = 6, threshold 10, constant 4, reset to zero:
    # t0: 0 -> 0, +6 = 6; t1: 6 -> 2, +6 = 8; t2: 8 -> 4, +6 = 10 -> spike, 0; t3: 0, +0 = 0;
    # t4: 0 -> 0, +12 (two events) = 12 -> spike
    net = one_neuron(6, threshold=10, reset="zero", leak=Leak("constant", 4))
    spikes, mem, _ = run_trace(net, [1, 1, 1, 0, 2])
    assert mem == [6, 8, 10, 0, 12]
    assert spikes == [0, 0, 1, 0, 1]
    # a negative membrane moves up by c and stops at 0
    spikes, mem, _ = run_trace(one_neuron(-7, threshold=10, leak=Leak("constant", 4)),
                               [1, 0, 0, 1])
    assert mem == [-7, -3, 0, -7]


def test_leak_acts_on_the_wrapped_membrane_and_does_not_overflow() -> None:
    # 4-bit membranes [-8, 7], w = 7, threshold 7 (never reached below), zero reset, shift 1,
    # initial -8 (the most negative value): t0: -8 -> -4 (-8 - trunc(-8/2)), +7 = 3;
    # t1: 3 -> 2, +7 = 9 wraps to -7 (the addition overflows, not the leak); t2: -7 -> -4
    net = one_neuron(7, threshold=7, v_bits=4, reset="zero", leak=Leak("shift", 1), init=-8)
    spikes, mem, over = run_trace(net, [1, 1, 0])
    assert mem == [3, -7, -4] and over == [0, 1, 0] and spikes == [0, 0, 0]
    # the largest shift (v_bits - 1) leaks only the most negative value
    net = one_neuron(0, threshold=7, v_bits=4, leak=Leak("shift", 3), init=-8)
    assert run_trace(net, [0, 0])[1] == [-7, -7]


def test_leak_t_matches_the_leak_of_the_layer() -> None:
    v = np.array([-(2**63), -(2**62) - 5, -17, -16, -1, 0, 1, 15, 2**62 + 5, 2**63 - 1],
                 dtype=np.int64)
    for leak in (Leak("shift", 1), Leak("shift", 4), Leak("shift", 63), Leak("constant", 1),
                 Leak("constant", 2**62)):
        want = [leak.apply(int(x)) for x in v]
        assert leak_t(torch.from_numpy(v), leak).tolist() == want
    assert leak_t(torch.from_numpy(v), None).tolist() == v.tolist()


def test_conv_sops_skip_padding_and_count_zero_weights() -> None:
    w = np.zeros((2, 1, 3, 3), dtype=np.int64)
    w[:, 0, 1, 1] = 1  # only the centre tap is nonzero; zero weights still count as SOPs
    conv = Conv2d(name="c", weight=w, w_bits=2, v_bits=4, threshold=1, padding=(1, 1))
    net = IntNetwork(input_shape=(1, 3, 3), layers=(conv,))
    x = np.zeros((1, 1, 1, 3, 3), dtype=np.int64)
    x[0, 0, 0, 0, 0] = 1  # corner: 4 outputs per channel exist, 5 taps fall into the padding
    r = run_reference(net, x)
    assert r.sops[0, 0] == 2 * 4
    assert r.spikes[0][0, 0, :, 0, 0].tolist() == [1, 1]
    assert r.output_counts[0].sum() == 2


def test_maxpool_ors_and_flatten_order() -> None:
    conv = Conv2d(name="c", weight=np.ones((1, 1, 1, 1), dtype=np.int64), w_bits=2, v_bits=4,
                  threshold=1)
    pool = SpikeMaxPool(name="p", kernel=2)
    fc = Linear(name="fc", weight=np.eye(4, dtype=np.int64), w_bits=2, v_bits=4, threshold=1)
    net = IntNetwork(input_shape=(1, 4, 4), layers=(conv, pool, Flatten(name="f"), fc))
    x = np.zeros((1, 1, 1, 4, 4), dtype=np.int64)
    x[0, 0, 0, 0, 0] = x[0, 0, 0, 0, 1] = x[0, 0, 0, 3, 2] = 1
    r = run_reference(net, x)
    assert r.spikes[1][0, 0, 0].tolist() == [[1, 0], [0, 1]]
    assert r.output_counts[0].tolist() == [1, 0, 0, 1]
    assert r.sops[0].tolist() == [3, 0, 0, 8]
    assert r.step_output_spikes[0, 0].tolist() == [3, 2, 2, 2]


def test_predictions_break_ties_by_lowest_index() -> None:
    fc = Linear(name="fc", weight=np.array([[0], [1], [1]]), w_bits=2, v_bits=4, threshold=1)
    r = run_reference(IntNetwork(input_shape=(1,), layers=(fc,)), np.ones((3, 2, 1), np.int64))
    assert r.output_counts.tolist() == [[0, 3, 3], [0, 3, 3]]
    assert r.predictions.tolist() == [1, 1]


def test_wrap_t_matches_net_wrap() -> None:
    from flexspim.net import wrap

    v = np.array([-(2**40), -129, -128, -1, 0, 127, 128, 255, 2**40 + 3], dtype=np.int64)
    for bits in (2, 8, 33, 63):
        assert wrap_t(torch.from_numpy(v), bits).tolist() == wrap(v, bits).tolist()


def test_input_validation() -> None:
    net = one_neuron(1, threshold=1)
    with pytest.raises(NetworkError, match="does not match"):
        run_reference(net, np.zeros((2, 1, 2), dtype=np.int64))
    with pytest.raises(FormatError, match="negative"):
        run_reference(net, -np.ones((2, 1, 1), dtype=np.int64))
    with pytest.raises(FormatError, match="not an integer"):
        run_reference(net, np.zeros((2, 1, 1)))
    with pytest.raises(FormatError, match="no timestep"):
        run_reference(net, np.zeros((0, 1, 1), dtype=np.int64))
    wide = Linear(name="w", weight=np.array([[2**61]]), w_bits=63, v_bits=63, threshold=1)
    with pytest.raises(NetworkError, match="2\\*\\*62"):
        run_reference(IntNetwork(input_shape=(1,), layers=(wide,)), np.ones((1, 1, 1), np.int64))
