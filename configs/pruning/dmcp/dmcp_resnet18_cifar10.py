# DMCP on CIFAR-10: ResNet-18 (CIFAR stem, 556 MFLOPs at 32x32) pruned to
# half its FLOPs. 200 epochs of 391 iterations; architecture steps every
# iteration in the second half (from iteration 39100).
# Needs data/cifar10/cifar-10-batches-py (docs/data.md); then
#   bash tools/dist_train.sh configs/pruning/dmcp/dmcp_resnet18_cifar10.py 8
_base_ = [
    '../../_base_/models/resnet18_cifar.py',
    '../../_base_/datasets/cifar10.py',
    '../../_base_/schedules/cifar10_bs128.py',
    '../../_base_/default_runtime.py',
    '_base_/dmcp.py',
]
model = dict(data_preprocessor=_base_.data_preprocessor)
algorithm = dict(
    algorithm_cfg=dict(arch_start_training=39100, target_flops='50%'),
    mutator=dict(input_shape=(1, 3, 32, 32)))
train_dataloader = dict(batch_size=128)
custom_hooks = [dict(type='gml.DynamicDistEvalHook', interval=10,
                     bn_stats_calib_kwargs=dict(num_iters=8))]
default_hooks = dict(checkpoint=dict(interval=10))
