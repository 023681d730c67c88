# MESS v2qq on ResNet-18 (CIFAR stem) for CIFAR-10: every 3x3 kernel of
# the 16 non-stem 3x3 convs (1,220,608 kernels) becomes alpha * r_k + beta
# against the 192 kernels of the 3->64 stem conv (8-bit index, 8-bit
# alpha/beta, 8-bit weights), then 30 epochs of retraining at lr 0.01
# with re-projection after every epoch. Starts from the trained fp32
# baseline (python tools/train.py configs/baseline/cifar10_resnet18.py,
# 200 epochs; needs data/cifar10).
_base_ = ['../baseline/cifar10_resnet18.py']

load_from = 'work_dirs/cifar10_resnet18/epoch_200.pth'
custom_hooks = [
    dict(type='gml.MESSHook', version='v2qq', qb=8, qba=8, qbb=8,
         pointwise='auto', warmup_epochs=0, interval=1),
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=30),
]
train_cfg = dict(max_epochs=30, val_interval=1)
