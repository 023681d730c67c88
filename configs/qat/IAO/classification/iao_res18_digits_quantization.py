# int8 QAT of the digits baseline ResNet on CPU, about 2 minutes: 5 epochs
# of fine-tuning. Train the baseline first:
#   python tools/train.py configs/baseline/digits_resnet.py
# then convert and export the int8 model, and evaluate it:
#   python tools/export_quantized.py CONFIG \
#       work_dirs/iao_res18_digits_quantization/epoch_5.pth \
#       --out-dir work_dirs/iao_int8
#   python tools/test.py CONFIG work_dirs/iao_int8/int8_model.pt2 --compile
# The twin of iao_res18_cifar10_quantization_8xb16.py.
_base_ = ['../../../baseline/digits_resnet.py', '_base_/iao_fbgemm.py']
algorithm = dict(quantizer=dict(input_shape=(1, 3, 16, 16)),
                 pretrained='work_dirs/digits_resnet/epoch_30.pth')
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=5e-5))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0,
                        end=5)]
train_cfg = dict(max_epochs=5, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
