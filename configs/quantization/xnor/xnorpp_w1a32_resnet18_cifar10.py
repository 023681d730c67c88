# XNOR-Net++ (Bulat & Tzimiropoulos 2019): binary weights with a learned
# per-channel scale gamma; activations full precision (the conv inputs of a
# post-activation ResNet come out of a ReLU, where sign(x) carries nothing).
_base_ = ['../_base_/lowbit_cifar10.py']
algorithm = dict(quantizer=dict(
    method='xnor', weight_bits=1, act_bits=32, gamma=True))
