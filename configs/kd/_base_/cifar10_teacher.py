# The ResNet-50 CIFAR-10 teacher shared by the CIFAR-10 distillation configs
# (train it first: configs/kd/teachers/README.md).
teacher = dict(
    ckpt_path='work_dirs/cifar10_resnet50_teacher/epoch_200.pth',
    model=dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=50, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=2048),
        data_preprocessor=dict(
            num_classes=10, mean=[125.307, 122.961, 113.8575],
            std=[51.5865, 50.847, 51.255], to_rgb=False)))
