"""Low-bit fake quantizers for weights and activations (QAT): DoReFa,
PACT, LSQ, LQ-Nets, XNOR / XNOR++. Each is an ``nn.Module`` mapping a
tensor to its quantized values in the same dtype, with the gradient its
method prescribes. ``LowBitQuantizer`` puts them into a model's layers;
``TorchDefaultQuantizer`` does int8 QAT with a real int8 export.

Two kinds of quantizer, two bases: a :class:`TensorQuantizer` fake-quantizes
one tensor (the method classes above); a :class:`ModelQuantizer`
(``LowBitQuantizer``, ``TorchDefaultQuantizer``) rewrites a whole model for
QAT (``prepare``) and after it (``convert``)."""
from .dorefa import DoReFaQuantizer
from .layers import QuantConv2d, QuantLinear
from .lowbit import LowBitQuantizer
from .lqnets import LQNetsQuantizer
from .lsq import LSQQuantizer
from .model_quantizer import ModelQuantizer
from .pact import PACTQuantizer
from .tensor_quantizer import TensorQuantizer, grad_scale, round_ste
from .torch_default import TorchDefaultQuantizer
from .xnor import XNORQuantizer

__all__ = ['ModelQuantizer', 'TensorQuantizer', 'grad_scale', 'round_ste',
           'DoReFaQuantizer', 'LQNetsQuantizer', 'LSQQuantizer',
           'PACTQuantizer', 'XNORQuantizer', 'LowBitQuantizer',
           'TorchDefaultQuantizer',
           'QuantConv2d', 'QuantLinear']
