# int8 QAT (IAO: Jacob et al., "integer-arithmetic-only inference") for the
# server CPU backend (fbgemm = x86): the trained fp32 model is captured and
# fake-quantized from its stem conv to the end of the backbone -- pooling
# and classifier stay fp32. The configs add the model's training config,
# input_shape, the fp32 checkpoint and the fine-tuning schedule.
# backend='qnnpack' (or 'xnnpack') targets mobile CPUs instead.
algorithm = dict(
    type='gml.QAT',
    quantizer=dict(
        type='gml.TorchDefaultQuantizer',
        backend='fbgemm',
        input_layer='backbone.conv1',
        output_layer='backbone',
        fuse_config={'backbone': [['conv1', 'bn1', 'relu']]}))
# under DDP every process quantizes with rank 0's ranges and BN statistics
model_wrapper_cfg = dict(type='gml.DeviceAwareDDP', broadcast_buffers=True)
