"""Backend names and the quantization configs built from ``custom_qconfig``.

``fbgemm`` (the server CPU backend of older configs), ``x86`` and
``onednn`` use torchao's ``X86InductorQuantizer``, whose int8 graphs
torch.compile lowers to oneDNN kernels. ``qnnpack`` (``qnn`` in the
design guide) and ``xnnpack`` (the mobile backend) use the XNNPACK
quantizer: symmetric int8 weights and signed int8 activations, for export
to mobile runtimes.
"""
import warnings
from typing import Optional

import torch

from ....errors import ConfigError
from ....utils.checks import check_int, check_number
from ..tensor_quantizer import MAX_BITS

#: accepted names -> the torchao quantizer family; ``qnn`` is the design
#: guide's name for qnnpack (TorchDefaultQuantizer "supports qnn, fbgemm")
BACKENDS = {'fbgemm': 'x86', 'x86': 'x86', 'onednn': 'x86',
            'qnnpack': 'xnnpack', 'qnn': 'xnnpack', 'xnnpack': 'xnnpack'}

QCONFIG_DEFAULTS = dict(weight_bits=8, act_bits=8, per_channel=True,
                        weight_symmetric=True, act_symmetric=False,
                        averaging_constant=0.01)
OWNER = 'algorithm.quantizer.custom_qconfig'


def import_torchao(required: bool = True) -> bool:
    """Import torchao's pt2e package (which also registers the quantize /
    dequantize ops int8 programs call); without torchao, a ConfigError
    saying how to install it, or False when not ``required``."""
    import logging
    log = logging.getLogger('torch.utils._pytree')
    level = log.level
    log.setLevel(logging.ERROR)  # a deprecation notice torchao triggers
    try:
        import torchao.quantization.pt2e  # noqa: F401
    except ImportError as exc:
        if not required:
            return False
        raise ConfigError(
            'TorchDefaultQuantizer needs torchao (pip install '
            f'torchao==0.18.0): {exc}') from None
    finally:
        log.setLevel(level)
    return True


def resolve_backend(backend: str) -> str:
    """'x86' or 'xnnpack' for any accepted backend name."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ConfigError(f'algorithm.quantizer.backend: expected one of '
                          f'{sorted(BACKENDS)} (qnn = qnnpack = xnnpack, '
                          f'fbgemm = onednn = x86), found {backend!r}')
    return BACKENDS[backend]


def check_qconfig(custom_qconfig: Optional[dict], kind: str) -> dict:
    """The complete, validated qconfig options (defaults filled in)."""
    if custom_qconfig is not None and not isinstance(custom_qconfig, dict):
        raise ConfigError(f'{OWNER}: expected a dict of '
                          f'{sorted(QCONFIG_DEFAULTS)}, found '
                          f'{custom_qconfig!r}')
    custom_qconfig = dict(custom_qconfig or {})
    unknown = sorted(set(custom_qconfig) - set(QCONFIG_DEFAULTS))
    if unknown:
        raise ConfigError(f'{OWNER}: unknown key(s) {unknown}; expected '
                          f'some of {sorted(QCONFIG_DEFAULTS)}')
    options = dict(QCONFIG_DEFAULTS, **custom_qconfig)
    # a symmetric signed weight grid needs at least -1, 0, 1
    check_int(options['weight_bits'], f'{OWNER}.weight_bits', 2, MAX_BITS)
    check_int(options['act_bits'], f'{OWNER}.act_bits', 1, MAX_BITS)
    if not options['weight_symmetric']:
        raise ConfigError(f'{OWNER}.weight_symmetric: the pt2e quantizers '
                          'store weights symmetric (zero point 0); found '
                          'False')
    if kind == 'x86' and options['act_symmetric']:
        raise ConfigError(f'{OWNER}.act_symmetric: the x86 backend runs '
                          'unsigned (uint8) activations only; found True')
    check_number(options['averaging_constant'],
                 f'{OWNER}.averaging_constant', 0, 1, strict=True)
    if kind == 'x86' and not options['per_channel']:
        warnings.warn('custom_qconfig.per_channel=False: per-tensor weights '
                      'train and convert, but the x86 int8 kernels need '
                      'per-channel weights, so the converted model will not '
                      'run faster than fp32')
    return options


def _spec(bits: int, signed: bool, symmetric: bool, per_channel: bool,
          observer, **observer_args):
    from torchao.quantization.pt2e import FusedMovingAvgObsFakeQuantize
    from torchao.quantization.pt2e.quantizer import QuantizationSpec
    if signed:
        # restricted symmetric range (-127..127 at 8 bits): negating a
        # code never overflows
        low = -2**(bits - 1) + (1 if symmetric else 0)
        high, dtype = 2**(bits - 1) - 1, torch.int8
    else:
        low, high, dtype = 0, 2**bits - 1, torch.uint8
    if per_channel:
        scheme = (torch.per_channel_symmetric if symmetric
                  else torch.per_channel_affine)
    else:
        scheme = (torch.per_tensor_symmetric if symmetric
                  else torch.per_tensor_affine)
    return QuantizationSpec(
        dtype=dtype, quant_min=low, quant_max=high, qscheme=scheme,
        ch_axis=0 if per_channel else None,
        observer_or_fake_quant_ctr=FusedMovingAvgObsFakeQuantize.with_args(
            observer=observer, eps=2**-12, **observer_args))


def quantization_config(options: dict, kind: str):
    """A QAT ``QuantizationConfig`` for ``options`` (see QCONFIG_DEFAULTS).

    Codes narrower than 8 bits use a smaller range of the same int8/uint8
    containers, so they simulate low precision but do not shrink the file.
    """
    from torchao.quantization.pt2e import (
        MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver)
    from torchao.quantization.pt2e.quantizer import QuantizationConfig
    act = _spec(options['act_bits'], signed=kind == 'xnnpack' or
                options['act_symmetric'],
                symmetric=options['act_symmetric'], per_channel=False,
                observer=MovingAverageMinMaxObserver,
                averaging_constant=options['averaging_constant'])
    weight_observer = (MovingAveragePerChannelMinMaxObserver
                       if options['per_channel']
                       else MovingAverageMinMaxObserver)
    weight = _spec(options['weight_bits'], signed=True, symmetric=True,
                   per_channel=options['per_channel'],
                   observer=weight_observer)
    return QuantizationConfig(act, act, weight, None, is_qat=True)


def backend_quantizer(kind: str, options: Optional[dict]):
    """The torchao quantizer of ``kind`` with the backend's default QAT
    config, or the one ``options`` describe."""
    if kind == 'x86':
        from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer \
            import (X86InductorQuantizer,
                    get_default_x86_inductor_quantization_config)
        quantizer = X86InductorQuantizer()
        default = get_default_x86_inductor_quantization_config
    else:
        # torchao keeps its XNNPACK quantizer next to its tests (the
        # maintained copy lives in executorch); it warns it is deprecated
        from torchao.testing.pt2e._xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            quantizer = XNNPACKQuantizer()

        def default(is_qat):
            return get_symmetric_quantization_config(is_per_channel=True,
                                                     is_qat=is_qat)
    config = (quantization_config(options, kind) if options is not None
              else default(is_qat=True))
    return quantizer.set_global(config)
