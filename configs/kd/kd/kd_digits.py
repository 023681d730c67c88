# Hinton KD on the digits: the small student learns from the baseline's
# logits (T = 4, weight 0.9) and from the labels (weight 0.1).
# The teacher is the digits baseline (configs/baseline/digits_resnet.py, the
# same model as below) trained first with its defaults:
#   python tools/train.py configs/baseline/digits_resnet.py
# which leaves work_dirs/digits_resnet/epoch_30.pth (the QAT and MESS digits
# configs start from the same checkpoint).
_base_ = ['../digits_student.py']
teacher = dict(
    ckpt_path='work_dirs/digits_resnet/epoch_30.pth',
    model=dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                      base_channels=16, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=128),
        data_preprocessor=_base_.data_preprocessor))
algorithm = dict(
    type='gml.TeacherStudentDistillation',
    student_loss_weight=0.1,
    input_shape=(2, 3, 16, 16),
    distill_cfg=dict(
        teacher=teacher,
        distill_head_cfg=[
            dict(student_module='head.fc', teacher_module='head.fc',
                 head=dict(type='gml.BaseDistillationHead', name='kd',
                           loss=dict(type='gml.KDLoss', temperature=4.0,
                                     loss_weight=0.9))),
        ]))
