# The digits baseline ResNet trained at ActNN level L3: 2 bits per value on
# average, per-tensor bits chosen from gradient statistics every 20
# iterations, exact ReLU masks.
_base_ = ['../baseline/digits_resnet.py']
custom_hooks = [dict(type='gml.ActNNHook', level='L3')]
