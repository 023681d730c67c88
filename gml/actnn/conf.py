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

config = ActNNConfig()


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
