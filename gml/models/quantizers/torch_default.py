"""int8 quantization-aware training for CPU inference on torchao's pt2e."""
import warnings
from typing import Optional, Sequence

import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from .pt2e.backends import (backend_quantizer, check_qconfig,
                            import_torchao, resolve_backend)
from .pt2e.batchnorm import (bn_hyper_parameters, keep_bn_on_switch,
                             restore_bn)
from .pt2e.capture import capture, pass_failures
from .pt2e.convert import convert_to_int8
from .pt2e.speedups import fast_passes
from ..graph_classifier import GraphClassifier
from .model_quantizer import ModelQuantizer
from .pt2e.region import (bounded, check_module_name, fuse_groups,
                          region_filter, unfused_pairs)


@MODELS.register_module()
class TorchDefaultQuantizer(ModelQuantizer):
    """Quantization-aware training with PyTorch's int8 quantizers.

    The model is captured with ``torch.export`` (its batch size stays
    free), annotated by the backend's quantizer and prepared for QAT:
    conv+BN(+ReLU) and linear(+ReLU) run fused, weights are fake-quantized
    per output channel, activations where the backend quantizes them.
    After training, :meth:`convert` gives a real int8 model.

    Args:
        backend: ``'fbgemm'``, ``'x86'`` or ``'onednn'`` (x86 server CPUs,
            fast through ``torch.compile``), ``'qnnpack'`` (the design
            guide's ``'qnn'``) or ``'xnnpack'`` (mobile). Aliases give the
            same quantizer.
        input_layer: name of the first quantized module (default: the
            model's input); modules before it stay fp32.
        output_layer: name of the last quantized module (default: the
            output); QAT usually leaves the classifier fp32.
        fuse_config: ``{module: [[child, child, ...], ...]}``, layers that
            must run fused; checked against the model and the prepared
            graph (the backend fuses every conv-BN(-ReLU) and linear(-ReLU)
            it finds, listed or not).
        custom_qconfig: replaces the backend default: ``weight_bits``,
            ``act_bits`` (2..8 / 1..8), ``per_channel``,
            ``act_symmetric``, ``weight_symmetric`` (must stay True),
            ``averaging_constant`` of the range observers.
        input_shape: (1, C, H, W) of the training inputs.
    """

    def __init__(self, backend: str = 'fbgemm',
                 input_layer: Optional[str] = None,
                 output_layer: Optional[str] = None,
                 fuse_config: Optional[dict] = None,
                 custom_qconfig: Optional[dict] = None,
                 input_shape: Sequence[int] = (1, 3, 224, 224)):
        self.kind = resolve_backend(backend)
        self.backend = backend
        # validated whenever given; {} keeps the backend's own default
        options = (check_qconfig(custom_qconfig, self.kind)
                   if custom_qconfig is not None else None)
        self.options = options if custom_qconfig else None
        if not (isinstance(input_shape, (list, tuple)) and
                len(input_shape) == 4 and
                all(isinstance(v, int) and v > 0 for v in input_shape)):
            raise ConfigError('algorithm.quantizer.input_shape: expected '
                              f'(1, C, H, W), found {input_shape!r}')
        self.input_shape = tuple(input_shape)
        self.input_layer = input_layer
        self.output_layer = output_layer
        self.fuse_config = fuse_config
        import_torchao()
        self.bn_hyper = {}

    def prepare(self, model: nn.Module) -> GraphClassifier:
        """The fake-quantized graph of ``model`` (which is not changed),
        ready to train in the Runner, with ``model``'s head and data
        preprocessor."""
        from torchao.quantization.pt2e import allow_exported_model_train_eval
        from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e
        names = [name for name, _ in model.named_modules() if name]
        for key in ('input_layer', 'output_layer'):
            if getattr(self, key) is not None:
                check_module_name(getattr(self, key), names, key)
        groups = fuse_groups(self.fuse_config, names)
        self.bn_hyper = bn_hyper_parameters(model)
        graph = capture(model, self.input_shape)
        quantizer = backend_quantizer(self.kind, self.options)
        if self.input_layer or self.output_layer:
            quantizer = bounded(quantizer, region_filter(
                graph, self.input_layer, self.output_layer))
        with warnings.catch_warnings(), fast_passes(), \
                pass_failures('annotation'):
            warnings.filterwarnings('ignore', 'must run observer')
            graph = prepare_qat_pt2e(graph, quantizer)
        allow_exported_model_train_eval(graph)
        restore_bn(graph, self.bn_hyper)
        keep_bn_on_switch(graph, self.bn_hyper)
        problems = unfused_pairs(graph, groups)
        if problems:
            detail = '; '.join(f'{k}: {v}' for k, v in problems.items())
            raise ConfigError(f'algorithm.quantizer.fuse_config: backend '
                              f'{self.backend!r} cannot fuse {detail}')
        head = getattr(model, 'head', None)
        if head is not None and not hasattr(head, '_get_loss'):
            head = None
        return GraphClassifier(
            graph, head, self.input_shape,
            getattr(model, 'data_preprocessor', None))

    def convert(self, model: GraphClassifier) -> GraphClassifier:
        """The real int8 model (in eval mode) of a trained :meth:`prepare`
        result, which is kept as it is."""
        if not isinstance(model, GraphClassifier):
            raise ConfigError('TorchDefaultQuantizer.convert: expected the '
                              'model prepare() returned, found '
                              f'{type(model).__name__}')
        int8 = convert_to_int8(model.net, self.bn_hyper)
        return GraphClassifier(int8, model.head, model.input_shape,
                               model.data_preprocessor).eval()
