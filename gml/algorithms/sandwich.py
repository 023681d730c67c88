"""One training step over several subnets of one model (the sandwich rule
of BigNAS and DMCP), with their gradients averaged over processes."""
from typing import Callable, Dict, Sequence

import torch
import torch.distributed as dist


def sync_gradients(parameters) -> None:
    """Average gradients over processes; a parameter a subnet did not use
    contributes zeros (so every process reduces the same tensors)."""
    if not (dist.is_available() and dist.is_initialized()) or \
            dist.get_world_size() == 1:
        return
    world = dist.get_world_size()
    for param in parameters:
        if not param.requires_grad:
            continue
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        dist.all_reduce(param.grad)
        param.grad.div_(world)


def sandwich_step(module: torch.nn.Module, optim_wrapper,
                  kinds: Sequence[str],
                  subnet_loss: Callable[[int, str], torch.Tensor]
                  ) -> Dict[str, torch.Tensor]:
    """For every ``kind`` in order, ``subnet_loss(index, kind)`` (which
    activates and runs that subnet) and its backward; then the gradients are
    averaged over processes and the optimizer takes **one** step. Returns
    the detached losses as ``loss_<index>_<kind>``."""
    losses: Dict[str, torch.Tensor] = {}
    with optim_wrapper.optim_context(module):
        for index, kind in enumerate(kinds):
            loss = subnet_loss(index, kind)
            optim_wrapper.backward(loss)
            losses[f'loss_{index}_{kind}'] = loss.detach()
    sync_gradients(module.parameters())
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    return losses
