"""Where torch work runs: ``--device auto|cpu|cuda[:N]``, and exact integer math on any device.

Three steps, one place:

- :func:`parse_device` checks the spelling of a device option (``auto``, ``cpu``, ``cuda``,
  ``cuda:N``) without importing torch, so a typo fails before any work starts;
- :func:`resolve_device` turns it into a ``torch.device``: ``auto`` is the first CUDA device
  when torch sees one, else the CPU; ``cuda`` without a CUDA device, or ``cuda:N`` past the
  last one, is a :class:`~flexspim.errors.ConfigError` (one line, exit code 2 in the CLI). Under
  ``torchrun`` (``LOCAL_RANK`` set) ``auto`` and ``cuda`` take the process's own GPU;
- :func:`exact_math` is the context in which integer-valued float arithmetic is exact on CUDA
  as it is on the CPU: cuDNN off (its FFT and Winograd convolutions round; without it PyTorch
  convolves by im2col and a cuBLAS GEMM, exact for integers below the float's exactness bound)
  and TF32 off for matrix products (``torch.backends.cuda.matmul.fp32_precision = "ieee"``;
  TF32's 10-bit mantissa would round integers above 2**11). :func:`training_math` sets
  deterministic cuDNN for the training steps. CUDA has no int64 matrix product; the
  exact int64 paths use :func:`flexspim.net.reference.int64_matmul` there.

torch is imported inside the functions: ``import flexspim`` stays free of it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

from flexspim.errors import ConfigError

#: The accepted spellings, for help texts and errors.
DEVICE_HELP = "auto (CUDA when present, else CPU), cpu, cuda or cuda:N"
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def parse_device(text: str) -> str:
    """Check a device option's spelling; returns it lower-cased (``cuda:0``, ``auto``, ...)."""
    value = str(text).strip().lower()
    m = _DEVICE_RE.match(value)
    if m is None or (m.group(2) is not None and m.group(1) != "cuda"):
        raise ConfigError(f"device {text!r}: use {DEVICE_HELP}")
    return value


def cuda_count() -> int:
    """CUDA devices torch can use (0 for a CPU build of torch or a machine without a GPU)."""
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def _local_rank() -> int | None:
    value = os.environ.get("LOCAL_RANK")
    return int(value) if value is not None and value.isdigit() else None


def resolve_device(spec: str | None = "auto", *, local_rank: int | None = None) -> Any:
    """The ``torch.device`` that ``spec`` names (None means ``auto``).

    ``local_rank`` (default: the ``LOCAL_RANK`` that torchrun sets) picks the GPU of a
    data-parallel process for ``auto`` and ``cuda``; ``cuda:N`` with several processes is an
    error (each process needs its own GPU).
    """
    import torch

    value = parse_device(spec if spec is not None else "auto")
    rank = _local_rank() if local_rank is None else local_rank
    n = cuda_count()
    if value == "cpu" or (value == "auto" and n == 0):
        return torch.device("cpu")
    if n == 0:
        why = ("this torch is built without CUDA" if torch.version.cuda is None
               else "torch sees no GPU")
        raise ConfigError(f"--device {value}: no CUDA device is available ({why}, torch "
                          f"{torch.__version__}); use --device cpu or --device auto")
    index = int(value.split(":")[1]) if ":" in value else (rank or 0)
    if ":" in value and rank is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(f"--device {value}: names one GPU, but torchrun starts one process per "
                          f"GPU; pass --device cuda (process k takes cuda:LOCAL_RANK)")
    if index >= n:
        raise ConfigError(f"--device cuda:{index}: this machine has {n} CUDA device(s), "
                          f"cuda:0 to cuda:{n - 1}")
    return torch.device("cuda", index)


def as_device(device: Any) -> Any:
    """A ``torch.device`` as it is; a device option (str or None) through
    :func:`resolve_device`."""
    import torch

    return device if isinstance(device, torch.device) else resolve_device(device)


def is_cuda(device: Any) -> bool:
    """True for a CUDA ``torch.device`` (or its name)."""
    return str(device).startswith("cuda")


@contextlib.contextmanager
def _settings(changes: list[tuple[Any, str, Any]]) -> Iterator[None]:
    """Set ``obj.attr = value`` for each change, and put the previous values back afterwards."""
    before = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in changes]
    try:
        for obj, attr, value in changes:
            setattr(obj, attr, value)
        yield
    finally:
        for obj, attr, value in reversed(before):
            setattr(obj, attr, value)


@contextlib.contextmanager
def exact_math(device: Any) -> Iterator[None]:
    """Integer-valued float arithmetic as exact on ``device`` as on the CPU (module docstring).

    A no-op on the CPU; on CUDA cuDNN is off and float32 matrix products use IEEE float32 (no
    TF32) for the duration; the previous settings come back afterwards.
    """
    if not is_cuda(device):
        yield
        return
    import torch

    with _settings([(torch.backends.cudnn, "enabled", False),
                    (torch.backends.cuda.matmul, "fp32_precision", "ieee")]):
        yield


@contextlib.contextmanager
def training_math(device: Any) -> Iterator[None]:
    """Settings of the training steps on ``device``: a no-op on the CPU; on CUDA deterministic
    cuDNN algorithms (no autotuning), so that ``--resume`` continues exactly, and IEEE float32
    convolutions and matrix products (no TF32), so that the integer-valued forward pass sees
    the integers the chip computes (weights and event counts below 2**11 would survive TF32;
    larger ones would not)."""
    if not is_cuda(device):
        yield
        return
    import torch

    with _settings([(torch.backends.cudnn, "deterministic", True),
                    (torch.backends.cudnn, "benchmark", False),
                    (torch.backends.cudnn.conv, "fp32_precision", "ieee"),
                    (torch.backends.cuda.matmul, "fp32_precision", "ieee")]):
        yield
