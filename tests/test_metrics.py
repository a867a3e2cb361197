"""NeuroBench metrics: ours (from the integer network and the simulation) against NeuroBench's
own metric code on the same model (an snnTorch copy of the integer network) and inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, SpikeMaxPool
from flexspim.sim import simulate
from flexspim.sim.metrics import layer_event_maps, neurobench_metrics


def small_net(rng: np.random.Generator) -> IntNetwork:
    common = dict(w_bits=4, v_bits=12, reset="zero")
    return IntNetwork((2, 8, 8), (
        Conv2d("c1", rng.integers(-2, 3, size=(4, 2, 3, 3)), threshold=2, padding=(1, 1),
               **common),
        SpikeMaxPool("p1", (2, 2)),
        Conv2d("c2", rng.integers(-2, 3, size=(4, 4, 3, 3)), threshold=2, stride=(2, 2),
               **common),
        Flatten("flat"),
        Linear("fc", rng.integers(-2, 3, size=(3, 4)), threshold=1, **common),
    ), name="nb")


def snntorch_copy(net: IntNetwork) -> torch.nn.Sequential:
    """The same network in snnTorch: IF (beta = 1), zero reset, thresholds theta - 0.5."""
    snn = pytest.importorskip("snntorch")
    mods: list[torch.nn.Module] = []
    for layer, (_, out) in zip(net.layers, net.shapes, strict=True):
        if isinstance(layer, Conv2d):
            m = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                stride=layer.stride, padding=layer.padding, bias=False)
        elif isinstance(layer, Linear):
            m = torch.nn.Linear(layer.weight.shape[1], layer.weight.shape[0], bias=False)
        elif isinstance(layer, SpikeMaxPool):
            mods.append(torch.nn.MaxPool2d(layer.kernel))
            continue
        else:
            mods.append(torch.nn.Flatten())
            continue
        m.weight.data = torch.tensor(layer.weight, dtype=torch.float32)
        mods += [m, snn.Leaky(beta=torch.ones(out), threshold=torch.full(out, layer.threshold
                                                                         - 0.5),
                              init_hidden=True, reset_mechanism="zero",
                              output=layer is net.layers[-1])]
    return torch.nn.Sequential(*mods)


def test_metrics_agree_with_neurobench() -> None:
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import SNNTorchModel

    rng = np.random.default_rng(0)
    net = small_net(rng)
    x = (rng.random((7, 5, 2, 8, 8)) < 0.35).astype(np.int64)  # [T, N, C, H, W]
    result = simulate(net, x)
    ours = neurobench_metrics(net, result, layer_event_maps(net, x))

    model = SNNTorchModel(snntorch_copy(net))
    model.register_hooks()
    data = (torch.tensor(np.moveaxis(x, 0, 1), dtype=torch.float32), torch.zeros(5))
    with torch.no_grad():
        preds = model(data[0])
    assert np.array_equal(preds.sum(axis=1).numpy().astype(np.int64), result.output_counts)
    synops = SynapticOperations()(model, preds, data)
    assert ours["effective_acs"] == pytest.approx(synops["Effective_ACs"], rel=1e-12)
    assert ours["dense_ops"] == pytest.approx(synops["Dense"], rel=1e-12)
    assert ours["activation_sparsity"] == pytest.approx(ActivationSparsity()(model, preds, data),
                                                        rel=1e-12)
    assert round(ours["connection_sparsity"], 4) == ConnectionSparsity()(model)
    synapses = torch.nn.Sequential(*[m for m in model.__net__()
                                     if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))])
    assert ours["footprint_bytes"] == Footprint()(SNNTorchModel(synapses))
    assert 0 < ours["activation_sparsity"] < 1 and ours["effective_acs"] < result.total_sops / 5
    deployed = sum(la.weight.size * 4 for la in net.spiking_layers) + sum(
        int(np.prod(out)) * 12 for la, (_, out) in zip(net.layers, net.shapes, strict=True)
        if la in net.spiking_layers)
    assert ours["footprint_bytes_deployed"] == deployed / 8


def test_metrics_without_event_maps_leave_effective_acs_out() -> None:
    net = small_net(np.random.default_rng(1))
    x = np.zeros((3, 2, 2, 8, 8), dtype=np.int64)
    m = neurobench_metrics(net, simulate(net, x))
    assert m["effective_acs"] is None and m["activation_sparsity"] == 1.0
    # c1: 8 x 8 outputs of 3 x 3 taps less the 4 * 8 * 3 - 4 in the padding ring (484 per
    # in/out channel pair); c2: one output (4 x 4 input, stride 2) of 3 x 3 taps; fc: 4 x 3
    assert m["dense_ops"] == 3 * (484 * 2 * 4 + 9 * 4 * 4 + 12)
