"""NIR from snnTorch, Sinabs, SpikingJelly and Norse: each framework's own export, written to a
file, imported, simulated; the framework's own output spikes equal ours, spike for spike.

Weights and biases are small integers, thresholds sit between integers and neurons reset to zero,
so the float model is exactly representable and every comparison is exact. (A subtract reset is
not: NIR fires on ``v > threshold`` and subtracts ``threshold``, the chip fires on ``v >= theta``
and subtracts ``theta``.) docs/nir.md lists what each framework exports and what imports.
"""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch

from flexspim.errors import NetworkError
from flexspim.net.reference import run_reference
from flexspim.sim import simulate
from flexspim.train import import_nir
from flexspim.train.nir_torch import fold_batchnorm

T, N = 6, 5


def int_params(module: torch.nn.Module, rng: np.random.Generator, bias: bool = True) -> None:
    """Small integer weights (and biases) so that the float model is exact."""
    module.weight.data = torch.tensor(rng.integers(-3, 4, size=module.weight.shape),
                                      dtype=torch.float32)
    if bias and module.bias is not None:
        module.bias.data = torch.tensor(rng.integers(-2, 3, size=module.bias.shape),
                                        dtype=torch.float32)


def spikes_in(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.random((T, N, *shape)) < 0.4).astype(np.int64)


def flexspim_output(path, x: np.ndarray, **kwargs) -> tuple[np.ndarray, object]:
    """Per-timestep output spikes [T, N, classes] of the imported network, and the network;
    the fast engine and the integer reference agree on the counts."""
    net, report = import_nir(path, **kwargs)
    ref = run_reference(net, net.with_always_on(x)).spikes[-1]
    res = simulate(net, x, engine="fast")
    assert np.array_equal(res.output_counts, ref.sum(axis=0).reshape(N, -1))
    return ref.reshape(T, N, -1), (net, report)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- snnTorch ------------------------------------------------------------------------------


def snntorch_default_model(rng: np.random.Generator) -> torch.nn.Sequential:
    """snnTorch defaults (bias=True) but: beta = 1 (IF) given per neuron (snnTorch 1.0's export
    fails on a scalar beta, in its own type inference), zero reset, threshold 1.5."""
    snn = pytest.importorskip("snntorch")
    conv, fc = torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Linear(4 * 4 * 4, 3)
    int_params(conv, rng)
    int_params(fc, rng)
    return torch.nn.Sequential(
        conv, snn.Leaky(beta=torch.ones(4, 8, 8), threshold=torch.full((4, 8, 8), 1.5),
                        init_hidden=True, reset_mechanism="zero"),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), fc,
        snn.Leaky(beta=torch.ones(3), threshold=torch.full((3,), 1.5), init_hidden=True,
                  reset_mechanism="zero", output=True))


def run_snntorch(model: torch.nn.Sequential, x: np.ndarray) -> np.ndarray:
    from snntorch import utils

    utils.reset(model)
    with torch.no_grad():
        return torch.stack([model(torch.tensor(x[t], dtype=torch.float32))[0]
                            for t in range(T)]).numpy().reshape(T, N, -1)


def test_snntorch_default_model_with_bias_and_avgpool_is_exact(tmp_path) -> None:
    from snntorch.export_nir import export_to_nir

    rng = np.random.default_rng(0)
    model = snntorch_default_model(rng)
    graph = quiet(export_to_nir, model, torch.zeros(1, 2, 8, 8), ignore_dims=[0])
    nir.write(tmp_path / "snntorch.nir", graph)
    x = spikes_in(rng, (2, 8, 8))
    ours, (net, report) = flexspim_output(tmp_path / "snntorch.nir", x)
    assert np.array_equal(ours, run_snntorch(model, x))
    assert net.always_on == 1 and set(report.scales.values()) == {1.0}
    assert any("sum-pooling convolution" in n for n in report.notes)
    assert ours.sum() > 0


def test_snntorch_batchnorm_folds_into_weights_and_bias(tmp_path) -> None:
    from snntorch.export_nir import export_to_nir

    rng = np.random.default_rng(1)
    model = snntorch_default_model(rng)
    bn = torch.nn.BatchNorm2d(4, eps=0.0).eval()  # scales 2, 1, 1, 3 and shifts -1, -1, 2, -1:
    bn.weight.data = torch.tensor([4.0, 1.0, 0.5, 3.0])  # integers, so that the fold is exact
    bn.bias.data = torch.tensor([1.0, -1.0, 0.0, 2.0])
    bn.running_mean = torch.tensor([1.0, 0.0, -2.0, 1.0])
    bn.running_var = torch.tensor([4.0, 1.0, 0.25, 1.0])
    model.insert(1, bn)
    x = spikes_in(rng, (2, 8, 8))
    expected = run_snntorch(model, x)
    with pytest.raises(NetworkError, match="BatchNorm2d.*fold_batchnorm"):
        fold_batchnorm(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.BatchNorm2d(3)))
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded)
    graph = quiet(export_to_nir, folded, torch.zeros(1, 2, 8, 8), ignore_dims=[0])
    nir.write(tmp_path / "bn.nir", graph)
    ours, _ = flexspim_output(tmp_path / "bn.nir", x, w_bits=8)
    assert np.array_equal(ours, expected)


def test_snntorch_leaky_neuron_is_refused_with_the_fix(tmp_path) -> None:
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.Leaky(beta=torch.full((3,), 0.9),
                                                                 threshold=torch.ones(3),
                                                                 init_hidden=True, output=True))
    nir.write(tmp_path / "lif.nir", quiet(export_to_nir, model, torch.zeros(1, 4),
                                             ignore_dims=[0]))
    with pytest.raises(NetworkError, match=r"lif.nir: NIR node '1' \(LIF\): leaky neuron.*"
                                           r"Leaky\(beta=1.0\)"):
        import_nir(tmp_path / "lif.nir")
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.Synaptic(
        alpha=torch.full((3,), 0.5), beta=torch.full((3,), 0.9), threshold=torch.ones(3),
        init_hidden=True, output=True))
    nir.write(tmp_path / "cuba.nir", quiet(export_to_nir, model, torch.zeros(1, 4),
                                              ignore_dims=[0]))
    with pytest.raises(NetworkError, match=r"\(CubaLIF\): current-based neuron"):
        import_nir(tmp_path / "cuba.nir")


# --- Sinabs --------------------------------------------------------------------------------


def test_sinabs_export_is_exact(tmp_path) -> None:
    import sinabs
    import sinabs.layers as sl
    from sinabs import to_nir
    from sinabs.activation import MembraneReset, SingleSpike

    rng = np.random.default_rng(2)
    conv, fc = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False), torch.nn.Linear(4 * 4 * 4, 3)
    int_params(conv, rng)
    int_params(fc, rng)

    def iaf() -> torch.nn.Module:  # one spike per step, no lower clip: the chip's IF neuron
        return sl.IAFSqueeze(batch_size=N, spike_threshold=torch.tensor(2.5),
                             spike_fn=SingleSpike, reset_fn=MembraneReset(), min_v_mem=None)

    model = torch.nn.Sequential(conv, iaf(), sl.SumPool2d(2), torch.nn.Flatten(), fc, iaf())
    graph = quiet(to_nir, model, torch.zeros(N, 2, 8, 8))
    with pytest.raises(TypeError):  # Sinabs leaves Conv2d.input_shape unset: nir cannot write it
        nir.write(tmp_path / "sinabs.nir", graph)
    graph.infer_types()  # ... until nir fills it in
    nir.write(tmp_path / "sinabs.nir", graph)
    x = spikes_in(rng, (2, 8, 8))
    sinabs.reset_states(model)  # the export ran the model once
    with torch.no_grad():  # Squeeze layers take [N * T, ...], sample-major
        flat = torch.tensor(np.moveaxis(x, 0, 1).reshape(N * T, 2, 8, 8), dtype=torch.float32)
        theirs = np.moveaxis(model(flat).numpy().reshape(N, T, -1), 0, 1)
    ours, (net, _) = flexspim_output(tmp_path / "sinabs.nir", x)
    assert np.array_equal(ours, theirs) and ours.sum() > 0
    assert net.always_on == 1  # the Linear bias


# --- SpikingJelly --------------------------------------------------------------------------


def test_spikingjelly_export_is_exact(tmp_path) -> None:
    from spikingjelly.activation_based import functional, layer, neuron, nir_exchange

    rng = np.random.default_rng(3)
    conv, fc = layer.Conv2d(2, 4, 3, padding=1), layer.Linear(4 * 4 * 4, 3)
    int_params(conv, rng)
    int_params(fc, rng)
    model = torch.nn.Sequential(conv, neuron.IFNode(v_threshold=1.6), layer.AvgPool2d(2),
                                layer.Flatten(), fc, neuron.IFNode(v_threshold=1.6))
    graph = quiet(nir_exchange.export_to_nir, model, torch.zeros(N, 2, 8, 8))
    nir.write(tmp_path / "sj.nir", graph)
    x = spikes_in(rng, (2, 8, 8))
    functional.reset_net(model)
    with torch.no_grad():
        theirs = torch.stack([model(torch.tensor(x[t], dtype=torch.float32))
                              for t in range(T)]).numpy().reshape(T, N, -1)
    ours, (net, report) = flexspim_output(tmp_path / "sj.nir", x)  # hard reset to 0
    assert np.array_equal(ours, theirs) and ours.sum() > 0
    assert net.always_on == 1 and all(la.reset == "zero" for la in net.spiking_layers)


# --- Norse ---------------------------------------------------------------------------------


def test_norse_export_is_exact(tmp_path) -> None:
    import norse.torch as norse

    rng = np.random.default_rng(4)
    fc1, fc2 = torch.nn.Linear(16, 8), torch.nn.Linear(8, 3)
    int_params(fc1, rng)
    int_params(fc2, rng)

    def iaf(n: int) -> torch.nn.Module:
        return norse.IAFCell(norse.IAFParameters(v_th=torch.full((n,), 1.5)))

    model = norse.SequentialState(fc1, iaf(8), fc2, iaf(3))
    graph = quiet(norse.to_nir, model, torch.zeros(1, 16))
    scalar = quiet(norse.to_nir, norse.SequentialState(fc1, norse.IAFCell()), torch.zeros(1, 16))
    with pytest.raises(TypeError):  # a scalar threshold gives scalar IF fields nir cannot write
        nir.write(tmp_path / "scalar.nir", scalar)
    nir.write(tmp_path / "norse.nir", graph)
    x = spikes_in(rng, (16,))
    with torch.no_grad():
        state, out = None, []
        for t in range(T):
            z, state = model(torch.tensor(x[t], dtype=torch.float32), state)
            out.append(z)
        theirs = torch.stack(out).numpy().reshape(T, N, -1)
    ours, (net, _) = flexspim_output(tmp_path / "norse.nir", x)
    assert np.array_equal(ours, theirs) and ours.sum() > 0
    assert net.always_on == 1


def test_norse_pooling_and_flatten_are_not_exported() -> None:
    """Norse 1.1 maps Flatten and AvgPool2d to no node: its graph cannot even be written."""
    import norse.torch as norse

    model = norse.SequentialState(torch.nn.Conv2d(2, 4, 3), norse.IAFCell(), torch.nn.Flatten(),
                                  torch.nn.Linear(144, 3), norse.IAFCell())
    graph = quiet(norse.to_nir, model, torch.zeros(1, 2, 8, 8))
    assert any(node is None for node in graph.nodes.values())
