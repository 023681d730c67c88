# ResNet-50 teacher for CIFAR-10 (train it before the FT example):
#   python tools/train.py configs/kd/teachers/cifar10_resnet50.py \
#       --work-dir work_dirs/cifar10_resnet50_teacher
_base_ = ['../../baseline/cifar10_resnet18.py']
model = dict(
    backbone=dict(depth=50),
    head=dict(in_channels=2048))
