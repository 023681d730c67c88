# DMCP on ImageNet as in the design guide: ResNet-50 (4.09 GFLOPs at 224)
# pruned to 2000 MFLOPs. 40 epochs (5005 iterations each at batch 256);
# architecture steps every iteration in the second half (iteration 100100);
# label smoothing, Nesterov SGD with cosine decay, no weight decay on BN and
# biases (the DMCP paper's recipe). Needs data/imagenet (docs/data.md):
#   bash tools/dist_train.sh configs/pruning/dmcp/dmcp_resnet50_imagenet.py 8
# then tools/sample_pruned.py / tools/export_pruned.py and retrain the
# exported pruned_config.py from scratch (100 epochs in the paper).
_base_ = [
    '../../_base_/datasets/imagenet.py',
    '../../_base_/schedules/imagenet_bs256.py',
    '../../_base_/default_runtime.py',
    '_base_/dmcp.py',
]
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                        loss_weight=1.0)),
    data_preprocessor=_base_.data_preprocessor)
algorithm = dict(
    algorithm_cfg=dict(arch_start_training=100100, target_flops=2000,
                       flops_loss=dict(type='log_l1', loss_weight=0.1)),
    mutator=dict(input_shape=(1, 3, 224, 224)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, nesterov=True,
                   weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', by_epoch=True,
                       T_max=40, eta_min=0.0)
train_cfg = dict(max_epochs=40)
