# FitNet hints on CIFAR-10: the student's second stage (128 ch, 16x16)
# regresses onto the teacher's (512 ch, 16x16); CE + 100 x hint.
_base_ = ['../../baseline/cifar10_resnet18.py', '../_base_/cifar10_teacher.py']
algorithm = dict(
    type='gml.TeacherStudentDistillation',
    input_shape=(2, 3, 32, 32),
    distill_cfg=dict(
        teacher=_base_.teacher,
        distill_head_cfg=[
            dict(student_module='backbone.layer2',
                 teacher_module='backbone.layer2',
                 head=dict(type='gml.BaseDistillationHead', name='hint',
                           stu_connector=dict(type='gml.FitNetRegressor',
                                              in_channels=128,
                                              out_channels=512),
                           loss=dict(type='gml.HintLoss', loss_weight=100.0))),
        ]))
