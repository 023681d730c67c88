"""ActNN optimization levels and the settings they stand for."""
from dataclasses import dataclass, fields

from ..errors import ConfigError

ACTIVATION_BITS = (1, 2, 4, 8)


@dataclass
class ActNNConfig:
    """What the controller compresses and how.

    Attributes:
        level: the optimization level these settings came from.
        compress_activation: False stores everything as is (L0).
        activation_compression_bits: fixed bits, or the average the
            per-tensor bits are chosen for (auto precision).
        auto_precision: choose per-tensor bits from gradient statistics.
        compress_conv_outputs: False keeps tensors produced by a
            convolution (what BatchNorm saves in conv-BN networks) as they
            are (L1).
        swap: move compressed tensors to CPU memory until backward (L4).
        input_bits: bits of saved tensors without gradient (the model's
            input: images are 8-bit data to begin with).
        group_size: values sharing one min/scale.
        min_numel: smaller tensors are kept as they are.
        adapt_interval: iterations between choices of per-tensor bits.
    """
    level: str = 'L3'
    compress_activation: bool = True
    activation_compression_bits: int = 2
    auto_precision: bool = True
    compress_conv_outputs: bool = True
    swap: bool = False
    input_bits: int = 8
    group_size: int = 256
    min_numel: int = 4096
    adapt_interval: int = 20

    def __setattr__(self, name, value):
        # a typo or an ActNN setting gml does not have is refused: it
        # would otherwise change nothing, silently
        if name == 'use_gradient':
            if value:
                raise ConfigError(USE_GRADIENT)
            return
        if name not in self.__dataclass_fields__:
            raise ConfigError(f'actnn.config: expected a setting among '
                              f'{sorted(self.__dataclass_fields__)}, found '
                              f'{name!r}')
        if name == 'activation_compression_bits':
            value = check_bits(_one_value(value),
                               'config.activation_compression_bits')
        object.__setattr__(self, name, value)

    @property
    def use_gradient(self) -> bool:
        """ActNN's per-sample gradient statistics: always False in gml
        (setting True is refused with what gml does instead)."""
        return False


LEVELS = {
    'L0': dict(compress_activation=False, auto_precision=False),
    'L1': dict(activation_compression_bits=4, auto_precision=False,
               compress_conv_outputs=False),
    'L2': dict(activation_compression_bits=4, auto_precision=False),
    'L3': dict(activation_compression_bits=2, auto_precision=True),
    'L4': dict(activation_compression_bits=2, auto_precision=True,
               swap=True),
}
UNSUPPORTED = {
    'L5': "ActNN's L5 adds allocator defragmentation that needs a patched "
          'PyTorch build; gml runs on stock PyTorch and does not patch its '
          'allocator. L4 (L3 + compressed tensors in CPU memory) is the '
          'highest level available',
}

USE_GRADIENT = (
    'actnn.config.use_gradient: expected False, found True (gml keeps no '
    'per-sample gradient statistics, so QScheme.num_samples has no use; its '
    'auto precision chooses bits per tensor from gradient statistics: '
    "actnn.set_optimization_level('L3'))")


def _one_value(bits):
    """ActNN writes the bits as a one-element list (``[8]``)."""
    if isinstance(bits, (list, tuple)) and len(bits) == 1:
        return bits[0]
    return bits


class _SchemeSettings(type):
    """Class-level settings of :class:`QScheme`, checked when set."""

    def __setattr__(cls, name, value):
        if name != 'num_samples':
            raise ConfigError(f"actnn.QScheme: expected 'num_samples', "
                              f'found {name!r}')
        if isinstance(value, bool) or not isinstance(value, int) or \
                value < 0:
            raise ConfigError(f'actnn.QScheme.num_samples: expected a '
                              f'number of samples >= 0, found {value!r}')
        super().__setattr__(name, value)


class QScheme(metaclass=_SchemeSettings):
    """ActNN's per-layer quantization scheme, kept for its one class
    setting: ``QScheme.num_samples`` is the training set size that ActNN's
    per-sample gradient statistics (``config.use_gradient = True``) are
    indexed by. gml refuses ``use_gradient = True`` (it chooses bits per
    tensor, see ``ActNNConfig.auto_precision``), so the value is checked
    and kept but nothing reads it."""

    num_samples = 0


def level_settings(level: str) -> ActNNConfig:
    """The settings of optimization ``level`` ('L0' .. 'L4')."""
    if level in UNSUPPORTED:
        raise ConfigError(f'actnn level {level!r} is not supported: '
                          f'{UNSUPPORTED[level]}')
    if level not in LEVELS:
        raise ConfigError(f'actnn level: expected one of {sorted(LEVELS)}, '
                          f'found {level!r}')
    return ActNNConfig(level=level, **LEVELS[level])


def set_optimization_level(level: str) -> ActNNConfig:
    """Make ``level`` the default of every controller created afterwards
    (``gml.actnn.config`` keeps the settings; change its fields to tune
    them, e.g. ``config.activation_compression_bits = 8``)."""
    settings = level_settings(level)
    for item in fields(ActNNConfig):
        setattr(config, item.name, getattr(settings, item.name))
    return config


def check_bits(bits, key: str = 'activation_compression_bits') -> int:
    """``bits`` if it is one of 1, 2, 4, 8."""
    if isinstance(bits, bool) or bits not in ACTIVATION_BITS:
        raise ConfigError(f'actnn {key}: expected one of {ACTIVATION_BITS},'
                          f' found {bits!r}')
    return bits


config = ActNNConfig()  # the defaults of controllers and Q-layers
