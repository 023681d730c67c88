# A deliberately small student for the digits: CIFAR-style ResNet-18 with
# stage widths 4/8/16/32 (about 45 k parameters, 1/16 of the baseline).
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=4,
                  stem_channels=4, base_channels=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
