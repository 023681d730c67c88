# BigNAS on the digits (CPU): a ResNetSlice supernet (CIFAR stem) whose stage
# widths and depths vary, trained with the sandwich rule and inplace
# distillation; max and min subnets evaluated after BN recalibration.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_sgd_30e.py',
    '../../_base_/default_runtime.py',
]
supernet = dict(
    type='gml.ImageClassifierSearch',
    backbone=dict(
        type='gml.ResNetSlice', depth=18, cifar_stem=True, out_indices=(3, ),
        search_space=dict(
            stem_channels=16,
            stage_out_channel=[
                dict(type='Categorical', data=[8, 12, 16], default=16),
                dict(type='Categorical', data=[16, 24, 32], default=32),
                dict(type='Categorical', data=[32, 48, 64], default=64),
                dict(type='Categorical', data=[64, 96, 128], default=128),
            ],
            stage_blocks=[dict(type='Int', lower=1, upper=3, default=2)] * 4)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='gml.LinearClsHeadV2', num_classes=10, in_channels=128,
              distiller_mode='soft',
              loss=dict(type='mmcls.LabelSmoothLoss', label_smooth_val=0.1,
                        num_classes=10, loss_weight=1.0),
              soft_loss=dict(type='mmcls.CrossEntropyLoss', use_soft=True,
                             loss_weight=1.0)),
    resize_process=dict(type='ResizeSlice', resolution=dict(
        type='Int', lower=12, upper=17, step=4, default=16)),
    connect_head=dict(in_channels='backbone.feat_dim'),
    data_preprocessor=_base_.data_preprocessor)
algorithm = dict(type='gml.BigNAS', model=supernet, strategy='sandwish4',
                 drop_ratio=0.2, drop_path_ratio=0.2,
                 mutator=dict(type='gml.StateslessMutator'))
optim_wrapper = dict(clip_grad=dict(type='value', clip_value=1.0))
custom_hooks = [dict(type='gml.DynamicDistEvalHook', interval=5,
                     evaluator=dict(type='NaiveEvaluator', units='M',
                                    default_shape=(1, 3, 16, 16)),
                     bn_stats_calib_kwargs=dict(num_iters=8))]
find_unused_parameters = True  # subnets leave weights unused
# tools/search_subnet.py: evolution over the trained supernet (scaled down
# from the ImageNet defaults 256/128/128/128 for a CPU run).
subnet_search = dict(candidate_pool_size=32, top_k=8, num_mutation=16,
                     num_crossover=16, mutate_prob=0.2, max_generations=5,
                     constraints=None, metric='accuracy/top1',
                     bn_stats_calib_kwargs=dict(num_iters=8))
