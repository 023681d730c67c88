"""MESS versions and the options of one projection, checked once.

=======  ===========  ===============  ====  ==============================
version  weights      alpha, beta      beta  index k while retraining
=======  ===========  ===============  ====  ==============================
v2       fp32         fp32             yes   searched again every time
v2q      fp32         qba / qbb bits   yes   searched again every time
v2qq     qb bits      qba / qbb bits   yes   searched again every time
v2nb     fp32         fp32 (alpha)     no    searched again every time
v2f      qb bits      qba / qbb bits   yes   kept from the first search
=======  ===========  ===============  ====  ==============================
"""
from dataclasses import dataclass
from typing import Union

from ...errors import ConfigError
from ...utils.checks import check_bits, check_choice, check_int

VERSIONS = {
    #        quantize weights, quantize alpha/beta, beta, fixed k
    'v2': (False, False, True, False),
    'v2q': (False, True, True, False),
    'v2qq': (True, True, True, False),
    'v2nb': (False, False, False, False),
    'v2f': (True, True, True, True),
}
POINTWISE = ('auto', True, False)
MAX_BITS = 8


@dataclass(frozen=True)
class MESSOptions:
    """What one projection does.

    Args:
        version: one of :data:`VERSIONS`.
        qb: bits of the quantized weights (``v2qq``, ``v2f``).
        qba, qbb: bits of the quantized alpha and beta (``v2q``, ``v2qq``,
            ``v2f``).
        pointwise: share the 1x1 convs too: ``'auto'`` (only in models
            with depthwise convs, the MobileNets), ``True`` or ``False``.
        slice_size: input channels per pointwise slice.
    """

    version: str = 'v2qq'
    qb: int = 8
    qba: int = 8
    qbb: int = 8
    pointwise: Union[str, bool] = 'auto'
    slice_size: int = 8

    @classmethod
    def create(cls, prefix: str = '', **kwargs) -> 'MESSOptions':
        """Build and check the options; a bad value is a ConfigError that
        names the key as ``prefix + key`` (``MESSHook.qb``, ``--qb``)."""
        options = cls(**kwargs)
        if options.version not in VERSIONS:  # listed unquoted, as on the CLI
            raise ConfigError(f'{prefix}version: expected one of '
                              f'{", ".join(VERSIONS)}, found '
                              f'{options.version!r}')
        for key in ('qb', 'qba', 'qbb'):
            check_bits(getattr(options, key), prefix + key, 1, MAX_BITS)
        check_choice(options.pointwise, f'{prefix}pointwise', POINTWISE)
        check_int(options.slice_size, f'{prefix}slice_size', 1)
        return options

    @property
    def quantize_weights(self) -> bool:
        return VERSIONS[self.version][0]

    @property
    def quantize_coefficients(self) -> bool:
        return VERSIONS[self.version][1]

    @property
    def with_beta(self) -> bool:
        return VERSIONS[self.version][2]

    @property
    def fixed_index(self) -> bool:
        return VERSIONS[self.version][3]

    def to_dict(self) -> dict:
        return dict(version=self.version, qb=self.qb, qba=self.qba,
                    qbb=self.qbb, pointwise=self.pointwise,
                    slice_size=self.slice_size)
