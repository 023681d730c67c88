"""CIFAR-10/100 from local ``cifar-*-python`` folders, never downloaded."""
import os
from typing import List, Optional, Tuple

from mmpretrain.datasets import CIFAR10 as _MMPretrainCIFAR10
from mmpretrain.datasets import CIFAR100 as _MMPretrainCIFAR100

from ..errors import DataNotFoundError
from ..registry import DATASETS


def cifar_file_entries(dataset_cls, split: Optional[str] = None
                       ) -> List[Tuple[str, Optional[str]]]:
    """``(file name, md5)`` of what a CIFAR class reads for ``split``
    (``'train'`` or ``'test'``; ``None``: both): the split's batches and
    the meta file."""
    lists = {'train': dataset_cls.train_list, 'test': dataset_cls.test_list}
    entries = lists.get(split) or dataset_cls.train_list + \
        dataset_cls.test_list
    meta = dataset_cls.meta
    return [(e[0], e[1]) for e in entries] + \
        [(meta['filename'], meta.get('md5'))]


def expected_cifar_files(dataset_cls, root: str,
                         split: Optional[str] = None) -> List[str]:
    """The files a CIFAR dataset class reads below ``root`` for ``split``."""
    return [os.path.join(root, dataset_cls.base_folder, name)
            for name, _ in cifar_file_entries(dataset_cls, split)]


def check_cifar_files(dataset_cls, root: str, where: str = '',
                      split: Optional[str] = None) -> None:
    """Raise DataNotFoundError listing the missing files, if any."""
    missing = [p for p in expected_cifar_files(dataset_cls, root, split)
               if not os.path.isfile(p)]
    if missing:
        prefix = f'{where}: ' if where else ''
        folder = os.path.join(root, dataset_cls.base_folder)
        raise DataNotFoundError(
            f'{prefix}{dataset_cls.__name__} data not found: expected the '
            f'folder {folder} with {", ".join(os.path.basename(p) for p in missing)} '
            f'(gml never downloads data; unpack {dataset_cls.filename} there, '
            f'or set data_root)')


class _LocalCIFARMixin:
    """Check files by presence (md5 optional) and refuse to download."""

    def __init__(self, *args, verify_md5: bool = False, **kwargs):
        self.verify_md5 = verify_md5
        kwargs['download'] = False
        super().__init__(*args, **kwargs)

    def _check_integrity(self) -> bool:
        root = self.data_prefix['root']
        check_cifar_files(type(self), root, split=self.split)
        if self.verify_md5 and not self._checksums_match(root):
            # mmpretrain would report the files as missing and suggest
            # download=True, which gml never does
            folder = os.path.join(root, self.base_folder)
            raise DataNotFoundError(
                f'{type(self).__name__}: the files in {folder} do not have '
                f'the official checksums (verify_md5=True); replace them '
                f'with the files of {self.filename}, or set '
                f'verify_md5=False')
        return True

    def _checksums_match(self, root: str) -> bool:
        from mmpretrain.datasets.utils import check_md5
        folder = os.path.join(root, self.base_folder)
        return all(md5 is None or check_md5(os.path.join(folder, name), md5)
                   for name, md5 in cifar_file_entries(type(self),
                                                       self.split))

    def _load_meta(self):
        if not self.verify_md5:
            self.meta = dict(self.meta, md5=None)
        return super()._load_meta()


@DATASETS.register_module()
class CIFAR10(_LocalCIFARMixin, _MMPretrainCIFAR10):
    """mmpretrain's CIFAR-10 reading ``data_root/cifar-10-batches-py``.

    ``verify_md5=True`` also checks the official checksums.
    """


@DATASETS.register_module()
class CIFAR100(_LocalCIFARMixin, _MMPretrainCIFAR100):
    """mmpretrain's CIFAR-100 reading ``data_root/cifar-100-python``."""
