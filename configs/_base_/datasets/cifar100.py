# CIFAR-100 from data/cifar100/cifar-100-python (never downloaded): the
# CIFAR-10 settings with the CIFAR-100 files, statistics and top-5.
_base_ = ['./cifar10.py']
dataset_type = 'gml.CIFAR100'
data_root = 'data/cifar100'
data_preprocessor = dict(
    num_classes=100,
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418],
)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
