# Hinton KD on CIFAR-10: ResNet-50 teacher -> ResNet-18 student,
# total = 0.1 x CE + 0.9 x KD (T = 4), as RepDistiller's CIFAR recipe.
#   bash tools/dist_train.sh configs/kd/kd/kd_res50_res18_cifar10.py 8
_base_ = ['../../baseline/cifar10_resnet18.py', '../_base_/cifar10_teacher.py']
algorithm = dict(
    type='gml.TeacherStudentDistillation',
    student_loss_weight=0.1,
    input_shape=(2, 3, 32, 32),
    distill_cfg=dict(
        teacher=_base_.teacher,
        distill_head_cfg=[
            dict(student_module='head.fc', teacher_module='head.fc',
                 head=dict(type='gml.BaseDistillationHead', name='kd',
                           loss=dict(type='gml.KDLoss', temperature=4.0,
                                     loss_weight=0.9))),
        ]))
