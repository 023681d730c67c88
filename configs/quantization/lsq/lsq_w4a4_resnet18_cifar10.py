# LSQ (Esser et al. 2020): learned step sizes, gradient scale 1/sqrt(N*Qp);
# 4-bit weights (per output channel) and 4-bit activations.
_base_ = ['../_base_/lowbit_cifar10.py']
algorithm = dict(quantizer=dict(
    method='lsq', weight_bits=4, act_bits=4, grad_scale='lsq'))
