# ResNet-18 on CIFAR-10 (needs data/cifar10/cifar-10-batches-py).
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/cifar10.py',
    '../_base_/schedules/cifar10_bs128.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor=_base_.data_preprocessor)
