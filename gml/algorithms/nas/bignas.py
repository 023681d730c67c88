"""BigNAS: train a weight-sharing supernet with the sandwich rule."""
import re
import warnings
from typing import Dict, List, Optional

import torch

from ...errors import ConfigError
from ...models.ops import check_drop_ratio
from ...registry import ALGORITHMS, MODELS
from ...space.supernet import Supernet, SupernetBackbone, require
from ..base import BaseAlgorithm
from ..sandwich import sandwich_step


def sandwich_kinds(strategy: str) -> List[str]:
    """``'sandwich4'`` (also the guide's ``'sandwish4'``) -> max, random,
    random, min: the largest subnet first (it teaches the others), then
    N - 2 random subnets, then the smallest."""
    match = re.fullmatch(r'sandwi(?:ch|sh)(\d+)', str(strategy))
    if match is None or int(match.group(1)) < 2:
        raise ConfigError(f'algorithm.strategy: expected sandwichN with '
                          f'N >= 2 (e.g. sandwich4), found {strategy!r}')
    return ['max'] + ['random'] * (int(match.group(1)) - 2) + ['min']


@ALGORITHMS.register_module()
class BigNAS(BaseAlgorithm):
    """One-shot supernet training (BigNAS / AttentiveNAS sandwich rule).

    Every batch trains the subnets of ``strategy`` in order: the largest
    (with ``drop_ratio`` dropout before the classifier and ``drop_path_ratio``
    drop-path in the backbone, on its labels), then random ones, then the
    smallest, each learning the largest subnet's detached softmax when the
    head's ``distiller_mode`` is ``'soft'`` (inplace distillation).
    Gradients of all subnets are accumulated and the optimizer steps
    **once** per batch (clipping, if the optim wrapper has ``clip_grad``,
    applies once to the sum).

    The algorithm owns both regularisers (BigNAS/AttentiveNAS: only the max
    subnet is regularised): the max subnet trains with ``drop_ratio``
    dropout and ``drop_path_ratio`` drop-path (each backbone block at that
    ratio times its share, see the backbone), every other subnet and
    everything outside the training step (BN recalibration, evaluation)
    without either. A backbone ``drop_path_ratio`` or head ``dropout``
    configured on the model must therefore be 0 or equal to the
    algorithm's; any other value is a ConfigError rather than a setting
    silently replaced.

    Args:
        model: a supernet classifier (``gml.ImageClassifierSearch``).
        mutator: samples subnets (default ``gml.StatelessMutator``).
        strategy: ``'sandwichN'`` (``'sandwish4'`` accepted).
        drop_ratio: dropout of the max subnet's classifier input.
        drop_path_ratio: drop-path of the max subnet's backbone.
    """

    syncs_own_gradients = True  # DeviceAwareDDP calls train_step as is

    def __init__(self, model, mutator: Optional[dict] = None,
                 strategy: str = 'sandwich4', drop_ratio: float = 0.0,
                 drop_path_ratio: float = 0.0, data_preprocessor=None,
                 init_cfg=None):
        super().__init__(model, data_preprocessor, init_cfg)
        self.kinds = sandwich_kinds(strategy)
        self.drop_ratio = check_drop_ratio(drop_ratio, 'algorithm.drop_ratio')
        self.drop_path_ratio = check_drop_ratio(drop_path_ratio,
                                                'algorithm.drop_path_ratio')
        require(self.model, Supernet, 'algorithm.model', 'a supernet',
                'use gml.ImageClassifierSearch with a slice backbone')
        require(getattr(self.model, 'backbone', None), SupernetBackbone,
                'algorithm.model.backbone', 'a slice backbone')
        self._check_regularisers()
        if getattr(self.model.backbone, 'bn_eval', False):
            warnings.warn(
                'model.backbone.bn_eval=True: every BN layer stays in eval '
                'mode, so the supernet trains on running statistics that '
                'never update (BN recalibration before evaluation does not '
                'change the training); leave bn_eval=False (the default) to '
                'train a supernet from scratch', UserWarning)
        self.mutator = MODELS.build(mutator or
                                    dict(type='gml.StatelessMutator'))
        self.mutator.prepare(self.model)
        self._regularise(False)
        self.model.set_subnet(self.mutator.sample('max'))

    def _check_regularisers(self) -> None:
        """The model's own drop-path and dropout must agree with the
        algorithm's (0 or equal): the algorithm sets both."""
        rule = ('under BigNAS the algorithm sets it (its value for the max '
                'subnet, 0 for the others): set it on the algorithm and '
                'leave the model at 0')
        own = self.model.backbone.drop_path_ratio
        if own and own != self.drop_path_ratio:
            raise ConfigError(f'model.backbone.drop_path_ratio: {own:g} is '
                              f'not algorithm.drop_path_ratio '
                              f'({self.drop_path_ratio:g}); {rule}')
        dropout = self._dropout()
        if dropout is None:
            if self.drop_ratio:
                raise ConfigError(
                    f'algorithm.drop_ratio: the head '
                    f'{type(self.model.head).__name__} has no dropout to '
                    'set; use gml.LinearClsHeadV2')
        elif dropout.p and dropout.p != self.drop_ratio:
            raise ConfigError(f'model.head.dropout: {dropout.p:g} is not '
                              f'algorithm.drop_ratio ({self.drop_ratio:g}); '
                              f'{rule}')

    def _dropout(self) -> Optional[torch.nn.Dropout]:
        dropout = getattr(self.model.head, 'dropout', None)
        return dropout if isinstance(dropout, torch.nn.Dropout) else None

    def _regularise(self, enabled: bool) -> None:
        """Dropout and drop-path: on for the max subnet only."""
        dropout = self._dropout()
        if dropout is not None:
            dropout.p = self.drop_ratio if enabled else 0.0
        self.model.backbone.set_drop_path(
            self.drop_path_ratio if enabled else 0.0)

    def subnet_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of the active subnet."""
        return self.model.head(self.model.extract_feat(inputs))

    def train_step(self, data, optim_wrapper) -> Dict[str, torch.Tensor]:
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        head = self.model.head
        teacher = None

        def subnet_loss(index, kind):
            nonlocal teacher
            self.model.set_subnet(self.mutator.sample(kind))
            self._regularise(index == 0)
            logits = self.subnet_logits(inputs)
            if teacher is None:
                teacher = logits.detach()
                return head.hard_loss_of(logits, samples)
            if head.distiller_mode == 'soft':
                return head.soft_loss_of(logits, teacher)
            return head.hard_loss_of(logits, samples)

        try:
            log = sandwich_step(self, optim_wrapper, self.kinds, subnet_loss)
        finally:
            self._regularise(False)
            self.model.set_subnet(self.mutator.sample('max'))
        log['loss'] = sum(log.values())
        return log
