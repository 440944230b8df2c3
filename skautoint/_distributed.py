"""Data-parallel training across processes with ``torch.distributed``.

Every process trains the same network on its own rows; after every backward pass the
gradients are averaged over the processes with one ``all_reduce``, so every process applies
the same update and the networks stay equal (what ``DistributedDataParallel`` does). The
averaging is done here rather than by the ``DistributedDataParallel`` wrapper because with
``embedding_update="touched"`` the embedding gradient lives on a per-step copy of the rows
the batches touched, which the wrapper does not see: the processes first agree on the union
of their batches' rows, and the gradient of that copy is averaged with the others.

The training code talks to a group object: :data:`LOCAL` (one process, every operation the
identity) or a :class:`ProcessGroup`, so the one-process path runs unchanged.
"""

import math
import os

import numpy as np
import torch
from torch import distributed as dist

__all__ = ["LOCAL", "LocalGroup", "ProcessGroup", "join_process_group", "wrap_order"]


class LocalGroup:
    """One process: every collective operation returns its input."""

    rank = 0
    world_size = 1

    def sum(self, tensor):
        """Sum of ``tensor`` over the processes (a new tensor when there are several)."""
        return tensor

    def max(self, number):
        """Largest ``number`` (an int or a float) over the processes."""
        return number

    def min(self, number):
        """Smallest ``number`` (an int or a float) over the processes."""
        return -self.max(-number)

    def total(self, number):
        """Sum of ``number`` (an int) over the processes."""
        return int(self.sum(torch.tensor(number, dtype=torch.int64)))

    def any(self, mask):
        """Elementwise OR of the boolean CPU tensor ``mask`` over the processes."""
        return mask

    def union(self, labels):
        """Sorted distinct labels seen by any process."""
        return labels

    def broadcast(self, obj):
        """Process 0's ``obj`` (picklable) in every process."""
        return obj

    def distinct_rows(self, index):
        """Distinct table rows of every process's batch and ``index``'s positions in them."""
        return torch.unique(index, return_inverse=True)

    def average(self, tensors):
        """Replace every tensor by its mean over the processes, in place."""

    def copy_parameters(self, module):
        """Give every process process 0's parameters and buffers, in place."""


LOCAL = LocalGroup()


class ProcessGroup(LocalGroup):
    """The default ``torch.distributed`` process group, as the training code uses it.

    Parameters
    ----------
    device : str
        Where the tensors passed to the collectives live.
    """

    def __init__(self, device):
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.device = device

    def sum(self, tensor):
        total = tensor.detach().to(self.device, copy=True)  # NCCL reduces GPU tensors only
        dist.all_reduce(total)
        return total.to(tensor.device)

    def max(self, number):
        dtype = torch.float64 if isinstance(number, float) else torch.int64
        value = torch.tensor([number], dtype=dtype, device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return value.item()

    def any(self, mask):
        return self.sum(mask.to(torch.int32)) > 0

    def union(self, labels):
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, labels)
        return np.unique(np.concatenate(gathered))

    def broadcast(self, obj):
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def distinct_rows(self, index):
        # batches have the same shape in every process (their row orders are equally long)
        gathered = [torch.empty_like(index) for _ in range(self.world_size)]
        dist.all_gather(gathered, index.contiguous())
        rows = torch.unique(torch.cat(gathered))
        return rows, torch.searchsorted(rows, index)

    def average(self, tensors):
        tensors = list(tensors)
        if not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        flat /= self.world_size
        for tensor, mean in zip(tensors, flat.split([t.numel() for t in tensors]),
                                strict=True):
            tensor.copy_(mean.view_as(tensor))

    def copy_parameters(self, module):
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)


def join_process_group(device):
    """The process group of a ``torchrun`` job, started here when the job has not yet.

    Parameters
    ----------
    device : {"cpu", "cuda"}
        The training device: CUDA takes the NCCL backend and the GPU ``LOCAL_RANK`` names,
        the CPU takes gloo.

    Returns
    -------
    group : ProcessGroup

    Raises
    ------
    RuntimeError
        When there is no process group to join: the script was not started by ``torchrun``
        (or another launcher that sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
        ``MASTER_PORT``) and ``torch.distributed.init_process_group`` was not called.
    """
    if not dist.is_available():
        raise RuntimeError("distributed=True needs a torch build with torch.distributed.")
    if not dist.is_initialized():
        launched = all(name in os.environ
                       for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))
        if not launched:
            raise RuntimeError(
                "distributed=True needs a torch.distributed process group: start the script "
                "with `torchrun --nproc-per-node N script.py` (every process runs the same "
                "script and calls fit on its own rows), or call "
                "torch.distributed.init_process_group() before fit."
            )
        if device == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return ProcessGroup(device)


def wrap_order(order, length):
    """``order`` repeated (and cut) to ``length`` entries: a process with fewer rows than
    another takes as many steps, starting its rows over."""
    if length <= len(order):
        return order
    return order.repeat(math.ceil(length / len(order)))[:length]
