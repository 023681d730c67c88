"""Factor Transfer's paraphraser (teacher side) and translator (student)."""
import math
from typing import Any, Callable, Optional

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS, translate_build_errors
from ..losses._args import positive_int, real

#: ``pretrain_criterion`` types that name torch.nn losses.
TORCH_CRITERIA = ('L1Loss', 'MSELoss', 'SmoothL1Loss')


def build_criterion(cfg: Any, owner: str) -> Optional[Callable]:
    """Build a ``pretrain_criterion``: ``criterion(reconstruction, target)``.

    ``None`` -> None; a module or callable is used as is; a dict whose
    ``type`` is ``'L1Loss'``, ``'MSELoss'`` or ``'SmoothL1Loss'`` (optionally
    prefixed ``torch.nn.`` / ``nn.``) builds that torch.nn loss with the
    other keys; any other dict goes through ``MODELS.build``.
    """
    key = f'{owner}.pretrain_criterion'
    if cfg is None:
        return None
    if isinstance(cfg, nn.Module) or (callable(cfg)
                                       and not isinstance(cfg, dict)):
        return cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ConfigError(f'{key}: expected a dict with a `type` key, e.g. '
                          f"dict(type='L1Loss'), found {cfg!r}")
    args = dict(cfg)
    name = args['type']
    if isinstance(name, str):
        bare = name
        for prefix in ('torch.nn.', 'nn.'):
            if bare.startswith(prefix):
                bare = bare[len(prefix):]
        if bare in TORCH_CRITERIA:
            args.pop('type')
            try:
                return getattr(nn, bare)(**args)
            except TypeError as exc:
                raise ConfigError(f'{key}: {exc}') from None
    try:
        with translate_build_errors({'pretrain_criterion': dict(cfg)}):
            return MODELS.build(args)
    except ConfigError as exc:
        raise ConfigError(f'{key}: {exc} (torch.nn losses accepted by name: '
                          f'{", ".join(TORCH_CRITERIA)})') from None
    except TypeError as exc:
        raise ConfigError(f'{key}: {exc}') from None


def _conv_stack(channels, transposed: bool, slope: float) -> nn.Sequential:
    """3x3, stride 1, padding 1 (transposed) convs, each + LeakyReLU.

    Weights are He-normal for the LeakyReLU, std
    ``sqrt(2 / (1 + slope^2)) / sqrt(9 * input channels)``, biases 0, so the
    signal keeps its scale through the stack without BN (torch's default
    init shrinks it layer by layer, which stalls reconstruction training).
    """
    conv = nn.ConvTranspose2d if transposed else nn.Conv2d
    gain = math.sqrt(2.0 / (1.0 + slope * slope))
    layers = []
    for cin, cout in zip(channels[:-1], channels[1:]):
        layer = conv(cin, cout, 3, stride=1, padding=1)
        nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(9 * cin))
        nn.init.zeros_(layer.bias)
        layers += [layer, nn.LeakyReLU(slope, inplace=True)]
    return nn.Sequential(*layers)


@MODELS.register_module()
class Paraphraser(nn.Module):
    """Encodes the teacher feature into a factor; pretrained to reconstruct.

    Encoder: conv3x3 C->C, C->C, C->F, each + LeakyReLU, with
    ``F = round(C * factor_rate)``. Decoder (pretraining only): transposed
    conv3x3 F->C, C->C, C->C, each + LeakyReLU. No BN; spatial size kept;
    He-normal init (see :func:`_conv_stack`).

    ``forward(x)`` is the factor, ``forward_pretrain(x)`` the reconstruction,
    ``pretrain_loss(x) = pretrain_criterion(forward_pretrain(x), x)`` with
    ``x`` detached. With a criterion, ``needs_pretrain`` is True and the
    algorithm trains it before the student, then freezes it.

    Args:
        in_channels: C, the teacher feature's channels.
        factor_rate: F / C, > 0.
        negative_slope: of the LeakyReLUs.
        pretrain_criterion: e.g. ``dict(type='L1Loss')`` (see
            :func:`build_criterion`), or None for no pretraining.
    """

    def __init__(self, in_channels: int, factor_rate: float = 0.5,
                 negative_slope: float = 0.1,
                 pretrain_criterion: Optional[Any] = None):
        super().__init__()
        c = positive_int(in_channels, 'in_channels', 'Paraphraser')
        rate = real(factor_rate, 'factor_rate', 'Paraphraser', 0,
                    strict=True)
        slope = real(negative_slope, 'negative_slope', 'Paraphraser', 0)
        factor = int(round(c * rate))
        if factor < 1:
            raise ConfigError(f'Paraphraser.factor_rate: {rate:g} x '
                              f'in_channels {c} leaves no factor channel')
        self.in_channels, self.factor_channels = c, factor
        self.encoder = _conv_stack((c, c, c, factor), False, slope)
        self.decoder = _conv_stack((factor, c, c, c), True, slope)
        self.criterion = build_criterion(pretrain_criterion, 'Paraphraser')
        self.needs_pretrain = self.criterion is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward_pretrain(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def pretrain_loss(self, x: torch.Tensor) -> torch.Tensor:
        if self.criterion is None:
            raise ConfigError('Paraphraser.pretrain_criterion: not set, so '
                              'the paraphraser has no pretraining loss')
        x = x.detach()
        return self.criterion(self.forward_pretrain(x), x)


@MODELS.register_module()
class Translator(nn.Module):
    """Maps the student feature to the paraphraser's factor.

    conv3x3 in->in, in->in, in->out, each + LeakyReLU; no BN, He-normal
    init, spatial size kept (so the student map must already match the
    factor's H x W).

    Args:
        in_channels: student channels.
        out_channels: the factor's channels
            (``round(teacher channels * factor_rate)``).
        negative_slope: of the LeakyReLUs.
    """

    needs_pretrain = False

    def __init__(self, in_channels: int, out_channels: int,
                 negative_slope: float = 0.1):
        super().__init__()
        cin = positive_int(in_channels, 'in_channels', 'Translator')
        cout = positive_int(out_channels, 'out_channels', 'Translator')
        slope = real(negative_slope, 'negative_slope', 'Translator', 0)
        self.layers = _conv_stack((cin, cin, cin, cout), False, slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
