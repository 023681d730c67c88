# The design guide's NAS example (its `model`, `algorithm` and
# `search_eval_cfg` blocks, names and values as the guide writes them) on
# the embedded digits, on CPU: a MobileNetV3Slice supernet trained by BigNAS
# with the sandwich rule and inplace distillation. Only sizes changed for
# 16x16 digit images: 10 classes, the stage widths (widen_factor), the last
# conv's widths, the input resolutions and the cost evaluator's input shape.
#   python tools/train.py configs/guide/nas_bignas_mobilenetv3_digits.py
_base_ = [
    '../_base_/datasets/digits.py',
    '../_base_/schedules/digits_sgd_30e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='gml.ImageClassifierSearch',
    backbone=dict(
        # "scope.type": the searchable backbone comes from gml
        type='gml.MobileNetV3Slice',
        conv_cfg=dict(type='Conv2dSlice'),
        # for 16x16 digits on CPU: the default stage widths (16..224) x 0.25
        widen_factor=0.25,
        # the guide's 2-entry lists: first conv, last conv; the seven
        # stages between keep MobileNetV3Slice's default (AttentiveNAS) space
        search_space=dict(
            MB_stage_blocks=[
                dict(type='Categorical', data=[1], default=1),  # first conv
                dict(type='Categorical', data=[1], default=1),  # last conv
            ],
            MB_kernel_size=[
                dict(type='Categorical', data=[3], default=3),  # first conv
                dict(type='Categorical', data=[1], default=1),  # last conv
            ],
            MB_expand_ratio=[
                dict(type='Categorical', data=[1], default=1),  # first conv
                dict(type='Categorical', data=[6], default=6),  # last conv
            ],
            MB_out_channels=[
                dict(type='Categorical', data=[16, 24], default=16),  # first conv  # noqa: E501
                # the guide: [1792, 1984] for 1000 ImageNet classes
                dict(type='Categorical', data=[96, 128], default=128),  # last conv  # noqa: E501
            ])),
    # The guide's model has no neck, but MobileNetV3Slice returns an
    # (N, C, 1, 1) map and LinearClsHeadV2 takes (N, C) features: without
    # this line the build stops with
    #   model.neck: the head LinearClsHeadV2 expects (N, 128), the backbone
    #   MobileNetV3Slice gives (N, 128, 1, 1) and there is no neck; add
    #   neck=dict(type='GlobalAveragePooling')
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='gml.LinearClsHeadV2',
        num_classes=10,
        in_channels=128,
        # inplace distillation: the max subnet's soft labels teach the others
        distiller_mode='soft',
        loss=dict(
            type='mmcls.LabelSmoothLoss',
            loss_weight=1.0,
            label_smooth_val=0.1,
            num_classes=10),
        soft_loss=dict(
            type='mmcls.CrossEntropyLoss',
            use_soft=True,
            loss_weight=1.0),
        topk=(1, 5),
    ),
    # the guide: Int 192..289 step 32 around ImageNet's 224
    resize_process=dict(type='ResizeSlice', resolution=dict(
        type='Int', lower=12, upper=21, step=4, default=16)),
    # the head's input width follows the active subnet's last conv
    connect_head=dict(in_channels='backbone.feat_dim'),
    data_preprocessor=_base_.data_preprocessor)

algorithm = dict(
    type='gml.BigNAS',
    model=model,
    # max + random + random + min per batch (the guide's spelling)
    strategy='sandwish4',
    drop_ratio=0.2,
    drop_path_ratio=0.2,
    # the guide's spelling of StatelessMutator; RandomMutator is the same
    mutator=dict(type='gml.StateslessMutator'))

# the guide's top-level evaluation of the max and min subnets after BN
# recalibration (num_iters=-1: every training batch); the runner turns it
# into a gml.DynamicDistEvalHook
search_eval_cfg = dict(
    type='DynamicDistEvalHook',
    evaluator=dict(
        type='NaiveEvaluator', units='M', default_shape=(1, 3, 16, 16)),
    gpu_collect=True,
    bn_stats_calib_kwargs=dict(
        num_iters=-1,
        sync_params=True
    ))

optim_wrapper = dict(clip_grad=dict(type='value', clip_value=1.0))
find_unused_parameters = True  # subnets leave weights unused
