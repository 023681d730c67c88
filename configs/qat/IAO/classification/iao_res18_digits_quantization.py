# int8 QAT (IAO: Jacob et al., "integer-arithmetic-only inference") of the
# digits baseline ResNet on CPU, about 2 minutes: the trained fp32 model is
# captured, fake-quantized for the x86 backend from its stem conv to the end
# of the backbone (pooling and classifier stay fp32) and fine-tuned for 5
# epochs. Train the baseline first:
#   python tools/train.py configs/baseline/digits_resnet.py
# then convert and export the int8 model:
#   python tools/export_quantized.py CONFIG work_dirs/CONFIG_NAME/epoch_5.pth
# The twin of iao_res18_cifar10_quantization_8xb16.py.
_base_ = ['../../../baseline/digits_resnet.py']
algorithm = dict(
    type='gml.QAT',
    quantizer=dict(
        type='gml.TorchDefaultQuantizer',
        backend='fbgemm',
        input_layer='backbone.conv1',
        output_layer='backbone',
        fuse_config={'backbone': [['conv1', 'bn1', 'relu']]},
        input_shape=(1, 3, 16, 16)),
    pretrained='work_dirs/digits_resnet/epoch_30.pth')
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=5e-5))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0,
                        end=5)]
train_cfg = dict(max_epochs=5, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
# under DDP every process quantizes with rank 0's ranges and BN statistics
model_wrapper_cfg = dict(type='gml.DeviceAwareDDP', broadcast_buffers=True)
