"""Your own model: an snnTorch SNN for the offline digits data (2 x 20 x 20 ON/OFF frames),
with snnTorch's default layers (bias=True, threshold 1, subtract reset), exported to NIR.

    python examples/snntorch_to_nir.py out/own.nir

Train it first with your own loop (snnTorch's tutorials); as written it keeps its random
initialisation. Two things snnTorch 1.0 needs for the export (docs/nir.md): beta = 1 (an
integrate-and-fire neuron, the chip's; a leak is refused on import) given as a tensor of the
layer's shape (a scalar beta fails in snnTorch's own export), and ``ignore_dims=[0]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
import warnings

import nir
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir


def if_neurons(shape: tuple[int, ...], output: bool = False) -> snn.Leaky:
    """snnTorch's Leaky with beta = 1 (no leak) and its default threshold 1."""
    return snn.Leaky(beta=torch.ones(shape), threshold=torch.ones(shape), init_hidden=True,
                     output=output)


def main(path: str) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 8, 3, padding=1), if_neurons((8, 20, 20)),
        torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), if_neurons((16, 10, 10)),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 5 * 5, 10), if_neurons((10,), output=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(model, torch.zeros(1, 2, 20, 20), ignore_dims=[0])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, graph)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/own.nir")
