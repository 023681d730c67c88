# DMCP on the digits (CPU, about 2 minutes): the digits baseline ResNet
# pruned to half its 8.76 MFLOPs. 30 epochs of 23 iterations; architecture
# steps every iteration from epoch 11 (iteration 230). The FLOPs loss is
# 'l1': the digits target (4.4 MFLOPs) is too small for DMCP's log_l1.
# The twin of dmcp_resnet50_imagenet.py.
_base_ = [
    '../../_base_/models/resnet_digits.py',
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_sgd_30e.py',
    '../../_base_/default_runtime.py',
    '_base_/dmcp.py',
]
model = dict(data_preprocessor=_base_.data_preprocessor)
algorithm = dict(
    algorithm_cfg=dict(arch_start_training=230, target_flops='50%',
                       flops_loss=dict(type='l1')),
    mutator=dict(input_shape=(1, 3, 16, 16)))
custom_hooks = [dict(type='gml.DynamicDistEvalHook', interval=10,
                     bn_stats_calib_kwargs=dict(num_iters=8))]
default_hooks = dict(checkpoint=dict(interval=10))
