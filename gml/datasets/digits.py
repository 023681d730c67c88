"""scikit-learn's bundled handwritten digits as an image-classification set."""
from typing import List

import numpy as np
from mmpretrain.datasets import BaseDataset

from ..errors import ConfigError
from ..registry import DATASETS

SPLITS = ('train', 'val', 'test')


def stratified_split(labels: np.ndarray, val_ratio: float, seed: int,
                     split: str) -> np.ndarray:
    """Indices of ``split`` in a per-class shuffled train/val partition.

    Each class contributes ``round(n_class * val_ratio)`` images to the
    validation part; ``test`` is the same images as ``val``.
    """
    rng = np.random.RandomState(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        n_val = int(round(len(members) * val_ratio))
        chosen.append(members[n_val:] if split == 'train' else members[:n_val])
    return np.sort(np.concatenate(chosen))


@DATASETS.register_module()
class DigitsDataset(BaseDataset):
    """The 1,797 8x8 handwritten digits shipped with scikit-learn.

    Real images, no download: gml's embedded default for demos and tests.
    Pixels (0..16) are scaled to 0..255 ``uint8`` and repeated over three
    channels, then resized to ``image_size`` (bilinear) once at load time.

    Args:
        split: ``'train'``, ``'val'`` or ``'test'`` (same images as val).
        val_ratio: share of each class held out for validation.
        split_seed: seed of the deterministic per-class split.
        image_size: side of the square images produced.
        **kwargs: the usual mmpretrain dataset keys (``pipeline``, ...).
    """

    METAINFO = {'classes': tuple(str(d) for d in range(10))}

    def __init__(self, split: str = 'train', val_ratio: float = 0.2,
                 split_seed: int = 0, image_size: int = 8, **kwargs):
        if split not in SPLITS:
            raise ConfigError(f'DigitsDataset.split: expected one of '
                              f'{SPLITS}, found {split!r}')
        if not 0.0 < val_ratio < 1.0:
            raise ConfigError(f'DigitsDataset.val_ratio: expected a number in '
                              f'(0, 1), found {val_ratio!r}')
        if not isinstance(image_size, int) or image_size < 1:
            raise ConfigError(f'DigitsDataset.image_size: expected a positive '
                              f'integer, found {image_size!r}')
        self.split, self.val_ratio = split, val_ratio
        self.split_seed, self.image_size = split_seed, image_size
        kwargs.setdefault('test_mode', split != 'train')
        super().__init__(ann_file='', **kwargs)

    def load_data_list(self) -> List[dict]:
        from sklearn.datasets import load_digits
        digits = load_digits()
        labels = digits.target.astype(np.int64)
        images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
        if self.image_size != images.shape[1]:
            import cv2
            images = np.stack([
                cv2.resize(img, (self.image_size, self.image_size),
                           interpolation=cv2.INTER_LINEAR) for img in images])
        images = np.repeat(images[..., None], 3, axis=-1)
        index = stratified_split(labels, self.val_ratio, self.split_seed,
                                 self.split)
        return [dict(img=images[i], gt_label=int(labels[i])) for i in index]
