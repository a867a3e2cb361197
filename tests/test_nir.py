"""NIR interchange: lossless round trip of integer networks, snnTorch import, clear errors."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.cli import main
from flexspim.errors import FormatError, NetworkError
from flexspim.net import Conv2d, Flatten, IntNetwork, Leak, Linear, SpikeMaxPool, load_network
from flexspim.net.reference import run_reference
from flexspim.train import QuantSNN, import_nir, model_to_nir, network_from_nir, network_to_nir
from flexspim.train.arch import preset
from flexspim.train.nir_io import write_nir


def random_net(seed: int, w_bits: int, v_bits: int, reset: str,
               leaks: tuple[Leak | None, ...] = (None, None, None)) -> IntNetwork:
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1

    def w(*shape: int) -> np.ndarray:
        return rng.integers(lo, hi + 1, size=shape)

    top = (1 << (v_bits - 1)) - 1
    thr = [int(rng.integers(1, min(top, 40) + 1)) for _ in range(3)]
    common = dict(w_bits=w_bits, v_bits=v_bits, reset=reset)
    return IntNetwork((2, 8, 8), (
        Conv2d("c1", w(4, 2, 3, 3), threshold=thr[0], padding=(1, 1), leak=leaks[0], **common),
        SpikeMaxPool("p1", (2, 2)),
        Conv2d("c2", w(5, 4, 3, 3), threshold=thr[1], stride=(2, 2), padding=(1, 1),
               leak=leaks[1], **common),
        Flatten("flat"),
        Linear("fc", w(3, 20), threshold=thr[2], leak=leaks[2], **common),
    ), name="rt")


def same_network(a: IntNetwork, b: IntNetwork) -> None:
    assert a.input_shape == b.input_shape
    assert [type(x) for x in a.layers] == [type(x) for x in b.layers]
    for x, y in zip(a.spiking_layers, b.spiking_layers, strict=True):
        assert np.array_equal(x.weight, y.weight)
        assert (x.threshold, x.reset, x.w_bits, x.v_bits, x.leak) == (
            y.threshold, y.reset, y.w_bits, y.v_bits, y.leak)
        assert getattr(x, "stride", None) == getattr(y, "stride", None)
        assert getattr(x, "padding", None) == getattr(y, "padding", None)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), w_bits=st.integers(1, 8), extra=st.integers(0, 8),
       reset=st.sampled_from(["subtract", "zero"]))
def test_integer_network_round_trip_is_lossless(tmp_path_factory, seed: int, w_bits: int,
                                                extra: int, reset: str) -> None:
    net = random_net(seed, w_bits, max(2, w_bits + extra), reset)
    path = tmp_path_factory.mktemp("nir") / "net.nir"
    write_nir(network_to_nir(net), path)
    back, report = import_nir(path, w_bits=net.layers[0].w_bits, v_bits=net.layers[0].v_bits)
    same_network(net, back)
    assert [la.name for la in back.spiking_layers] == ["c1", "c2", "fc"]
    assert set(report.scales.values()) == {1.0} and report.notes == ()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), w_bits=st.integers(1, 8), extra=st.integers(0, 12),
       reset=st.sampled_from(["subtract", "zero"]), data=st.data())
def test_lif_network_round_trip_is_lossless(tmp_path_factory, seed: int, w_bits: int,
                                            extra: int, reset: str, data: st.DataObject) -> None:
    """Every shift leak (1 .. v_bits - 1), IF layers between: write -> read gives the same
    network, each LIF node's decay read exactly (no decay error), and the same spikes."""
    v_bits = max(2, w_bits + extra)
    shift = st.one_of(st.none(), st.builds(Leak, st.just("shift"), st.integers(1, v_bits - 1)))
    leaks = tuple(data.draw(shift) for _ in range(3))
    net = random_net(seed, w_bits, v_bits, reset, leaks)
    path = tmp_path_factory.mktemp("nir") / "lif.nir"
    write_nir(network_to_nir(net), path)
    back, report = import_nir(path, w_bits=w_bits, v_bits=v_bits)
    same_network(net, back)
    names = [la.name for la, leak in zip(net.spiking_layers, leaks, strict=True) if leak]
    assert report.decay_errors == dict.fromkeys(names, 0.0)
    x = (np.random.default_rng(seed).random((5, 3, 2, 8, 8)) < 0.4).astype(np.int64)
    assert np.array_equal(run_reference(back, x).output_counts,
                          run_reference(net, x).output_counts)


def test_lif_export_nodes_and_what_nir_cannot_hold() -> None:
    net = random_net(2, 4, 10, "subtract", (Leak("shift", 3), None, Leak("shift", 9)))
    g = network_to_nir(net)
    kinds = [type(g.nodes[a]).__name__ for a, _ in g.edges] + ["Output"]
    assert kinds == ["Input", "Conv2d", "LIF", "SumPool2d", "Threshold", "Conv2d", "IF",
                     "Flatten", "Linear", "LIF", "Output"]
    lif = g.nodes["c1_lif"]
    assert float(lif.tau.flat[0]) == 8 * 1e-4 and float(lif.r.flat[0]) == 8.0
    assert lif.metadata["leak_shift"] == 3 and lif.metadata["leak_rounding"] == "toward zero"
    const = random_net(2, 4, 10, "zero", (None, Leak("constant", 5), None))
    with pytest.raises(NetworkError, match=r"layer 'c2': a constant leak has no NIR node"):
        network_to_nir(const)


def lif_graph(tau: np.ndarray, v_leak: float = 0.0, r: float = 1.0) -> nir.NIRGraph:
    n = tau.size
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([4])),
                               "lin": nir.Linear(weight=np.arange(4 * n).reshape(n, 4) % 5 - 2.0),
                               "lif": nir.LIF(tau=tau, r=np.full(n, r), v_leak=np.full(n, v_leak),
                                              v_threshold=np.ones(n)),
                               "output": nir.Output(output_type=np.array([n]))},
                        edges=[("input", "lin"), ("lin", "lif"), ("lif", "output")])


def test_lif_import_refuses_what_has_no_integer_leak_with_the_nearest_model() -> None:
    with pytest.raises(NetworkError, match=r"'lif' \(LIF\): tau = 0.00015 s at dt = 0.0001 s "
                                           r"decays by 0.3333 per step, faster than the fastest "
                                           r"integer leak .* nearest representable: tau = "
                                           r"0.0002 s \(leak shift 1\)"):
        network_from_nir(lif_graph(np.full(3, 1.5e-4)))
    with pytest.raises(NetworkError, match=r"tau differs between neurons \(0.001 to 0.003 s\).*"
                                           r"one tau per layer, e.g. their median 0.002 s"):
        network_from_nir(lif_graph(np.array([1e-3, 2e-3, 3e-3])))
    with pytest.raises(NetworkError, match=r"tau = -0.001 s is not a time constant"):
        network_from_nir(lif_graph(np.full(3, -1e-3)))
    # the fastest decay that imports: tau = 2 dt, shift 1
    net, report = network_from_nir(lif_graph(np.full(3, 2e-4)))
    assert net.layers[0].leak == Leak("shift", 1) and report.decay_errors["lin"] == 0.0
    # decay 0.99999 with 16-bit membranes: no leak is nearer than shift 15
    net, report = network_from_nir(lif_graph(np.full(3, 10.0)), v_bits=16)
    assert net.layers[0].leak is None and report.decay_errors["lin"] == pytest.approx(1e-5, rel=1e-3)
    assert any("no leak (IF)" in n for n in report.notes)
    with pytest.raises(NetworkError, match="v_reset = 0.5 is not 0.*nearest representable"):
        g = lif_graph(np.full(3, 1e-3))
        g.nodes["lif"].v_reset = np.full(3, 0.5)
        network_from_nir(g)


def test_lif_resting_potential_becomes_a_bias() -> None:
    """v_leak pulls the membrane toward it by dt/tau * v_leak per step: held as a bias (an
    always-on input), so an input-free neuron still charges and fires."""
    net, report = network_from_nir(lif_graph(np.full(3, 2e-4), v_leak=8.0), w_bits=8,
                                   v_bits=16)
    assert net.always_on == 1 and any("v_leak" in n for n in report.notes)
    x = np.zeros((6, 1, 4), dtype=np.int64)
    assert run_reference(net, net.with_always_on(x)).output_counts.sum() > 0


@pytest.mark.parametrize("w_bits, v_bits", [(24, 24), (30, 40), (60, 64)])
def test_wide_integer_network_round_trip_is_lossless(tmp_path, w_bits: int, v_bits: int) -> None:
    """Weights and thresholds beyond float32 (2**24) and float64 (2**53) still come back exact."""
    rng = np.random.default_rng(w_bits)
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    weight = rng.integers(lo, hi, size=(3, 8), endpoint=True)
    weight[0, :2] = lo, hi  # the extremes of the range
    thr = (1 << (v_bits - 1)) - 3
    net = IntNetwork((8,), (Linear("fc", weight, w_bits=w_bits, v_bits=v_bits, threshold=thr,
                                   reset="subtract"),), name="wide")
    write_nir(network_to_nir(net), tmp_path / "w.nir")
    back, report = import_nir(tmp_path / "w.nir", w_bits=w_bits, v_bits=v_bits)
    same_network(net, back)
    assert report.scales == {"fc": 1.0}


def test_import_at_other_widths_rescales_and_notes_clipped_thresholds() -> None:
    net = random_net(5, 8, 16, "subtract")
    back, report = network_from_nir(network_to_nir(net), w_bits=4, v_bits=5)
    for layer, orig in zip(back.spiking_layers, net.spiking_layers, strict=True):
        assert np.abs(layer.weight).max() == 7 and report.scales[layer.name] > 1
        assert np.array_equal(np.sign(layer.weight[np.abs(orig.weight) > 16]),
                              np.sign(orig.weight[np.abs(orig.weight) > 16]))
    same, _ = network_from_nir(network_to_nir(net), w_bits=8, v_bits=16)
    same_network(net, same)
    big = IntNetwork((4,), (Linear("fc", np.array([[1, -1, 2, 0]]), w_bits=4, v_bits=16,
                                   threshold=1000, reset="zero"),))
    small, report = network_from_nir(network_to_nir(big), w_bits=4, v_bits=8)
    assert small.layers[0].threshold == 127 and any("clipped" in n for n in report.notes)


def test_flatten_that_keeps_dimensions_is_an_error() -> None:
    g = network_to_nir(random_net(1, 4, 8, "zero"))
    g.nodes["flat"] = nir.Flatten(input_type={"input": np.array([5, 2, 2])}, start_dim=1,
                                  end_dim=-1)
    with pytest.raises(NetworkError, match=r"'flat' \(Flatten\).*whole sample"):
        network_from_nir(g, w_bits=4, v_bits=8)
    # a leading batch dimension (torch's start_dim=1) flattens the whole sample
    g.nodes["flat"] = nir.Flatten(input_type={"input": np.array([1, 5, 2, 2])}, start_dim=1,
                                  end_dim=-1)
    net, _ = network_from_nir(g, w_bits=4, v_bits=8)
    assert net.shapes[-1] == ((20,), (3,))


def test_exported_graph_nodes() -> None:
    net = random_net(0, 4, 8, "zero")
    g = network_to_nir(net)
    kinds = [type(g.nodes[a]).__name__ for a, _ in g.edges] + ["Output"]
    assert kinds == ["Input", "Conv2d", "IF", "SumPool2d", "Threshold", "Conv2d", "IF",
                     "Flatten", "Linear", "IF", "Output"]
    assert float(g.nodes["c1_if"].v_threshold.flat[0]) == net.layers[0].threshold - 0.5
    assert g.nodes["c1_if"].metadata["reset"] == "zero"


def test_float_model_export_holds_float_weights() -> None:
    torch.manual_seed(0)
    model = QuantSNN(preset("digits", (2, 12, 12), 4), w_bits=6, v_bits=12)
    g = model_to_nir(model)
    assert np.allclose(g.nodes["conv1"].weight, model.weights["conv1"].detach().numpy())
    net, _ = network_from_nir(g, w_bits=6, v_bits=12)
    assert [la.name for la in net.layers] == [s.name for s in model.arch.layers]
    lif = QuantSNN(preset("digits", (2, 12, 12), 4), w_bits=6, v_bits=12,
                   leaks=Leak("shift", 4))
    g = model_to_nir(lif)
    assert type(g.nodes["conv1_lif"]).__name__ == "LIF"
    net, report = network_from_nir(g, w_bits=6, v_bits=12)
    assert {la.leak for la in net.spiking_layers} == {Leak("shift", 4)}


def snntorch_model(weights: list[np.ndarray], thresholds: list[float], beta: float,
                   reset: str) -> torch.nn.Sequential:
    snn = pytest.importorskip("snntorch")
    conv = torch.nn.Conv2d(2, 3, 3, padding=1, bias=False)
    fc = torch.nn.Linear(3 * 4 * 4, 4, bias=False)
    conv.weight.data = torch.tensor(weights[0], dtype=torch.float32)
    fc.weight.data = torch.tensor(weights[1], dtype=torch.float32)
    return torch.nn.Sequential(
        conv, snn.Leaky(beta=torch.full((3, 8, 8), beta), threshold=torch.full((3, 8, 8),
                        thresholds[0]), init_hidden=True, reset_mechanism=reset),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(), fc,
        snn.Leaky(beta=torch.full((4,), beta), threshold=torch.full((4,), thresholds[1]),
                  init_hidden=True, reset_mechanism=reset, output=True),
    )


def export_snntorch(model: torch.nn.Sequential) -> nir.NIRGraph:
    import nirtorch  # noqa: F401  (snnTorch's NIR export needs it; a dev dependency)
    from snntorch.export_nir import export_to_nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_to_nir(model, torch.zeros(1, 2, 8, 8), ignore_dims=[0])


def test_snntorch_export_imports_with_widths_and_folded_pooling() -> None:
    rng = np.random.default_rng(0)
    model = snntorch_model([rng.normal(size=(3, 2, 3, 3)), rng.normal(size=(4, 48))],
                           [1.0, 1.0], 1.0, "subtract")
    g = export_snntorch(model)
    net, report = network_from_nir(g, w_bits=4, v_bits=12)
    # AvgPool2d -> Flatten -> Linear: the pooling folds into the Linear (a 2x2 sum per weight)
    assert [type(la).__name__ for la in net.layers] == ["Conv2d", "Flatten", "Linear"]
    assert net.layers[2].weight.shape == (4, 3 * 8 * 8)
    for layer in net.spiking_layers:
        assert layer.w_bits == 4 and np.abs(layer.weight).max() == 7  # max|w| -> 2**3 - 1
        assert layer.reset == "zero"  # NIR semantics: reset to v_reset = 0
    assert any("sum-pooling" in note for note in report.notes)
    # a pooling node straight into a neuron is neither OR pooling nor a foldable linear map
    pool = next(k for k, v in g.nodes.items() if isinstance(v, nir.AvgPool2d))
    g.nodes[pool] = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]),
                                  padding=np.array([0, 0]))
    with pytest.raises(NetworkError, match=r"AvgPool2d\): stride \(1, 1\) differs from kernel"):
        network_from_nir(g, w_bits=4, v_bits=12)


def test_snntorch_integer_if_model_matches_reference_exactly() -> None:
    """beta = 1 (IF), integer weights, zero reset: snnTorch's own spikes = our integer network."""
    rng = np.random.default_rng(1)
    w1 = rng.integers(-3, 4, size=(3, 2, 3, 3)).astype(float)
    w2 = rng.integers(-3, 4, size=(4, 48)).astype(float)
    model = snntorch_model([w1, w2], [2.5, 1.5], 1.0, "zero")
    g = export_snntorch(model)  # the whole model: snnTorch traces it, shapes must fit
    # the NIR pooling node becomes the OR pooling pair flexspim uses (SumPool2d + Threshold) ...
    pool = next(k for k, v in g.nodes.items() if isinstance(v, nir.AvgPool2d))
    nxt = next(b for a, b in g.edges if a == pool)
    g.nodes[pool] = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                  padding=np.array([0, 0]))
    g.nodes["or"] = nir.Threshold(threshold=np.full((3, 4, 4), 0.5))
    g.edges = [e for e in g.edges if e != (pool, nxt)] + [(pool, "or"), ("or", nxt)]
    model[2] = torch.nn.MaxPool2d(2)  # ... and spike OR (max) pooling on the torch side
    net, report = network_from_nir(g, w_bits=8, v_bits=16)
    assert set(report.scales.values()) == {1.0}
    assert [la.threshold for la in net.spiking_layers] == [3, 2]
    x = (rng.random((6, 5, 2, 8, 8)) < 0.3).astype(np.int64)  # [T, N, C, H, W]
    ref = run_reference(net, x)
    from snntorch import utils

    utils.reset(model)
    with torch.no_grad():
        out = torch.stack([model(torch.tensor(x[t], dtype=torch.float32))[0]
                           for t in range(x.shape[0])])
    assert np.array_equal(out.numpy().astype(np.int64), ref.spikes[-1])


def test_unsupported_nodes_name_node_and_type() -> None:
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([4])),
                            "lin": nir.Linear(weight=np.ones((3, 4))),
                            "li": nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)),
                            "output": nir.Output(output_type=np.array([3]))},
                     edges=[("input", "lin"), ("lin", "li"), ("li", "output")])
    with pytest.raises(NetworkError, match=r"'li' \(LI\) is not supported"):
        network_from_nir(g)
    g2 = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([4])),
                             "aff": nir.Affine(weight=np.ones((3, 4)), bias=np.ones(3)),
                             "if": nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
                             "output": nir.Output(output_type=np.array([3]))},
                      edges=[("input", "aff"), ("aff", "if"), ("if", "output")])
    net, report = network_from_nir(g2)  # the bias is held by an always-on input
    assert net.always_on == 1 and net.input_shape == (5,)
    assert np.array_equal(net.layers[0].weight, np.ones((3, 5)))
    g2.nodes["if"] = nir.LIF(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                             v_threshold=np.ones(3))
    net, report = network_from_nir(g2)  # decay 0.99 per step: nearest shift 7 (0.9921875)
    assert net.layers[0].leak == Leak("shift", 7)
    assert report.decay_errors == {"aff": pytest.approx((1 - 2**-7 - 0.99) / 0.99)}


@pytest.fixture
def own_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    import flexspim.cli

    monkeypatch.setattr(flexspim.cli, "SUBCOMMAND_MODULES", ("flexspim.cli.import_nir",))


def test_cli_import(tmp_path, capsys: pytest.CaptureFixture[str], own_cli) -> None:
    net = random_net(3, 6, 14, "subtract")
    write_nir(network_to_nir(net), tmp_path / "m.nir")
    assert main(["import", str(tmp_path / "m.nir"), "--w-bits", "6", "--v-bits", "14",
                 "--out", str(tmp_path / "m.npz")]) == 0
    same_network(net, load_network(tmp_path / "m.npz"))
    (tmp_path / "bad.nir").write_bytes(b"garbage")
    capsys.readouterr()
    assert main(["import", str(tmp_path / "bad.nir"), "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.nir" in err[0] and "NIR" in err[0]
    with pytest.raises(FormatError, match="no such NIR file"):
        import_nir(tmp_path / "missing.nir")


@pytest.mark.parametrize("dt", ["0", "-1", "nan", "x"])
def test_cli_import_refuses_a_time_step_that_is_not_positive(tmp_path, dt: str,
                                                             capsys: pytest.CaptureFixture[str],
                                                             own_cli) -> None:
    write_nir(network_to_nir(random_net(3, 6, 14, "subtract")), tmp_path / "m.nir")
    with pytest.raises(SystemExit) as exc:
        main(["import", str(tmp_path / "m.nir"), "--dt", dt, "--out", str(tmp_path / "m.npz")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flexspim: error: argument --dt: {dt} is not a time step: give seconds > 0 "
                   f"(snnTorch's is 1e-4) (see 'flexspim import --help')"]
    assert not (tmp_path / "m.npz").exists()
    with pytest.raises(NetworkError, match="the time step must be a number of seconds > 0"):
        network_from_nir(network_to_nir(random_net(3, 6, 14, "subtract")), dt=float(dt)
                         if dt != "x" else 0.0)


def test_cli_import_keeps_an_existing_network(tmp_path, capsys: pytest.CaptureFixture[str],
                                              own_cli) -> None:
    write_nir(network_to_nir(random_net(3, 6, 14, "subtract")), tmp_path / "m.nir")
    (tmp_path / "m.npz").write_bytes(b"mine")
    argv = ["import", str(tmp_path / "m.nir"), "--out", str(tmp_path / "m.npz")]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"flexspim: error: --out {tmp_path / 'm.npz'}: already exists; add --overwrite to "
        f"replace it, or choose another --out"]
    assert (tmp_path / "m.npz").read_bytes() == b"mine"
    assert main([*argv, "--overwrite", "--no-progress"]) == 0
    load_network(tmp_path / "m.npz")
