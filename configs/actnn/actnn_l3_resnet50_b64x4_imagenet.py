# ResNet-50 on ImageNet, 4 processes x 64 images, with ActNN level L3
# activation compression (the ActNN guide's resnet50_b64x4_imagenet).
# Needs data/imagenet/{train,val}; bash tools/dist_train.sh CONFIG 4
_base_ = [
    '../_base_/datasets/imagenet.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
              topk=(1, 5)))
train_dataloader = dict(batch_size=64)
custom_hooks = [dict(type='gml.ActNNHook', level='L3')]
