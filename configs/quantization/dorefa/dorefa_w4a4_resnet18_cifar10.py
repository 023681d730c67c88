# DoReFa-Net (Zhou et al. 2016): tanh-normalised weights, activations
# clipped to [0, 1]; 4/4 bits, straight-through gradients.
_base_ = ['../_base_/lowbit_cifar10.py']
algorithm = dict(quantizer=dict(method='dorefa', weight_bits=4, act_bits=4))
