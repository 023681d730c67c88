"""A classifier captured as a graph (a QAT graph, a converted int8 graph or
a loaded program) as an mmengine model the Runner trains and evaluates."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModel

from ..errors import ConfigError


def set_observers(graph, enabled: bool) -> None:
    """Let the fake-quantize steps update their ranges, or freeze them."""
    from torchao.quantization.pt2e import disable_observer, enable_observer
    graph.apply(enable_observer if enabled else disable_observer)


class GraphClassifier(BaseModel):
    """``logits = net(inputs)`` for a captured classifier; the original
    head turns logits into losses or predictions.

    The head stays outside the module tree: its layers already live in the
    graph. Observers update their ranges in training mode only.

    Args:
        net: the GraphModule.
        head: the classifier head (``_get_loss`` / ``_get_predictions``),
            or None for a model used in ``tensor`` mode only.
        input_shape: the (1, C, H, W) the graph was captured for (None:
            not checked).
        data_preprocessor: the model's preprocessor.
    """

    def __init__(self, net, head, input_shape: Optional[Sequence[int]],
                 data_preprocessor: Optional[torch.nn.Module] = None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.net = net
        self._head = (head, )  # not a submodule: no duplicate weights
        self.input_shape = tuple(input_shape) if input_shape else None
        self.observing = any('FakeQuant' in type(m).__name__
                             for m in net.modules())

    @property
    def head(self):
        return self._head[0]

    def init_weights(self) -> None:
        """The graph holds the captured model's weights: nothing to do."""

    def train(self, mode: bool = True) -> 'GraphClassifier':
        super().train(mode)  # the graph switches its BN and dropout
        if self.observing:
            set_observers(self.net, mode)
        return self

    def forward(self, inputs: torch.Tensor, data_samples=None,
                mode: str = 'tensor'):
        if self.input_shape is not None and \
                tuple(inputs.shape[1:]) != self.input_shape[1:]:
            raise ConfigError(
                'algorithm.quantizer.input_shape: the model was captured for '
                f'inputs of {tuple(self.input_shape[1:])} (C, H, W), the data'
                f' gives {tuple(inputs.shape[1:])}; set input_shape='
                f'{(1, ) + tuple(inputs.shape[1:])}')
        logits = self.net(inputs)
        if mode == 'tensor':
            return logits
        if self.head is None:
            raise ConfigError(f'algorithm.model: has no classification head, '
                              f'so the quantized model has no {mode!r} mode')
        if mode == 'loss':
            return self.head._get_loss(logits, data_samples)
        if mode == 'predict':
            return self.head._get_predictions(logits, data_samples)
        raise ConfigError(f"mode: expected 'tensor', 'loss' or 'predict', "
                          f'found {mode!r}')
