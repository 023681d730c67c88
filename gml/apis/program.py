"""Deployable ``torch.export`` programs: images in, logits out.

A program folds the data preprocessor's channel flip and mean/std in, takes
images as the data pipeline yields them (float, 0-255, N x C x H x W, any
batch size) and runs with torch alone. Pruned models (``export_pruned``)
and int8 models (``export_quantized``) are saved this way;
``tools/test.py CONFIG model.pt2`` evaluates one on the config's test set.
"""
import copy
import os
import types
import zipfile
from typing import Sequence

import torch

from ..errors import ConfigError
from ..utils.files import atomic_path

MAX_BATCH = 65536


class WithPreprocessing(torch.nn.Module):
    """``logits = model(normalise(images))`` with the preprocessor's flip
    and mean/std."""

    def __init__(self, model, preprocessor):
        super().__init__()
        self.model = model
        self.flip = bool(getattr(preprocessor, 'to_rgb', False))
        normalise = getattr(preprocessor, '_enable_normalize', False)
        self.register_buffer('mean', preprocessor.mean.clone()
                             if normalise else torch.zeros(1, 1, 1))
        self.register_buffer('std', preprocessor.std.clone()
                             if normalise else torch.ones(1, 1, 1))

    def forward(self, images):
        if self.flip:
            images = images.flip(1)
        return self.model((images - self.mean) / self.std)


def save_program(module: torch.nn.Module, input_shape: Sequence[int],
                 path: str, min_batch: int = 1) -> str:
    """Export ``module`` for inputs of ``input_shape`` (any batch size from
    ``min_batch``) and save it to ``path`` (written whole or not at all)."""
    batch = torch.export.Dim('batch', min=min_batch, max=MAX_BATCH)
    # the example input is stored in the file: keep it small
    example = torch.zeros(max(2, min_batch), *input_shape[1:])
    with torch.no_grad():
        program = torch.export.export(module, (example, ),
                                      dynamic_shapes=({0: batch}, ))
    for node in program.graph.nodes:  # per-node Python stack traces
        node.meta.pop('stack_trace', None)
    with atomic_path(path) as tmp:
        torch.export.save(program, tmp)
    return path


def enable_int8_compilation() -> None:
    """Make ``torch.compile`` lower int8 programs to oneDNN int8 kernels:
    register torchao's x86 passes and freeze weights into constants."""
    import torch._inductor.config as inductor_config
    try:
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer  # noqa: F401,E501
    except ImportError:
        pass  # fp32 programs compile without it
    inductor_config.freezing = True


def load_program(path: str, compile: bool = False) -> torch.nn.Module:
    """The module of a saved program, always in inference mode;
    ``compile=True`` runs it through ``torch.compile`` (int8 programs only
    get int8 kernels that way)."""
    if not os.path.isfile(path):
        raise ConfigError(f'program not found: {path}')
    if not zipfile.is_zipfile(path):  # torch logs a traceback on these
        raise ConfigError(f'{path}: not a readable torch.export program '
                          '(not a .pt2 archive)')
    from ..models.quantizers.pt2e.backends import import_torchao
    import_torchao(required=False)  # int8 programs call torchao's ops
    try:
        module = torch.export.load(path).module()
    except Exception as exc:  # noqa: BLE001 -- any unreadable file
        raise ConfigError(f'{path}: not a readable torch.export program '
                          f'({type(exc).__name__}: {exc})') from None
    # an inference graph: train()/eval() (which the Runner calls) raise
    # on loaded programs, make them do nothing
    module.train = types.MethodType(lambda self, mode=True: self, module)
    if compile:
        enable_int8_compilation()
        module = torch.compile(module)
    return module


def raw_preprocessor(preprocessor):
    """A copy of ``preprocessor`` that batches images but leaves flip and
    normalisation to the program."""
    raw = copy.deepcopy(preprocessor)
    for flag in ('_enable_normalize', 'to_rgb', '_channel_conversion'):
        if hasattr(raw, flag):
            setattr(raw, flag, False)
    return raw


def program_classifier(cfg, path: str, compile: bool = False):
    """An mmengine model that evaluates the program at ``path`` with the
    head of ``cfg``'s model (for predictions) and its data pipeline."""
    from ..models.graph_classifier import GraphClassifier
    from ..registry import build_model
    model_cfg = (cfg.get('algorithm') or {}).get('model') or cfg.get('model')
    if model_cfg is None:
        raise ConfigError(f'{cfg.filename}: has no model to take the '
                          'classification head from')
    model = build_model(model_cfg)
    program = load_program(path, compile)
    return GraphClassifier(program, getattr(model, 'head', None), None,
                           raw_preprocessor(model.data_preprocessor))
