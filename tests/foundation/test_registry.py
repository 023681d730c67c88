"""Registries: gml scope, mmpretrain names, legacy mmcls names, messages."""
import pytest
import torch

from gml.errors import ConfigError
from gml.registry import (ALGORITHMS, DATASETS, MODELS, build_algorithm,
                          build_model, explain_unknown_type)

from ..conftest import REPO

TINY_CLASSIFIER = dict(
    type='mmcls.ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                  base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
              loss=dict(type='mmcls.LabelSmoothLoss', label_smooth_val=0.1,
                        loss_weight=1.0)))


def test_gml_registries_are_children_of_mmengine_roots():
    from mmengine import registry as mme
    assert MODELS.scope == DATASETS.scope == ALGORITHMS.scope == 'gml'
    assert MODELS.parent is mme.MODELS
    assert mme.MODELS._search_child('gml') is MODELS
    assert mme.DATASETS.get('gml.DigitsDataset').__name__ == 'DigitsDataset'


def test_mmcls_names_resolve_to_mmpretrain():
    import mmpretrain.models as mp
    assert MODELS.get('mmcls.ImageClassifier') is mp.ImageClassifier
    assert MODELS.get('mmcls.LabelSmoothLoss') is mp.LabelSmoothLoss
    assert MODELS.get('mmcls.CrossEntropyLoss') is mp.CrossEntropyLoss
    assert MODELS.get('mmpretrain.ImageClassifier') is mp.ImageClassifier
    # and from inside mmpretrain's own registry (a model built by mmpretrain)
    from mmpretrain.registry import MODELS as MP_MODELS
    assert MP_MODELS.get('mmcls.ResNet') is mp.ResNet


def test_soft_cross_entropy_from_mmcls_name_gives_the_entropy():
    # the guide's soft loss: CE against soft targets; at identical logits it
    # equals the entropy of the target, 0.562335145 for logits [ln 3, 0]
    loss = MODELS.build(dict(type='mmcls.CrossEntropyLoss', use_soft=True,
                             loss_weight=1.0))
    logits = torch.tensor([[torch.log(torch.tensor(3.0)), 0.0]])
    target = torch.softmax(logits, dim=1)
    assert loss(logits, target).item() == pytest.approx(0.562335145, abs=1e-6)


def test_build_model_with_legacy_names_runs():
    model = build_model(TINY_CLASSIFIER)
    out = model(torch.zeros(2, 3, 16, 16), mode='tensor')
    assert out.shape == (2, 10)


def test_build_algorithm_takes_model_dict_path_or_default(tmp_path):
    by_dict = build_algorithm(dict(type='BaseAlgorithm', model=TINY_CLASSIFIER))
    assert type(by_dict.model).__name__ == 'ImageClassifier'
    cfg_file = tmp_path / 'student.py'
    cfg_file.write_text(f'model = {TINY_CLASSIFIER!r}\n')
    by_path = build_algorithm(dict(type='gml.BaseAlgorithm',
                                   model=str(cfg_file)))
    assert sum(p.numel() for p in by_path.parameters()) == \
        sum(p.numel() for p in by_dict.parameters())
    by_default = build_algorithm(dict(type='BaseAlgorithm'),
                                 default_model=TINY_CLASSIFIER)
    assert by_default.model.head.num_classes == 10


def test_algorithm_errors_are_clear():
    with pytest.raises(ConfigError, match='algorithm.model: expected'):
        build_algorithm(dict(type='BaseAlgorithm'))
    with pytest.raises(ConfigError, match="unknown type 'BaseAlgoritm' at "
                       "algorithm.type.*close matches: BaseAlgorithm"):
        build_algorithm(dict(type='BaseAlgoritm', model=TINY_CLASSIFIER))
    with pytest.raises(ConfigError, match='does not take grad_clip'):
        build_algorithm(dict(type='BaseAlgorithm', model=TINY_CLASSIFIER,
                             grad_clip=0.2))


def test_unknown_type_inside_a_model_names_key_scope_and_matches():
    bad = dict(TINY_CLASSIFIER, backbone=dict(type='ResNett_CIFAR', depth=18))
    with pytest.raises(ConfigError) as info:
        build_model(bad)
    message = str(info.value)
    assert "unknown type 'ResNett_CIFAR' at model.backbone.type" in message
    assert 'mmpretrain::model registry' in message
    assert 'ResNet_CIFAR' in message.split('close matches:')[1]


def test_other_errors_are_not_rewritten():
    assert explain_unknown_type(ValueError('shape mismatch')) is None


def test_default_scope_mmcls_of_an_older_config_runs_as_mmpretrain(tmp_path):
    # the config's top level is an mmengine Config (not a dict): its
    # default_scope must be renamed too, or mmpretrain's visualizer, metrics
    # and transforms are not found
    from mmpretrain.visualization import UniversalVisualizer

    from gml.apis import build_runner
    from gml.utils.config import load_config
    config = tmp_path / 'old.py'
    config.write_text(
        "_base_ = ['{}/configs/baseline/digits_resnet.py']\n"
        "default_scope = 'mmcls'\n"
        "model = dict(head=dict(loss=dict(_scope_='mmcls', "
        "type='CrossEntropyLoss')))\n".format(REPO))
    cfg = load_config(str(config))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.head.loss._scope_ == 'mmpretrain'
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    assert type(runner.visualizer) is UniversalVisualizer
