# MESS v2qq on the digits ResNet: every 3x3 kernel of the 16 non-stem 3x3
# convs (76,288 kernels) becomes alpha * r_k + beta against the 48 kernels
# of the 3->16 stem conv (6-bit index, 8-bit alpha/beta, 8-bit weights),
# then 10 epochs of retraining with re-projection after every epoch.
# Starts from the trained fp32 baseline (train it first:
# python tools/train.py configs/baseline/digits_resnet.py).
_base_ = ['../baseline/digits_resnet.py']

load_from = 'work_dirs/digits_resnet/epoch_30.pth'
custom_hooks = [
    dict(type='gml.MESSHook', version='v2qq', qb=8, qba=8, qbb=8,
         pointwise='auto', warmup_epochs=0, interval=1),
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10),
]
train_cfg = dict(max_epochs=10, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
