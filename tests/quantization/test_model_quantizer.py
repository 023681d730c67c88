"""The two quantizer bases: model quantizers (what QAT takes) and the
fake quantizers of one tensor they put into a model."""
import pytest
from mmengine.config import Config

from gml.errors import ConfigError
from gml.models.quantizers import (DoReFaQuantizer, LowBitQuantizer,
                                   LQNetsQuantizer, LSQQuantizer,
                                   ModelQuantizer, PACTQuantizer,
                                   TensorQuantizer, TorchDefaultQuantizer,
                                   XNORQuantizer)
from gml.registry import build_algorithm


def test_each_quantizer_has_the_base_of_its_kind():
    for cls in (LowBitQuantizer, TorchDefaultQuantizer):
        assert issubclass(cls, ModelQuantizer)
        assert not issubclass(cls, TensorQuantizer)
    for cls in (DoReFaQuantizer, PACTQuantizer, LSQQuantizer,
                LQNetsQuantizer, XNORQuantizer):
        assert issubclass(cls, TensorQuantizer)
        assert not issubclass(cls, ModelQuantizer)


def _digits_model():
    return Config.fromfile('configs/_base_/models/resnet_digits.py').model


def test_qat_takes_a_model_quantizer_only():
    with pytest.raises(ConfigError, match=r'^algorithm\.quantizer: expected '
                       r'a model quantizer .*found LSQQuantizer$'):
        build_algorithm(dict(type='gml.QAT', model=_digits_model(),
                             quantizer=dict(type='gml.LSQQuantizer')))


def test_low_bit_qat_has_no_int8_conversion():
    algorithm = build_algorithm(dict(
        type='gml.QAT', model=_digits_model(),
        quantizer=dict(type='gml.LowBitQuantizer', method='dorefa')))
    with pytest.raises(ConfigError, match='LowBitQuantizer simulates its '
                       'bit width in fp32'):
        algorithm.convert()
