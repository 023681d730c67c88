"""QAT: a model trained with fake-quantized weights and activations."""
from typing import Optional

import torch.nn as nn

from ...errors import ConfigError
from ...models.classifiers.head_fit import check_head_fits
from ...models.quantizers import ModelQuantizer
from ...registry import ALGORITHMS, MODELS, accepted_keywords
from ...utils.weights import load_weights
from ..base import BaseAlgorithm


@ALGORITHMS.register_module()
class QAT(BaseAlgorithm):
    """Quantization-aware training of ``model`` with ``quantizer``.

    The quantizer rewrites the model once, at build time, and training,
    validation and checkpoints then work as for the plain model (the
    quantizers' ranges, steps and clips are part of the state):

    - ``gml.TorchDefaultQuantizer``: int8 QAT on a captured graph of the
      model (torchao pt2e, x86 or XNNPACK backend); :meth:`convert` gives
      the real int8 model (``tools/export_quantized.py``).
    - ``gml.LowBitQuantizer``: every conv/linear layer (but the first and
      last) fake-quantizes its weight and input with a low-bit method.

    Args:
        model: the model to quantize (config, path or module).
        quantizer: the quantizer config, e.g.
            ``dict(type='gml.LowBitQuantizer', method='lsq', weight_bits=4,
            act_bits=4)``.
        pretrained: a checkpoint of the plain (fp32) model to start from,
            loaded before quantizing (QAT normally fine-tunes a trained
            model); wrapper prefixes are removed, mismatches are errors.
    """

    def __init__(self, model, quantizer: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor=None, init_cfg=None):
        super().__init__(model, data_preprocessor, init_cfg)
        self.pretrained = pretrained
        # a head that does not fit the backbone fails in one line, not
        # inside the graph capture (build_model checks what it builds)
        if isinstance(model, nn.Module):
            check_head_fits(self.model, 'algorithm.model')
        if pretrained is not None:  # fail at build on a bad file
            load_weights(self.model, pretrained, 'algorithm.pretrained')
        if not isinstance(quantizer, dict) or 'type' not in quantizer:
            raise ConfigError("algorithm.quantizer: expected a dict with a "
                              "'type' (e.g. gml.LowBitQuantizer), found "
                              f'{quantizer!r}')
        self._check_keys(quantizer)
        try:
            self.quantizer = MODELS.build(quantizer)
        except TypeError as exc:  # an argument the quantizer does not take
            raise ConfigError(f'algorithm.quantizer: {exc}') from None
        if not isinstance(self.quantizer, ModelQuantizer):
            raise ConfigError(
                'algorithm.quantizer: expected a model quantizer '
                '(gml.TorchDefaultQuantizer, gml.LowBitQuantizer), found '
                f'{type(self.quantizer).__name__}')
        prepared = self.quantizer.prepare(self.model)
        # a captured graph holds copies of the (pretrained) weights, which
        # the Runner's weight initialisation does not reach
        self._reload_pretrained = prepared is self.model
        self.model = prepared

    @staticmethod
    def _check_keys(quantizer: dict) -> None:
        """Every key of ``quantizer`` is an argument of its class: a key
        the class does not take (e.g. the int8 quantizer's
        ``input_layer`` given to ``LowBitQuantizer``) is one line naming
        it and the keys the class takes, never silently dropped."""
        cls = MODELS.get(quantizer['type']) \
            if isinstance(quantizer['type'], str) else quantizer['type']
        if not isinstance(cls, type):
            return  # MODELS.build reports an unknown type
        accepted = accepted_keywords(cls)
        if accepted is None:
            return
        for key, value in quantizer.items():
            if key not in ('type', '_scope_') and key not in accepted:
                raise ConfigError(
                    f'algorithm.quantizer.{key}: {cls.__name__} takes no '
                    f'such key; expected some of {accepted}, found '
                    f'{value!r}')

    def convert(self):
        """The deployable model of the trained fake-quantized one (the
        real int8 model with gml.TorchDefaultQuantizer)."""
        return self.quantizer.convert(self.model)

    def init_weights(self) -> None:
        """The Runner initialises weights after building: load
        ``pretrained`` again after that (the quantizers start from data)."""
        super().init_weights()
        if self.pretrained is not None and self._reload_pretrained:
            load_weights(self.model, self.pretrained, 'algorithm.pretrained',
                         ignore=('_quantizer.', ))
