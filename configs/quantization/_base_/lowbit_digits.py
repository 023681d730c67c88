# Low-bit QAT of the digits baseline ResNet on CPU (about 2 minutes for 30
# epochs): fine-tunes the trained fp32 model, so train it first:
#   python tools/train.py configs/baseline/digits_resnet.py
# The method configs set algorithm.quantizer's method and bit widths.
_base_ = ['../../baseline/digits_resnet.py']
algorithm = dict(
    type='gml.QAT',
    quantizer=dict(type='gml.LowBitQuantizer', keep_first_last=True,
                   per_channel=True),
    pretrained='work_dirs/digits_resnet/epoch_30.pth')
optim_wrapper = dict(optimizer=dict(lr=0.01))
