"""After int8 QAT: convert the trained model and save it as a program."""
import os

import torch

from ..errors import ConfigError
from ..utils.files import write_json
from .export import build_config_algorithm
from .program import WithPreprocessing, save_program


def load_quantized(config, checkpoint: str):
    """The config and the QAT algorithm of ``config`` with the trained
    weights and quantization ranges of ``checkpoint``."""
    from ..algorithms.quantization import QAT
    from ..models.quantizers import TorchDefaultQuantizer
    from ..utils.weights import read_state_dict
    cfg, algorithm = build_config_algorithm(
        config, 'an int8 QAT algorithm',
        lambda a: isinstance(a, QAT) and
        isinstance(a.quantizer, TorchDefaultQuantizer),
        'is not int8 QAT (gml.QAT with gml.TorchDefaultQuantizer)')
    try:
        algorithm.load_state_dict(read_state_dict(checkpoint))
    except RuntimeError as exc:
        raise ConfigError(f'{checkpoint}: does not fit {cfg.filename} '
                          f'({str(exc).splitlines()[0]} ...)') from None
    return cfg, algorithm.eval()


def int8_layers(graph) -> dict:
    """How many conv / linear calls of ``graph`` take int8 weights, and
    how many stay fp32."""
    aten = torch.ops.aten
    kinds = {aten.conv2d.default: 'conv', aten.linear.default: 'linear'}
    counts = {kind: {'conv': 0, 'linear': 0} for kind in ('int8', 'fp32')}
    for node in graph.graph.nodes:
        kind = kinds.get(node.target)
        if kind is None:
            continue
        weight = node.args[1]
        quantized = 'dequantize' in str(getattr(weight, 'target', ''))
        counts['int8' if quantized else 'fp32'][kind] += 1
    return counts


def export_quantized(config, checkpoint: str, out_dir: str) -> dict:
    """Convert the QAT model of ``checkpoint`` to int8 and write
    ``int8_model.pt2`` (a program with the preprocessing folded in, any
    batch size) and ``int8_model.json`` (what was quantized, the file
    size) to ``out_dir``; returns the summary."""
    from ..utils.progress import START_DELAY, progress_status
    with progress_status(f'loading the QAT model with {checkpoint}',
                         start_delay=START_DELAY):
        cfg, algorithm = load_quantized(config, checkpoint)
    quantizer = algorithm.quantizer
    with progress_status('converting the QAT model to int8'):
        int8 = algorithm.convert()
    path = os.path.join(out_dir, 'int8_model.pt2')
    with progress_status(f'exporting the int8 program to {path}'):
        save_program(WithPreprocessing(int8.net, algorithm.data_preprocessor),
                     quantizer.input_shape, path)
    summary = dict(program=path, bytes=os.path.getsize(path),
                   backend=quantizer.backend,
                   input_shape=list(quantizer.input_shape),
                   input_layer=quantizer.input_layer,
                   output_layer=quantizer.output_layer,
                   layers=int8_layers(int8.net),
                   exported_from=os.path.abspath(checkpoint))
    write_json(os.path.join(out_dir, 'int8_model.json'), summary)
    return summary
