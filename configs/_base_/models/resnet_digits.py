# A narrow CIFAR-style ResNet for the 16x16 digits: stage widths 16/32/64/128.
# `widen` scales every width (the HPO demo searches it).
widen = 1
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=4,
                  stem_channels=16 * widen, base_channels=16 * widen,
                  out_indices=(3, ), style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128 * widen,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
