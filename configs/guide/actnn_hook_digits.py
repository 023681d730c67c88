# The ActNN guide's setup on the digits: its hook_actnn.py (next to this
# file, unchanged) imported through custom_imports and named without a
# scope, as the guide's configs do. Run from the repository root with the
# hook's folder on the path, as the guide does:
#   PYTHONPATH=configs/guide:$PYTHONPATH python tools/train.py \
#       configs/guide/actnn_hook_digits.py
# gml.ActNNRatioHook logs actnn_ratio (bytes autograd would keep / bytes
# kept) from the controller the guide's hook leaves on the runner.
_base_ = ['../baseline/digits_resnet.py']
custom_imports = dict(imports=['hook_actnn'], allow_failed_imports=False)
custom_hooks = [dict(type='ActNNHook', default_bit=4),
                dict(type='gml.ActNNRatioHook')]
