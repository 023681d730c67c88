"""Input resolution as a searchable dimension, resized inside the model."""
from typing import Any, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ...space import Categorical, Space, build_space
from ...utils.checks import check_int

# The BigNAS/AttentiveNAS resolutions {192, 224, 256, 288}, 224 by default.
DEFAULT_RESOLUTION = dict(type='Int', lower=192, upper=289, step=32,
                          default=224)


@MODELS.register_module()
class ResizeSlice(nn.Module):
    """Resize the input images to the active square resolution.

    Bicubic interpolation with ``align_corners=False`` (AttentiveNAS and the
    GML docs resize inside the model); an input that already has the active
    size is returned unchanged.

    Args (config keys):
        resolution: a gml search-space dict, e.g. ``dict(type='Int',
            lower=192, upper=289, step=32, default=224)`` (the default),
            or an int for a fixed resolution. None means the default.

    The op starts at the space's ``default``. ``set_active(resolution)``
    validates against the space (a value outside raises ConfigError naming
    ``resolution``); ``set_active(None)`` chooses the largest, as for every
    slice op. ``to_static()`` returns a ``ResizeSlice`` fixed at the active
    resolution.
    """

    def __init__(self, resolution: Union[None, int, dict] = None):
        super().__init__()
        if resolution is None:
            resolution = DEFAULT_RESOLUTION
        if isinstance(resolution, Space):
            space = resolution
        elif isinstance(resolution, dict) or hasattr(resolution, 'to_dict'):
            cfg = resolution.to_dict() if hasattr(resolution, 'to_dict') \
                else dict(resolution)
            space = build_space(cfg, key='resolution')
        else:
            fixed = check_int(resolution, 'ResizeSlice.resolution', 1)
            space = Categorical([fixed], key='resolution')
        for value in space.grid():
            check_int(value, 'resolution', 1)
        self.space = space
        self.resolution = space.default

    def set_active(self, resolution: Optional[Any] = None) -> None:
        """Choose the active resolution (None = the space's largest)."""
        if resolution is None:
            resolution = self.space.max
        self.resolution = self.space.validate(resolution)

    def active_config(self) -> dict:
        return dict(resolution=self.resolution)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__}: expected N x C x H x W '
                             f'images, found shape {tuple(x.shape)}')
        size = self.resolution
        if x.shape[-2] == size and x.shape[-1] == size:
            return x
        return F.interpolate(x, size=(size, size), mode='bicubic',
                             align_corners=False)

    def to_static(self) -> 'ResizeSlice':
        """A ``ResizeSlice`` whose only resolution is the active one."""
        return ResizeSlice(self.resolution)

    def extra_repr(self) -> str:
        return f'space={self.space!r}, resolution={self.resolution}'

