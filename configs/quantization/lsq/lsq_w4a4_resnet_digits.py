# LSQ 4-bit weights / 4-bit activations on the digits baseline ResNet (CPU,
# about 2 minutes): every conv but the first, and not the classifier,
# fake-quantizes its weight (per output channel) and its input with learned
# step sizes. Fine-tunes the trained fp32 baseline (train it first:
# python tools/train.py configs/baseline/digits_resnet.py); 30 epochs.
# The twin of lsq_w4a4_resnet18_cifar10.py.
_base_ = ['../../baseline/digits_resnet.py']
algorithm = dict(
    type='gml.QAT',
    quantizer=dict(type='gml.LowBitQuantizer', method='lsq', weight_bits=4,
                   act_bits=4, keep_first_last=True, per_channel=True,
                   grad_scale='lsq'),
    pretrained='work_dirs/digits_resnet/epoch_30.pth')
optim_wrapper = dict(optimizer=dict(lr=0.01))
