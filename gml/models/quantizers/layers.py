"""Conv and linear layers that quantize their weight and input."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F


class _QuantizedOperands:
    """The input and weight after their quantizers (either may be None)."""

    def quantized_operands(self, x):
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        weight = self.weight_quantizer(self.weight) \
            if self.weight_quantizer is not None else self.weight
        return x, weight


class QuantConv2d(_QuantizedOperands, nn.Conv2d):
    """``conv(input_quantizer(x), weight_quantizer(w))``; the weights stay
    full precision (the quantizers run in every forward)."""

    def forward(self, x):
        return self._conv_forward(*self.quantized_operands(x), self.bias)


class QuantLinear(_QuantizedOperands, nn.Linear):
    """``linear(input_quantizer(x), weight_quantizer(w))``."""

    def forward(self, x):
        return F.linear(*self.quantized_operands(x), self.bias)


QUANT_TYPES = {nn.Conv2d: QuantConv2d, nn.Linear: QuantLinear}


def to_quantized(module: nn.Module, weight_quantizer: Optional[nn.Module],
                 input_quantizer: Optional[nn.Module]) -> nn.Module:
    """The same layer (same parameters, shared) as a quantizing one."""
    module.__class__ = QUANT_TYPES[type(module)]
    module.weight_quantizer = weight_quantizer
    module.input_quantizer = input_quantizer
    return module
