"""Activating, recalibrating and evaluating one subnet of a supernet.

Shared by :class:`~gml.engine.hooks.DynamicDistEvalHook` (during training)
and :func:`gml.apis.search_subnet` (after it).
"""
from typing import Any, Dict, Iterable, Optional

import torch

from .bn_calibration import recalibrate_bn


def calibrate_subnet(algorithm, config: Any, batches: Iterable,
                     num_iters: int = -1, sync: bool = True) -> int:
    """Activate ``config`` on ``algorithm.model`` and recalibrate its BN on
    ``batches`` (raw dataloader batches). Returns the batches used. The
    algorithm's own ``set_subnet`` (pruners) is preferred to the model's
    (supernets)."""
    model = algorithm.model
    activate = getattr(algorithm, 'set_subnet', None) or model.set_subnet
    activate(config)

    def forward(_, batch):
        model.extract_feat(algorithm.data_preprocessor(batch, True)['inputs'])

    return recalibrate_bn(model, batches, num_iters, sync, forward=forward)


def evaluate_algorithm(algorithm, batches: Iterable, evaluator,
                       size: Optional[int] = None,
                       max_batches: Optional[int] = None) -> Dict[str, float]:
    """Run ``algorithm.val_step`` over ``batches`` into an mmengine
    ``evaluator``; return its metrics. ``size`` is the number of samples
    (counted when None or when ``max_batches`` stops early)."""
    was_training = algorithm.training
    algorithm.eval()
    seen = 0
    try:
        with torch.no_grad():
            for index, batch in enumerate(batches):
                if max_batches is not None and index >= max_batches:
                    size = None
                    break
                outputs = algorithm.val_step(batch)
                evaluator.process(data_samples=outputs, data_batch=batch)
                seen += len(outputs)
    finally:
        algorithm.train(was_training)
    return evaluator.evaluate(seen if size is None else size)


def calibration_loader(cfg, seed: int = 0):
    """The training loader of ``cfg`` with a fixed shuffling seed and no
    persistent workers: after ``set_random_seed(seed)`` every pass yields
    the same batches, so every subnet is calibrated on the same data."""
    from mmengine.runner import Runner
    loader_cfg = dict(cfg.train_dataloader)
    if loader_cfg.get('num_workers', 0):
        loader_cfg['persistent_workers'] = False
    return Runner.build_dataloader(loader_cfg, seed=seed)
