# FitNet hints on the digits: the student's second stage (8 channels, 8x8)
# regresses onto the teacher's (32 channels, 8x8), plus the label loss.
_base_ = ['../kd/kd_digits.py']
algorithm = dict(
    student_loss_weight=1.0,
    distill_cfg=dict(
        _delete_=True,
        teacher=_base_.teacher,
        distill_head_cfg=[
            dict(student_module='backbone.layer2',
                 teacher_module='backbone.layer2',
                 head=dict(type='gml.BaseDistillationHead', name='hint',
                           stu_connector=dict(type='gml.FitNetRegressor',
                                              in_channels=8, out_channels=32),
                           loss=dict(type='gml.HintLoss', loss_weight=10.0))),
        ]))
