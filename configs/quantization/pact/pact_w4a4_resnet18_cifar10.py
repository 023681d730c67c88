# PACT (Choi et al. 2018): activations clipped at a learned alpha (initial
# clip 8), weights quantized as DoReFa; 4/4 bits.
_base_ = ['../_base_/lowbit_cifar10.py']
algorithm = dict(quantizer=dict(
    method='pact', weight_bits=4, act_bits=4, clip=8.0))
