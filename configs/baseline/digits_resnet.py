# The digits baseline: a narrow ResNet-18 trained on CPU in about a minute
# to ~98% validation accuracy. Later algorithms wrap this model.
_base_ = [
    '../_base_/models/resnet_digits.py',
    '../_base_/datasets/digits.py',
    '../_base_/schedules/digits_sgd_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor=_base_.data_preprocessor)
default_hooks = dict(checkpoint=dict(interval=5))
