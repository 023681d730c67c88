"""Evolution search over the subnets of a trained supernet (the driver of
``tools/search_subnet.py``).

``search_subnet(config, checkpoint, work_dir)`` loads the supernet, hands
it to :class:`gml.algorithms.nas.subnet_search.SubnetSearch` (settings from
the config's ``subnet_search`` dict, scoring, resume, the files of the work
dir) and, with ``export=True``, exports every chosen subnet next to its
``subnet.yaml`` (``subnet.pth`` with the sliced weights and
``subnet_config.py`` to retrain or test it).
"""
import os.path as osp
from typing import Any, Callable, Dict, Optional

from ..errors import ConfigError


def _build_supernet(cfg, checkpoint: str, device: str):
    """The config's algorithm with the checkpoint's weights, on ``device``."""
    from mmengine.registry import init_default_scope

    from ..registry import build_algorithm
    from ..space.supernet import Supernet, require
    from ..utils.weights import read_state_dict
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    algorithm = build_algorithm(cfg.algorithm, default_model=cfg.get('model'))
    require(getattr(algorithm, 'model', None), Supernet, 'algorithm.model',
            'a supernet', f'{type(algorithm).__name__} has no subnets to '
            'search (expected a supernet algorithm such as gml.BigNAS)')
    state = read_state_dict(checkpoint)
    missing, unexpected = algorithm.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f'{checkpoint}: does not fit this supernet: missing '
            f'{missing[:5]}{"..." if len(missing) > 5 else ""}, unexpected '
            f'{unexpected[:5]}{"..." if len(unexpected) > 5 else ""}')
    return algorithm.to(device)


def search_subnet(config: str, checkpoint: str,
                  work_dir: Optional[str] = None,
                  cfg_options: Optional[dict] = None, resume: bool = False,
                  device: Optional[str] = None,
                  log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Search the trained supernet of ``config`` at ``checkpoint``.

    Returns ``best`` (config, score, flops, params), ``pareto`` (a list of
    those, Pareto mode only), ``evaluations``, ``units`` (of the FLOPs) and
    ``paths`` of what was written (see
    :mod:`gml.algorithms.nas.subnet_search` for the files).
    """
    import torch

    from ..algorithms.nas.subnet_search import SubnetSearch, read_settings
    from ..datasets import check_data_available
    from ..utils.config import load_config
    from .export import export_subnet
    cfg = load_config(config, cfg_options)
    if cfg.get('algorithm') is None:
        raise ConfigError(f'{config}: has no `algorithm` (a supernet) to '
                          'search')
    if not osp.isfile(checkpoint):
        raise ConfigError(f'checkpoint not found: {checkpoint}')
    settings = read_settings(cfg)
    work_dir = work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0] + '_search')
    search = SubnetSearch(work_dir, checkpoint, settings, resume)
    check_data_available(cfg)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    result = search.run(cfg, _build_supernet(cfg, checkpoint, device), log)
    if settings['export']:
        for _, folder in result['picks']:
            export_subnet(cfg, checkpoint, osp.join(folder, 'subnet.yaml'),
                          folder,
                          settings['bn_stats_calib_kwargs']['num_iters'])
    return {k: v for k, v in result.items() if k != 'picks'}
