# LSQ (Esser et al. 2020) at 2-bit weights and 2-bit activations.
_base_ = ['../_base_/lowbit_cifar10.py']
algorithm = dict(quantizer=dict(
    method='lsq', weight_bits=2, act_bits=2, grad_scale='lsq'))
