"""Reading and checking a search config (the YAML ``search-run`` takes).

Every mistake becomes a ConfigError naming the key, before anything runs.
"""
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..errors import ConfigError
from ..space import build_search_space_recur
from ..utils.checks import check_bool, check_int, check_number
from .optimize_mode import OptimizeMode
from .template import check_template

TOP_KEYS = {'task', 'searcher', 'scheduler', 'generate_log', 'scalars',
            'pavi', 'use_spe'}
STOP_KEYS = ('max_tries', 'time_limits', 'max_reward', 'time_limits_per_job')
REDUCES = ('final', 'best')


@dataclass
class StopCriterion:
    """When the whole task stops (``scheduler.stop_criterion``)."""
    max_tries: Optional[int] = None
    time_limits: Optional[float] = None
    max_reward: Optional[float] = None
    time_limits_per_job: Optional[float] = None


@dataclass
class SearchConfig:
    """A checked search config; ``raw`` is the YAML as loaded."""
    raw: Dict[str, Any]
    template: str
    search_args: Dict[str, Any]
    space: Dict[str, Any]
    searcher_cfg: Dict[str, Any]
    reward_attribute: str
    optimize_mode: OptimizeMode
    reward_reduce: str
    scheduler_cfg: Dict[str, Any]
    parallel_size: int
    stop: StopCriterion
    max_requeues: int
    assessor_cfg: Optional[Dict[str, Any]]
    generate_log: bool
    scalars: List[str] = field(default_factory=list)

    @property
    def scheduler_type(self) -> str:
        return self.scheduler_cfg['type']


def _mapping(value: Any, key: str, required: bool = True) -> Dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f'{key}: expected a mapping, found {value!r}')
    return dict(value)


def load_yaml(path: str) -> Dict[str, Any]:
    """Read a YAML mapping; a missing file or malformed YAML is ConfigError."""
    import yaml
    if not os.path.isfile(path):
        raise ConfigError(f'search config not found: {path}')
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f' (line {mark.line + 1}, column {mark.column + 1})' \
            if mark is not None else ''
        problem = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
        raise ConfigError(f'{path}: malformed YAML{where}: {problem}') \
            from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a mapping with task, searcher '
                          f'and scheduler, found {type(data).__name__}')
    return data


def parse_config(raw: Dict[str, Any]) -> SearchConfig:
    """Check a loaded search config and return it in structured form."""
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ConfigError(f'{unknown[0]}: unknown top-level key; expected '
                          f'some of {sorted(TOP_KEYS - {"pavi", "use_spe"})}')
    if raw.get('use_spe'):
        raise ConfigError('use_spe: SPE is an internal service of the '
                          'original toolbox; gml runs trials itself')
    task = _mapping(raw.get('task'), 'task')
    unknown = sorted(set(task) - {'template', 'search_args'})
    if unknown:
        raise ConfigError(f'task.{unknown[0]}: unknown key; expected '
                          'template and search_args')
    search_args = _mapping(task.get('search_args'), 'task.search_args')
    if not search_args:
        raise ConfigError('task.search_args: expected at least one search '
                          'arg, found none')
    check_template(task.get('template'), search_args)
    space = {name: build_search_space_recur(value, f'task.search_args.{name}')
             for name, value in search_args.items()}

    searcher = _mapping(raw.get('searcher'), 'searcher', required=False)
    searcher.setdefault('type', 'GridSearcher')
    reward_attribute = searcher.pop('reward_attribute', 'acc')
    if not isinstance(reward_attribute, str) or not reward_attribute:
        raise ConfigError(f'searcher.reward_attribute: expected a metric '
                          f'name, found {reward_attribute!r}')
    mode = OptimizeMode.parse(searcher.get('optimize_mode', 'maximize'),
                              'searcher.optimize_mode')
    searcher['optimize_mode'] = mode.value
    reduce = searcher.pop('reward_reduce', 'final')
    if reduce not in REDUCES:
        raise ConfigError(f'searcher.reward_reduce: expected final or best, '
                          f'found {reduce!r}')

    scheduler = _mapping(raw.get('scheduler'), 'scheduler', required=False)
    scheduler.setdefault('type', 'local')
    parallel = check_int(scheduler.pop('parallel_size', 1),
                         'scheduler.parallel_size', 1)
    max_requeues = check_int(scheduler.pop('max_requeues', 3),
                             'scheduler.max_requeues', 0)
    stop_raw = _mapping(scheduler.pop('stop_criterion', None),
                        'scheduler.stop_criterion', required=False)
    unknown = sorted(set(stop_raw) - set(STOP_KEYS))
    if unknown:
        raise ConfigError(f'scheduler.stop_criterion.{unknown[0]}: unknown '
                          f'key; expected some of {list(STOP_KEYS)}')
    stop = StopCriterion()
    for key, value in stop_raw.items():
        if value is None:
            continue
        path = f'scheduler.stop_criterion.{key}'
        if key == 'max_reward':
            stop.max_reward = check_number(value, path, finite=True)
        elif key == 'max_tries':
            stop.max_tries = check_int(value, path, 0, strict=True)
        else:  # the time limits, in seconds
            setattr(stop, key, check_number(value, path, 0, strict=True))
    assessor = scheduler.pop('assessor', None)
    if assessor is not None:
        assessor = _mapping(assessor, 'scheduler.assessor')
        if 'type' not in assessor:
            raise ConfigError('scheduler.assessor.type: expected '
                              'CurveFittingAssessor or MedianStopAssessor, '
                              'found none')
        assessor['optimize_mode'] = _assessor_mode(
            assessor.get('optimize_mode'), mode).value

    scalars = _scalars(raw)
    if not all(isinstance(s, str) for s in scalars):
        raise ConfigError(f'scalars: expected a list of metric names, found '
                          f'{scalars!r}')
    if reward_attribute not in scalars:
        scalars.insert(0, reward_attribute)
    generate_log = check_bool(raw.get('generate_log', True), 'generate_log')
    return SearchConfig(
        raw=raw, template=task['template'], search_args=search_args,
        space=space, searcher_cfg=searcher,
        reward_attribute=reward_attribute, optimize_mode=mode,
        reward_reduce=reduce, scheduler_cfg=scheduler, parallel_size=parallel,
        stop=stop, max_requeues=max_requeues, assessor_cfg=assessor,
        generate_log=generate_log,
        scalars=scalars)


def _assessor_mode(value: Any, searcher_mode: OptimizeMode) -> OptimizeMode:
    """The assessor judges in the searcher's direction: its own
    ``optimize_mode`` may be left out (inherited) or repeat it."""
    if value is None:
        return searcher_mode
    mode = OptimizeMode.parse(value, 'scheduler.assessor.optimize_mode')
    if mode is not searcher_mode:
        raise ConfigError(
            f'scheduler.assessor.optimize_mode: {value!r} contradicts '
            f'searcher.optimize_mode ({searcher_mode.value}); the assessor '
            'judges trials in the searcher\'s direction: leave the key out '
            'or give the same mode')
    return mode


#: keys of the original guide's ``pavi`` section: PAVI is an internal
#: service, so only ``scalars`` keeps a meaning; each other key is refused
#: with what replaces it
PAVI_REPLACEMENTS = {
    'compare': 'PAVI is an internal service of the original toolbox; '
               'use `search-ctl show -t TASK` instead, which compares a '
               'task\'s trials (`search-ctl export` writes them for '
               'TensorBoard)',
}


def _scalars(raw: Dict[str, Any]) -> Any:
    """``scalars``, or the guide's ``pavi.scalars``; any other ``pavi`` key
    is refused (nothing in a search config is silently ignored)."""
    scalars = raw.get('scalars')
    pavi = raw.get('pavi')
    if pavi is None:
        return list(scalars or [])
    pavi = _mapping(pavi, 'pavi')
    for key in pavi:
        if key in PAVI_REPLACEMENTS:
            raise ConfigError(f'pavi.{key}: {PAVI_REPLACEMENTS[key]}')
        if key != 'scalars':
            raise ConfigError(f'pavi.{key}: unknown key; expected scalars '
                              '(PAVI is an internal service of the original '
                              'toolbox; gml records the metrics itself)')
    if 'scalars' in pavi:  # the original guide's location
        if scalars is not None and scalars != pavi['scalars']:
            raise ConfigError(f'pavi.scalars: expected the same as scalars '
                              f'({scalars!r}) or only one of the two, found '
                              f'{pavi["scalars"]!r}')
        scalars = pavi['scalars']
    return list(scalars or [])


def load_search_config(path: str) -> SearchConfig:
    """Read and check the YAML file at ``path``."""
    return parse_config(load_yaml(path))


def check_task_name(name: Any) -> str:
    """A task name is one path component: no separators, not . or .."""
    if not isinstance(name, str) or not name or name in ('.', '..') or \
            os.sep in name or (os.altsep and os.altsep in name) or \
            '/' in name:
        raise ConfigError(f'--name: a task name is one folder name without '
                          f'path separators, found {name!r}')
    return name
