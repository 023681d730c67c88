"""What BatchNorm saves (a convolution's output) is compressed on each
channel's own scale.

Groups of 256 values used to span many channels wherever a sample's plane
is smaller than a group (32 x 32 inputs, late stages), and were quantized
on the group's range: a narrow channel's values moved by many of its own
deviations, which BatchNorm's backward divides by. ResNeXt-50 and
MobileOne-s0 at 32 x 32 got gradients of 1e16 and NaN after one step at
L3 (2 bits); found by tests/zoo."""
import torch
import torch.nn as nn

import gml.actnn as actnn
from gml.actnn.packing import pack_channels


def conv_bn(spreads):
    """A 1x1 conv whose output channels differ in scale by ``spreads``,
    then BatchNorm."""
    torch.manual_seed(0)
    conv = nn.Conv2d(64, len(spreads), 1, bias=False)
    with torch.no_grad():
        conv.weight.mul_(torch.tensor(spreads).view(-1, 1, 1, 1))
    return nn.Sequential(conv, nn.BatchNorm2d(len(spreads))).train()


def input_gradient(model, x, weight, controller=None):
    x = x.clone().requires_grad_()
    if controller is None:
        out = model(x)
    else:
        controller.filter_tensors(model.named_parameters())
        with controller.hooks():
            out = model(x)
    (out * weight).sum().backward()
    return x.grad


def test_batchnorm_gradient_stays_close_with_channels_of_any_scale():
    # channel deviations from 0.001 to 1000, 2 x 2 planes: one group of
    # 256 holds 64 channels
    spreads = [10.0 ** (6 * i / 63 - 3) for i in range(64)]
    model = conv_bn(spreads)
    torch.manual_seed(1)
    x = torch.randn(16, 64, 2, 2)  # 4096 values: compressed
    weight = torch.randn(16, 64, 2, 2)
    exact = input_gradient(model, x, weight)
    for bits, bound in ((2, 0.5), (4, 0.1), (8, 0.01)):
        controller = actnn.Controller(default_bit=bits, seed=0)
        approx = input_gradient(model, x, weight, controller)
        error = ((approx - exact).norm() / exact.norm()).item()
        # measured 0.15, 0.024, 0.0015; on the group's range they were
        # 1.3e8, 4.2e6 and 1.5e4 (the narrowest channels' values rounded
        # across millions of their deviations)
        assert error < bound, (bits, error)


def test_channels_are_packed_on_their_own_mean_and_deviation():
    torch.manual_seed(0)
    x = torch.randn(4, 16, 3, 3) * torch.logspace(-3, 3, 16).view(1, -1, 1,
                                                                 1) + 100
    packed = pack_channels(x, 8)
    assert packed.kind == 'channels'
    # codes, a bf16 minimum and scale a group, fp32 mean and deviation a
    # channel
    groups = x.numel() // 256 + 1  # the last one padded
    assert packed.nbytes == 256 * groups + 4 * groups + 8 * 16
    restored = packed.unpack()
    assert restored.shape == x.shape and restored.dtype == x.dtype
    # every value within one 8-bit step of its group, in its own
    # channel's deviations
    spread = x.std((0, 2, 3), unbiased=False).view(1, -1, 1, 1)
    assert ((restored - x).abs() / spread).max() < 0.1


def test_conv_outputs_use_the_channel_packing():
    model = conv_bn([1.0] * 16)
    controller = actnn.Controller(default_bit=4)
    controller.filter_tensors(model.named_parameters())
    kinds = []
    quantize = controller.quantize

    def record(x):
        packed = quantize(x)
        kinds.append(getattr(packed, 'kind', None))
        return packed

    with torch.autograd.graph.saved_tensors_hooks(record,
                                                  controller.dequantize):
        model(torch.randn(8, 64, 8, 8, requires_grad=True)).sum().backward()
    assert 'channels' in kinds  # the BN input
