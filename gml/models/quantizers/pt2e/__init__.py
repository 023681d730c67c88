"""int8 quantization-aware training on PyTorch 2 export (torchao pt2e):
capture a model as a graph, annotate it with a backend's quantizer inside
a layer region, train the fake-quantized graph, convert it to int8."""
from .backends import BACKENDS, backend_quantizer, check_qconfig
from .capture import capture
from .convert import convert_to_int8

__all__ = ['BACKENDS', 'backend_quantizer', 'check_qconfig', 'capture',
           'convert_to_int8']
