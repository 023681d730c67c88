"""Exporting the model inside an algorithm as a plain checkpoint."""
import os

import torch

from ..errors import ConfigError

PREFIX = 'model.'


def export_wrapped_model(config: str, checkpoint: str, output: str) -> str:
    """Write ``{'state_dict': ..., 'meta': ...}`` of ``algorithm.model``.

    The keys are the wrapped model's own, so the plain model config loads
    the file with mmengine alone (``load_from`` or ``tools/test.py``).
    """
    from ..utils.config import load_config
    from ..utils.weights import read_state_dict
    cfg = load_config(config)
    if cfg.get('algorithm') is None:
        raise ConfigError(f'{config}: has no `algorithm`; its checkpoints are '
                          'plain already')
    state = read_state_dict(checkpoint)
    plain = {k[len(PREFIX):]: v for k, v in state.items()
             if k.startswith(PREFIX)}
    if not plain:
        raise ConfigError(f'{checkpoint}: no `model.` weights in it; is it a '
                          f'checkpoint of {config}?')
    folder = os.path.dirname(os.path.abspath(output))
    os.makedirs(folder, exist_ok=True)
    tmp = output + '.tmp'
    torch.save({'state_dict': plain,
                'meta': dict(exported_from=os.path.abspath(checkpoint),
                             algorithm=cfg.algorithm.get('type'))}, tmp)
    os.replace(tmp, output)
    return output
