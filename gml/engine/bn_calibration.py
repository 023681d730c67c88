"""Recalibrating BatchNorm statistics for the active subnet of a supernet.

Running statistics gathered while many subnets train are not the statistics
of any one of them, so every subnet is recalibrated at its own widths and
resolution before it is evaluated or scored.
"""
from typing import Iterable

import torch
import torch.distributed as dist
import torch.nn as nn

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def batchnorms(model: nn.Module):
    return [m for m in model.modules() if isinstance(m, BN_TYPES)]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable,
                   num_iters: int = -1, sync: bool = True,
                   forward=None) -> int:
    """Reset every BN's statistics and re-estimate them on ``batches``.

    Uses the cumulative average (``momentum=None``): after one batch the
    running mean is that batch's mean and the running variance its unbiased
    variance; after several, the average of the per-batch values. Only the
    channels a slice BN runs with are touched. ``num_iters=-1`` uses every
    batch. With ``sync`` and several processes, the statistics are averaged
    over processes. ``forward(model, batch)`` runs one batch (default
    ``model(batch)``). Returns the number of batches used.
    """
    layers = batchnorms(model)
    momenta = [(bn, bn.momentum) for bn in layers]
    modes = [(module, module.training) for module in model.modules()]
    # BN accumulates statistics in training mode only; everything else runs
    # as in evaluation, so dropout and drop-path do not bias the statistics.
    model.eval()
    for bn in layers:
        bn.train()
        bn.reset_running_stats()
        bn.momentum = None
    used = 0
    try:
        for batch in batches:
            if 0 <= num_iters <= used:
                break
            if forward is None:
                model(batch)
            else:
                forward(model, batch)
            used += 1
    finally:
        for bn, momentum in momenta:
            bn.momentum = momentum
        for module, training in modes:
            module.training = training
    if sync and dist.is_available() and dist.is_initialized() and \
            dist.get_world_size() > 1:
        world = dist.get_world_size()
        for bn in layers:
            for stat in (bn.running_mean, bn.running_var):
                dist.all_reduce(stat)
                stat.div_(world)
    return used
