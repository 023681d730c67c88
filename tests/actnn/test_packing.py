"""Compressed forms: exact bit packing, unbiased stochastic rounding with
bounded variance, exact ReLU masks, lossless masks and integers, and the
byte counts of the ratio formula."""
import math

import pytest
import torch
import torch.nn as nn

from gml.actnn.packing import (RELU_NUDGE, bf16_floor, pack_bits,
                               pack_groups, pack_integers, pack_mask,
                               pack_relu, unpack_bits)


@pytest.mark.parametrize('bits', range(1, 9))
def test_bit_packing_round_trips_and_is_dense(bits):
    codes = torch.randint(0, 2 ** bits, (1001, ), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(bits))
    packed = pack_bits(codes, bits)
    assert packed.dtype == torch.uint8
    assert packed.numel() == math.ceil(1001 * bits / 8)  # 2 bits: 4 a byte
    assert torch.equal(unpack_bits(packed, bits, 1001), codes)


def test_two_bit_codes_share_bytes_in_order():
    codes = torch.tensor([1, 2, 3, 0, 2], dtype=torch.uint8)
    # little end first: 1 + 2*4 + 3*16 + 0*64 = 57, then 2
    assert pack_bits(codes, 2).tolist() == [57, 2]


def test_bf16_metadata_rounds_down_exactly():
    values = torch.tensor([1.0, 1.0078125, 1.001, -1.001, -3e-5, 7.7e4,
                           0.0])
    floor = bf16_floor(values)
    assert floor.dtype == torch.bfloat16
    assert (floor.float() <= values).all()
    # the next bfloat16 up is above the value: the largest one below it
    up = torch.nextafter(floor, torch.full_like(floor, math.inf))
    assert (up.float() > values).all()
    assert floor.float()[:2].tolist() == [1.0, 1.0078125]  # exact stay


def repeated(pack, x, runs=2000):
    return torch.stack([
        pack(x, generator=torch.Generator().manual_seed(seed)).unpack()
        for seed in range(runs)])


@pytest.mark.parametrize('bits', [2, 4])
def test_stochastic_rounding_is_unbiased_with_bounded_variance(bits):
    torch.manual_seed(0)
    x = torch.randn(4, 512) * torch.linspace(0.1, 3, 512)
    samples = repeated(lambda t, generator: pack_groups(t, bits, 256,
                                                        generator), x)
    groups = x.view(4, 2, 256)
    step = ((groups.amax(-1) - groups.amin(-1)) / (2 ** bits - 1))
    step = step.repeat_interleave(256, -1).view(4, 512)
    runs = samples.shape[0]
    # mean error: within 5 standard errors of 0 everywhere (the rounding
    # variance is at most step^2 / 4)
    z = (samples.mean(0) - x).abs() / (step / 2 / math.sqrt(runs))
    assert z.max() < 5.5, z.max()
    assert abs(float((samples.mean(0) - x).mean() / step.mean())) < 0.005
    # variance per value at most step^2 / 4 (sampling noise allowed)
    assert (samples.var(0) <= step.pow(2) / 4 * 1.25 + 1e-12).all()
    # values are on the grid: error below one step
    assert ((samples - x).abs() <= step * 1.01).all()


def test_relu_outputs_keep_their_zero_pattern_exactly():
    torch.manual_seed(1)
    x = torch.relu(torch.randn(8, 1000))
    x[0, :5] = torch.tensor([1e-9, 1e-7, 0.0, 3.0, 0.0])
    samples = repeated(lambda t, generator: pack_relu(t, 2, 256, generator),
                       x, runs=1000)
    assert ((samples > 0) == (x > 0)).all()
    step = x.view(8, -1, 250).amax(-1) / 2  # 2 bits: levels 0, d, 2d
    nudge = RELU_NUDGE * step.max()
    bias = (samples.mean(0) - x).abs().mean()
    assert bias < nudge + 3 * float(step.mean()) / 2 / math.sqrt(1000)


def test_masks_and_integers_are_lossless():
    torch.manual_seed(2)
    keep = torch.rand(16, 300) > 0.3
    dropout = keep.float() / 0.7
    packed = pack_mask(dropout, float(dropout.max()))
    assert torch.equal(packed.unpack(), dropout)
    assert packed.nbytes == math.ceil(16 * 300 / 8)  # 1 bit a value
    assert torch.equal(pack_mask(keep).unpack(), keep)
    # max-pool indices (3x3, stride 2, padding 1 over 112x112)
    pool = nn.MaxPool2d(3, 2, 1, return_indices=True)
    _, indices = pool(torch.randn(8, 64, 112, 112))
    packed = pack_integers(indices, plane=(112, 112))
    assert packed.kind == 'pool_indices'
    assert packed.bits == 4  # 3 x 3 window offsets: 9 codes
    assert torch.equal(packed.unpack(), indices)
    assert packed.nbytes * 16 == indices.numel() * 8
    assert torch.equal(pack_integers(indices).unpack(), indices)  # no hint
    noise = torch.randint(-2**40, 2**40, (100, 7))
    assert pack_integers(noise).kind == 'narrowed'
    assert torch.equal(pack_integers(noise).unpack(), noise)
    small = torch.randint(-100, 100, (50, 300))
    assert torch.equal(pack_integers(small).unpack(), small)


@pytest.mark.parametrize('bits, ratio', [(2, 15.06), (4, 7.76), (8, 3.94)])
def test_bytes_match_the_ratio_formula(bits, ratio):
    x = torch.randn(8, 64, 16, 16)  # every sample a multiple of 256
    packed = pack_groups(x, bits, 256)
    groups = x.numel() // 256
    assert packed.nbytes == x.numel() * bits // 8 + groups * 4  # 2 x bf16
    assert round(x.numel() * 4 / packed.nbytes, 2) == ratio  # 32/(b+32/G)
    restored = packed.unpack()
    assert restored.shape == x.shape and restored.dtype == x.dtype


def test_shapes_dtypes_and_odd_sizes_come_back():
    for shape in [(3, 5, 7), (2, 4), (1000, ), (1, 3, 300)]:
        x = torch.randn(shape, dtype=torch.float64)
        for pack in (pack_groups, pack_relu):
            restored = pack(x.abs(), 4, 256).unpack()
            assert restored.shape == x.shape
            assert restored.dtype == torch.float64
            step = (x.abs().max() - 0) / 14
            assert (restored - x.abs()).abs().max() <= step * 1.01
