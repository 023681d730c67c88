"""Exporting one subnet of a trained supernet as a model of its own.

The subnet becomes the same model config with every search space replaced
by the chosen value, so the usual classes allocate exactly the subnet's
tensors; its weights are the supernet's leading slices (kernels: the centre
crop). The result trains and evaluates as a plain model, and its
``backbone.to_static()`` gives pure torch modules for deployment.
"""
import copy
from typing import Any, Dict

import torch

from ...errors import ConfigError
from ...space import is_space_config


def fix_spaces(cfg: Any, chosen: Any, key: str = '') -> Any:
    """Replace every space dict in ``cfg`` by the value ``chosen`` holds at
    the same place (``chosen`` mirrors the search space's structure)."""
    if is_space_config(cfg):
        return chosen
    if isinstance(cfg, dict):
        if not isinstance(chosen, dict):
            return copy.deepcopy(cfg)
        return {k: fix_spaces(v, chosen[k], f'{key}.{k}') if k in chosen
                else copy.deepcopy(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        if not isinstance(chosen, (list, tuple)) or len(chosen) != len(cfg):
            raise ConfigError(f'{key}: the subnet config does not match the '
                              'search space')
        return [fix_spaces(v, c, f'{key}[{i}]')
                for i, (v, c) in enumerate(zip(cfg, chosen))]
    return copy.deepcopy(cfg)


def subnet_model_cfg(model_cfg: dict, subnet: Dict[str, Any]) -> dict:
    """The model config of ``subnet`` (a config of ``arch_space()``)."""
    cfg = copy.deepcopy(dict(model_cfg))
    backbone = dict(cfg['backbone'])
    chosen = subnet['backbone']
    space = {}
    for name, value in (backbone.get('search_space') or {}).items():
        if isinstance(value, (list, tuple)) and name in chosen and \
                isinstance(chosen[name], (list, tuple)) and \
                len(value) != len(chosen[name]):
            # a short form the backbone expands (MobileNetV3Slice: the
            # guide's 2-entry lists): the chosen full list
            space[name] = copy.deepcopy(list(chosen[name]))
        else:
            space[name] = fix_spaces(value, chosen.get(name, value),
                                     f'model.backbone.search_space.{name}')
    backbone['search_space'] = space
    if backbone.get('widen_factor', 1) != 1:
        # the chosen widths are the widened ones already
        backbone['widen_factor'] = 1.0
    # spaces the config left to the backbone's defaults are fixed as well
    for name, value in subnet['backbone'].items():
        backbone['search_space'].setdefault(name, value)
    cfg['backbone'] = backbone
    if cfg.get('resize_process') is not None and 'resize_process' in subnet:
        cfg['resize_process'] = dict(
            cfg['resize_process'],
            resolution=subnet['resize_process']['resolution'])
    return cfg


def slice_like(source: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """The leading slice of ``source`` with ``shape``; the spatial dims of
    4-d convolution weights are centre-cropped."""
    if source.dim() != len(shape):
        raise ValueError(f'cannot slice {tuple(source.shape)} to '
                         f'{tuple(shape)}')
    index = []
    for dim, (have, want) in enumerate(zip(source.shape, shape)):
        if want > have:
            raise ValueError(f'cannot slice {tuple(source.shape)} to '
                             f'{tuple(shape)}')
        start = (have - want) // 2 if source.dim() == 4 and dim >= 2 else 0
        index.append(slice(start, start + want))
    return source[tuple(index)].clone()


def load_sliced_weights(subnet_model: torch.nn.Module,
                        supernet_state: Dict[str, torch.Tensor]) -> None:
    """Fill ``subnet_model`` with slices of the supernet's tensors."""
    state = {}
    missing = []
    for name, target in subnet_model.state_dict().items():
        if name not in supernet_state:
            missing.append(name)
            continue
        source = supernet_state[name]
        state[name] = source.clone() if source.dim() == 0 else \
            slice_like(source, target.shape)
    if missing:
        raise ConfigError(f'the supernet checkpoint has no tensors for '
                          f'{", ".join(missing[:5])}')
    subnet_model.load_state_dict(state, strict=True)
