# Activation-boundary distillation on the digits (two stages): for the first
# 2 epochs the student and its connectors learn only the AB loss on the
# pre-ReLU outputs of stages 2-4; then ordinary training on the labels.
_base_ = ['../kd/kd_digits.py']


def ab_head(stage, s_ch, t_ch, weight):
    return dict(
        student_module=f'backbone.layer{stage}.1.relu',
        student_record='input',
        teacher_module=f'backbone.layer{stage}.1.relu',
        teacher_record='input',
        head=dict(type='gml.BaseDistillationHead', name=f'ab{stage}',
                  stu_connector=dict(type='gml.ConvConnector',
                                     in_channels=s_ch, out_channels=t_ch),
                  loss=dict(type='gml.ABLoss', margin=1.0,
                            loss_weight=weight)))


algorithm = dict(
    type='gml.ABTeacherStudentDistillation',
    student_loss_weight=1.0,
    init_epochs=2,
    distill_cfg=dict(
        _delete_=True,
        teacher=_base_.teacher,
        distill_head_cfg=[
            ab_head(2, 8, 32, 0.25 * 3e-3),
            ab_head(3, 16, 64, 0.5 * 3e-3),
            ab_head(4, 32, 128, 1.0 * 3e-3),
        ]))
# stages leave some parameters without gradients: DDP must allow it
find_unused_parameters = True
