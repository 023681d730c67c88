# The design guide's QAT example (configs/qat/IAO/...: `_base_` is the
# model's own training config, `algorithm` holds the model and the
# quantizer) on the embedded digits, on CPU: int8 QAT of the digits
# baseline ResNet for the mobile backend the guide calls 'qnn' (qnnpack;
# gml runs it with the XNNPACK int8 quantizer). Train the baseline first:
#   python tools/train.py configs/baseline/digits_resnet.py
#   python tools/train.py configs/guide/qat_iao_digits.py
# then the real int8 model:
#   python tools/export_quantized.py configs/guide/qat_iao_digits.py \
#       work_dirs/qat_iao_digits/epoch_5.pth --out-dir work_dirs/qat_int8
_base_ = ['../baseline/digits_resnet.py']
algorithm = dict(
    type='gml.QAT',
    # the original model, as its training config builds it
    model=_base_.model,
    quantizer=dict(
        # supports the backends 'qnn' and 'fbgemm' (see docs/quantization.md)
        type='TorchDefaultQuantizer',
        backend='qnn',
        # the first quantized layer: the stem conv
        input_layer='backbone.conv1',
        # the last quantized layer: the end of the backbone (pooling and
        # the classifier stay fp32, as QAT usually leaves the output layer)
        output_layer='backbone',
        # {module: [children to run fused]}: the stem conv + BN + ReLU
        fuse_config={'backbone': [['conv1', 'bn1', 'relu']]},
        # on top of the backend's default qconfig: 8-bit weights and
        # activations, range observers' moving-average constant
        custom_qconfig=dict(weight_bits=8, act_bits=8,
                            averaging_constant=0.01),
        # the training inputs (digits upsampled to 16x16)
        input_shape=(1, 3, 16, 16)),
    # QAT fine-tunes the trained fp32 model
    pretrained='work_dirs/digits_resnet/epoch_30.pth')
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=5e-5))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0,
                        end=5)]
train_cfg = dict(max_epochs=5, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
# under DDP every process quantizes with rank 0's ranges and BN statistics
model_wrapper_cfg = dict(type='gml.DeviceAwareDDP', broadcast_buffers=True)
