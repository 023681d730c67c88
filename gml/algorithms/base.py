"""The algorithm every gml method builds on: a model wrapped by a BaseModel."""
from typing import Any, Optional, Union

import torch.nn as nn
from mmengine.model import BaseModel

from ..errors import ConfigError
from ..registry import ALGORITHMS, build_model


@ALGORITHMS.register_module()
class BaseAlgorithm(BaseModel):
    """Own a model (``algorithm.model``) and pass the steps through to it.

    Distillers, supernets, pruners and quantizers subclass this and change
    what a training step does; on its own it trains the model unchanged,
    which makes it the reference the other algorithms are measured against.

    Args:
        model: the model to wrap: a config dict, a config file path, or a
            module. mmengine models (``BaseModel``) work in every mode; a plain
            ``nn.Module`` only in ``mode='tensor'``.
        data_preprocessor: defaults to the wrapped model's own preprocessor,
            shared rather than copied.
        init_cfg: mmengine weight-initialisation config.
    """

    def __init__(self, model: Union[dict, str, nn.Module],
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
        model = build_model(model, 'algorithm.model')
        if data_preprocessor is None:
            data_preprocessor = getattr(model, 'data_preprocessor', None)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.model = model

    def forward(self, inputs: Any, data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Any:
        """Run the wrapped model in mmengine's ``tensor|loss|predict`` mode."""
        if isinstance(self.model, BaseModel):
            return self.model(inputs, data_samples, mode=mode)
        if mode == 'tensor':
            return self.model(inputs)
        raise ConfigError(
            f'algorithm.model: {type(self.model).__name__} is a plain '
            f'nn.Module, which has no {mode!r} mode; wrap it in an mmengine '
            'model (e.g. mmpretrain.ImageClassifier) to train or evaluate it')
