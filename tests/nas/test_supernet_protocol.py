"""The supernet contract (gml.space.Supernet / SupernetBackbone)."""
import pytest

from gml.errors import ConfigError
from gml.models.backbones import ResNetSlice, ShuffleNetV2_OneShot
from gml.registry import MODELS
from gml.space import Supernet, SupernetBackbone
from gml.space.supernet import missing_members, require

from . import toy_supernet  # noqa: F401  (registers ToySliceBackbone)
from .test_bignas import SUPERNET


def test_gml_slice_backbones_and_the_classifier_follow_the_contract():
    resnet = ResNetSlice(18, cifar_stem=True)
    shufflenet = ShuffleNetV2_OneShot()
    for backbone in (resnet, shufflenet):
        assert isinstance(backbone, SupernetBackbone)
        assert not isinstance(backbone, Supernet)  # no arch_space()
    model = MODELS.build(SUPERNET)
    assert isinstance(model, Supernet)
    assert isinstance(model.backbone, SupernetBackbone)


def test_what_is_missing_is_named():
    class Half:
        search_space = {}

        def set_subnet(self, config):
            pass

    assert missing_members(Half(), SupernetBackbone) == [
        'max_subnet', 'min_subnet', 'set_drop_path', 'drop_path_ratio']
    with pytest.raises(ConfigError, match=r'^key: Half is not a slice '
                       r'backbone \(it has no max_subnet, min_subnet, '
                       r'set_drop_path, drop_path_ratio\); see the docs$'):
        require(Half(), SupernetBackbone, 'key', 'a slice backbone',
                'see the docs')


def test_a_plain_backbone_is_refused_naming_what_it_lacks():
    cfg = dict(SUPERNET, backbone=dict(type='ResNet_CIFAR', depth=18))
    with pytest.raises(ConfigError, match=r'model\.backbone: ResNet_CIFAR '
                       r'is not a slice backbone \(it has no set_subnet, '
                       r'max_subnet, min_subnet, set_drop_path, '
                       r'search_space, drop_path_ratio\)'):
        MODELS.build(cfg)
