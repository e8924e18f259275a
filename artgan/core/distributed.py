"""Data-parallel training over several processes, as launched by ``torchrun``.

One process per device (``torchrun --nproc-per-node N -m artgan run ...``): NCCL on CUDA
(each rank on ``cuda:LOCAL_RANK``), gloo on the CPU. Every rank holds the whole model;
``--batch-size`` is the *global* batch, and each rank trains on its contiguous slice of
the same global batch order, so a run on N processes follows the same trajectory as a
single process with the same global batch (up to float rounding, and BatchNorm, below).

How gradients are synchronised, and why not ``DistributedDataParallel``
-----------------------------------------------------------------------
The trainer averages gradients itself: after each ``backward()`` and before the
optimiser step, the gradients of that optimiser's parameters are flattened into one
buffer, all-reduced (sum) and divided by the world size. Each rank's loss is the mean
over its shard, so the average of the ranks' gradients is exactly the gradient of the
mean over the global batch. DDP's reducer would do the same arithmetic, but it assumes
one forward then one backward per iteration, and a GAN step does not fit that: D runs
on reals, fakes and (WGAN-GP) interpolates before one backward, the G step calls D with
its parameters frozen, and gradient penalties use ``torch.autograd.grad``, which DDP
does not support. A manual all-reduce has none of these problems and needs no wrapped
modules, so checkpoints hold the plain modules' state dicts (loadable in one process,
and vice versa). What it gives up is DDP's overlap of communication with the backward
pass; for GAN-sized networks one flat all-reduce per update is cheap.

Random numbers
--------------
Every rank seeds the same generators, and the trainer keeps them in lock-step: the
latent vectors are drawn for the whole global batch on every rank and each rank keeps
its own rows. So ``z`` differs between ranks, is deterministic, and equals what a single
process draws for the same global batch; the checkpointed generator state (rank 0's) is
valid for every rank. Randomness drawn *inside* a training step (a gradient penalty's
interpolation weights, augmentations) comes from a per-rank stream seeded from
``(seed, step, rank)`` (:meth:`Distributed.step_rng`), so shards do not share it.

BatchNorm
---------
By default each rank normalises with its own shard's statistics (what DDP does), which
costs no communication. ``--sync-bn`` computes them over the global batch:
``torch.nn.SyncBatchNorm`` on CUDA, :class:`GlooSyncBatchNorm` elsewhere.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from typing import Any, Iterable

import torch
from torch import nn

from .device import DeviceError, resolve_device
from .errors import ConfigError

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched() -> bool:
    """True inside a process started by ``torchrun`` with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@dataclass
class Distributed:
    """This process's place in the job; a single process is ``Distributed()`` (rank 0 of 1).

    Every method is a cheap no-op in a single process, so the trainer calls them
    unconditionally.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    control_group: Any = None  # a gloo group for host-side messages (the stop flag)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that prints and writes files."""
        return self.rank == 0

    # -- data ---------------------------------------------------------------------------
    def check_batch_size(self, batch_size: int) -> None:
        """The global batch must split evenly over the ranks."""
        if batch_size % self.world_size:
            raise ConfigError(f"--batch-size {batch_size} is the global batch and must be "
                              f"divisible by the number of processes ({self.world_size})",
                              "--batch-size")

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global batch (along the first dimension)."""
        if not self.enabled:
            return batch
        size = batch.shape[0] // self.world_size
        return batch[self.rank * size:(self.rank + 1) * size]

    # -- collectives --------------------------------------------------------------------
    def average_gradients(self, params: Iterable[torch.Tensor]) -> None:
        """Replace each parameter's gradient by its mean over the ranks (one all-reduce)."""
        if not self.enabled:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch._utils._flatten_dense_tensors(grads)
        torch.distributed.all_reduce(flat)
        flat.div_(self.world_size)
        torch._foreach_copy_(grads, torch._utils._unflatten_dense_tensors(flat, grads))

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of ``tensor`` over the ranks."""
        if not self.enabled:
            return tensor
        tensor = tensor.clone()
        torch.distributed.all_reduce(tensor)
        return tensor.div_(self.world_size)

    def agree_stop(self, signum: int | None) -> int | None:
        """Whether any rank was asked to stop; every rank gets the same answer.

        Called after every step, so all ranks stop after the same step even when a
        signal reaches them at different times. It runs on the CPU (a gloo group), so it
        does not wait for the GPU.
        """
        if not self.enabled:
            return signum
        flag = torch.tensor([signum or 0], dtype=torch.int64)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX,
                                     group=self.control_group)
        return int(flag.item()) or None

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier(group=self.control_group)

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (a picklable object, e.g. the run folder)."""
        if not self.enabled:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0, group=self.control_group)
        return box[0]

    def broadcast_modules(self, *modules: nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank."""
        if not self.enabled:
            return
        with torch.no_grad():
            for module in modules:
                for tensor in module.state_dict().values():
                    torch.distributed.broadcast(tensor, src=0)

    @contextlib.contextmanager
    def step_rng(self, seed: int, step: int):
        """Inside: a random stream of this rank and step; outside: the shared stream."""
        if not self.enabled:
            yield
            return
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            torch.manual_seed(((seed * 1_000_003 + step) * 65_537 + self.rank) % 2**63)
            yield

    def close(self) -> None:
        """Tear the process group down (the CLI calls this when a run ends)."""
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _refuse_unshareable(device: torch.device, device_spec: str) -> None:
    if device.type not in ("cuda", "cpu"):
        raise DeviceError(f"--device {device_spec}: several processes need CUDA (NCCL) or "
                          f"the CPU (gloo), not {device.type}")


def check_launch(device_spec: str, nproc: int) -> None:
    """Refuse, before any process starts, a device that ``nproc`` processes cannot use:
    one CUDA device per process, or the CPU."""
    device = resolve_device(device_spec)
    _refuse_unshareable(device, device_spec)
    count = torch.cuda.device_count() if device.type == "cuda" else nproc
    if count < nproc:
        raise DeviceError(f"--nproc {nproc} needs one CUDA device per process but this "
                          f"machine has {count}: use --nproc {count} or fewer")


def setup(device_spec: str = "auto") -> Distributed:
    """Read torchrun's environment and join the process group; a single process otherwise.

    Under ``torchrun`` a CUDA device becomes ``cuda:LOCAL_RANK`` with NCCL; the CPU uses
    gloo. Idempotent: an existing process group is reused.
    """
    device = resolve_device(device_spec)
    if not launched():
        return Distributed(device=device)
    if not torch.distributed.is_available():
        raise DeviceError("this PyTorch build has no torch.distributed; run one process")
    rank, world, local = (int(os.environ[v]) for v in ENV_VARS)
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise DeviceError(f"rank {rank} needs cuda:{local} but this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s); use "
                              f"--nproc-per-node {torch.cuda.device_count()} or fewer")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        _refuse_unshareable(device, device_spec)
        backend = "gloo"
    if not torch.distributed.is_initialized():
        kwargs = {"device_id": device} if backend == "nccl" else {}
        torch.distributed.init_process_group(backend, timeout=datetime.timedelta(minutes=10),
                                             **kwargs)
    control = torch.distributed.new_group(backend="gloo") if backend == "nccl" else None
    return Distributed(rank=rank, world_size=world, local_rank=local, device=device,
                       control_group=control)


# -- synchronised BatchNorm -------------------------------------------------------------
class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks, differentiable: the gradient of a sum is the sum of gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        torch.distributed.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        torch.distributed.all_reduce(grad)
        return grad


class GlooSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm with statistics over the global batch, for any device and backend.

    ``torch.nn.SyncBatchNorm`` only runs on GPUs; this one all-reduces the per-channel
    sums with a differentiable all-reduce, so autograd computes the exact gradient of
    global-batch normalisation. Same parameters and buffers as ``BatchNorm2d``.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {input.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and torch.distributed.is_initialized()
                and torch.distributed.get_world_size() > 1):
            return super().forward(x)
        dims = [d for d in range(x.dim()) if d != 1]
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        count = torch.tensor([x.numel() / x.shape[1]], device=x.device)
        # one all-reduce of [sum x, sum x^2, n] per channel
        stats = _AllReduceSum.apply(torch.cat([xf.sum(dims), xf.square().sum(dims), count]))
        c, n = x.shape[1], stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean.square()).clamp_min(0)  # biased, as BatchNorm uses
        self._update_running_stats(mean.detach(), var.detach(), n.item())
        out = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, n: float) -> None:
        if not self.track_running_stats:
            return
        self.num_batches_tracked.add_(1)
        momentum = self.momentum if self.momentum is not None else \
            1.0 / float(self.num_batches_tracked)
        unbiased = var * (n / max(n - 1, 1))
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm layer of ``module`` (in place) by a synchronised one.

    State-dict keys are unchanged, so checkpoints load with or without ``--sync-bn``.
    """
    cls = nn.SyncBatchNorm if device.type == "cuda" else GlooSyncBatchNorm
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and \
                not isinstance(child, (nn.SyncBatchNorm, GlooSyncBatchNorm)):
            new = cls(child.num_features, child.eps, child.momentum, child.affine,
                      child.track_running_stats).to(device)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            setattr(module, name, new)
        else:
            sync_batchnorm(child, device)
    return module
