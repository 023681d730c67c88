# The digits student trained alone: the reference every distilled digits
# student is compared with (same data, schedule, budget and seed).
_base_ = [
    '../_base_/models/resnet_digits_small.py',
    '../_base_/datasets/digits.py',
    '../_base_/schedules/digits_sgd_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor=_base_.data_preprocessor)
train_cfg = dict(max_epochs=10, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=10),
]
default_hooks = dict(checkpoint=dict(interval=10))
