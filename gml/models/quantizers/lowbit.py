"""Turning a model's conv and linear layers into low-bit ones by method
keyword, as the low-bit toolbox's ``keyword`` does (``lsq``, ``pact``,
``dorefa``, ``lqnets``, ``xnor``)."""
import difflib
from typing import Dict, Optional, Sequence

import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from ...utils.checks import check_choice, check_int
from .dorefa import DoReFaQuantizer
from .layers import QUANT_TYPES, to_quantized
from .lqnets import LQNetsQuantizer
from .lsq import LSQQuantizer
from .model_quantizer import ModelQuantizer
from .pact import PACTQuantizer
from .tensor_quantizer import MAX_BITS
from .xnor import XNORQuantizer

METHODS = ('dorefa', 'pact', 'lsq', 'lqnets', 'xnor')
#: other names of the methods: the low-bit toolbox's keyword for LQ-Nets
METHOD_ALIASES = {'lq': 'lqnets'}
FULL_PRECISION = 32


def _weight_quantizer(method, bits, layer, cfg):
    channels = layer.weight.shape[0]
    if method in ('dorefa', 'pact'):  # PACT quantizes weights as DoReFa
        return DoReFaQuantizer(bits, 'weight')
    if method == 'lsq':
        return LSQQuantizer(bits, 'weight', per_channel=cfg['per_channel'],
                            channels=channels, grad_scale=cfg['grad_scale'])
    if method == 'lqnets':
        return LQNetsQuantizer(bits, 'weight')
    return XNORQuantizer(1, 'weight', gamma=cfg['gamma'], channels=channels)


def _input_quantizer(method, bits, cfg):
    if method == 'dorefa':
        return DoReFaQuantizer(bits, 'activation', clip=cfg['clip'])
    if method == 'pact':
        return PACTQuantizer(bits, init_clip=cfg['clip'])
    if method == 'lsq':
        return LSQQuantizer(bits, 'activation', grad_scale=cfg['grad_scale'])
    if method == 'lqnets':
        return LQNetsQuantizer(bits, 'activation')
    return XNORQuantizer(1, 'activation', gradient=cfg['gradient'])


@MODELS.register_module()
class LowBitQuantizer(ModelQuantizer):
    """Quantization-aware training with a low-bit method.

    Every ``nn.Conv2d`` / ``nn.Linear`` of the model becomes a layer that
    fake-quantizes its weight (per output channel where the method has a
    per-channel scale) and its input, except the first and the last such
    layer (``keep_first_last``) and ``skip_layers``.

    Args:
        method: ``'lsq'``, ``'pact'``, ``'dorefa'``, ``'lqnets'`` (also
            ``'lq'``, the low-bit toolbox's keyword; ``method`` then reads
            ``'lqnets'``) or ``'xnor'`` (``gamma=True``: XNOR++).
        weight_bits, act_bits: 1..8; ``act_bits=32`` keeps inputs full
            precision. ``xnor`` binarizes (weights 1 bit; inputs 1 bit or
            32).
        keep_first_last: leave the first and the last conv/linear layer (in
            module order) full precision.
        skip_layers: more layer names left full precision.
        per_channel, grad_scale: LSQ's per-channel weight steps and gradient
            scale (``'lsq'`` or ``'none'``).
        clip: DoReFa's activation clip, PACT's initial clip.
        gamma: XNOR++'s learnable scale.
        gradient: XNOR activations' gradient, ``'ste'`` or ``'triangle'``.
    """

    def __init__(self, method: str = 'lsq', weight_bits: int = 4,
                 act_bits: int = 4, keep_first_last: bool = True,
                 skip_layers: Sequence[str] = (), per_channel: bool = True,
                 grad_scale: str = 'lsq', clip: Optional[float] = None,
                 gamma: bool = False, gradient: str = 'ste'):
        check_choice(method, 'quantizer.method',
                     METHODS + tuple(METHOD_ALIASES))
        method = METHOD_ALIASES.get(method, method)
        check_int(weight_bits, 'quantizer.weight_bits', 1, MAX_BITS)
        if act_bits != FULL_PRECISION:
            check_int(act_bits, 'quantizer.act_bits', 1, MAX_BITS)
        if method == 'xnor':
            for key, bits in (('weight_bits', weight_bits),
                              ('act_bits', act_bits)):
                if bits not in (1, FULL_PRECISION) or \
                        (key == 'weight_bits' and bits != 1):
                    raise ConfigError(
                        f"quantizer.{key}: method 'xnor' binarizes (1"
                        f"{'' if key == 'weight_bits' else ' or 32'}), "
                        f'found {bits!r}')
        self.method = method
        self.weight_bits = weight_bits
        self.act_bits = act_bits
        self.keep_first_last = bool(keep_first_last)
        self.skip_layers = list(skip_layers)
        self.options = dict(
            per_channel=per_channel, grad_scale=grad_scale, gamma=gamma,
            gradient=gradient,
            clip=float(clip) if clip is not None else
            (8.0 if method == 'pact' else 1.0))
        # build one pair now: method-specific limits fail at build
        probe = nn.Conv2d(1, 1, 1)
        _weight_quantizer(method, weight_bits, probe, self.options)
        if act_bits != FULL_PRECISION:
            _input_quantizer(method, act_bits, self.options)

    def targets(self, model: nn.Module) -> Dict[str, nn.Module]:
        """The layers to quantize, by name."""
        layers = {name: m for name, m in model.named_modules()
                  if type(m) in QUANT_TYPES}
        for name in self.skip_layers:
            if name not in layers:
                close = difflib.get_close_matches(name, list(layers), n=3)
                hint = f'; close matches: {close}' if close else ''
                raise ConfigError(f'quantizer.skip_layers: {name!r} is not a '
                                  f'conv or linear layer of the model{hint}')
        names = list(layers)
        kept = set(self.skip_layers)
        if self.keep_first_last and names:
            kept |= {names[0], names[-1]}
        return {n: m for n, m in layers.items() if n not in kept}

    def prepare(self, model: nn.Module) -> nn.Module:
        """Quantize ``model``'s layers in place (their names go to
        ``quantized_layers``); returns ``model``."""
        targets = self.targets(model)
        if not targets:
            raise ConfigError('quantizer: the model has no conv or linear '
                              'layer left to quantize (check '
                              'keep_first_last and skip_layers)')
        for layer in targets.values():
            weight_q = _weight_quantizer(self.method, self.weight_bits,
                                         layer, self.options)
            input_q = None if self.act_bits == FULL_PRECISION else \
                _input_quantizer(self.method, self.act_bits, self.options)
            to_quantized(layer, weight_q, input_q)
        self.quantized_layers = list(targets)
        return model

    def convert(self, model: nn.Module) -> nn.Module:
        """Not available: the low-bit methods are simulated in fp32 and
        there are no low-bit kernels to convert to (ConfigError)."""
        raise ConfigError(
            'algorithm.quantizer: LowBitQuantizer simulates its bit width '
            'in fp32 and has no int8 conversion; use '
            'gml.TorchDefaultQuantizer for int8 models')
