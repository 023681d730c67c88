# A BigNAS supernet around gml.ResNetSlice (CIFAR stem) for 10 classes:
# sandwich4 training with inplace distillation (the max subnet's soft labels
# teach the others), dropout and drop-path on the max subnet, and the max/min
# subnets evaluated after BN recalibration. Children set the search space,
# the head width, the resolutions, the data preprocessor and the hook.
supernet = dict(
    type='gml.ImageClassifierSearch',
    backbone=dict(type='gml.ResNetSlice', depth=18, cifar_stem=True,
                  out_indices=(3, ), search_space=dict()),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='gml.LinearClsHeadV2', num_classes=10, in_channels=512,
              distiller_mode='soft',
              loss=dict(type='mmcls.LabelSmoothLoss', label_smooth_val=0.1,
                        num_classes=10, loss_weight=1.0),
              soft_loss=dict(type='mmcls.CrossEntropyLoss', use_soft=True,
                             loss_weight=1.0)),
    connect_head=dict(in_channels='backbone.feat_dim'))
algorithm = dict(type='gml.BigNAS', model=supernet, strategy='sandwish4',
                 drop_ratio=0.2, drop_path_ratio=0.2,
                 mutator=dict(type='gml.StateslessMutator'))
find_unused_parameters = True  # subnets leave weights unused
