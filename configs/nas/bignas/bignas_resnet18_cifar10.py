# BigNAS on CIFAR-10: a ResNet-18-style ResNetSlice supernet (CIFAR stem)
# whose stage widths (up to ResNet-18's 64/128/256/512), depths (1-2 basic
# blocks) and input resolution (24 or 32 px) vary; sandwich4 training with
# inplace distillation, max/min subnets evaluated after BN recalibration.
# Needs the python-format batches in data/cifar10/cifar-10-batches-py
# (see docs/data.md); nothing is downloaded.
_base_ = [
    '../../_base_/models/bignas_resnet_slice.py',
    '../../_base_/datasets/cifar10.py',
    '../../_base_/schedules/cifar10_bs128.py',
    '../../_base_/default_runtime.py',
]
algorithm = dict(model=dict(
    backbone=dict(search_space=dict(
        stem_channels=64,
        stage_out_channel=[
            dict(type='Categorical', data=[32, 48, 64], default=64),
            dict(type='Categorical', data=[64, 96, 128], default=128),
            dict(type='Categorical', data=[128, 192, 256], default=256),
            dict(type='Categorical', data=[256, 384, 512], default=512),
        ],
        stage_blocks=[dict(type='Int', lower=1, upper=3, default=2)] * 4)),
    head=dict(in_channels=512),
    resize_process=dict(type='ResizeSlice', resolution=dict(
        type='Int', lower=24, upper=33, step=8, default=32)),
    data_preprocessor=_base_.data_preprocessor))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader
optim_wrapper = dict(clip_grad=dict(type='value', clip_value=1.0))
custom_hooks = [dict(type='gml.DynamicDistEvalHook', interval=10,
                     evaluator=dict(type='NaiveEvaluator', units='M',
                                    default_shape=(1, 3, 32, 32)),
                     bn_stats_calib_kwargs=dict(num_iters=32))]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
subnet_search = dict(candidate_pool_size=64, top_k=16, num_mutation=32,
                     num_crossover=32, mutate_prob=0.2, max_generations=10,
                     constraints=None, metric='accuracy/top1',
                     bn_stats_calib_kwargs=dict(num_iters=32),
                     val_batches=20)
