# BigNAS on the digits (CPU): a ResNetSlice supernet (CIFAR stem) whose stage
# widths and depths and input resolution vary, trained with the sandwich rule
# and inplace distillation; max and min subnets evaluated after BN
# recalibration.
_base_ = [
    '../../_base_/models/bignas_resnet_slice.py',
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_sgd_30e.py',
    '../../_base_/default_runtime.py',
]
algorithm = dict(model=dict(
    backbone=dict(search_space=dict(
        stem_channels=16,
        stage_out_channel=[
            dict(type='Categorical', data=[8, 12, 16], default=16),
            dict(type='Categorical', data=[16, 24, 32], default=32),
            dict(type='Categorical', data=[32, 48, 64], default=64),
            dict(type='Categorical', data=[64, 96, 128], default=128),
        ],
        stage_blocks=[dict(type='Int', lower=1, upper=3, default=2)] * 4)),
    head=dict(in_channels=128),
    resize_process=dict(type='ResizeSlice', resolution=dict(
        type='Int', lower=12, upper=17, step=4, default=16)),
    data_preprocessor=_base_.data_preprocessor))
optim_wrapper = dict(clip_grad=dict(type='value', clip_value=1.0))
custom_hooks = [dict(type='gml.DynamicDistEvalHook', interval=5,
                     evaluator=dict(type='NaiveEvaluator', units='M',
                                    default_shape=(1, 3, 16, 16)),
                     bn_stats_calib_kwargs=dict(num_iters=8))]
# tools/search_subnet.py: evolution over the trained supernet (scaled down
# from the ImageNet defaults 256/128/128/128 for a CPU run).
subnet_search = dict(candidate_pool_size=32, top_k=8, num_mutation=16,
                     num_crossover=16, mutate_prob=0.2, max_generations=5,
                     constraints=None, metric='accuracy/top1',
                     bn_stats_calib_kwargs=dict(num_iters=8))
