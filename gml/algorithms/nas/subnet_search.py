"""Evolution search over the subnets of a trained supernet, kept in a work
dir.

:class:`SubnetSearch` scores candidate subnets by a validation metric after
BN recalibration (:class:`SupernetScorer`) and runs
:class:`~gml.algorithms.nas.SubnetEvolution` over the supernet's
``arch_space()`` under an optional FLOPs range. Settings come from the
config's ``subnet_search`` dict (:func:`read_settings`, see ``DEFAULTS``).
The work dir holds, each file written whole (:func:`gml.utils.files.
atomic_path`):

* ``search_state.json``: the searcher's state after every generation (a
  resumed search continues from it, scoring nothing twice);
* ``results.json``: every scored subnet (config, score, FLOPs, params), the
  best one and, in Pareto mode, the best per FLOPs bucket;
* ``best_subnet.yaml``, and ``best/subnet.yaml`` (or
  ``pareto/<i>_<flops>/subnet.yaml``, one per bucket): the subnets to
  export.

Progress goes to stderr (:func:`gml.utils.progress.progress_task`): the
subnets scored in each generation and the best score so far.
"""
import copy
import json
import os.path as osp
from contextlib import contextmanager
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...errors import ConfigError
from ...utils.checks import check_bool, check_int
from ...utils.files import write_json, write_yaml
from .evolution import SubnetEvolution

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
RESULTS_FILE = 'results.json'
BEST_FILE = 'best_subnet.yaml'


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
            set(calib) - {'num_iters', 'sync_params'}:
        raise ConfigError('subnet_search.bn_stats_calib_kwargs: expected '
                          f'dict(num_iters=<int>), found {calib!r}')
    settings['bn_stats_calib_kwargs'] = dict(num_iters=check_int(
        calib.get('num_iters', 16),
        'subnet_search.bn_stats_calib_kwargs.num_iters', -1))
    evaluator = settings['evaluator'] or _hook_evaluator(cfg) or dict(
        type='NaiveEvaluator', units='M', default_shape=(1, 3, 224, 224))
    settings['evaluator'] = dict(evaluator)
    if settings['val_batches'] is not None:
        check_int(settings['val_batches'], 'subnet_search.val_batches', 1)
    check_bool(settings['export'], 'subnet_search.export')
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

        from ...engine.subnet_eval import calibration_loader
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

        from ...engine.subnet_eval import calibrate_subnet, evaluate_algorithm
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


class SubnetSearch:
    """One search of a trained supernet's subnets, kept in ``work_dir``.

    Built before the supernet is: a work dir that holds a search already is
    refused unless ``resume``, and with ``resume`` the saved state must
    belong to the same checkpoint and settings (only ``RESUMABLE`` ones may
    change). :meth:`run` does the search.
    """

    def __init__(self, work_dir: str, checkpoint: str,
                 settings: Dict[str, Any], resume: bool = False):
        self.work_dir = work_dir
        self.settings = settings
        self.state_path = osp.join(work_dir, STATE_FILE)
        fixed = {k: v for k, v in settings.items() if k not in RESUMABLE}
        self.fingerprint = json.loads(json.dumps(
            dict(checkpoint=osp.abspath(checkpoint), settings=fixed),
            default=repr))
        self.saved: Optional[dict] = None
        if resume:
            self.saved = self._load_state()
        elif osp.exists(self.state_path):
            raise ConfigError(f'{work_dir}: holds a search already; pass '
                              '--resume to continue it or choose another '
                              '--work-dir')
        self._best: Optional[float] = None
        self._bar = None

    def _load_state(self) -> dict:
        path = self.state_path
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError) as exc:
            raise ConfigError(f'--resume: cannot read {path}: {exc}') \
                from None
        if state.get('fingerprint') != self.fingerprint:
            raise ConfigError(
                f'--resume: {path} belongs to another search '
                f'({state.get("fingerprint")}); this one is '
                f'{self.fingerprint}. Use another --work-dir or the same '
                'checkpoint and settings')
        return state['searcher']

    # -- the search -----------------------------------------------------------
    def run(self, cfg, algorithm,
            log: Callable[[str], None] = print) -> Dict[str, Any]:
        """Search the subnets of ``algorithm.model`` (a trained supernet
        built from ``cfg``) and write the files of the module docstring.

        Returns ``best`` (config, score, flops, params), ``pareto`` (a list
        of those, Pareto mode only), ``evaluations``, ``units`` (of the
        FLOPs), ``paths`` of what was written and ``picks``: ``(name,
        folder)`` of every subnet to export (its ``subnet.yaml`` is there).
        """
        from ...evaluators.subnet_cost import SubnetCost
        from ...registry import MODELS
        settings = self.settings
        evaluator_cfg = dict(settings['evaluator'])
        evaluator_cfg.setdefault('_scope_', 'gml')
        cost = SubnetCost(algorithm.model, MODELS.build(evaluator_cfg))
        scorer = SupernetScorer(cfg, algorithm, settings['metric'],
                                settings['bn_stats_calib_kwargs']['num_iters'],
                                settings['val_batches'], settings['seed'])
        with _settings_key():
            searcher = SubnetEvolution(
                algorithm.model.arch_space(), self._counted(scorer),
                cost.flops, **{k: settings[k] for k in SEARCHER_KEYS})
            if self.saved is not None:
                searcher.load_state_dict(self.saved)
                log(f'gml: resuming at generation {searcher.generation} '
                    f'with {searcher.evaluations} subnets scored')
            # an infeasible FLOPs range fails here, before anything is
            # written
            searcher.start()
        units = cost.units + 'FLOPs'
        with _settings_key():
            self._generations(searcher, cost, units, log)
        return self._write_results(searcher, cost, units)

    def _counted(self, scorer: Callable[[Any], float]
                 ) -> Callable[[Any], float]:
        """``scorer`` that advances the generation's progress bar."""
        def score(config: Any) -> float:
            value = scorer(config)
            self._best = value if self._best is None else \
                max(self._best, value)
            if self._bar is not None:
                self._bar.advance(best=f'{self._best:.4g}')
            return value
        return score

    def _generations(self, searcher: SubnetEvolution, cost, units: str,
                     log: Callable[[str], None]) -> None:
        from ...utils.progress import START_DELAY, progress_task
        metric = self.settings['metric']
        if searcher.archive:
            self._best = max(score for _, score in searcher.archive)
        while not searcher.done:
            searcher.start()
            with progress_task(
                    f'generation {searcher.generation + 1}/'
                    f'{searcher.max_generations}: scoring subnets',
                    total=searcher.unscored(),
                    start_delay=START_DELAY) as bar:
                self._bar = bar
                try:
                    searcher.step()
                finally:
                    self._bar = None
            best = searcher.best
            log(f'gml: generation {searcher.generation}/'
                f'{searcher.max_generations}: {searcher.evaluations} subnets '
                f'scored, best {metric} {best["score"]:.4g} at '
                f'{best["cost"]:.4g} {units}')
            write_json(self.state_path, dict(fingerprint=self.fingerprint,
                                              searcher=searcher.state_dict()))
            write_json(osp.join(self.work_dir, RESULTS_FILE),
                        self._results(searcher, cost, units))

    # -- results --------------------------------------------------------------
    def _results(self, searcher: SubnetEvolution, cost,
                 units: str) -> Dict[str, Any]:
        def entry(vector, score) -> dict:
            config = searcher.decode(vector)
            return dict(config=config, score=score, **cost(config))

        out = dict(metric=self.settings['metric'], units=units,
                   generations=searcher.generation,
                   evaluations=searcher.evaluations,
                   scored=[dict(evaluation=i + 1, **entry(v, score))
                           for i, (v, score) in enumerate(searcher.archive)],
                   best=entry(searcher.top[0],
                              searcher.score_of(searcher.top[0])))
        if searcher.pareto:
            out['pareto'] = [dict(config=e['config'], score=e['score'],
                                  **cost(e['config']))
                             for e in searcher.pareto_front()]
        return out

    def _write_results(self, searcher: SubnetEvolution, cost,
                       units: str) -> Dict[str, Any]:
        work_dir = self.work_dir
        results = self._results(searcher, cost, units)
        paths: Dict[str, Any] = dict(
            state=self.state_path, results=osp.join(work_dir, RESULTS_FILE))
        write_json(paths['results'], results)
        chosen: List[Tuple[str, dict]] = [('best', results['best'])]
        if searcher.pareto:
            chosen = [(osp.join('pareto', f'{i}_{e["flops"]:.4g}'
                                          f'{cost.units}'), e)
                      for i, e in enumerate(results['pareto'])]
        picks = []
        for name, entry in chosen:
            folder = osp.join(work_dir, name)
            write_yaml(osp.join(folder, 'subnet.yaml'), entry['config'])
            picks.append((name, folder))
            paths[name] = folder
        paths['best_subnet'] = osp.join(work_dir, BEST_FILE)
        write_yaml(paths['best_subnet'], results['best']['config'])
        return dict(best=results['best'], pareto=results.get('pareto'),
                    evaluations=searcher.evaluations, units=units,
                    paths=paths, picks=picks)
