"""MESS from the command line: compress a trained model into a ``.mess``
file, and rebuild a plain checkpoint from one.

``compress`` builds the config's plain model, loads the checkpoint,
projects it (:func:`gml.models.mess.project`) and writes the file;
``decompress`` writes ``{'state_dict': ..., 'meta': ...}``, which
``tools/test.py CONFIG rebuilt.pth`` evaluates and ``load_from`` loads.
"""
import os
from typing import Dict, Optional

import torch

from ..errors import ConfigError
from ..utils.weights import write_checkpoint


def build_plain_model(config):
    """The Config of ``config`` (a path or a Config) and its plain model;
    MESS works on plain model configs (no ``algorithm``)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from ..registry import build_model
    from ..utils.config import load_config
    cfg = config if isinstance(config, Config) else load_config(config)
    if cfg.get('algorithm') is not None:
        raise ConfigError(f'{cfg.filename}: has an `algorithm`; MESS takes '
                          'the config of a plain model (export the model '
                          'inside the algorithm first)')
    if cfg.get('model') is None:
        raise ConfigError(f'{cfg.filename}: the config has no `model`')
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    return cfg, build_model(cfg.model)


def _saved_indices(checkpoint: str) -> Optional[Dict[str, torch.Tensor]]:
    """The indices a MESSHook saved in a checkpoint, if any."""
    ckpt = torch.load(checkpoint, map_location='cpu', weights_only=False)
    saved = ckpt.get('mess') if isinstance(ckpt, dict) else None
    if isinstance(saved, dict) and isinstance(saved.get('indices'), dict):
        return saved['indices']
    return None


def state_bytes(state: Dict[str, torch.Tensor]) -> int:
    """Bytes of the raw tensors of a state dict."""
    return sum(v.numel() * v.element_size() for v in state.values())


def compress(config, checkpoint: str, out: str, version: str = 'v2qq',
             qb: int = 8, qba: int = 8, qbb: int = 8, pointwise='auto',
             slice_size: int = 8, prefix: str = '--') -> dict:
    """Project the model of ``config`` with the weights of ``checkpoint``
    and write it to ``out``; return the sizes.

    ``v2f`` keeps the indices a ``MESSHook`` saved in the checkpoint (a
    checkpoint of a v2f retraining), else it searches them like ``v2qq``.
    """
    from ..models.mess import MESSOptions, kernel_sizes, project, write_mess
    from ..utils.weights import load_weights
    options = MESSOptions.create(prefix, version=version, qb=qb, qba=qba,
                                 qbb=qbb, pointwise=pointwise,
                                 slice_size=slice_size)
    cfg, model = build_plain_model(config)
    load_weights(model, checkpoint, 'checkpoint')
    model.eval()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    fixed = _saved_indices(checkpoint) if options.fixed_index else None
    projection = project(model, options, fixed)
    meta = dict(config=os.path.basename(str(cfg.filename)),
                checkpoint=os.path.basename(checkpoint))
    header = write_mess(out, projection, model.state_dict(), meta)
    kernels = kernel_sizes(header)
    fp32 = state_bytes(original)
    family_fp32 = sum(4 * original[f'{r.name}.weight'].numel()
                      for r in projection.references) + \
        kernels['all']['fp32_bytes']
    family_stored = header['sections']['references'] + \
        header['sections']['kernels']
    return dict(
        out=out, options=options.to_dict(),
        file_bytes=header['file_bytes'], header_bytes=header['header_bytes'],
        sections=header['sections'], state_fp32_bytes=fp32,
        file_ratio=fp32 / header['file_bytes'],
        conv_fp32_bytes=family_fp32, conv_stored_bytes=family_stored,
        conv_ratio=family_fp32 / max(family_stored, 1),
        kernels=kernels,
        references={r.name: r.num_candidates
                    for r in projection.references},
        fixed_indices=fixed is not None,
        mean_relative_change=projection.mean_error())


def decompress(path: str, out: str) -> dict:
    """Rebuild the plain checkpoint of the ``.mess`` file ``path`` at
    ``out``; return the file's header."""
    from ..models.mess import read_mess
    state, header = read_mess(path)
    write_checkpoint(out, state, mess=header['options'],
                     rebuilt_from=os.path.abspath(path),
                     **header.get('meta', {}))
    return header
