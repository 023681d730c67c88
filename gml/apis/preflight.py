"""Checks of the runner-level keys of a config, before anything is built.

mmengine passes these values straight to torch, which reports a bad one
deep inside (``'<' not supported between 'str' and 'float'`` for
``lr='fast'``) or only once training starts. Checked here, a mistake is one
line naming the key, what was expected and what was found, and nothing has
been written yet. Checkpoint files a config names are checked to be whole.
"""
from typing import Any, Iterator, Optional, Tuple

from ..errors import ConfigError
from ..utils.checks import (check_bool, check_int, check_number, check_seed,
                            is_int)
from ..utils.weights import check_checkpoint_file

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')

#: keys whose string value is a checkpoint file to read
CHECKPOINT_KEYS = ('load_from', 'pretrained', 'ckpt_path', 'checkpoint')


def _mapping(cfg: Any, key: str):
    value = cfg.get(key) if hasattr(cfg, 'get') else None
    return value if isinstance(value, dict) else None


def check_dataloaders(cfg: Any) -> None:
    """Batch size, workers and flags of every dataloader."""
    for name in DATALOADERS:
        loader = _mapping(cfg, name)
        if loader is None:
            continue
        if 'batch_size' in loader:
            check_int(loader['batch_size'], f'{name}.batch_size', minimum=1)
        if 'num_workers' in loader:
            check_int(loader['num_workers'], f'{name}.num_workers')
        for flag in ('persistent_workers', 'pin_memory', 'drop_last'):
            if flag in loader:
                check_bool(loader[flag], f'{name}.{flag}')
        if loader.get('persistent_workers') and \
                loader.get('num_workers', 0) == 0:
            raise ConfigError(f'{name}.persistent_workers: expected False when '
                         f'num_workers is 0, found True')


def check_optimizer(cfg: Any) -> None:
    """The numbers of ``optim_wrapper.optimizer`` (SGD, Adam, ... keys)."""
    wrapper = _mapping(cfg, 'optim_wrapper')
    optimizer = _mapping(wrapper, 'optimizer') if wrapper else None
    if optimizer is None:
        return
    key = 'optim_wrapper.optimizer'
    from mmengine.registry import OPTIMIZERS
    _check_registered(cfg, optimizer.get('type'), OPTIMIZERS)
    if 'lr' in optimizer:
        check_number(optimizer['lr'], f'{key}.lr', minimum=0, finite=True)
    if 'weight_decay' in optimizer:
        check_number(optimizer['weight_decay'], f'{key}.weight_decay',
                     minimum=0, finite=True)
    if 'momentum' in optimizer:
        check_number(optimizer['momentum'], f'{key}.momentum', minimum=0,
                     maximum=1)
    if 'eps' in optimizer:
        check_number(optimizer['eps'], f'{key}.eps', minimum=0, strict=True)
    betas = optimizer.get('betas')
    if betas is not None:
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise ConfigError(f'{key}.betas: expected two numbers in [0, 1), '
                         f'found {betas!r}')
        for i, beta in enumerate(betas):
            check_number(beta, f'{key}.betas[{i}]', minimum=0, maximum=1)


def _check_registered(cfg: Any, obj_type: Any, root) -> None:
    """mmengine looks some types up outside its builders (the optimizer,
    by its constructor): an unknown one must stop here, clearly. ``root``
    is mmengine's root registry; the default scope picks the child."""
    if not isinstance(obj_type, str):
        return
    from ..registry import unknown_type_message
    with root.switch_scope_and_registry(None) as registry:
        if registry.get(obj_type) is None:
            raise ConfigError(unknown_type_message(
                obj_type, registry.scope, root.name, cfg))


def check_schedule(cfg: Any) -> None:
    """Epochs, iterations and intervals of ``train_cfg``, and the seed."""
    train_cfg = _mapping(cfg, 'train_cfg')
    if train_cfg is not None:
        for key in ('max_epochs', 'max_iters', 'val_interval', 'val_begin'):
            if key in train_cfg:
                check_int(train_cfg[key], f'train_cfg.{key}',
                          minimum=0 if key == 'val_begin' else 1)
    randomness = _mapping(cfg, 'randomness')
    if randomness is not None and 'seed' in randomness:
        check_seed(randomness['seed'], 'randomness.seed')


def check_loop(cfg: Any) -> None:
    """mmengine takes a loop ``type`` or ``by_epoch``, not both (a ``type``
    added on top of a base's ``by_epoch`` fails when training starts)."""
    for name in ('train_cfg', 'val_cfg', 'test_cfg'):
        loop = _mapping(cfg, name)
        if loop is not None and 'type' in loop and 'by_epoch' in loop:
            raise ConfigError(
                f'{name}.type: expected either a loop type or by_epoch, '
                f'found both (type={loop["type"]!r}, by_epoch='
                f'{loop["by_epoch"]!r}); to replace a base config\'s loop '
                f'write {name}=dict(_delete_=True, type=..., ...)')


def _head_cfg(cfg: Any) -> Tuple[str, Any]:
    """(key path, config) of the head of the model the run trains."""
    algorithm = _mapping(cfg, 'algorithm')
    if algorithm is not None and algorithm.get('model') is not None:
        model, key = algorithm.get('model'), 'algorithm.model'
    else:
        model, key = cfg.get('model'), 'model'
    head = model.get('head') if isinstance(model, dict) else None
    return f'{key}.head', head if isinstance(head, dict) else None


def _dataset_classes(dataset: dict) -> Optional[int]:
    from ..datasets.preflight import _resolve
    metainfo = dataset.get('metainfo')
    classes = metainfo.get('classes') if isinstance(metainfo, dict) else None
    if classes is None:
        classes = dataset.get('classes')
    if classes is None:
        cls = _resolve(dataset)
        classes = (getattr(cls, 'METAINFO', None) or {}).get('classes')
    return len(classes) if isinstance(classes, (list, tuple)) else None


def check_classes(cfg: Any) -> None:
    """The head has a logit for every class of the data, and the
    evaluators' ``topk`` do not exceed the number of classes."""
    from ..datasets.preflight import iter_dataset_cfgs
    key, head = _head_cfg(cfg)
    num_classes = head.get('num_classes') if head is not None else None
    if not isinstance(num_classes, int) or isinstance(num_classes, bool):
        return
    for where, dataset in iter_dataset_cfgs(cfg):
        classes = _dataset_classes(dataset)
        if classes is not None and classes > num_classes:
            raise ConfigError(
                f'{key}.num_classes: expected at least {classes} (the '
                f'classes of {where}), found {num_classes}')
    for name in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(name)
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for i, evaluator in enumerate(evaluators or []):
            if not isinstance(evaluator, dict) or \
                    str(evaluator.get('type')).split('.')[-1] != 'Accuracy':
                continue
            topk = evaluator.get('topk', (1, ))
            topk = topk if isinstance(topk, (list, tuple)) else [topk]
            where = name if isinstance(cfg.get(name), dict) else \
                f'{name}[{i}]'
            if any(is_int(k) and k > num_classes for k in topk):
                raise ConfigError(
                    f'{where}.topk: expected values up to {num_classes} '
                    f'({key}.num_classes), found {tuple(topk)}')


def iter_checkpoint_paths(cfg: Any, key: str = ''
                          ) -> Iterator[Tuple[str, str]]:
    """``(key path, file)`` of every local checkpoint file ``cfg`` names."""
    if isinstance(cfg, dict) or hasattr(cfg, 'items'):
        for k, value in cfg.items():
            path = f'{key}.{k}' if key else str(k)
            if k in CHECKPOINT_KEYS and isinstance(value, str) and value \
                    and '://' not in value:
                yield path, value
            else:
                yield from iter_checkpoint_paths(value, path)
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            yield from iter_checkpoint_paths(value, f'{key}[{i}]')


def check_checkpoints(cfg: Any) -> None:
    """Every checkpoint file the run will read exists and is whole: those
    of ``load_from``, of the algorithm and of the model it trains. Other
    top-level variables (a ``teacher = dict(...)`` that configs reuse and
    ``--cfg-options`` do not reach) are not read by the run."""
    algorithm = _mapping(cfg, 'algorithm')
    sections = ['algorithm'] if algorithm is not None else []
    if algorithm is None or algorithm.get('model') is None:
        sections.append('model')
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and load_from and '://' not in load_from:
        check_checkpoint_file(load_from, 'load_from')
    for section in sections:
        for key, path in iter_checkpoint_paths(cfg.get(section), section):
            check_checkpoint_file(path, key)


def check_runner_keys(cfg: Any) -> None:
    """All of the above."""
    check_dataloaders(cfg)
    check_optimizer(cfg)
    check_schedule(cfg)
    check_loop(cfg)
    check_classes(cfg)
    check_checkpoints(cfg)
