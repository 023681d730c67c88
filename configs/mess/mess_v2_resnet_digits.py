# MESS v2 (float32 alpha and beta) on the digits ResNet: the v2qq config
# with unquantized weights and coefficients.
_base_ = ['./mess_v2qq_resnet_digits.py']

custom_hooks = [
    dict(type='gml.MESSHook', version='v2', pointwise='auto',
         warmup_epochs=0, interval=1),
]
