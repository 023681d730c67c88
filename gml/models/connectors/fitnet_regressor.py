"""FitNet's regressor from a student feature to the teacher's shape."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from ...utils.checks import is_int
from ..losses._args import positive_int

Size = Union[int, Sequence[int]]


def _size(value: Size, name: str) -> Tuple[int, int]:
    if is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f'FitNetRegressor.{name}: expected (H, W) or an '
                          f'int, found {value!r}')
    return tuple(positive_int(v, name, 'FitNetRegressor') for v in value)


@MODELS.register_module()
class FitNetRegressor(nn.Module):
    """Conv + BN + ReLU mapping ``(in_channels, Hs, Ws)`` to
    ``(out_channels, Ht, Wt)``.

    The conv depends on the spatial sizes:

    - equal sizes, or both sizes ``None``: 3x3 conv, stride 1, padding 1;
    - student 2x the teacher (Hs = 2Ht and Ws = 2Wt): 3x3 conv, stride 2,
      padding 1;
    - student half the teacher (2Hs = Ht and 2Ws = Wt): 4x4 transposed conv,
      stride 2, padding 1;
    - otherwise, when Hs >= Ht and Ws >= Wt: a conv with kernel
      (1+Hs-Ht, 1+Ws-Wt), no padding.

    Other size pairs are a ConfigError. Sizes are not inferred: give both
    or neither. With sizes given, ``forward`` checks the input's size.

    Args:
        in_channels: student channels.
        out_channels: teacher channels.
        student_size: (Hs, Ws) or an int for square maps.
        teacher_size: (Ht, Wt) or an int for square maps.
    """

    needs_pretrain = False

    def __init__(self, in_channels: int, out_channels: int,
                 student_size: Optional[Size] = None,
                 teacher_size: Optional[Size] = None):
        super().__init__()
        cin = positive_int(in_channels, 'in_channels', 'FitNetRegressor')
        cout = positive_int(out_channels, 'out_channels', 'FitNetRegressor')
        if (student_size is None) != (teacher_size is None):
            missing = 'teacher_size' if teacher_size is None \
                else 'student_size'
            raise ConfigError(f'FitNetRegressor.{missing}: give both '
                              'student_size and teacher_size, or neither '
                              '(equal spatial sizes)')
        self.student_size = self.teacher_size = None
        if student_size is None:
            conv = nn.Conv2d(cin, cout, 3, stride=1, padding=1)
        else:
            (hs, ws) = self.student_size = _size(student_size,
                                                 'student_size')
            (ht, wt) = self.teacher_size = _size(teacher_size,
                                                 'teacher_size')
            if (hs, ws) == (ht, wt):
                conv = nn.Conv2d(cin, cout, 3, stride=1, padding=1)
            elif (hs, ws) == (2 * ht, 2 * wt):
                conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
            elif (2 * hs, 2 * ws) == (ht, wt):
                conv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
            elif hs >= ht and ws >= wt:
                conv = nn.Conv2d(cin, cout, (1 + hs - ht, 1 + ws - wt))
            else:
                raise ConfigError(
                    f'FitNetRegressor.student_size: {(hs, ws)} cannot be '
                    f'mapped onto teacher_size {(ht, wt)}; supported are '
                    'equal, 2x, half, or a student at least as large in '
                    'both dimensions')
        self.conv = conv
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.student_size is not None \
                and tuple(x.shape[-2:]) != self.student_size:
            raise ValueError(f'FitNetRegressor: built for student maps of '
                             f'size {self.student_size}, got '
                             f'{tuple(x.shape[-2:])}')
        return self.relu(self.bn(self.conv(x)))
