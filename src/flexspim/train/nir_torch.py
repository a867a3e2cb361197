"""Preparing a PyTorch SNN for NIR export to flexspim (docs/nir.md).

NIR has no batch-norm node, and none of snnTorch, Sinabs, SpikingJelly or Norse exports one. In
inference a batch-norm is a per-channel affine map, ``y = a * x + c`` with ``a = gamma /
sqrt(var + eps)`` and ``c = beta - a * mean``; after a convolution or linear layer it folds
exactly into that layer: weights ``a * W`` and bias ``a * b + c`` (and the bias is then held by an
always-on input, :mod:`flexspim.train.nir_bias`). :func:`fold_batchnorm` does this on a
``Sequential`` model before export.
"""

from __future__ import annotations

import copy
from typing import Any

from flexspim.errors import NetworkError

_BN_AFTER = {"BatchNorm2d": "Conv2d", "BatchNorm1d": "Linear"}


def fold_batchnorm(model: Any) -> Any:
    """A copy of the ``Sequential`` ``model`` with every BatchNorm1d/2d (in eval statistics)
    folded into the Linear/Conv2d right before it; a batch-norm anywhere else is an error
    naming it."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    if not isinstance(model, torch.nn.Sequential):
        raise NetworkError(f"fold_batchnorm: expected a torch.nn.Sequential, got "
                           f"{type(model).__name__}")
    mods = [copy.deepcopy(m) for m in model]
    out: list[torch.nn.Module] = []
    for i, m in enumerate(mods):
        kind = type(m).__name__
        if kind not in _BN_AFTER:
            out.append(m)
            continue
        prev = out[-1] if out else None
        synapse = _BN_AFTER[kind]
        if prev is None or not isinstance(prev, getattr(torch.nn, synapse)):
            raise NetworkError(f"module {i} ({kind}) does not follow a {synapse}; "
                               f"fold_batchnorm folds a batch-norm only into the {synapse} "
                               f"right before it")
        fuse = fuse_conv_bn_eval if synapse == "Conv2d" else fuse_linear_bn_eval
        out[-1] = fuse(prev.eval(), m.eval())
    return type(model)(*out)
