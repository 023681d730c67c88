"""Top-level keys of mmcv-era configs (the design guide's), read on today's
stack: each is translated to its mmengine equivalent or refused with one
line naming the replacement; none is silently ignored.

mmengine's Runner ignores top-level keys it does not know, so a config
written from the guide (``log_config``, ``checkpoint_config``,
``evaluation``, ``optimizer``, ...) would train with the base's settings
instead of the ones written. :data:`LEGACY_KEYS` is the table: one entry per
legacy key, either a translator (it rewrites the config and returns what
the key became, for the log) or a :class:`Refuse` (the replacement to write
instead). Adding a key is one line there.

A translated key is removed from the config, so the dumped config is
modern, and one line per key says what it became. When the modern key is
also set explicitly (in the config file itself or by ``--cfg-options``,
rather than inherited from its ``_base_``) to a different value, the key is
refused: gml does not guess which of the two was meant.
"""
import importlib.util
from typing import Any, Callable, Dict, List, Optional, Union

from ..errors import ConfigError
from .checks import check_bool, check_int

_MISSING = object()


def tensorboard_available() -> bool:
    """True when the ``tensorboard`` package (TensorBoard event files) can
    be imported."""
    return importlib.util.find_spec('tensorboard') is not None


def wandb_available() -> bool:
    """True when the ``wandb`` package can be imported."""
    return importlib.util.find_spec('wandb') is not None


def _plain(value: Any) -> Any:
    """``value`` with dicts as plain dicts and tuples as lists (for
    comparing what a config holds with what a translation gives)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _copy(value: Any) -> Any:
    """A deep copy of ``value`` with ConfigDicts as plain dicts (tuples stay
    tuples, so values keep the form they were written in)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value


def _lookup(tree: Any, path: str) -> Any:
    node = tree
    for part in path.split('.'):
        if not (isinstance(node, dict) or hasattr(node, 'keys')) or \
                part not in node:
            return _MISSING
        node = node[part]
    return node


def _mapping(value: Any, key: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f'{key}: expected a dict, found {value!r}')
    return dict(value)


def _refuse_unknown(value: dict, key: str, known) -> None:
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(f'{key}.{unknown[0]}: unknown key of this mmcv-era '
                          f'key; expected some of {sorted(known)}')


def _inherited_values(cfg: Any) -> Optional[dict]:
    """The values the config inherits from the ``_base_`` files of its own
    file (mmengine merges bases with disjoint top-level keys); ``None``
    when they cannot be told apart from what the file sets itself."""
    filename = getattr(cfg, 'filename', None)
    if not isinstance(filename, str) or not filename:
        return None  # built in code: everything in it was written
    from mmengine.config import Config
    try:
        merged: dict = {}
        for base in Config._get_base_files(filename):
            path, _ = Config._get_cfg_path(base, filename)
            merged.update(Config.fromfile(path).to_dict())
        return merged
    except Exception:  # unusual base paths: treat every value as explicit
        return None


class _Translation:
    """The config being translated: looks up, sets with the conflict check,
    and collects the log lines."""

    def __init__(self, cfg: Any):
        self.cfg = cfg
        self._inherited: Any = _MISSING
        self.notes: List[str] = []

    @property
    def inherited(self) -> Optional[dict]:
        if self._inherited is _MISSING:
            self._inherited = _inherited_values(self.cfg)
        return self._inherited

    def get(self, path: str, default: Any = None) -> Any:
        value = _lookup(self.cfg, path)
        return default if value is _MISSING else value

    def explicit(self, path: str) -> bool:
        """True when ``path`` is set and its value is not the inherited one
        (the config file, ``--cfg-options`` or an earlier translation set
        it)."""
        value = _lookup(self.cfg, path)
        if value is _MISSING:
            return False
        if self.inherited is None:
            return True
        return _plain(value) != _plain(_lookup(self.inherited, path))

    def check(self, path: str, value: Any, source: str) -> None:
        """Refuse when ``path`` is explicitly set to something else."""
        current = _lookup(self.cfg, path)
        if current is not _MISSING and _plain(current) != _plain(value) \
                and self.explicit(path):
            raise ConfigError(
                f'{source}: mmcv-era key gives {path}={_copy(value)!r}, but '
                f'the config sets {path}={_copy(current)!r}; keep one of '
                'them')

    def set(self, path: str, value: Any, source: str) -> None:
        """Set ``path`` (creating parent dicts) unless it conflicts."""
        self.check(path, value, source)
        self.put(path, value)

    def put(self, path: str, value: Any) -> None:
        parts = path.split('.')
        node = self.cfg
        for part in parts[:-1]:
            child = node.get(part) if part in node else None
            if not isinstance(child, dict):
                node[part] = {}
                child = node[part]
            node = child
        node[parts[-1]] = value


Translator = Callable[[_Translation, Any], str]


class Refuse:
    """A legacy key with no automatic translation: refused with one line
    naming what to write instead (``replacement`` may depend on the value)."""

    def __init__(self, replacement: Union[str, Callable[[Any], str]]):
        self.replacement = replacement

    def message(self, key: str, value: Any) -> str:
        what = self.replacement(value) if callable(self.replacement) \
            else self.replacement
        return f'{key}: mmcv-era key; write {what} instead'


# ---------------------------------------------------------------- logging

#: keys every mmcv logger hook takes, and the LoggerHook key each becomes
#: (None: nothing to set in mmengine, accepted and dropped)
_COMMON_LOGGER_KEYS = {'by_epoch': 'log_metric_by_epoch',
                       'ignore_last': 'ignore_last', 'reset_flag': None}


def _text_hook(t: _Translation, hook: dict, key: str) -> dict:
    for name in ('interval_exp_name', 'out_dir', 'out_suffix', 'keep_local'):
        if name in hook:
            t.set(f'default_hooks.logger.{name}', hook.pop(name), key)
    _refuse_unknown(hook, key, ['type', 'interval', 'interval_exp_name',
                                'out_dir', 'out_suffix', 'keep_local',
                                *_COMMON_LOGGER_KEYS])
    return dict(type='LocalVisBackend')


def _need_tensorboard(key: str, hook_type: str) -> None:
    if not tensorboard_available():
        raise ConfigError(f'{key}: {hook_type} writes TensorBoard event files '
                          'and the tensorboard package is not installed; '
                          '`pip install tensorboard` or drop the hook')


def _tensorboard_hook(t: _Translation, hook: dict, key: str) -> dict:
    _refuse_unknown(hook, key, ['type', 'interval', 'log_dir',
                                *_COMMON_LOGGER_KEYS])
    _need_tensorboard(key, 'TensorboardLoggerHook')
    backend = dict(type='TensorboardVisBackend')
    if hook.get('log_dir') is not None:
        backend['save_dir'] = hook['log_dir']
    return backend


def _pavi_hook(t: _Translation, hook: dict, key: str) -> dict:
    _refuse_unknown(hook, key, ['type', 'interval', 'init_kwargs',
                                *_COMMON_LOGGER_KEYS])
    _need_tensorboard(key, 'PaviLoggerHook (replaced by TensorBoard)')
    dropped = f'; init_kwargs {_copy(hook["init_kwargs"])!r} dropped' \
        if hook.get('init_kwargs') else ''
    t.notes.append(f'gml: {key}: PAVI is an internal service of the '
                   'original toolbox; its curves go to TensorBoard event '
                   f'files (TensorboardVisBackend) in the work dir{dropped}')
    return dict(type='TensorboardVisBackend')


def _wandb_hook(t: _Translation, hook: dict, key: str) -> dict:
    _refuse_unknown(hook, key, ['type', 'interval', 'init_kwargs', 'commit',
                                'define_metric_cfg', *_COMMON_LOGGER_KEYS])
    if not wandb_available():
        raise ConfigError(f'{key}: WandbLoggerHook needs the wandb package, '
                          'which is not installed; `pip install wandb` or '
                          'drop the hook')
    backend = dict(type='WandbVisBackend')
    for name in ('init_kwargs', 'commit', 'define_metric_cfg'):
        if name in hook:
            backend[name] = _copy(hook[name])
    return backend


#: mmcv logger hooks and the visualizer backend each becomes
LOGGER_HOOKS: Dict[str, Callable[[_Translation, dict, str], dict]] = {
    'TextLoggerHook': _text_hook,
    'TensorboardLoggerHook': _tensorboard_hook,
    'PaviLoggerHook': _pavi_hook,
    'WandbLoggerHook': _wandb_hook,
}


def _add_vis_backends(t: _Translation, backends: List[dict],
                      source: str) -> None:
    visualizer = t.get('visualizer')
    if visualizer is None:
        scope = t.get('default_scope')
        visualizer = dict(type='UniversalVisualizer' if scope == 'mmpretrain'
                          else 'Visualizer', vis_backends=[])
    visualizer = _copy(visualizer)
    present = list(visualizer.get('vis_backends') or [])
    for backend in backends:
        same = [b for b in present if b.get('type') == backend['type']]
        if not same:
            present.append(backend)
        elif len(backend) > 1 and _plain(backend) not in _plain(same):
            raise ConfigError(
                f'{source}: mmcv-era key gives the visualizer backend '
                f'{backend!r}, but visualizer.vis_backends has {same[0]!r}; '
                'keep one of them')
    visualizer['vis_backends'] = present
    t.put('visualizer', visualizer)


def _log_config(t: _Translation, value: Any) -> str:
    value = _mapping(value, 'log_config')
    _refuse_unknown(value, 'log_config', ['interval', 'hooks'])
    interval = check_int(value.get('interval', 10), 'log_config.interval',
                         minimum=1)
    hooks = value.get('hooks') or []
    if not isinstance(hooks, (list, tuple)):
        raise ConfigError(f'log_config.hooks: expected a list of logger '
                          f'hooks, found {hooks!r}')
    t.set('default_hooks.logger.type', 'LoggerHook', 'log_config')
    t.set('default_hooks.logger.interval', interval, 'log_config.interval')
    backends = []
    for index, hook in enumerate(hooks):
        key = f'log_config.hooks[{index}]'
        hook = _copy(_mapping(hook, key))
        handler = LOGGER_HOOKS.get(hook.get('type'))
        if handler is None:
            raise ConfigError(f'{key}.type: expected one of '
                              f'{sorted(LOGGER_HOOKS)}, found '
                              f'{hook.get("type")!r}')
        if hook.get('interval', interval) != interval:
            raise ConfigError(f'{key}.interval: expected {interval} (mmengine '
                              'logs every log_config.interval iterations to '
                              f'all backends), found {hook["interval"]!r}')
        for name, modern in _COMMON_LOGGER_KEYS.items():
            if name in hook and modern is not None:
                t.set(f'default_hooks.logger.{modern}', hook[name], key)
        backend = handler(t, hook, key)
        if _plain(backend) not in _plain(backends):
            backends.append(backend)
    _add_vis_backends(t, backends, 'log_config.hooks')
    names = ', '.join(b['type'] for b in backends) or 'none'
    return (f"default_hooks.logger=dict(type='LoggerHook', "
            f"interval={interval}); visualizer backends: {names}")


# ------------------------------------------------------------ checkpoints

def _checkpoint_keys() -> List[str]:
    import inspect

    from mmengine.hooks import CheckpointHook
    return [name for name, p in
            inspect.signature(CheckpointHook.__init__).parameters.items()
            if name != 'self' and p.kind is not p.VAR_KEYWORD]


def _checkpoint_config(t: _Translation, value: Any) -> str:
    value = _mapping(value, 'checkpoint_config')
    _refuse_unknown(value, 'checkpoint_config', _checkpoint_keys())
    t.set('default_hooks.checkpoint.type', 'CheckpointHook',
          'checkpoint_config')
    for name, item in value.items():
        t.set(f'default_hooks.checkpoint.{name}', item,
              f'checkpoint_config.{name}')
    keys = ', '.join(f'{k}={_copy(v)!r}' for k, v in value.items())
    return f'default_hooks.checkpoint (CheckpointHook) {keys}'.rstrip()


def _search_eval_cfg(t: _Translation, value: Any) -> str:
    hook = _copy(_mapping(value, 'search_eval_cfg'))
    hook.setdefault('type', 'DynamicDistEvalHook')
    name = str(hook['type']).split('.')[-1]
    hooks = list(_copy(t.get('custom_hooks') or []))

    def unscoped(entry: dict) -> dict:  # gml.X and X are the same hook
        return dict(_plain(entry), type=str(entry['type']).split('.')[-1])

    same = [h for h in hooks if isinstance(h, dict) and
            str(h.get('type', '')).split('.')[-1] == name]
    if not same:
        hooks.append(hook)
    elif unscoped(hook) not in [unscoped(h) for h in same]:
        raise ConfigError(f'search_eval_cfg: mmcv-era key gives the custom '
                          f'hook {hook!r}, but custom_hooks has {same[0]!r}; '
                          'keep one of them')
    t.put('custom_hooks', hooks)
    return f'custom_hooks entry {hook["type"]}'


# ------------------------------------------------------------- validation

_METRIC_REPLACEMENTS = {
    'precision': "val_evaluator=dict(type='SingleLabelMetric', "
                 "items=['precision', ...])",
    'recall': "val_evaluator=dict(type='SingleLabelMetric', "
              "items=['recall', ...])",
    'f1_score': "val_evaluator=dict(type='SingleLabelMetric', "
                "items=['f1-score', ...])",
    'support': "val_evaluator=dict(type='SingleLabelMetric', "
               "items=['support', ...])",
    'mAP': "val_evaluator=dict(type='AveragePrecision')",
}


def _evaluation(t: _Translation, value: Any) -> str:
    value = _mapping(value, 'evaluation')
    _refuse_unknown(value, 'evaluation', ['interval', 'metric', 'topk',
                                          'metric_options', 'save_best',
                                          'rule', 'gpu_collect',
                                          'by_epoch'])
    done = []
    if 'by_epoch' in value:  # mmcv's EvalHook counted as its runner did
        loop_by_epoch = t.get('train_cfg.by_epoch', True)
        if check_bool(value['by_epoch'], 'evaluation.by_epoch') != \
                loop_by_epoch:
            raise ConfigError(f'evaluation.by_epoch: expected {loop_by_epoch} '
                              '(as train_cfg.by_epoch), found '
                              f'{value["by_epoch"]!r}')
    if 'interval' in value:
        interval = check_int(value['interval'], 'evaluation.interval',
                             minimum=1)
        t.set('train_cfg.val_interval', interval, 'evaluation.interval')
        done.append(f'train_cfg.val_interval={interval}')
    for name in ('save_best', 'rule'):
        if name in value:
            t.set(f'default_hooks.checkpoint.{name}', value[name],
                  f'evaluation.{name}')
            done.append(f'default_hooks.checkpoint.{name}='
                        f'{_copy(value[name])!r}')
    options = _mapping(value.get('metric_options') or {},
                       'evaluation.metric_options')
    _refuse_unknown(options, 'evaluation.metric_options', ['topk', 'thrs'])
    if 'topk' in value and 'topk' in options and \
            _plain(value['topk']) != _plain(options['topk']):
        raise ConfigError('evaluation.topk: expected the same as '
                          f'evaluation.metric_options.topk '
                          f'({options["topk"]!r}), found {value["topk"]!r}')
    if 'metric' in value:
        metrics = value['metric']
        metrics = [metrics] if isinstance(metrics, str) else _plain(metrics)
        if not isinstance(metrics, list):
            raise ConfigError(f"evaluation.metric: expected 'accuracy', "
                              f"found {value['metric']!r}")
        for metric in metrics:
            if metric in _METRIC_REPLACEMENTS:
                raise ConfigError(
                    f'evaluation.metric: mmcv-era metric {metric!r}; write '
                    f'{_METRIC_REPLACEMENTS[metric]} instead')
            if metric != 'accuracy':
                raise ConfigError(f"evaluation.metric: expected 'accuracy', "
                                  f"found {metric!r}")
        topk = value.get('topk', options.get('topk', (1, 5)))  # mmcls's
        topk = tuple(_plain(topk)) if isinstance(topk, (list, tuple)) \
            else (topk, )
        for k in topk:
            check_int(k, 'evaluation.topk', minimum=1)
        evaluator = dict(type='Accuracy', topk=topk)
        if 'thrs' in options:
            evaluator['thrs'] = options['thrs']
        for key in ('val_evaluator', 'test_evaluator'):
            t.set(key, evaluator, 'evaluation.metric')
        done.append(f'val_evaluator=test_evaluator={evaluator!r}')
    elif 'topk' in value or options:
        raise ConfigError("evaluation.metric: expected 'accuracy' with "
                          "evaluation's topk, found none")
    if 'gpu_collect' in value:
        check_bool(value['gpu_collect'], 'evaluation.gpu_collect')
        done.append('gpu_collect dropped (mmengine evaluators collect the '
                    'results themselves)')
    return '; '.join(done) or 'nothing (an empty dict)'


# --------------------------------------------------------------- schedule

def _optimizer(t: _Translation, value: Any) -> str:
    value = _copy(_mapping(value, 'optimizer'))
    if 'type' not in value:
        raise ConfigError('optimizer.type: expected an optimizer name such as '
                          "'SGD', found none (one optimizer per model part "
                          'is written as optim_wrapper.constructor)')
    constructor = value.pop('constructor', 'DefaultOptimizerConstructor')
    if constructor != 'DefaultOptimizerConstructor':
        raise ConfigError(f'optimizer.constructor: mmcv-era key; write '
                          f'optim_wrapper.constructor (an mmengine optimizer '
                          f'wrapper constructor) instead of {constructor!r}')
    done = []
    if 'paramwise_cfg' in value:
        paramwise = value.pop('paramwise_cfg')
        t.set('optim_wrapper.paramwise_cfg', paramwise,
              'optimizer.paramwise_cfg')
        done.append('optim_wrapper.paramwise_cfg')
    t.set('optim_wrapper.optimizer', value, 'optimizer')
    return ', '.join([f'optim_wrapper.optimizer={value!r}'] + done)


_FP16_REPLACEMENT = ("--amp on the command line (or optim_wrapper=dict("
                     "type='AmpOptimWrapper', loss_scale='dynamic'))")


def _optimizer_config(t: _Translation, value: Any) -> str:
    if value is None:
        return 'nothing (None)'
    value = _copy(_mapping(value, 'optimizer_config'))
    hook_type = value.pop('type', 'OptimizerHook')
    if 'Fp16' in str(hook_type) or 'loss_scale' in value:
        raise ConfigError(f'optimizer_config: mmcv-era fp16 optimizer hook; '
                          f'write {_FP16_REPLACEMENT} instead')
    known = ['grad_clip']
    if hook_type == 'GradientCumulativeOptimizerHook':
        known.append('cumulative_iters')
    elif hook_type != 'OptimizerHook':
        raise ConfigError(f'optimizer_config.type: expected OptimizerHook or '
                          f'GradientCumulativeOptimizerHook, found '
                          f'{hook_type!r}')
    _refuse_unknown(value, 'optimizer_config', known + ['type'])
    done = []
    grad_clip = value.get('grad_clip')
    if grad_clip is not None:
        grad_clip = _mapping(grad_clip, 'optimizer_config.grad_clip')
        t.set('optim_wrapper.clip_grad', grad_clip, 'optimizer_config')
        done.append(f'optim_wrapper.clip_grad={grad_clip!r}')
    if 'cumulative_iters' in value:
        counts = check_int(value['cumulative_iters'],
                           'optimizer_config.cumulative_iters', minimum=1)
        t.set('optim_wrapper.accumulative_counts', counts,
              'optimizer_config.cumulative_iters')
        done.append(f'optim_wrapper.accumulative_counts={counts}')
    return ', '.join(done) or 'nothing (no gradient clipping)'


def _max_epochs(t: _Translation, epochs: Any, source: str) -> str:
    epochs = check_int(epochs, source, minimum=1)
    if 'by_epoch' in (t.get('train_cfg') or {}):
        t.set('train_cfg.by_epoch', True, source)
    t.set('train_cfg.max_epochs', epochs, source)
    return f'train_cfg.max_epochs={epochs}'


def _runner(t: _Translation, value: Any) -> str:
    value = _mapping(value, 'runner')
    kind = value.get('type', 'EpochBasedRunner')
    if kind == 'EpochBasedRunner':
        _refuse_unknown(value, 'runner', ['type', 'max_epochs'])
        if 'max_epochs' not in value:
            raise ConfigError('runner.max_epochs: expected the number of '
                              'epochs of an EpochBasedRunner, found none')
        return _max_epochs(t, value['max_epochs'], 'runner.max_epochs')
    if kind != 'IterBasedRunner':
        raise ConfigError(f'runner.type: expected EpochBasedRunner or '
                          f'IterBasedRunner, found {kind!r}')
    _refuse_unknown(value, 'runner', ['type', 'max_iters'])
    iters = check_int(value.get('max_iters'), 'runner.max_iters', minimum=1)
    train_cfg = dict(by_epoch=False, max_iters=iters)
    for name, item in _copy(t.get('train_cfg') or {}).items():
        path = f'train_cfg.{name}'
        if not t.explicit(path) or name in train_cfg:
            continue  # inherited keys count epochs; dropped
        if name in ('max_epochs', 'type'):
            raise ConfigError(
                f'runner: mmcv-era IterBasedRunner gives train_cfg='
                f'{train_cfg!r}, but the config sets {path}={item!r}; keep '
                'one of them')
        train_cfg[name] = item
    for name in ('by_epoch', 'max_iters'):
        t.check(f'train_cfg.{name}', train_cfg[name], 'runner')
    t.put('train_cfg', train_cfg)
    return f'train_cfg={train_cfg!r} (an iteration-based loop)'


def _total_epochs(t: _Translation, value: Any) -> str:
    return _max_epochs(t, value, 'total_epochs')


# ------------------------------------------------------- runtime / resume

def _resume_from(t: _Translation, value: Any) -> str:
    if value is None:
        return 'nothing (None)'
    if not isinstance(value, str) or not value:
        raise ConfigError(f'resume_from: expected a checkpoint path, found '
                          f'{value!r}')
    t.set('load_from', value, 'resume_from')
    t.set('resume', True, 'resume_from')
    return f'resume=True, load_from={value!r}'


def _auto_resume(t: _Translation, value: Any) -> str:
    if not check_bool(value, 'auto_resume'):
        return 'nothing (False)'
    t.set('resume', True, 'auto_resume')
    return 'resume=True (from the work dir\'s latest checkpoint)'


def _dist_params(t: _Translation, value: Any) -> str:
    value = _copy(_mapping(value, 'dist_params'))
    for name, item in value.items():
        t.set(f'env_cfg.dist_cfg.{name}', item, f'dist_params.{name}')
    return f'env_cfg.dist_cfg {value!r}'


def _workflow(t: _Translation, value: Any) -> str:
    if _plain(value) != [['train', 1]]:
        raise ConfigError("workflow: expected [('train', 1)] (validation "
                          "runs every train_cfg.val_interval epochs), found "
                          f"{value!r}")
    return "nothing: [('train', 1)] is what mmengine's training loop does"


def _gpu_ids(t: _Translation, value: Any) -> str:
    return ('nothing: the launcher chooses the GPUs (tools/dist_train.sh, '
            'CUDA_VISIBLE_DEVICES)')


def _env_key(legacy: str, modern: str) -> Translator:
    def translate(t: _Translation, value: Any) -> str:
        t.set(modern, value, legacy)
        return f'{modern}={value!r}'
    return translate


# --------------------------------------------------------------- refusals

_LR_POLICIES = {
    'step': 'MultiStepLR', 'cosineannealing': 'CosineAnnealingLR',
    'poly': 'PolyLR', 'exp': 'ExponentialLR', 'fixed': 'ConstantLR',
    'onecycle': 'OneCycleLR', 'cosinerestart': 'CosineRestartLR',
    'linear': 'LinearLR',
}
_WARMUPS = {'linear': 'LinearLR', 'constant': 'ConstantLR',
            'exp': 'ExponentialLR'}
_MOMENTUM_POLICIES = {
    'step': 'MultiStepMomentum', 'cosineannealing':
    'CosineAnnealingMomentum', 'cyclic': 'CyclicMomentum (no mmengine '
    'equivalent; OneCycleLR cycles momentum too)', 'onecycle': 'OneCycleLR',
}


def _lr_replacement(value: Any) -> str:
    lines = ['param_scheduler']
    if not isinstance(value, dict):
        return 'param_scheduler (a list of schedulers)'
    policy = str(value.get('policy', ''))
    name = _LR_POLICIES.get(policy.lower())
    if policy.lower() == 'step' and not isinstance(value.get('step'),
                                                   (list, tuple)):
        name = 'StepLR'
    parts = []
    warmup = value.get('warmup')
    if warmup:
        parts.append(f'warmup={warmup!r} is '
                     f'{_WARMUPS.get(str(warmup), "a warmup scheduler")} '
                     f'with by_epoch=False, end=warmup_iters')
    if name:
        parts.append(f'policy={policy!r} is {name}')
    elif policy:
        parts.append(f'policy={policy!r} has no one-to-one scheduler')
    if name in ('MultiStepLR', 'StepLR') and 'step' in value:
        key = 'milestones' if name == 'MultiStepLR' else 'step_size'
        gamma = value.get('gamma', 0.1)
        parts.append(f"e.g. dict(type='{name}', by_epoch=True, "
                     f"{key}={_copy(value['step'])!r}, gamma={gamma!r})")
    if parts:
        lines.append(f"({'; '.join(parts)})")
    return ' '.join(lines)


def _momentum_replacement(value: Any) -> str:
    policy = str(value.get('policy', '')) if isinstance(value, dict) else ''
    name = _MOMENTUM_POLICIES.get(policy.lower())
    hint = f' (policy={policy!r} is {name})' if name else ''
    return f'momentum schedulers in param_scheduler{hint}'


def _data_replacement(value: Any) -> str:
    value = value if isinstance(value, dict) else {}
    batch = value.get('samples_per_gpu', '<samples_per_gpu>')
    workers = value.get('workers_per_gpu', '<workers_per_gpu>')
    return ('train_dataloader, val_dataloader and test_dataloader, each '
            f'dict(batch_size={batch}, num_workers={workers}, dataset=..., '
            "sampler=dict(type='DefaultSampler', shuffle=...))")


#: legacy key -> translator (returns what the key became) or refusal
LEGACY_KEYS: Dict[str, Union[Translator, Refuse]] = {
    'lr_config': Refuse(_lr_replacement),
    'momentum_config': Refuse(_momentum_replacement),
    'data': Refuse(_data_replacement),
    'fp16': Refuse(_FP16_REPLACEMENT),
    'log_config': _log_config,
    'checkpoint_config': _checkpoint_config,
    'search_eval_cfg': _search_eval_cfg,
    'runner': _runner,
    'total_epochs': _total_epochs,
    'evaluation': _evaluation,
    'optimizer': _optimizer,
    'optimizer_config': _optimizer_config,
    'resume_from': _resume_from,
    'auto_resume': _auto_resume,
    'dist_params': _dist_params,
    'workflow': _workflow,
    'gpu_ids': _gpu_ids,
    'cudnn_benchmark': _env_key('cudnn_benchmark', 'env_cfg.cudnn_benchmark'),
    'mp_start_method': _env_key('mp_start_method',
                                'env_cfg.mp_cfg.mp_start_method'),
    'opencv_num_threads': _env_key('opencv_num_threads',
                                   'env_cfg.mp_cfg.opencv_num_threads'),
}


def _log(lines: List[str]) -> None:
    from mmengine.logging import print_log
    for line in lines:
        print_log(line, logger='current')


def translate_legacy_keys(cfg: Any) -> Any:
    """Rewrite or refuse the mmcv-era keys of ``cfg`` in place; return it.

    Refusals come first, so a config with one is refused before anything
    is rewritten; the log lines are printed once everything is translated.
    """
    present = [key for key in LEGACY_KEYS if key in cfg]
    if not present:
        return cfg
    for key in present:
        entry = LEGACY_KEYS[key]
        if isinstance(entry, Refuse):
            raise ConfigError(entry.message(key, cfg[key]))
    t = _Translation(cfg)
    lines: List[str] = []
    for key in present:
        before = len(t.notes)
        became = LEGACY_KEYS[key](t, cfg[key])
        cfg.pop(key)
        lines += [f'gml: mmcv-era key {key} became {became}',
                  *t.notes[before:]]
    _log(lines)
    return cfg
