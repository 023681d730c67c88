# The design guide's DMCP config, keys as the guide writes them, on the
# digits: the digits baseline ResNet (8.76 MFLOPs at 16x16) is pruned while
# it trains. The guide's algorithm_cfg has no target_flops: gml then prunes
# to half the full model's FLOPs (4.38 MFLOPs here; docs/pruning.md), and
# picks the 'l1' FLOPs loss because DMCP's log_l1 needs a target of tens of
# MFLOPs. distillation.tea_cfg is a separate teacher (one dict, or a list
# for several): every sampled subnet also learns its soft labels, on top of
# the labels (max subnet) or the in-place distillation (the others).
# The teacher is the digits baseline, trained first with
#   python tools/train.py configs/baseline/digits_resnet.py
# then: python tools/train.py configs/guide/dmcp_digits.py
_base_ = [
    '../_base_/datasets/digits.py',
    '../_base_/schedules/digits_sgd_30e.py',
    '../_base_/default_runtime.py',
]
# the model to prune: the digits baseline (configs/baseline/digits_resnet.py)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=4,
                  stem_channels=16, base_channels=16, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    data_preprocessor=_base_.data_preprocessor)

algorithm = dict(
    type='DMCP',
    model=model,
    algorithm_cfg=dict(
        arch_start_training=230,  # epoch 11 of 30 (23 iterations each)
        arch_train_freq=1,
        arch_sample_num=10),
    distillation=dict(
        tea_cfg=dict(
            ckpt_path='work_dirs/digits_resnet/epoch_30.pth',
            model=dict(
                type='ImageClassifier',
                backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                              base_channels=16, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=10,
                          in_channels=128),
                data_preprocessor=_base_.data_preprocessor))),
    mutator=dict(
        type='DMCPMutator',
        num_sample=4,
        sample_width=None,
        arch_sample_type=['max', 'min', 'scheduled_random', 'arch_random'],
        arch_learning_rate=0.5,
        arch_weight_decay=0,
        input_shape=(1, 3, 16, 16),
        width=dict(max=1, min=0.1, offset=0.1)))

# validation measures the full model after BN recalibration
custom_hooks = [dict(type='DynamicDistEvalHook', interval=10,
                     bn_stats_calib_kwargs=dict(num_iters=8))]
default_hooks = dict(checkpoint=dict(interval=10))
