"""Data-parallel training over several processes (``torchrun``) with DistributedDataParallel.

``torchrun --nproc_per_node K -m flexspim train ...`` starts K processes and gives each its
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`from_env` reads them. The processes join one
process group (NCCL on GPUs, gloo on CPUs), each holds a full copy of the model, and DDP adds
their gradients after every backward pass.

What a step computes, whatever the number of processes W and of micro-batches K per process
(:func:`flexspim.train.loader.step_parts`): the step's batch of B samples, drawn exactly as one
process draws it, is cut into W x K contiguous parts; process r runs parts rK .. rK+K-1, one at a
time; each part's loss is its summed cross-entropy divided by B; gradients are added over the
parts of a process and then over the processes (:func:`sum_hook` replaces DDP's average by a
sum). So the gradient is the gradient of the batch's mean loss in every layout, and Adam takes
the same step. The layouts differ only in the order of float additions: one process with K = 2
and two processes with K = 1 give bit-identical networks (two processes add their two
gradients in one float addition, like the second micro-batch's backward pass does); one
process with K = 1 sums all B samples inside one backward pass and ends up within float32
rounding of them (tests/test_train_device.py checks both).

Only rank 0 writes checkpoints, metrics, the network and the summary; the others wait at the
end of each epoch for the evaluation's counts (:func:`all_sum`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flexspim._device import is_cuda
from flexspim.errors import ConfigError


@dataclass(frozen=True)
class DataParallel:
    """This process's place in a data-parallel run; the default is the only process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size or self.local_rank < 0:
            raise ConfigError(f"data-parallel rank {self.rank} of world size {self.world_size} "
                              f"(local rank {self.local_rank}) is out of range; start the "
                              f"processes with torchrun")

    @property
    def is_main(self) -> bool:
        """True for the process that writes files and shows progress (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """True when there is more than one process."""
        return self.world_size > 1


def from_env(environ: Mapping[str, str] | None = None) -> DataParallel:
    """The :class:`DataParallel` that torchrun's ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``
    describe (one process when they are not set)."""
    env = os.environ if environ is None else environ
    values = {}
    for key, default in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")):
        text = env.get(key, default)
        if not text.isdigit():
            raise ConfigError(f"environment variable {key}={text!r} is not a process number; "
                              f"start the processes with torchrun")
        values[key] = int(text)
    return DataParallel(rank=values["RANK"], world_size=values["WORLD_SIZE"],
                        local_rank=values["LOCAL_RANK"])


def start(dp: DataParallel, device: Any) -> None:
    """Join the process group of a data-parallel run (nothing for one process)."""
    if not dp.active:
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if is_cuda(device):
        torch.cuda.set_device(device)
    if not is_cuda(device) and not dist.is_gloo_available():
        raise ConfigError("data-parallel training on CPUs needs torch's gloo backend, which this "
                          "torch build lacks; train with one process")
    dist.init_process_group(backend="nccl" if is_cuda(device) else "gloo")


def stop(dp: DataParallel) -> None:
    """Leave the process group (nothing for one process)."""
    if dp.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def barrier(dp: DataParallel) -> None:
    """Wait for every process (nothing for one process)."""
    if dp.active:
        import torch.distributed as dist

        dist.barrier()


def all_sum(values: Sequence[float], dp: DataParallel, device: Any) -> list[float]:
    """Element-wise sums of ``values`` over all processes (float64; the values unchanged for one
    process). ``device``: this process's training device (NCCL reduces on the GPU)."""
    if not dp.active:
        return [float(v) for v in values]
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(v) for v in values], dtype=torch.float64,
                     device=device if is_cuda(device) else "cpu")
    dist.all_reduce(t)
    return [float(v) for v in t.cpu()]


def sum_hook(state, bucket):  # type: ignore[no-untyped-def]
    """DDP communication hook: all-reduce a gradient bucket by summing it (DDP's default divides
    by the world size; here each part's loss is already divided by the whole batch size).
    Unannotated: DDP checks the hook's annotations against its own types."""
    import torch.distributed as dist

    fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
    return fut.then(lambda f: f.value()[0])


def wrap(model: Any, dp: DataParallel, device: Any) -> Any:
    """``model`` wrapped in DistributedDataParallel with :func:`sum_hook` (the model itself for
    one process)."""
    if not dp.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ddp = DistributedDataParallel(model, device_ids=[device] if is_cuda(device) else None)
    ddp.register_comm_hook(None, sum_hook)
    return ddp
