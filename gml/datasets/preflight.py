"""Check, before anything runs, that every dataset's files are on disk.

A training run must not start, write logs, or try a download only to find
half an hour later that the validation set is missing. This walks the
``*_dataloader.dataset`` configs (through dataset wrappers), and for each one
checks the paths it will read.
"""
import os
from typing import Any, Iterator, Sequence, Tuple

from ..errors import DataNotFoundError

DATALOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def iter_dataset_cfgs(cfg: Any, keys: Sequence[str] = DATALOADER_KEYS
                      ) -> Iterator[Tuple[str, dict]]:
    """Yield ``(key path, dataset config)`` for the dataset of each
    dataloader in ``keys`` (all three by default)."""
    for key in keys:
        loader = cfg.get(key) if hasattr(cfg, 'get') else None
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            yield from _walk(loader['dataset'], f'{key}.dataset')


def _walk(dataset: dict, key: str) -> Iterator[Tuple[str, dict]]:
    inner = dataset.get('dataset')
    inners = dataset.get('datasets')
    if isinstance(inner, dict):
        yield from _walk(inner, f'{key}.dataset')
    elif isinstance(inners, (list, tuple)):
        for i, d in enumerate(inners):
            if isinstance(d, dict):
                yield from _walk(d, f'{key}.datasets[{i}]')
    else:
        yield key, dataset


def _is_local(path: str) -> bool:
    return '://' not in path


def _resolve(dataset: dict):
    from mmengine.registry import DATASETS, DefaultScope
    scope = DefaultScope.get_current_instance()
    with DATASETS.switch_scope_and_registry(
            scope.scope_name if scope else None) as registry:
        try:
            return registry.get(dataset.get('type'))
        except (KeyError, RuntimeError):  # unknown types fail later, clearly
            return None


def check_dataset(dataset: dict, key: str) -> None:
    """Raise DataNotFoundError if ``dataset``'s files are not on disk.

    Also turns off ``download`` on datasets that have it: gml runs on machines
    without internet and must fail fast instead of hanging on a download.
    """
    from mmpretrain.datasets import CIFAR10 as MMPretrainCIFAR10
    from .cifar import check_cifar_files
    if 'download' in dataset:
        dataset['download'] = False
    dataset_cls = _resolve(dataset) if dataset.get('type') else None
    data_root = dataset.get('data_root', '') or ''
    prefix = dataset.get('data_prefix', '') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('root', prefix.get('img_path', '')) or ''
    if dataset_cls is not None and isinstance(dataset_cls, type) and \
            issubclass(dataset_cls, MMPretrainCIFAR10):
        root = os.path.join(data_root, prefix) if prefix else data_root
        check_cifar_files(dataset_cls, root, key,
                          split=dataset.get('split', 'train'))
        return
    paths = []
    if data_root:
        paths.append(('data_root', data_root))
    ann_file = dataset.get('ann_file') or ''
    if ann_file:
        paths.append(('ann_file', os.path.join(data_root, ann_file)))
    if prefix:
        paths.append(('data_prefix', os.path.join(data_root, prefix)))
    for name, path in paths:
        if _is_local(path) and not os.path.exists(path):
            raise DataNotFoundError(
                f'{key}.{name}: {dataset.get("type")} data not found at '
                f'{path} (gml never downloads data; put the files there or '
                f'change {key}.{name})')


def check_data_available(cfg: Any,
                         keys: Sequence[str] = DATALOADER_KEYS) -> None:
    """Check the datasets of the dataloaders in ``keys`` (by default all:
    what a training run reads; a test reads only ``test_dataloader``)."""
    for key, dataset in iter_dataset_cfgs(cfg, keys):
        check_dataset(dataset, key)
