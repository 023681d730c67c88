# MEAL V2 on CIFAR-10: the student (initialised from `pretrained`) matches the
# teacher's softmax with no hard labels, plus the logit discriminator
# (10 -> 16 -> 8 -> 2), lr 0.01 and no weight decay as MEAL V2 trains.
_base_ = ['../../baseline/cifar10_resnet18.py', '../_base_/cifar10_teacher.py']
algorithm = dict(
    type='gml.TeacherStudentDistillation',
    use_meal=True,
    pretrained=None,  # e.g. work_dirs/cifar10_resnet18/epoch_200.pth
    meal_cfg=dict(discriminator=dict(type='gml.LogitDiscriminator',
                                     in_channels=10, hidden=(16, 8))),
    distill_cfg=dict(teacher=_base_.teacher))
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=0.0))
