# ResNet-18 with the 3x3 stride-1 CIFAR stem.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=4,
                  out_indices=(3, ), style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=512,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
