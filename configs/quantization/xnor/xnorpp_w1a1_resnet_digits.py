# XNOR-Net++ (Bulat & Tzimiropoulos 2019): binary weights with a learned
# per-channel scale gamma, binary activations with the triangle gradient.
_base_ = ['../_base_/lowbit_digits.py']
algorithm = dict(quantizer=dict(
    method='xnor', weight_bits=1, act_bits=1, gamma=True, gradient='triangle'))
