# MEAL V2 on the digits: no hard labels; the student matches the teachers'
# averaged softmax, and a discriminator on logits tells student from teacher.
_base_ = ['../kd/kd_digits.py']
algorithm = dict(
    use_meal=True,
    meal_cfg=dict(student_module='head.fc', teacher_module='head.fc',
                  discriminator=dict(type='gml.LogitDiscriminator',
                                     in_channels=10, hidden=(16, 8)),
                  adversarial_weight=1.0),
    distill_cfg=dict(_delete_=True, teacher=_base_.teacher))
