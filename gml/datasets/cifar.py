"""CIFAR-10/100 from local ``cifar-*-python`` folders, never downloaded."""
import os
from typing import List

from mmpretrain.datasets import CIFAR10 as _MMPretrainCIFAR10
from mmpretrain.datasets import CIFAR100 as _MMPretrainCIFAR100

from ..errors import DataNotFoundError
from ..registry import DATASETS


def expected_cifar_files(dataset_cls, root: str) -> List[str]:
    """Every file a CIFAR dataset class reads below ``root``."""
    names = [n for n, _ in dataset_cls.train_list + dataset_cls.test_list]
    names.append(dataset_cls.meta['filename'])
    return [os.path.join(root, dataset_cls.base_folder, n) for n in names]


def check_cifar_files(dataset_cls, root: str, where: str = '') -> None:
    """Raise DataNotFoundError listing the missing files, if any."""
    missing = [p for p in expected_cifar_files(dataset_cls, root)
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
        check_cifar_files(type(self), root)
        if self.verify_md5 and not super()._check_integrity():
            # mmpretrain would report the files as missing and suggest
            # download=True, which gml never does
            folder = os.path.join(root, self.base_folder)
            raise DataNotFoundError(
                f'{type(self).__name__}: the files in {folder} do not have '
                f'the official checksums (verify_md5=True); replace them '
                f'with the files of {self.filename}, or set '
                f'verify_md5=False')
        return True

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
