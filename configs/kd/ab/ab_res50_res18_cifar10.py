# Activation boundaries on CIFAR-10: 30 epochs of AB initialisation on the
# pre-ReLU outputs of stages 2-4 (weights 1/4, 1/2, 1 from shallow to deep,
# x 3/1000), then 200 epochs of CE training.
_base_ = ['../../baseline/cifar10_resnet18.py', '../_base_/cifar10_teacher.py']


def ab_head(stage, s_ch, t_ch, weight):
    # the last block of the stage: ResNet-18 has 2 per stage, ResNet-50 3/4/6/3
    teacher_block = {2: 3, 3: 5, 4: 2}[stage]
    return dict(
        student_module=f'backbone.layer{stage}.1.relu',
        student_record='input',
        teacher_module=f'backbone.layer{stage}.{teacher_block}.relu',
        teacher_record='input',
        head=dict(type='gml.BaseDistillationHead', name=f'ab{stage}',
                  stu_connector=dict(type='gml.ConvConnector',
                                     in_channels=s_ch, out_channels=t_ch),
                  loss=dict(type='gml.ABLoss', margin=1.0,
                            loss_weight=weight)))


algorithm = dict(
    type='gml.ABTeacherStudentDistillation',
    init_epochs=30,
    input_shape=(2, 3, 32, 32),
    distill_cfg=dict(
        teacher=_base_.teacher,
        distill_head_cfg=[
            ab_head(2, 128, 512, 0.25 * 3e-3),
            ab_head(3, 256, 1024, 0.5 * 3e-3),
            ab_head(4, 512, 2048, 1.0 * 3e-3),
        ]))
train_cfg = dict(max_epochs=230)
find_unused_parameters = True
