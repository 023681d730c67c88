# The design guide's Factor Transfer config (its ftloss_res18_cifar10_...
# example), keys as the guide writes them, on the digits: the small digits
# student (ResNet-18, widths 4/8/16/32) learns from the digits baseline
# (widths 16/32/64/128) at the last stage's output.
#
# The paraphraser has a pretrain_criterion, so (as the guide says) it is
# pretrained before the student trains: with no connector_pretrain_epochs
# given, gml pretrains it for 5 epochs (the Factor Transfer authors'
# setting), then freezes it; the student trains 10 epochs after that.
# The teacher is the digits baseline, trained first with
#   python tools/train.py configs/baseline/digits_resnet.py
# then: python tools/train.py configs/guide/kd_factor_transfer_digits.py
_base_ = ['../kd/digits_student.py']

algorithm = dict(
    type='TeacherStudentDistillation',
    distiller=dict(type='TeacherDistiller'),
    use_meal=False,
    pretrained=None,
    distill_cfg=dict(
        teacher=dict(
            ckpt_path='work_dirs/digits_resnet/epoch_30.pth',
            model=dict(
                type='ImageClassifier',
                backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                              base_channels=16, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=10,
                          in_channels=128),
                data_preprocessor=_base_.data_preprocessor),
            distill_head_cfg=[
                dict(student_module='backbone.layer4',
                     teacher_module='backbone.layer4',
                     head=dict(
                         type='BaseDistillationHead',
                         name='ft',
                         stu_connector=dict(type='Translator', in_channels=32,
                                            out_channels=64),
                         tea_connector=dict(
                             type='Paraphraser', in_channels=128,
                             factor_rate=0.5,
                             pretrain_criterion=dict(type='L1Loss')),
                         loss=dict(type='FTLoss', loss_weight=500.0))),
            ])))

# 5 paraphraser epochs + the student's 10 (its warm-up and cosine follow)
train_cfg = dict(max_epochs=15, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=5, end=6,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=6, end=15),
]
default_hooks = dict(checkpoint=dict(interval=15))
# the pretraining epochs leave the student without gradients (DDP)
find_unused_parameters = True
