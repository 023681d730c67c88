"""Slice ops: weight-sharing dynamic ops for one-shot NAS.

Each op holds its largest tensors and runs on their leading slices at the
active sub-configuration (``set_active``, or the input's width), and exports
itself as a plain op (``to_static``) whose output equals its own. Which
configurations exist is the mutator's business, when to choose one the
algorithm's.

Importing this package registers the ops in :data:`gml.registry.MODELS`
(``type='gml.Conv2dSlice'`` and so on).
"""
from .batchnorm_slice import BatchNorm2dSlice
from .conv2d_slice import Conv2dSlice
from .drop_path import DropPath, check_drop_ratio, drop_path
from .flops import FlopsCounter, count_flops
from .linear_slice import LinearSlice
from .resize_slice import ResizeSlice
from .se_slice import SqueezeExcite, SqueezeExciteSlice
from .utils import center_crop_kernel, make_divisible

#: The slice-op classes, for ``isinstance`` checks.
SLICE_OPS = (Conv2dSlice, LinearSlice, BatchNorm2dSlice, SqueezeExciteSlice,
             ResizeSlice)

__all__ = [
    'BatchNorm2dSlice', 'Conv2dSlice', 'LinearSlice', 'ResizeSlice',
    'SqueezeExcite', 'SqueezeExciteSlice', 'SLICE_OPS', 'FlopsCounter',
    'count_flops', 'center_crop_kernel', 'make_divisible', 'DropPath',
    'check_drop_ratio', 'drop_path'
]
