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


# -- unprefixed gml names, as the design guide writes them --------------------

def _train_config(tmp_path, body: str):
    path = tmp_path / 'cfg.py'
    path.write_text("_base_ = ['%s/configs/baseline/digits_resnet.py']\n%s"
                    % (REPO, body))
    from gml.utils.config import load_config
    return load_config(str(path))


def test_unprefixed_gml_names_resolve_under_mmpretrain_scope(tmp_path):
    from mmengine.registry import DefaultScope
    import gml.models.losses as losses
    cfg = _train_config(tmp_path, (
        "custom_hooks = [dict(type='DynamicDistEvalHook', "
        "evaluator=dict(type='NaiveEvaluator'))]\n"
        "model = dict(type='ImageClassifier', backbone=dict(_delete_=True, "
        "type='ResNetSlice', depth=18))\n"
        "part = dict(type='FTLoss')\n"
        "loss = dict(type='CrossEntropyLoss')\n"))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_hooks[0].type == 'gml.DynamicDistEvalHook'
    assert cfg.custom_hooks[0].evaluator.type == 'gml.NaiveEvaluator'
    assert cfg.model.backbone.type == 'gml.ResNetSlice'
    # mmpretrain names keep their meaning
    assert cfg.model.type == 'ImageClassifier'
    assert cfg.loss.type == 'CrossEntropyLoss'
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert MODELS.build(cfg.part).__class__ is losses.FTLoss


def test_names_both_registries_know_keep_the_default_scope_meaning(tmp_path):
    # gml and mmpretrain both register CIFAR10: unprefixed is mmpretrain's
    import mmpretrain.datasets as mp
    import gml.datasets as gd
    from gml.registry import qualify_gml_types
    cfg = qualify_gml_types(dict(type='CIFAR10', sub=dict(type='gml.CIFAR10')),
                            'mmpretrain')
    assert cfg == dict(type='CIFAR10', sub=dict(type='gml.CIFAR10'))
    from mmpretrain.registry import DATASETS as MP_DATASETS
    assert MP_DATASETS.get(cfg['type']) is mp.CIFAR10
    assert DATASETS.get(cfg['sub']['type']) is gd.CIFAR10
    assert gd.CIFAR10 is not mp.CIFAR10
    # a dict's _scope_ applies to its subtree; unknown names stay unknown
    scoped = qualify_gml_types(dict(_scope_='gml', type='ResNetSlice',
                                    x=dict(type='NoSuchThing')), 'mmpretrain')
    assert scoped['type'] == 'ResNetSlice' and scoped['x']['type'] == \
        'NoSuchThing'


def test_unknown_type_message_suggests_gml_names():
    message = explain_unknown_type(
        KeyError('DMCPMutatr is not in the mmpretrain::model registry.'),
        dict(algorithm=dict(mutator=dict(type='DMCPMutatr'))))
    assert message.startswith("unknown type 'DMCPMutatr' at "
                              "algorithm.mutator.type")
    assert 'close matches: gml.DMCPMutator' in message


def test_build_model_qualifies_unprefixed_gml_backbone():
    from mmengine.registry import DefaultScope
    cfg = dict(TINY_CLASSIFIER, backbone=dict(type='ResNetSlice', depth=18),
               head=dict(TINY_CLASSIFIER['head'], in_channels=512))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = build_model(cfg)
    assert type(model.backbone).__name__ == 'ResNetSlice'
