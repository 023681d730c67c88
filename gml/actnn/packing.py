"""Compressed forms of tensors kept for backward.

Each ``pack_*`` function returns a :class:`Packed` whose ``unpack()`` gives
a tensor of the original shape, dtype and device:

- ``pack_groups``: per-group min/scale quantization with unbiased
  stochastic rounding, codes bit-packed densely (b = 2: four values a
  byte), min and scale in bfloat16 (32 bits of metadata per group);
- ``pack_channels``: a convolution's output, each channel standardised
  with its own mean and deviation (fp32, 8 bytes a channel) before
  ``pack_groups``, so that BatchNorm's backward stays exact to a step;
- ``pack_relu``: the same for ReLU outputs, with code 0 reserved for exact
  zeros so that the ReLU's gradient mask survives exactly (16 bits of
  metadata: the minimum is 0);
- ``pack_mask``: a two-valued tensor (dropout masks, booleans) as 1 bit a
  value plus the non-zero value;
- ``pack_integers``: integer tensors (max-pool indices) losslessly, as
  bit-packed differences between neighbours.
"""
import math
from dataclasses import dataclass, field
from typing import Optional, Tuple

import torch

EPS = 2e-6


# ------------------------------------------------------------- bit packing
def pack_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """uint8 ``codes`` (< 2**bits) as a dense uint8 bit stream."""
    codes = codes.reshape(-1).to(torch.uint8)
    if bits == 8:
        return codes
    if 8 % bits == 0:
        per_byte = 8 // bits
        codes = torch.nn.functional.pad(codes,
                                        (0, (-codes.numel()) % per_byte))
        shifts = torch.arange(0, 8, bits, dtype=torch.uint8,
                              device=codes.device)
        return (codes.view(-1, per_byte) << shifts).sum(1, dtype=torch.uint8)
    positions = torch.arange(bits, dtype=torch.uint8, device=codes.device)
    stream = ((codes.unsqueeze(1) >> positions) & 1).reshape(-1)
    stream = torch.nn.functional.pad(stream, (0, (-stream.numel()) % 8))
    shifts = torch.arange(8, dtype=torch.uint8, device=codes.device)
    return (stream.view(-1, 8) << shifts).sum(1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """The first ``count`` codes of a stream made by :func:`pack_bits`."""
    if bits == 8:
        return packed[:count]
    mask = (1 << bits) - 1
    if 8 % bits == 0:
        shifts = torch.arange(0, 8, bits, dtype=torch.uint8,
                              device=packed.device)
        return ((packed.unsqueeze(1) >> shifts) & mask).reshape(-1)[:count]
    shifts = torch.arange(8, dtype=torch.uint8, device=packed.device)
    stream = ((packed.unsqueeze(1) >> shifts) & 1).reshape(-1)
    stream = stream[:count * bits].view(count, bits)
    positions = torch.arange(bits, dtype=torch.uint8, device=packed.device)
    return (stream << positions).sum(1, dtype=torch.uint8)


# --------------------------------------------------------- bf16 metadata
def bf16_floor(values: torch.Tensor) -> torch.Tensor:
    """The largest bfloat16 numbers <= fp32 ``values`` (exactly
    representable, so quantizing with them keeps every code in range)."""
    values = values.float().contiguous()
    raw = values.view(torch.int32)
    truncated = raw & -65536  # keep sign, exponent, 7 mantissa bits
    inexact = (raw & 65535) != 0
    # truncation moved negative numbers up: one bf16 step further down
    truncated = truncated + (inexact & (values < 0)).int() * 65536
    return truncated.view(torch.float32).to(torch.bfloat16)


# ---------------------------------------------------------------- packed
@dataclass
class Packed:
    """A compressed tensor; ``tensors`` hold everything kept."""
    kind: str
    shape: Tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    bits: int = 32
    tensors: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size()
                   for t in self.tensors.values())

    def to(self, device) -> 'Packed':
        """The same packed tensor with its payload on ``device``."""
        pinned = device == 'cpu' and torch.cuda.is_available()
        moved = {}
        for key, tensor in self.tensors.items():
            tensor = tensor.to(device, non_blocking=True)
            moved[key] = tensor.pin_memory() if pinned else tensor
        return Packed(self.kind, self.shape, self.dtype, self.device,
                      self.bits, moved, self.extra)

    def unpack(self) -> torch.Tensor:
        packed = self if self.tensors_on(self.device) else self.to(
            self.device)
        return _UNPACK[self.kind](packed)

    def tensors_on(self, device) -> bool:
        return all(t.device == device for t in self.tensors.values())


def _rows(x: torch.Tensor, group: int) -> torch.Tensor:
    """``x`` as (rows, groups, group): each sample flattened to one row
    (the whole tensor one row when a sample is smaller than a group),
    padded to a multiple of ``group`` by repeating its last value."""
    samples = x.shape[0] if x.dim() >= 2 else 1
    if x.numel() < samples * group:
        samples = 1
    rows = x.detach().reshape(samples, -1).float()
    pad = (-rows.shape[1]) % group
    if pad:
        rows = torch.cat([rows, rows[:, -1:].expand(samples, pad)], 1)
    return rows.view(samples, -1, group)


def _crop(values: torch.Tensor, packed: Packed,
          dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    rows = packed.extra['groups'][0]
    per_row = math.prod(packed.shape) // rows
    values = values.reshape(rows, -1)[:, :per_row]
    return values.reshape(packed.shape).to(dtype or packed.dtype)


def _stochastic_codes(v: torch.Tensor, top: int,
                      generator: Optional[torch.Generator]) -> torch.Tensor:
    """floor(v + U[0, 1)) for v in [0, top]: E[code] = v."""
    noise = torch.rand(v.shape, device=v.device, generator=generator)
    return torch.floor(v + noise).clamp_(0, top).to(torch.uint8)


def pack_groups(x: torch.Tensor, bits: int, group: int = 256,
                generator: Optional[torch.Generator] = None) -> Packed:
    """Per-group min/scale quantization to ``bits`` with stochastic
    rounding: x = m + q / s with s = (2^b - 1) / (M - m + eps)."""
    groups = _rows(x, group)
    levels = 2 ** bits - 1
    low = bf16_floor(groups.amin(-1))
    span = groups.amax(-1) - low.float() + EPS
    scale = bf16_floor(levels / span)
    v = (groups - low.float().unsqueeze(-1)) * scale.float().unsqueeze(-1)
    codes = _stochastic_codes(v, levels, generator)
    return Packed('groups', tuple(x.shape), x.dtype, x.device, bits,
                  dict(codes=pack_bits(codes, bits), low=low, scale=scale),
                  dict(groups=tuple(groups.shape)))


def _unpack_groups(p: Packed, dtype: Optional[torch.dtype] = None
                   ) -> torch.Tensor:
    codes = unpack_bits(p.tensors['codes'], p.bits,
                        math.prod(p.extra['groups']))
    codes = codes.view(p.extra['groups']).float()
    values = codes / p.tensors['scale'].float().unsqueeze(-1) + \
        p.tensors['low'].float().unsqueeze(-1)
    return _crop(values, p, dtype)


def _channel_view(p: Packed) -> Tuple[int, ...]:
    return (1, -1) + (1, ) * (len(p.shape) - 2)


def pack_channels(x: torch.Tensor, bits: int, group: int = 256,
                  generator: Optional[torch.Generator] = None) -> Packed:
    """A convolution's output (N x C x ...; what BatchNorm saves in
    conv-BN networks): every channel standardised with its own mean and
    standard deviation over the batch and positions (BatchNorm's own
    statistics, kept in fp32: 8 bytes a channel), then packed as
    :func:`pack_groups` does.

    BatchNorm's backward divides by each channel's deviation. Where a
    sample's plane is smaller than a group (32 x 32 inputs, the last
    stages of any network) a group holds many channels, and on the
    group's range a narrow channel's values moved by many of its own
    deviations: each BatchNorm multiplied the gradient's error, to 1e16
    and NaN at 2 bits in ResNeXt-50 and MobileOne-s0. Standardised, a
    value moves by at most one step of its group's range counted in its
    own channel's deviations."""
    dims = [0] + list(range(2, x.dim()))
    values = x.detach().float()
    shift = values.mean(dims, keepdim=True)
    spread = (values - shift).pow(2).mean(dims, keepdim=True).sqrt()
    spread = torch.where(spread > 0, spread, torch.ones_like(spread))
    inner = pack_groups((values - shift) / spread, bits, group, generator)
    return Packed('channels', tuple(x.shape), x.dtype, x.device, bits,
                  dict(inner.tensors, shift=shift.reshape(-1),
                       spread=spread.reshape(-1)), dict(inner.extra))


def _unpack_channels(p: Packed) -> torch.Tensor:
    values = _unpack_groups(p, torch.float32)
    view = _channel_view(p)
    values = values * p.tensors['spread'].view(view) + \
        p.tensors['shift'].view(view)
    return values.to(p.dtype)


RELU_NUDGE = 1e-6  # of a step: where a positive value rounded to 0


def pack_relu(x: torch.Tensor, bits: int, group: int = 256,
              generator: Optional[torch.Generator] = None) -> Packed:
    """A ReLU output (>= 0) at ``bits`` >= 2: code 0 marks exact zeros;
    positive values round stochastically on 2^b - 1 levels 0, d, 2d, ...
    (d = max / (2^b - 2)) stored as code level + 1. The unpacked tensor is
    positive exactly where ``x`` was (a positive value on level 0 comes
    back as RELU_NUDGE * d), so the ReLU's gradient mask is exact."""
    groups = _rows(x, group)
    steps = 2 ** bits - 2
    scale = bf16_floor(steps / (groups.amax(-1) + EPS))
    v = groups * scale.float().unsqueeze(-1)
    codes = _stochastic_codes(v, steps, generator) + 1
    codes = torch.where(groups > 0, codes, torch.zeros_like(codes))
    return Packed('relu', tuple(x.shape), x.dtype, x.device, bits,
                  dict(codes=pack_bits(codes, bits), scale=scale),
                  dict(groups=tuple(groups.shape)))


def _unpack_relu(p: Packed) -> torch.Tensor:
    codes = unpack_bits(p.tensors['codes'], p.bits,
                        math.prod(p.extra['groups']))
    codes = codes.view(p.extra['groups']).float()
    level = (codes - 1).clamp_(min=0) + RELU_NUDGE * (codes == 1)
    values = level / p.tensors['scale'].float().unsqueeze(-1)
    return _crop(values, p)


def pack_mask(x: torch.Tensor, value: float = 1.0) -> Packed:
    """A tensor of zeros and ``value`` (booleans, dropout masks) at 1 bit
    a value."""
    return Packed('mask', tuple(x.shape), x.dtype, x.device, 1,
                  dict(codes=pack_bits(x.reshape(-1) != 0, 1)),
                  dict(value=value))


def _unpack_mask(p: Packed) -> torch.Tensor:
    count = math.prod(p.shape)
    bits = unpack_bits(p.tensors['codes'], 1, count).view(p.shape)
    if p.dtype == torch.bool:
        return bits.bool()
    return bits.to(p.dtype) * p.extra['value']


def pack_integers(x: torch.Tensor,
                  plane: Optional[Tuple[int, int]] = None) -> Packed:
    """An integer tensor, losslessly, in as few bits as its structure
    allows; costs a device-to-host read of a range or two.

    Max-pool indices (positions in an input ``plane`` of height x width,
    when the caller knows it) are stored as the offset of each maximum
    from its window's expected corner: 4 bits a value for 3x3 windows
    instead of 64. Other integers become bit-packed differences between
    neighbours along the last dimension, or, when those vary too much,
    the values in the smallest integer type holding them.
    """
    if plane is not None and x.dim() >= 2:
        packed = _pack_pool_indices(x, plane)
        if packed is not None:
            return packed
    rows = x.reshape(-1, x.shape[-1]) if x.dim() else x.reshape(1, 1)
    first = rows[:, :1].clone()
    deltas = (rows[:, 1:] - rows[:, :-1]).reshape(-1)
    low = int(deltas.min()) if deltas.numel() else 0
    high = int(deltas.max()) if deltas.numel() else 0
    width = max(1, (high - low).bit_length())
    if width > 8:
        return _narrowed(x)
    codes = (deltas - low).to(torch.uint8)
    return Packed('integers', tuple(x.shape), x.dtype, x.device, width,
                  dict(first=first, codes=pack_bits(codes, width)),
                  dict(low=low, rows=tuple(rows.shape)))


def _pool_grid(shape, plane, device):
    """Expected window corners (row, column) of every output position."""
    out_h, out_w = shape[-2:]
    stride_h = max(1, round(plane[0] / out_h))
    stride_w = max(1, round(plane[1] / out_w))
    rows = torch.arange(out_h, device=device).view(-1, 1) * stride_h
    cols = torch.arange(out_w, device=device).view(1, -1) * stride_w
    return rows, cols


def _pack_pool_indices(x, plane):
    width = plane[1]
    rows, cols = _pool_grid(x.shape, plane, x.device)
    dr, dc = x // width - rows, x % width - cols
    low_r, high_r = int(dr.min()), int(dr.max())
    low_c, high_c = int(dc.min()), int(dc.max())
    span_c = high_c - low_c + 1
    count = (high_r - low_r + 1) * span_c
    bits = max(1, (count - 1).bit_length())
    if bits > 8:
        return None
    codes = ((dr - low_r) * span_c + dc - low_c).to(torch.uint8)
    return Packed('pool_indices', tuple(x.shape), x.dtype, x.device, bits,
                  dict(codes=pack_bits(codes, bits)),
                  dict(plane=tuple(plane), low=(low_r, low_c),
                       span_c=span_c))


def _unpack_pool_indices(p: Packed) -> torch.Tensor:
    codes = unpack_bits(p.tensors['codes'], p.bits, math.prod(p.shape))
    codes = codes.view(p.shape).to(p.dtype)
    rows, cols = _pool_grid(p.shape, p.extra['plane'], codes.device)
    low_r, low_c = p.extra['low']
    span_c = p.extra['span_c']
    r = codes // span_c + low_r + rows
    c = codes % span_c + low_c + cols
    return r * p.extra['plane'][1] + c


def _narrowed(x: torch.Tensor) -> Packed:
    low, high = int(x.min()), int(x.max())
    for dtype in (torch.int8, torch.int16, torch.int32, torch.int64):
        info = torch.iinfo(dtype)
        if info.min <= low and high <= info.max:
            break
    if dtype.itemsize >= x.element_size():
        dtype = x.dtype
    return Packed('narrowed', tuple(x.shape), x.dtype, x.device,
                  torch.iinfo(dtype).bits, dict(values=x.to(dtype)))


def _unpack_integers(p: Packed) -> torch.Tensor:
    count, length = p.extra['rows']
    deltas = unpack_bits(p.tensors['codes'], p.bits, count * (length - 1))
    deltas = deltas.to(p.dtype).view(count, length - 1) + p.extra['low']
    rows = torch.cat([p.tensors['first'], deltas], 1).cumsum(1)
    return rows.to(p.dtype).reshape(p.shape)


def _unpack_narrowed(p: Packed) -> torch.Tensor:
    return p.tensors['values'].to(p.dtype)


_UNPACK = {'groups': _unpack_groups, 'channels': _unpack_channels,
           'relu': _unpack_relu,
           'mask': _unpack_mask, 'integers': _unpack_integers,
           'narrowed': _unpack_narrowed,
           'pool_indices': _unpack_pool_indices}
