"""BN recalibration: exact one-batch statistics, no leak between subnets."""
import torch
import torch.nn as nn

from gml.engine.bn_calibration import recalibrate_bn
from gml.models.ops import BatchNorm2dSlice, Conv2dSlice


def test_one_batch_gives_its_mean_and_unbiased_variance():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.0))
    x = torch.randn(6, 3, 8, 8)
    model.eval()
    used = recalibrate_bn(model, [x], num_iters=1)
    assert used == 1
    feat = model[0](x)
    bn = model[1]
    assert torch.allclose(bn.running_mean, feat.mean(dim=(0, 2, 3)),
                          atol=1e-6)
    assert torch.allclose(bn.running_var,
                          feat.var(dim=(0, 2, 3), unbiased=True), atol=1e-5)
    assert bn.momentum == 0.0 and not model.training  # settings restored


def test_several_batches_average_the_per_batch_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm2d(2))
    batches = [torch.randn(4, 2, 3, 3) + i for i in range(3)]
    recalibrate_bn(model, batches)
    means = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(0)
    assert torch.allclose(model[0].running_mean, means, atol=1e-6)
    assert recalibrate_bn(model, batches, num_iters=2) == 2


def test_subnet_statistics_do_not_leak_between_subnets():
    torch.manual_seed(0)
    conv, bn = Conv2dSlice(3, 8, 3), BatchNorm2dSlice(8)
    model = nn.Sequential(conv, bn)
    x = torch.randn(4, 3, 6, 6)
    conv.set_active(out_channels=8)
    recalibrate_bn(model, [x])
    full = bn.running_mean.clone()
    conv.set_active(out_channels=4)
    recalibrate_bn(model, [x * 3 + 1])
    small = model[0](x * 3 + 1)
    assert torch.allclose(bn.running_mean[:4], small.mean(dim=(0, 2, 3)),
                          atol=1e-5)
    # a subnet's calibration starts from reset statistics, not the other's
    assert not torch.allclose(bn.running_mean[:4], full[:4])
    assert torch.equal(bn.running_mean[4:], torch.zeros(4))


def test_dropout_and_drop_path_stay_off_while_statistics_are_gathered():
    # A dropout of p=0.9 in front of the BN would scale the surviving inputs
    # by 10 and zero 90% of them: statistics far from the input's. With the
    # rest of the model in evaluation mode the BN sees the input unchanged.
    from gml.models.ops.drop_path import DropPath
    torch.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.9), DropPath(0.9), nn.BatchNorm2d(3))
    x = torch.randn(8, 3, 4, 4) * 2 + 1
    model.train()
    model[0].eval()  # a module the caller had put in eval stays so
    recalibrate_bn(model, [x])
    bn = model[2]
    assert torch.allclose(bn.running_mean, x.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(bn.running_var, x.var(dim=(0, 2, 3)), atol=1e-5)
    assert [m.training for m in model] == [False, True, True]
    assert model.training
