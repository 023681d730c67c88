"""A choice among files that match a path or glob pattern."""
import glob
import os
from typing import List, Optional

from .base import RandomLike, Space, as_rng, check_default, register_space


@register_space
class File(Space):
    """One of the files matching ``path`` (``*``, ``?``, ``[]`` and ``**``).

    Matches are sorted, so grids and seeded samples are reproducible. A
    relative pattern is resolved against ``root`` (default: the current
    directory); values are returned as matched (relative stays relative).
    """

    def __init__(self, path: str, default: Optional[str] = None,
                 root: Optional[str] = None, key: str = ''):
        super().__init__(key)
        if not isinstance(path, str) or not path:
            raise self.fail(f'path must be a non-empty string, found {path!r}')
        self.path, self.root = path, root
        pattern = path if root is None else os.path.join(root, path)
        matches = sorted(p for p in glob.glob(pattern, recursive=True)
                         if os.path.isfile(p))
        if not matches:
            raise self.fail(f'path {pattern!r} matched no file')
        if root is not None:
            matches = [os.path.relpath(p, root) for p in matches]
        self.files: List[str] = matches
        self._default = check_default(self, default, lambda: self.files[0])

    def grid(self) -> List[str]:
        return list(self.files)

    def sample(self, seed: RandomLike = None) -> str:
        return as_rng(seed).choice(self.files)

    def validate(self, value) -> str:
        if value not in self.files:
            raise self.fail(f'{value!r} is not one of the {len(self.files)} '
                            f'files matching {self.path!r}')
        return value

    def to_config(self) -> dict:
        cfg = dict(type='File', path=self.path, default=self._default)
        if self.root is not None:
            cfg['root'] = self.root
        return cfg

    @property
    def default(self) -> str:
        return self._default

    @property
    def min(self) -> str:
        return self.files[0]

    @property
    def max(self) -> str:
        return self.files[-1]
