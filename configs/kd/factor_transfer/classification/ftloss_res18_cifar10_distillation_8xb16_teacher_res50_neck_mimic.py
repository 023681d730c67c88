# Factor Transfer on CIFAR-10 as in the design guide: ResNet-50 teacher ->
# ResNet-18 student, both mimicking at the neck's input (the last stage,
# 2048 vs 512 channels at 4x4). Batch 16 per GPU on 8 GPUs.
#   1. train the teacher: configs/kd/teachers/README.md
#   2. bash tools/dist_train.sh THIS_CONFIG 8
# Epoch 1 pretrains the paraphraser (L1 reconstruction of the teacher
# feature); then it is frozen and the student trains with CE + 500 x FT.
_base_ = ['../../../baseline/cifar10_resnet18.py', '../../_base_/cifar10_teacher.py']
algorithm = dict(
    type='gml.TeacherStudentDistillation',
    model=_base_.model,
    distiller=dict(type='gml.TeacherDistiller'),
    use_meal=False,
    pretrained=None,
    connector_pretrain_epochs=1,
    input_shape=(2, 3, 32, 32),
    distill_cfg=dict(
        teacher=_base_.teacher,
        distill_head_cfg=[
            dict(student_module='neck', student_record='input',
                 teacher_module='neck', teacher_record='input',
                 head=dict(type='gml.BaseDistillationHead', name='ft',
                           stu_connector=dict(type='gml.Translator',
                                              in_channels=512,
                                              out_channels=1024),
                           tea_connector=dict(
                               type='gml.Paraphraser', in_channels=2048,
                               factor_rate=0.5,
                               pretrain_criterion=dict(type='L1Loss')),
                           loss=dict(type='gml.FTLoss', loss_weight=500.0))),
        ]))
train_cfg = dict(max_epochs=201)
find_unused_parameters = True  # the paraphraser epoch leaves the student idle  # 1 paraphraser epoch + 200 student epochs
