# DMCP on the digits (CPU): the digits baseline ResNet pruned to half its
# FLOPs. 30 epochs; the architecture parameters train from epoch 10 (about
# iteration 230) at every iteration; the max subnet is validated after BN
# recalibration. The twin of dmcp_resnet50_imagenet.py.
_base_ = [
    '../../_base_/models/resnet_digits.py',
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_sgd_30e.py',
    '../../_base_/default_runtime.py',
]
model = dict(data_preprocessor=_base_.data_preprocessor)
algorithm = dict(
    type='gml.DMCP',
    algorithm_cfg=dict(arch_start_training=230, arch_train_freq=1,
                       arch_sample_num=10, target_flops='50%',
                       flops_loss=dict(type='l1', loss_weight=0.1)),
    mutator=dict(type='gml.DMCPMutator', num_sample=4, sample_width=None,
                 arch_sample_type=['max', 'min', 'scheduled_random',
                                   'arch_random'],
                 arch_learning_rate=0.5, arch_weight_decay=0,
                 input_shape=(1, 3, 16, 16),
                 width=dict(max=1, min=0.1, offset=0.1)))
custom_hooks = [dict(type='gml.DynamicDistEvalHook', interval=10,
                     bn_stats_calib_kwargs=dict(num_iters=8))]
default_hooks = dict(checkpoint=dict(interval=10))
