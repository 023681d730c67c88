# LQ-Nets (Zhang et al. 2018): learned quantization bases refit by least
# squares; 2-bit weights and activations.
_base_ = ['../_base_/lowbit_digits.py']
algorithm = dict(quantizer=dict(method='lqnets', weight_bits=2, act_bits=2))
