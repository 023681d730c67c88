"""The ``.mess`` file: a model stored in its MESS form.

Layout (little-endian)::

    offset  size  field
    0       8     magic b'GML-MESS'
    8       2     format version (uint16, currently 1)
    10      2     reserved, 0
    12      4     header length H (uint32)
    16      8     payload length P (uint64)
    24      4     CRC32 of header + payload (uint32)
    28      H     header: UTF-8 JSON (options, layer names, shapes, bits,
                  and where every block lies in the payload), compressed
                  with zlib
    28 + H  P     payload

The payload holds, block after block:

* every reference conv's weight: float32, or (``v2qq``/``v2f``) float32
  scale and offset followed by its ``qb``-bit codes, bit-packed;
* every shared conv: its indices bit-packed at ``ceil(log2(candidates))``
  bits, then alpha, then beta, each float32 or a float32 scale and offset
  followed by the ``qba``/``qbb``-bit codes, bit-packed (this is the
  *kernel section*, whose size the ratios are about);
* every other tensor of the state dict (BN, linear layers, biases, convs
  MESS does not share, buffers) as raw bytes in its own dtype.

:func:`read_mess` checks the magic bytes, the version, the lengths and the
checksum, then every block against the header; any mismatch is a
:class:`~gml.errors.ConfigError` naming the file and what is wrong.
"""
import json
import os
import struct
import sys
import zlib
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from ...errors import ConfigError
from ...utils.files import atomic_path
from .bitpack import index_bits, pack, packed_size, unpack
from .fit import reconstruct
from .kernels import Family
from .projection import Coefficients, Projection
from .quantize import Quantized

MAGIC = b'GML-MESS'
FORMAT_VERSION = 1
PREFIX = struct.Struct('<8sHHIQI')


class _Payload:
    """Appends blocks and remembers where each one went."""

    def __init__(self):
        self.chunks: List[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> Tuple[int, int]:
        self.chunks.append(data)
        start, self.size = self.size, self.size + len(data)
        return start, len(data)


def _raw(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).split('.')[-1]


def _float_block(payload: _Payload, values: torch.Tensor) -> dict:
    start, size = payload.add(_raw(values.to(torch.float32)))
    return dict(encoding='float32', count=int(values.numel()),
                offset=start, nbytes=size)


def _codes_block(payload: _Payload, q: Quantized) -> dict:
    head = _raw(torch.stack([q.scale, q.offset]).to(torch.float32))
    start, size = payload.add(head + pack(q.codes, q.bits))
    return dict(encoding='codes', bits=q.bits, count=int(q.codes.numel()),
                offset=start, nbytes=size)


def _coefficient_block(payload: _Payload, c: Coefficients) -> dict:
    if c.quantized is not None:
        return _codes_block(payload, c.quantized)
    return _float_block(payload, c.values)


def write_mess(path: str, projection: Projection,
               state_dict: Dict[str, torch.Tensor],
               meta: Optional[dict] = None) -> dict:
    """Write ``projection`` and the rest of ``state_dict`` (the projected
    model's) to ``path``; return the header (with the file's size)."""
    if sys.byteorder != 'little':
        raise ConfigError('MESS files are written on little-endian machines '
                          'only')
    payload = _Payload()
    references, layers, tensors = [], [], []
    stored = set()
    for ref in projection.references:
        key = f'{ref.name}.weight'
        block = _codes_block(payload, ref.quantized) \
            if ref.quantized is not None else _float_block(payload,
                                                           ref.weight)
        references.append(dict(
            name=ref.name, key=key, kind=ref.kind, shape=list(ref.shape),
            dtype=_dtype_name(state_dict[key].dtype),
            num_candidates=ref.num_candidates, slice_size=ref.slice_size,
            weight=block))
        stored.add(key)
    kernel_start = payload.size
    for layer in projection.layers:
        key = f'{layer.name}.weight'
        bits = index_bits(layer.num_candidates)
        start, size = payload.add(pack(layer.index, bits))
        layers.append(dict(
            name=layer.name, key=key, kind=layer.kind,
            reference=layer.reference, shape=list(layer.shape),
            dtype=_dtype_name(state_dict[key].dtype),
            num_pieces=layer.num_pieces,
            num_candidates=layer.num_candidates,
            index=dict(bits=bits, count=layer.num_pieces, offset=start,
                       nbytes=size),
            alpha=_coefficient_block(payload, layer.alpha),
            beta=None if layer.beta is None else
            _coefficient_block(payload, layer.beta)))
        stored.add(key)
    kernel_end = payload.size
    for key, value in state_dict.items():
        if key in stored:
            continue
        start, size = payload.add(_raw(value))
        tensors.append(dict(key=key, dtype=_dtype_name(value.dtype),
                            shape=list(value.shape), offset=start,
                            nbytes=size))
    header = dict(
        format=FORMAT_VERSION, byteorder='little',
        options=projection.options.to_dict(), keys=list(state_dict),
        references=references, layers=layers, tensors=tensors,
        sections=dict(references=kernel_start,
                      kernels=kernel_end - kernel_start,
                      tensors=payload.size - kernel_end),
        meta=meta or {})
    text = zlib.compress(json.dumps(header, separators=(',', ':'))
                         .encode('utf-8'), 9)
    body = b''.join(payload.chunks)
    crc = zlib.crc32(body, zlib.crc32(text))
    prefix = PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(text), len(body), crc)
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        f.write(prefix + text + body)
    header['file_bytes'] = os.path.getsize(path)
    header['header_bytes'] = PREFIX.size + len(text)
    return header


# -- reading -----------------------------------------------------------------

class _Reader:
    """Decodes the blocks of one file's payload, checking each."""

    def __init__(self, path: str, body: bytes):
        self.path, self.body = path, body

    def fail(self, what: str):
        raise ConfigError(f'{self.path}: {what}')

    def chunk(self, block: dict, what: str) -> bytes:
        start, size = int(block['offset']), int(block['nbytes'])
        if start < 0 or size < 0 or start + size > len(self.body):
            self.fail(f'{what} lies outside the payload (corrupt header)')
        return self.body[start:start + size]

    def tensor(self, block: dict, dtype: torch.dtype, count: int,
               what: str) -> torch.Tensor:
        data = self.chunk(block, what)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if len(data) != count * itemsize:
            self.fail(f'{what}: {len(data)} bytes for {count} values of '
                      f'{_dtype_name(dtype)}')
        if count == 0:
            return torch.empty(0, dtype=dtype)
        return torch.frombuffer(bytearray(data), dtype=torch.uint8) \
            .view(dtype).clone()

    def values(self, block: dict, count: int, what: str) -> torch.Tensor:
        """A float32 or codes block as the float32 values it stands for."""
        if int(block['count']) != count:
            self.fail(f'{what}: {block["count"]} values, expected {count}')
        if block['encoding'] == 'float32':
            return self.tensor(block, torch.float32, count, what)
        if block['encoding'] != 'codes':
            self.fail(f'{what}: unknown encoding {block["encoding"]!r}')
        bits = int(block['bits'])
        if not 1 <= bits <= 8:
            self.fail(f'{what}: {bits} bits per code (1 to 8 expected)')
        data = self.chunk(block, what)
        if len(data) != 8 + packed_size(count, bits):
            self.fail(f'{what}: {len(data)} bytes for {count} codes of '
                      f'{bits} bits')
        scale, offset = torch.frombuffer(bytearray(data[:8]),
                                         dtype=torch.float32).clone()
        codes = unpack(data[8:], count, bits).to(torch.uint8)
        return Quantized(codes, scale, offset, bits, (count,)).values()


def _dtype(reader: _Reader, name: str, what: str) -> torch.dtype:
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        reader.fail(f'{what}: unknown dtype {name!r}')
    return dtype


def _numel(shape) -> int:
    total = 1
    for size in shape:
        total *= int(size)
    return total


def _read_prefix(path: str) -> Tuple[dict, bytes]:
    if not os.path.isfile(path):
        raise ConfigError(f'MESS file not found: {path}')
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < PREFIX.size:
        raise ConfigError(f'{path}: truncated: {len(data)} bytes, a MESS '
                          f'file has at least {PREFIX.size}')
    magic, version, _, hlen, plen, crc = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ConfigError(f'{path}: not a MESS file (the magic bytes are '
                          f'{magic!r}, expected {MAGIC!r})')
    if version != FORMAT_VERSION:
        raise ConfigError(f'{path}: MESS format version {version}; this gml '
                          f'reads version {FORMAT_VERSION}')
    expected = PREFIX.size + hlen + plen
    if len(data) < expected:
        raise ConfigError(f'{path}: truncated: {len(data)} bytes, the header '
                          f'announces {expected}')
    if len(data) > expected:
        raise ConfigError(f'{path}: corrupt: {len(data) - expected} bytes '
                          f'after the announced end ({expected} bytes)')
    text = data[PREFIX.size:PREFIX.size + hlen]
    body = data[PREFIX.size + hlen:]
    actual = zlib.crc32(body, zlib.crc32(text))
    if actual != crc:
        raise ConfigError(f'{path}: corrupt: checksum mismatch (CRC32 '
                          f'stored {crc:08x}, computed {actual:08x})')
    try:
        header = json.loads(zlib.decompress(text).decode('utf-8'))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f'{path}: corrupt header: {exc}') from None
    header['file_bytes'] = len(data)
    header['header_bytes'] = PREFIX.size + hlen
    return header, body


def _rebuild(reader: _Reader, header: dict) -> 'OrderedDict':
    tensors: Dict[str, torch.Tensor] = {}
    candidates: Dict[str, torch.Tensor] = {}
    for ref in header['references']:
        what = f'reference {ref["name"]}'
        shape = [int(s) for s in ref['shape']]
        weight = reader.values(ref['weight'], _numel(shape), what)
        weight = weight.reshape(shape)
        family = Family(ref['kind'], [ref['name']], [],
                        int(ref['slice_size']))
        candidates[ref['name']] = family.candidates(weight)
        if len(candidates[ref['name']]) != int(ref['num_candidates']):
            reader.fail(f'{what}: {len(candidates[ref["name"]])} candidates, '
                        f'the header says {ref["num_candidates"]}')
        tensors[ref['key']] = weight.to(_dtype(reader, ref['dtype'], what))
    for layer in header['layers']:
        what = f'layer {layer["name"]}'
        if layer['reference'] not in candidates:
            reader.fail(f'{what}: unknown reference {layer["reference"]!r}')
        cands = candidates[layer['reference']]
        n = int(layer['num_pieces'])
        shape = [int(s) for s in layer['shape']]
        if n == 0 or _numel(shape) % n or \
                _numel(shape) // n != cands.shape[1]:
            reader.fail(f'{what}: {n} pieces do not make shape {shape}')
        bits = int(layer['index']['bits'])
        if bits != index_bits(len(cands)):
            reader.fail(f'{what}: {bits}-bit indices for {len(cands)} '
                        'candidates')
        data = reader.chunk(layer['index'], f'{what} indices')
        try:
            index = unpack(data, n, bits)
        except ValueError as exc:
            reader.fail(f'{what} indices: {exc}')
        if n and int(index.max()) >= len(cands):
            reader.fail(f'{what}: index {int(index.max())} out of range '
                        f'({len(cands)} candidates)')
        alpha = reader.values(layer['alpha'], n, f'{what} alpha')
        beta = None if layer['beta'] is None else \
            reader.values(layer['beta'], n, f'{what} beta')
        weight = reconstruct(cands, index, alpha, beta).reshape(shape)
        tensors[layer['key']] = weight.to(_dtype(reader, layer['dtype'],
                                                 what))
    for entry in header['tensors']:
        what = f'tensor {entry["key"]}'
        shape = [int(s) for s in entry['shape']]
        dtype = _dtype(reader, entry['dtype'], what)
        tensors[entry['key']] = reader.tensor(
            entry, dtype, _numel(shape), what).reshape(shape)
    state = OrderedDict()
    for key in header['keys']:
        if key not in tensors:
            reader.fail(f'the state dict key {key} has no data')
        state[key] = tensors[key]
    return state


def read_mess(path: str) -> Tuple['OrderedDict', dict]:
    """The plain ``state_dict`` stored in ``path`` and the file's header.

    A missing, truncated or corrupt file is a ConfigError that names the
    file and the problem.
    """
    header, body = _read_prefix(path)
    reader = _Reader(path, body)
    try:
        return _rebuild(reader, header), header
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, IndexError,
            RuntimeError) as exc:
        raise ConfigError(f'{path}: inconsistent header '
                          f'({type(exc).__name__}: {exc})') from None


def kernel_sizes(header: dict) -> Dict[str, dict]:
    """Per family kind and in total (``'all'``): the shared pieces, what
    they take in the file (indices, alpha, beta with their scales and
    offsets), what they took as float32 and as 8-bit weights, and the
    ratios."""
    kinds: Dict[str, dict] = {}
    for layer in header['layers']:
        n = int(layer['num_pieces'])
        d = _numel(layer['shape']) // n
        stored = layer['index']['nbytes'] + layer['alpha']['nbytes'] + \
            (layer['beta']['nbytes'] if layer['beta'] else 0)
        for kind in (layer['kind'], 'all'):
            entry = kinds.setdefault(kind, dict(layers=0, pieces=0,
                                                weights=0, stored_bytes=0))
            entry['layers'] += 1
            entry['pieces'] += n
            entry['weights'] += n * d
            entry['stored_bytes'] += stored
    for entry in kinds.values():
        entry['fp32_bytes'] = 4 * entry['weights']
        entry['int8_bytes'] = entry['weights']
        stored = max(entry['stored_bytes'], 1)
        entry['bits_per_piece'] = 8 * entry['stored_bytes'] / \
            max(entry['pieces'], 1)
        entry['ratio_fp32'] = entry['fp32_bytes'] / stored
        entry['ratio_int8'] = entry['int8_bytes'] / stored
    return kinds
