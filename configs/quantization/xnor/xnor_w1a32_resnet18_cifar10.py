# XNOR-Net weights (Rastegari et al. 2016): sign(w) times the per-channel
# mean |w|; activations full precision.
_base_ = ['../_base_/lowbit_cifar10.py']
algorithm = dict(quantizer=dict(method='xnor', weight_bits=1, act_bits=32))
