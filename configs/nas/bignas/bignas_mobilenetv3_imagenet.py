# BigNAS with the AttentiveNAS MobileNetV3 space on ImageNet, as in the
# design guide (needs data/imagenet; 32 GPUs in the original budget):
#   bash tools/dist_train.sh configs/nas/bignas/bignas_mobilenetv3_imagenet.py 8
_base_ = [
    '../../_base_/datasets/imagenet.py',
    '../../_base_/schedules/imagenet_bs256.py',
    '../../_base_/default_runtime.py',
]
supernet = dict(
    type='gml.ImageClassifierSearch',
    backbone=dict(
        type='gml.MobileNetV3Slice',
        conv_cfg=dict(type='Conv2dSlice'),
        # the AttentiveNAS space is the default; a 2-entry list (as in the
        # guide) gives the first and the last conv and keeps the stages'
        # defaults, a 9-entry list the whole network (docs/nas.md)
        search_space=dict()),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='gml.LinearClsHeadV2', num_classes=1000, in_channels=1984,
              distiller_mode='soft',
              loss=dict(type='mmcls.LabelSmoothLoss', loss_weight=1.0,
                        label_smooth_val=0.1, num_classes=1000),
              soft_loss=dict(type='mmcls.CrossEntropyLoss', use_soft=True,
                             loss_weight=1.0),
              topk=(1, 5)),
    resize_process=dict(type='ResizeSlice', resolution=dict(
        type='Int', lower=192, upper=289, step=32, default=224)),
    connect_head=dict(in_channels='backbone.feat_dim'),
    data_preprocessor=_base_.data_preprocessor)
algorithm = dict(type='gml.BigNAS', model=supernet, strategy='sandwish4',
                 drop_ratio=0.2, drop_path_ratio=0.2,
                 mutator=dict(type='gml.StateslessMutator'))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.8, momentum=0.9, nesterov=True,
                   weight_decay=1e-5),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(type='value', clip_value=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5, end=360),
]
train_cfg = dict(max_epochs=360, val_interval=5)
custom_hooks = [dict(type='gml.DynamicDistEvalHook', interval=5,
                     evaluator=dict(type='NaiveEvaluator', units='M',
                                    default_shape=(1, 3, 224, 224)),
                     gpu_collect=True,
                     # 128 batches of 32: a 4k-image training subset
                     bn_stats_calib_kwargs=dict(num_iters=128,
                                                sync_params=True))]
find_unused_parameters = True
