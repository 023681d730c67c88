"""Evolution search over the subnets of a trained supernet.

``search_subnet(config, checkpoint, work_dir)`` loads a BigNAS supernet,
scores candidate subnets by validation accuracy after BN recalibration,
and runs :class:`~gml.algorithms.nas.SubnetEvolution` under an optional
FLOPs range. The work dir holds:

* ``search_state.json``: the searcher's state after every generation
  (``resume=True`` continues from it, scoring nothing twice);
* ``results.json``: every scored subnet (config, score, FLOPs, params), the
  best one and, in Pareto mode, the best per FLOPs bucket;
* ``best_subnet.yaml`` (or ``pareto/<i>_<flops>/subnet.yaml``) and, with
  ``export=True``, the exported subnet next to it (``subnet.pth`` with the
  sliced weights and ``subnet_config.py`` to retrain or test it).

Settings come from the config's ``subnet_search`` dict (see ``DEFAULTS``).
"""
import copy
import json
import os
import os.path as osp
from contextlib import contextmanager
from typing import Any, Callable, Dict, Optional

from ..errors import ConfigError
from ..utils.files import atomic_path

DEFAULTS = dict(
    candidate_pool_size=256, top_k=128, num_mutation=128, num_crossover=128,
    mutate_prob=0.2, max_generations=20, constraints=None, pareto=False,
    pareto_step=25.0, seed=0, max_evaluations=None,
    metric='accuracy/top1', bn_stats_calib_kwargs=dict(num_iters=16),
    evaluator=None, val_batches=None, export=True)
# settings that may change when a search is resumed
RESUMABLE = ('max_generations', 'max_evaluations', 'export')
SEARCHER_KEYS = ('candidate_pool_size', 'top_k', 'num_mutation',
                 'num_crossover', 'mutate_prob', 'max_generations',
                 'constraints', 'pareto', 'pareto_step', 'seed',
                 'max_evaluations')
STATE_FILE = 'search_state.json'


@contextmanager
def _settings_key():
    """Report the searcher's setting errors under ``subnet_search.``."""
    try:
        yield
    except ConfigError as exc:
        message = str(exc)
        if message.startswith('search.'):
            message = 'subnet_search.' + message[len('search.'):]
        raise ConfigError(message) from None


def _hook_evaluator(cfg) -> Optional[dict]:
    for hook in cfg.get('custom_hooks') or []:
        if 'DynamicDistEvalHook' in str(hook.get('type')) and \
                hook.get('evaluator'):
            return dict(hook['evaluator'])
    return None


def read_settings(cfg) -> Dict[str, Any]:
    """``DEFAULTS`` updated with the config's ``subnet_search``.

    The FLOPs evaluator defaults to the ``DynamicDistEvalHook``'s, else
    ``NaiveEvaluator(units='M', default_shape=(1, 3, 224, 224))``.
    """
    given = cfg.get('subnet_search') or {}
    if not isinstance(given, dict):
        raise ConfigError(f'subnet_search: expected a dict, found {given!r}')
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f'subnet_search: unknown keys {unknown}; expected '
                          f'some of {sorted(DEFAULTS)}')
    settings = copy.deepcopy(DEFAULTS)
    settings.update(copy.deepcopy(dict(given)))
    calib = settings['bn_stats_calib_kwargs'] or {}
    if not isinstance(calib, dict) or \
            set(calib) - {'num_iters', 'sync_params'} or \
            not isinstance(calib.get('num_iters', 16), int):
        raise ConfigError('subnet_search.bn_stats_calib_kwargs: expected '
                          f'dict(num_iters=<int>), found {calib!r}')
    settings['bn_stats_calib_kwargs'] = dict(
        num_iters=calib.get('num_iters', 16))
    evaluator = settings['evaluator'] or _hook_evaluator(cfg) or dict(
        type='NaiveEvaluator', units='M', default_shape=(1, 3, 224, 224))
    settings['evaluator'] = dict(evaluator)
    if settings['val_batches'] is not None and (
            not isinstance(settings['val_batches'], int) or
            settings['val_batches'] < 1):
        raise ConfigError('subnet_search.val_batches: expected a positive '
                          f'integer or None, found {settings["val_batches"]!r}')
    if not isinstance(settings['export'], bool):
        raise ConfigError('subnet_search.export: expected true or false, '
                          f'found {settings["export"]!r}')
    return settings


class SupernetScorer:
    """Scores subnets of a trained supernet: activate, recalibrate BN on the
    same training batches (the global seed is reset before each
    candidate), then evaluate on the validation set.

    Args:
        cfg: the supernet's config (with data loaders and ``val_evaluator``).
        algorithm: the trained BigNAS algorithm.
        metric: the validation metric maximised.
        num_iters: training batches for BN recalibration (-1: all).
        val_batches: validation batches scored (None: all).
        seed: the seed the calibration starts from.
    """

    def __init__(self, cfg, algorithm, metric: str, num_iters: int,
                 val_batches: Optional[int] = None, seed: int = 0):
        from mmengine.evaluator import Evaluator
        from mmengine.runner import Runner

        from ..engine.subnet_eval import calibration_loader
        self.algorithm = algorithm
        self.metric = metric
        self.num_iters = num_iters
        self.val_batches = val_batches
        self.seed = seed
        self.train_loader = calibration_loader(cfg, seed)
        self.val_loader = Runner.build_dataloader(cfg.val_dataloader,
                                                  seed=seed)
        self.evaluator = Evaluator(cfg.val_evaluator)
        self.evaluator.dataset_meta = getattr(self.val_loader.dataset,
                                              'metainfo', None)

    def __call__(self, config: Any) -> float:
        from mmengine.runner.utils import set_random_seed

        from ..engine.subnet_eval import calibrate_subnet, evaluate_algorithm
        set_random_seed(self.seed)
        calibrate_subnet(self.algorithm, config, self.train_loader,
                         self.num_iters, sync=False)
        size = None if self.val_batches else len(self.val_loader.dataset)
        metrics = evaluate_algorithm(self.algorithm, self.val_loader,
                                     self.evaluator, size=size,
                                     max_batches=self.val_batches)
        if self.metric not in metrics:
            raise ConfigError(f'subnet_search.metric: {self.metric!r} is not '
                              f'a validation metric; found '
                              f'{sorted(metrics)}')
        return float(metrics[self.metric])


def _write_json(path: str, data: Any) -> None:
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        json.dump(data, f, indent=1)


def _fingerprint(checkpoint: str, settings: Dict[str, Any]) -> dict:
    fixed = {k: v for k, v in settings.items() if k not in RESUMABLE}
    return json.loads(json.dumps(dict(checkpoint=osp.abspath(checkpoint),
                                      settings=fixed), default=repr))


def _load_state(path: str, fingerprint: dict) -> dict:
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError) as exc:
        raise ConfigError(f'--resume: cannot read {path}: {exc}') from None
    if state.get('fingerprint') != fingerprint:
        raise ConfigError(
            f'--resume: {path} belongs to another search '
            f'({state.get("fingerprint")}); this one is {fingerprint}. Use '
            'another --work-dir or the same checkpoint and settings')
    return state['searcher']


def _build_supernet(cfg, checkpoint: str, device: str):
    from mmengine.registry import init_default_scope

    from ..registry import build_algorithm
    from ..utils.weights import read_state_dict
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    algorithm = build_algorithm(cfg.algorithm, default_model=cfg.get('model'))
    if not hasattr(algorithm, 'mutator') or \
            not hasattr(algorithm.model, 'arch_space'):
        raise ConfigError(f'algorithm: {type(algorithm).__name__} has no '
                          'subnets to search (expected a supernet algorithm '
                          'such as gml.BigNAS)')
    state = read_state_dict(checkpoint)
    missing, unexpected = algorithm.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f'{checkpoint}: does not fit this supernet: missing '
            f'{missing[:5]}{"..." if len(missing) > 5 else ""}, unexpected '
            f'{unexpected[:5]}{"..." if len(unexpected) > 5 else ""}')
    return algorithm.to(device)


def _entry(searcher, cost, vector, score) -> dict:
    config = searcher.decode(vector)
    return dict(config=config, score=score, **cost(config))


def search_subnet(config: str, checkpoint: str,
                  work_dir: Optional[str] = None,
                  cfg_options: Optional[dict] = None, resume: bool = False,
                  device: Optional[str] = None,
                  log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Search the trained supernet of ``config`` at ``checkpoint``.

    Returns ``best`` (config, score, flops, params), ``pareto`` (a list of
    those, Pareto mode only), ``evaluations``, ``units`` (of the FLOPs) and
    ``paths`` of what was written. See the module docstring for the files.
    """
    import torch
    import yaml

    from ..algorithms.nas import SubnetEvolution
    from ..datasets import check_data_available
    from ..evaluators.subnet_cost import SubnetCost
    from ..registry import MODELS
    from ..utils.config import load_config
    cfg = load_config(config, cfg_options)
    if cfg.get('algorithm') is None:
        raise ConfigError(f'{config}: has no `algorithm` (a supernet) to '
                          'search')
    if not osp.isfile(checkpoint):
        raise ConfigError(f'checkpoint not found: {checkpoint}')
    settings = read_settings(cfg)
    work_dir = work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0] + '_search')
    state_path = osp.join(work_dir, STATE_FILE)
    fingerprint = _fingerprint(checkpoint, settings)
    if resume:
        saved = _load_state(state_path, fingerprint)
    elif osp.exists(state_path):
        raise ConfigError(f'{work_dir}: holds a search already; pass '
                          '--resume to continue it or choose another '
                          '--work-dir')
    check_data_available(cfg)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    algorithm = _build_supernet(cfg, checkpoint, device)
    evaluator_cfg = dict(settings['evaluator'])
    evaluator_cfg.setdefault('_scope_', 'gml')
    cost = SubnetCost(algorithm.model, MODELS.build(evaluator_cfg))
    scorer = SupernetScorer(cfg, algorithm, settings['metric'],
                            settings['bn_stats_calib_kwargs']['num_iters'],
                            settings['val_batches'], settings['seed'])
    with _settings_key():
        searcher = SubnetEvolution(
            algorithm.model.arch_space(), scorer, cost.flops,
            **{k: settings[k] for k in SEARCHER_KEYS})
        if resume:
            searcher.load_state_dict(saved)
            log(f'gml: resuming at generation {searcher.generation} with '
                f'{searcher.evaluations} subnets scored')
        # an infeasible FLOPs range fails here, before anything is written
        searcher.start()
    units = cost.units + 'FLOPs'
    metric = settings['metric']

    def save(s) -> None:
        best = s.best
        log(f'gml: generation {s.generation}/{s.max_generations}: '
            f'{s.evaluations} subnets scored, best {metric} '
            f'{best["score"]:.4g} at {best["cost"]:.4g} {units}')
        os.makedirs(work_dir, exist_ok=True)  # nothing is written before
        _write_json(state_path, dict(fingerprint=fingerprint,
                                     searcher=s.state_dict()))
        _write_json(osp.join(work_dir, 'results.json'), _results(s))

    def _results(s) -> dict:
        out = dict(metric=metric, units=units, generations=s.generation,
                   evaluations=s.evaluations,
                   scored=[dict(evaluation=i + 1, **_entry(s, cost, v, score))
                           for i, (v, score) in enumerate(s.archive)],
                   best=_entry(s, cost, s.top[0], s.score_of(s.top[0])))
        if s.pareto:
            out['pareto'] = [dict(config=e['config'], score=e['score'],
                                  **cost(e['config']))
                             for e in s.pareto_front()]
        return out

    with _settings_key():
        searcher.run(on_generation=save)
    results = _results(searcher)
    _write_json(osp.join(work_dir, 'results.json'), results)
    picks = [('best', results['best'])]
    if searcher.pareto:
        picks = [(osp.join('pareto', f'{i}_{e["flops"]:.4g}{cost.units}'), e)
                 for i, e in enumerate(results['pareto'])]
    paths: Dict[str, Any] = dict(state=state_path,
                                 results=osp.join(work_dir, 'results.json'))
    for name, entry in picks:
        folder = osp.join(work_dir, name)
        os.makedirs(folder, exist_ok=True)
        with open(osp.join(folder, 'subnet.yaml'), 'w') as f:
            yaml.safe_dump(entry['config'], f, sort_keys=False)
        if settings['export']:
            from .export import export_subnet
            export_subnet(cfg, checkpoint, osp.join(folder, 'subnet.yaml'),
                          folder, settings['bn_stats_calib_kwargs']
                          ['num_iters'])
        paths[name] = folder
    best_yaml = osp.join(work_dir, 'best_subnet.yaml')
    with open(best_yaml, 'w') as f:
        yaml.safe_dump(results['best']['config'], f, sort_keys=False)
    paths['best_subnet'] = best_yaml
    return dict(best=results['best'], pareto=results.get('pareto'),
                evaluations=searcher.evaluations, units=units, paths=paths)
