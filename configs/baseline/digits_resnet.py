# The digits baseline: a narrow ResNet-18 trained on CPU in about a minute
# to 99.44% validation accuracy (docs/benchmarks.md). Later algorithms wrap
# this model; the distillation, QAT and MESS digits configs start from its
# checkpoint in the default work dir, work_dirs/digits_resnet/epoch_30.pth.
_base_ = [
    '../_base_/models/resnet_digits.py',
    '../_base_/datasets/digits.py',
    '../_base_/schedules/digits_sgd_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor=_base_.data_preprocessor)
default_hooks = dict(checkpoint=dict(interval=5))
