"""Packing unsigned integers at a fixed number of bits each.

``pack(values, bits)`` writes every value's ``bits`` lowest bits, most
significant first, one after the other, and pads the last byte with zeros:
``n`` values take ``ceil(n * bits / 8)`` bytes. ``bits`` may be 0 (a single
candidate needs no index): nothing is written.
"""
import numpy as np
import torch


def index_bits(count: int) -> int:
    """Bits of an index into ``count`` items: ``ceil(log2(count))``."""
    return max(0, int(count) - 1).bit_length()


def packed_size(n: int, bits: int) -> int:
    """Bytes that ``n`` values take at ``bits`` each."""
    return (n * bits + 7) // 8


def pack(values: torch.Tensor, bits: int) -> bytes:
    """``values`` (non-negative integers below ``2**bits``) as bytes."""
    v = values.detach().reshape(-1).to(torch.int64).numpy()
    if bits == 0 or v.size == 0:
        return b''
    if v.min() < 0 or v.max() >= (1 << bits):
        raise ValueError(f'values outside [0, 2^{bits}) cannot be packed')
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    matrix = ((v[:, None] >> shifts[None, :]) & 1).astype(np.uint8)
    return np.packbits(matrix.reshape(-1)).tobytes()


def unpack(data: bytes, n: int, bits: int) -> torch.Tensor:
    """The ``n`` values of ``pack(values, bits)`` (int64)."""
    if bits == 0 or n == 0:
        return torch.zeros(n, dtype=torch.int64)
    if len(data) != packed_size(n, bits):
        raise ValueError(f'{n} values at {bits} bits take '
                         f'{packed_size(n, bits)} bytes, found {len(data)}')
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:n * bits]
    weights = (1 << np.arange(bits - 1, -1, -1, dtype=np.int64))
    values = flat.reshape(n, bits).astype(np.int64) @ weights
    return torch.from_numpy(values)
