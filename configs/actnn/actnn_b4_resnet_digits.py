# The digits baseline ResNet trained with its activations kept at 4 bits
# for backward (about 2 minutes on CPU), set up as the ActNN guide does: the
# hook module is imported through custom_imports and named without a scope.
_base_ = ['../baseline/digits_resnet.py']
custom_imports = dict(imports=['gml.actnn.hook'], allow_failed_imports=False)
custom_hooks = [dict(type='ActNNHook', default_bit=4)]
