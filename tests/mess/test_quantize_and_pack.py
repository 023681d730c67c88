"""The per-layer quantizer (no side clipped) and the bit packing."""
import math

import pytest
import torch

from gml.models.mess import (index_bits, pack, packed_size, quantize,
                             unpack)


@pytest.mark.parametrize('bits', [1, 2, 4, 6, 8])
def test_asymmetric_range_is_not_clipped(bits):
    # |min| != |max|: a symmetric quantizer without zero point clips a side
    x = torch.cat([torch.linspace(-1.0, 3.0, 1001), torch.tensor([3.0])])
    q = quantize(x, bits)
    scale = 4.0 / (2 ** bits - 1)
    assert q.scale.item() == pytest.approx(scale, rel=1e-6)
    assert q.offset.item() == -1.0
    assert int(q.codes.max()) == 2 ** bits - 1 and int(q.codes.min()) == 0
    values = q.values()
    assert values.min().item() == pytest.approx(-1.0, abs=1e-6)
    assert values.max().item() == pytest.approx(3.0, abs=1e-6)
    assert (values - x).abs().max().item() <= scale / 2 + 1e-6
    assert len(torch.unique(values)) <= 2 ** bits


def test_eight_bit_error_of_a_skewed_tensor():
    x = torch.randn(10000, generator=torch.Generator().manual_seed(0))
    x = x.abs() * 5 - 0.5  # mostly positive
    values = quantize(x, 8).values()
    step = (x.max() - x.min()).item() / 255
    assert (values - x).abs().max().item() <= step / 2 + 1e-6


def test_constant_tensor():
    q = quantize(torch.full((3, 3), 0.7), 4)
    assert q.scale.item() == 0.0
    assert torch.equal(q.values(), torch.full((3, 3), 0.7))


@pytest.mark.parametrize('bits', [0, 1, 3, 6, 7, 8])
def test_pack_round_trip_and_size(bits):
    n = 37
    values = torch.randint(0, 2 ** bits, (n,),
                           generator=torch.Generator().manual_seed(bits))
    data = pack(values, bits)
    assert len(data) == packed_size(n, bits) == math.ceil(n * bits / 8)
    assert torch.equal(unpack(data, n, bits), values)


def test_six_bit_indices_are_dense():
    # four 6-bit indices fill exactly three bytes, most significant first
    data = pack(torch.tensor([0b000001, 0b100000, 0b111111, 0b010101]), 6)
    assert data == bytes([0b00000110, 0b00001111, 0b11010101])


def test_index_bits():
    assert [index_bits(n) for n in (1, 2, 3, 48, 64, 65, 192, 256)] == \
        [0, 1, 2, 6, 6, 7, 8, 8]


def test_pack_refuses_values_that_do_not_fit():
    with pytest.raises(ValueError):
        pack(torch.tensor([64]), 6)
    with pytest.raises(ValueError):
        unpack(b'\x00', 4, 6)
