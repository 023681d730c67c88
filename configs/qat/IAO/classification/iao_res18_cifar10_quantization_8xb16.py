# int8 QAT of ResNet-18 on CIFAR-10, 8 processes x 16 images, as the design
# guide names it: fine-tunes the fp32 model of
# configs/baseline/cifar10_resnet18.py for 10 epochs.
#   bash tools/dist_train.sh CONFIG 8
#   python tools/export_quantized.py CONFIG \
#       work_dirs/CONFIG_NAME/epoch_10.pth --out-dir work_dirs/iao_int8
#   python tools/test.py CONFIG work_dirs/iao_int8/int8_model.pt2 --compile
_base_ = ['../../../baseline/cifar10_resnet18.py', '_base_/iao_fbgemm.py']
algorithm = dict(
    quantizer=dict(
        fuse_config={
            'backbone': [['conv1', 'bn1', 'relu']],
            'backbone.layer1.0': [['conv1', 'bn1', 'relu'], ['conv2', 'bn2']],
        },
        # the backend's default (8-bit, per-channel symmetric weights,
        # unsigned activations), spelled out
        custom_qconfig=dict(weight_bits=8, act_bits=8, per_channel=True,
                            act_symmetric=False, averaging_constant=0.01),
        input_shape=(1, 3, 32, 32)),
    pretrained='work_dirs/cifar10_resnet18/epoch_200.pth')
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-5))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', by_epoch=True,
                       begin=0, end=10)
train_cfg = dict(max_epochs=10, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
