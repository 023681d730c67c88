# Low-bit QAT of ResNet-18 on CIFAR-10 (8 processes x 16 images): fine-tunes
# the trained fp32 model of configs/baseline/cifar10_resnet18.py for 100
# epochs with a cosine learning rate. The first conv and the classifier
# stay full precision. The method configs set algorithm.quantizer's method
# and bit widths.
_base_ = ['../../baseline/cifar10_resnet18.py']
algorithm = dict(
    type='gml.QAT',
    quantizer=dict(type='gml.LowBitQuantizer', keep_first_last=True,
                   per_channel=True),
    pretrained='work_dirs/cifar10_resnet18/epoch_200.pth')
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', by_epoch=True,
                       begin=0, end=100)
train_cfg = dict(max_epochs=100, val_interval=1)
