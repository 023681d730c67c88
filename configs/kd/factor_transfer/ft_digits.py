# Factor Transfer on the digits. Epoch 1: the paraphraser learns to
# reconstruct the frozen teacher's last-stage feature (128 channels, 2x2);
# then it is frozen and the student (translator on its 32-channel feature)
# learns its labels plus beta * FT loss.
_base_ = ['../kd/kd_digits.py']
algorithm = dict(
    student_loss_weight=1.0,
    connector_pretrain_epochs=1,
    distill_cfg=dict(
        _delete_=True,
        teacher=_base_.teacher,
        distill_head_cfg=[
            dict(student_module='neck', student_record='input',
                 teacher_module='neck', teacher_record='input',
                 head=dict(type='gml.BaseDistillationHead', name='ft',
                           stu_connector=dict(type='gml.Translator',
                                              in_channels=32, out_channels=64),
                           tea_connector=dict(
                               type='gml.Paraphraser', in_channels=128,
                               factor_rate=0.5,
                               pretrain_criterion=dict(type='L1Loss')),
                           loss=dict(type='gml.FTLoss', loss_weight=500.0))),
        ]))
# stages leave some parameters without gradients: DDP must allow it
find_unused_parameters = True
