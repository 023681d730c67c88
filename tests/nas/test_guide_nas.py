"""The design guide's NAS example as written: its 2-entry MobileNetV3Slice
spaces, a head that must fit the backbone, the guide's names
(StateslessMutator, RandomMutator, sandwish4) and hook keys, and its config
on the digits."""
import copy
import re
import sys
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from gml.errors import ConfigError
from gml.models.backbones.mobilenet_v3_slice import (DEFAULT_SEARCH_SPACE,
                                                     MobileNetV3Slice)
from gml.models.classifiers.head_fit import check_head_fits
from gml.registry import MODELS, build_algorithm, build_model
from gml.space import build_search_space_recur

from ..conftest import run_tool

GUIDE_CONFIG = 'configs/guide/nas_bignas_mobilenetv3_digits.py'


def cat(data, default=None):
    cfg = dict(type='Categorical', data=data)
    if default is not None:
        cfg['default'] = default
    return cfg


#: the guide's search_space, entry for entry
GUIDE_SPACE = dict(
    MB_stage_blocks=[cat([1], 1), cat([1], 1)],
    MB_kernel_size=[cat([3], 3), cat([1], 1)],
    MB_expand_ratio=[cat([1], 1), cat([6], 6)],
    MB_out_channels=[cat([16, 24], 16), cat([1792, 1984], 1984)])


def grids(entries):
    return [e.grid() if hasattr(e, 'grid') else [e] for e in entries]


def guide_model(**changes):
    """The guide's model block (ImageNet sizes, 1000 classes)."""
    model = dict(
        type='gml.ImageClassifierSearch',
        backbone=dict(type='gml.MobileNetV3Slice',
                      conv_cfg=dict(type='Conv2dSlice'),
                      search_space=copy.deepcopy(GUIDE_SPACE)),
        head=dict(type='gml.LinearClsHeadV2', num_classes=1000,
                  in_channels=1984, distiller_mode='soft',
                  loss=dict(type='mmcls.LabelSmoothLoss', loss_weight=1.0,
                            label_smooth_val=0.1, num_classes=1000),
                  soft_loss=dict(type='mmcls.CrossEntropyLoss',
                                 use_soft=True, loss_weight=1.0),
                  topk=(1, 5)),
        resize_process=dict(type='ResizeSlice', resolution=dict(
            type='Int', lower=192, upper=289, step=32, default=224)),
        connect_head=dict(in_channels='backbone.feat_dim'))
    model.update(changes)
    return model


# -- 1. the guide's 2-entry spaces -------------------------------------------
def test_two_entry_lists_are_first_and_last_conv_stages_keep_defaults():
    backbone = MobileNetV3Slice(search_space=GUIDE_SPACE)
    space = backbone.search_space
    default = build_search_space_recur(DEFAULT_SEARCH_SPACE)
    for key in GUIDE_SPACE:
        assert len(space[key]) == 9
        # mb1..mb7: the default space's choices
        assert grids(space[key][1:-1]) == grids(default[key][1:-1])
    assert space['MB_out_channels'][0].grid() == [16, 24]
    assert space['MB_out_channels'][-1].grid() == [1792, 1984]
    assert space['MB_out_channels'][-1].default == 1984
    assert space['MB_kernel_size'][-1].grid() == [1]
    assert space['MB_expand_ratio'][-1].grid() == [6]
    assert backbone.feat_dim == 1984

    # values other than the defaults land at the first/last positions
    other = copy.deepcopy(GUIDE_SPACE)
    other['MB_out_channels'] = [cat([8, 16]), cat([96, 128], 128)]
    other['MB_kernel_size'] = [cat([3, 5]), cat([1])]
    small = MobileNetV3Slice(search_space=other)
    assert small.search_space['MB_out_channels'][0].grid() == [8, 16]
    assert small.search_space['MB_out_channels'][-1].grid() == [96, 128]
    assert small.search_space['MB_kernel_size'][0].grid() == [3, 5]
    assert small.feat_dim == 128
    assert small.first_conv[0].out_channels == 16  # the largest first width
    small.set_subnet(small.min_subnet())
    assert small.feat_dim == 96


def test_the_guides_model_arch_space_has_the_guides_choices():
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = build_model(guide_model(neck=dict(type='GlobalAveragePooling')))
    arch = model.arch_space()
    widths = arch['backbone']['MB_out_channels']
    assert (widths[0].grid(), widths[-1].grid()) == ([16, 24], [1792, 1984])
    assert arch['resize_process']['resolution'].grid() == [192, 224, 256,
                                                           288]


def test_two_entry_form_needs_the_default_stage_count():
    with pytest.raises(ConfigError, match=r'^backbone\.search_space\.'
                       r'MB_out_channels: the 2-entry form .* with 3 stages'):
        MobileNetV3Slice(search_space=dict(
            MB_out_channels=[16, 128], MB_stage_blocks=[1] * 5,
            MB_kernel_size=[3] * 5, MB_expand_ratio=[1] * 5),
            stage_strides=(1, 2, 2), stage_se=(False, False, False))


def test_widen_factor_scales_the_stages_only():
    backbone = MobileNetV3Slice(search_space=GUIDE_SPACE, widen_factor=0.25)
    widths = backbone.search_space['MB_out_channels']
    # mb1..mb7 defaults 16/24, 24/32, 32/40, 64/72, 112/120/128, 192..216,
    # 216/224 times 0.25, rounded to multiples of 8 (at least 8; a value
    # rounded down by more than 10% goes up a step)
    assert grids(widths[1:-1]) == [[8], [8], [8, 16], [16, 24], [32],
                                   [48, 56], [56]]
    assert widths[0].grid() == [16, 24] and widths[-1].grid() == [1792, 1984]
    full = MobileNetV3Slice(search_space=GUIDE_SPACE)
    n_small = sum(p.numel() for p in backbone.parameters())
    n_full = sum(p.numel() for p in full.parameters())
    assert n_small < n_full / 2
    with pytest.raises(ConfigError, match=r'^backbone\.widen_factor: '):
        MobileNetV3Slice(widen_factor=0)


# -- 2. the head must fit the backbone ---------------------------------------
def test_the_guides_neckless_model_stops_at_build_with_one_line():
    init_default_scope('mmpretrain')
    with pytest.raises(ConfigError) as info:
        build_model(guide_model())
    message = str(info.value)
    assert '\n' not in message
    assert message == (
        'model.neck: the head LinearClsHeadV2 expects (N, 1984), the '
        'backbone MobileNetV3Slice gives (N, 1984, 1, 1) and there is no '
        "neck; add neck=dict(type='GlobalAveragePooling')")


def resnet_model(**changes):
    model = dict(
        type='gml.ImageClassifierSearch',
        backbone=dict(type='gml.ResNetSlice', depth=18, cifar_stem=True,
                      out_indices=(3, ), search_space=dict(
                          stem_channels=8,
                          stage_out_channel=[8, 16, 32, cat([32, 64])],
                          stage_blocks=[1, 1, 1, 1])),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='gml.LinearClsHeadV2', num_classes=10,
                  in_channels=64),
        connect_head=dict(in_channels='backbone.feat_dim'))
    model.update(changes)
    return model


def test_resnet_slice_without_neck_names_the_neck():
    init_default_scope('mmpretrain')
    with pytest.raises(ConfigError, match=re.escape(
            'model.neck: the head LinearClsHeadV2 expects (N, 64), the '
            'backbone ResNetSlice gives (N, 64, 4, 4) and there is no neck')):
        build_model(resnet_model(neck=None))


@pytest.mark.parametrize('head', [
    dict(type='LinearClsHead', num_classes=10, in_channels=48),
    dict(type='gml.LinearClsHeadV2', num_classes=10, in_channels=48)])
def test_head_with_the_wrong_in_channels_names_it(head):
    init_default_scope('mmpretrain')
    with pytest.raises(ConfigError, match=re.escape(
            'model.head.in_channels: expected 64 (what the backbone '
            'ResNetSlice with the neck GlobalAveragePooling gives: (N, 64)), '
            'found 48; set in_channels=64')):
        build_model(resnet_model(head=head, connect_head=None))


def test_a_fitting_model_builds_and_connect_head_follows_feat_dim():
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = build_model(resnet_model())
    # the probe left every module in train mode and BN statistics untouched
    assert all(m.training for m in model.modules())
    assert all(float(m.running_mean.abs().sum()) == 0 for m in
               model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    x = torch.randn(2, 3, 16, 16)
    model.eval()
    for which, width in (('max', 64), ('min', 32)):
        config = getattr(model.backbone, f'{which}_subnet')()
        model.set_subnet(dict(backbone=config))
        assert model.head.in_channels == width
        assert model(x, mode='tensor').shape == (2, 10)


def test_the_probe_draws_no_random_numbers_and_restores_modes():
    init_default_scope('mmpretrain')
    model = build_model(resnet_model())
    model.backbone.eval()
    state = torch.get_rng_state()
    check_head_fits(model)
    assert torch.equal(state, torch.get_rng_state())
    assert not model.backbone.training and model.head.training


def test_qat_checks_a_plain_classifier_too():
    init_default_scope('mmpretrain')
    model = Config.fromfile('configs/_base_/models/resnet_digits.py').model
    model = dict(model, neck=None)
    with pytest.raises(ConfigError, match=r'^algorithm\.model\.neck: the head '
                       r'LinearClsHead expects \(N, 128\), the backbone '
                       r'ResNet_CIFAR gives \(N, 128, 4, 4\)'):
        build_algorithm(dict(type='gml.QAT', model=model, quantizer=dict(
            type='gml.LowBitQuantizer', method='lsq')))


# -- 3. the guide's names ----------------------------------------------------
def test_guide_mutator_names_are_the_stateless_uniform_sampler():
    from gml.mutators import StatelessMutator
    assert MODELS.get('gml.RandomMutator') is StatelessMutator
    assert MODELS.get('gml.StateslessMutator') is StatelessMutator

    mutator = MODELS.build(dict(type='gml.RandomMutator', seed=1))
    mutator.space = build_search_space_recur(dict(w=cat([1, 2, 3, 4]),
                                                  d=cat([5, 6])))
    n = 8000
    draws = [mutator.sample('random') for _ in range(n)]
    # uniform: each of the 4 widths 25% (binomial sd 0.48%), each depth 50%
    for w in (1, 2, 3, 4):
        assert abs(sum(d['w'] == w for d in draws) / n - 0.25) < 0.025
    assert abs(sum(d['d'] == 5 for d in draws) / n - 0.5) < 0.025
    # the same seed gives the same draws under every name
    again = MODELS.build(dict(type='gml.StateslessMutator', seed=1))
    again.space = mutator.space
    assert [again.sample('random') for _ in range(n)] == draws


def test_bn_eval_under_bignas_warns_and_is_honoured():
    init_default_scope('mmpretrain')
    model = resnet_model()
    model['backbone'] = dict(model['backbone'], bn_eval=True)
    with pytest.warns(UserWarning, match=r'model\.backbone\.bn_eval=True'):
        algorithm = build_algorithm(dict(type='gml.BigNAS', model=model,
                                         strategy='sandwish4'))
    algorithm.train()
    bns = [m for m in algorithm.model.backbone.modules()
           if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    # the default (False) trains BN and says nothing
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        algorithm = build_algorithm(dict(type='gml.BigNAS',
                                         model=resnet_model()))
    algorithm.train()
    assert all(m.training for m in algorithm.model.backbone.modules()
               if isinstance(m, torch.nn.BatchNorm2d))


def test_guide_search_eval_cfg_keys_build_the_hook():
    from gml.registry import HOOKS
    init_default_scope('mmpretrain')
    hook = HOOKS.build(dict(
        type='gml.DynamicDistEvalHook',
        evaluator=dict(type='NaiveEvaluator', units='M',
                       default_shape=(1, 3, 224, 224)),
        gpu_collect=True,
        bn_stats_calib_kwargs=dict(num_iters=-1, sync_params=True)))
    assert (hook.num_iters, hook.sync, hook.interval) == (-1, True, 1)
    assert hook.cost.units == 'M'
    assert tuple(hook.cost.default_shape) == (1, 3, 224, 224)
    with pytest.raises(ConfigError, match='bn_stats_calib_kwargs'):
        HOOKS.build(dict(type='gml.DynamicDistEvalHook',
                         bn_stats_calib_kwargs=dict(iters=4)))


def test_guide_digits_config_exports_a_subnet_of_the_2_entry_space():
    from gml.algorithms.nas.export import (load_sliced_weights,
                                           subnet_model_cfg)
    from gml.utils.config import load_config
    init_default_scope('mmpretrain')
    cfg = load_config(GUIDE_CONFIG)
    torch.manual_seed(0)
    supernet = build_model(cfg.algorithm.model)
    smallest = supernet.backbone.min_subnet()
    # all blocks: an exported MobileNetV3 subnet with fewer blocks than the
    # supernet numbers its blocks differently (not supported by the
    # weight slicing yet)
    smallest['MB_stage_blocks'] = supernet.backbone.max_subnet()[
        'MB_stage_blocks']
    chosen = dict(backbone=smallest, resize_process=dict(resolution=12))
    supernet.set_subnet(chosen)
    supernet.eval()
    subnet = build_model(subnet_model_cfg(cfg.algorithm.model, chosen))
    load_sliced_weights(subnet, supernet.state_dict())
    subnet.eval()
    x = torch.randn(2, 3, 16, 16) * 50 + 80
    with torch.no_grad():
        assert torch.allclose(subnet(x, mode='tensor'),
                              supernet(x, mode='tensor'), atol=1e-5)
    assert sum(p.numel() for p in subnet.parameters()) < \
        sum(p.numel() for p in supernet.parameters())
    # the widened widths are exported as they are (not widened again)
    assert subnet.backbone.widen_factor == 1.0
    assert subnet.backbone.feat_dim == 96


# -- 4. the guide-shaped config trains ---------------------------------------
@pytest.mark.slow
def test_guide_nas_config_trains_one_epoch(tmp_path):
    run = run_tool([sys.executable, 'tools/train.py', GUIDE_CONFIG,
                    '--work-dir', str(tmp_path), '--cfg-options',
                    'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'],
                   timeout=1800)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    line = re.search(r'Epoch\(subnets\) \[1\] (.*)', log).group(1)
    values = dict(re.findall(r'(\S+): ([0-9.e+-]+)', line))
    # both subnets learned in one epoch: measured max 43.45, min 33.98
    # (seed 0 of default_runtime; chance is 10)
    assert float(values['max/accuracy/top1']) > 25
    assert float(values['min/accuracy/top1']) > 18
    assert float(values['max/flops']) > float(values['min/flops'])
    assert 'loss_0_max' in log and 'loss_3_min' in log
