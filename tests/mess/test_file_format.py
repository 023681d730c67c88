"""The .mess file: exact round trips, sizes that match the bit arithmetic,
and clear errors for damaged files."""
import copy
import json
import struct
import zlib

import pytest
import torch

from gml.errors import ConfigError
from gml.models.mess import (MESSOptions, kernel_bits, kernel_sizes,
                             packed_size, project, read_mess, write_mess)
from gml.models.mess.file_format import MAGIC, PREFIX

from .toy import ToyMobileNet, ToyResNet, seeded

VERSIONS = ['v2', 'v2q', 'v2qq', 'v2nb', 'v2f']


def compressed(model, path, **kwargs):
    projection = project(model, MESSOptions.create(**kwargs))
    header = write_mess(str(path), projection, model.state_dict())
    return projection, header


def plain_model(config, seed=0):
    from gml.apis.mess import build_plain_model
    torch.manual_seed(seed)
    return build_plain_model(config)[1].eval()


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('toy', [ToyResNet, ToyMobileNet])
def test_round_trip_is_exact(toy, version, tmp_path):
    model = seeded(toy).eval()
    _, header = compressed(model, tmp_path / 'm.mess', version=version,
                           qb=5, qba=4, qbb=6, slice_size=4,
                           pointwise=True)
    state, read_header = read_mess(str(tmp_path / 'm.mess'))
    assert list(state) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert state[key].dtype == value.dtype
        assert torch.equal(state[key], value), key
    rebuilt = seeded(toy, seed=1).eval()
    rebuilt.load_state_dict(state)
    x = torch.randn(2, 3 if toy is ToyMobileNet else 2, 6, 6)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
    assert read_header['options']['version'] == version
    assert read_header['file_bytes'] == (tmp_path / 'm.mess').stat().st_size


def test_digits_resnet_round_trip_gives_the_same_outputs(tmp_path):
    model = plain_model('configs/baseline/digits_resnet.py')
    compressed(model, tmp_path / 'd.mess', version='v2qq')
    state, _ = read_mess(str(tmp_path / 'd.mess'))
    rebuilt = plain_model('configs/baseline/digits_resnet.py', seed=1)
    rebuilt.load_state_dict(state)
    x = torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(rebuilt(x, mode='tensor'), model(x, mode='tensor'))


# the digits ResNet: stem 3->16 (48 kernels, 6-bit index); shared: layer1
# 4 x 16x16, layer2 32x16 + 3 x 32x32, layer3 64x32 + 3 x 64x64, layer4
# 128x64 + 3 x 128x128 kernels
DIGITS_LAYERS = [256] * 4 + [512] + [1024] * 3 + [2048] + [4096] * 3 + \
    [8192] + [16384] * 3
# CIFAR ResNet-18: stem 3->64 (192 kernels, 8-bit index)
CIFAR_LAYERS = [4096] * 4 + [8192] + [16384] * 3 + [32768] + [65536] * 3 + \
    [131072] + [262144] * 3


@pytest.mark.parametrize('config, layers, index_bits', [
    ('configs/baseline/digits_resnet.py', DIGITS_LAYERS, 6),
    ('configs/baseline/cifar10_resnet18.py', CIFAR_LAYERS, 8),
])
@pytest.mark.parametrize('version, qba, qbb, bits', [
    ('v2', 8, 8, (32, 32)), ('v2q', 8, 8, (8, 8)), ('v2qq', 8, 8, (8, 8)),
    ('v2qq', 4, 6, (4, 6)), ('v2nb', 8, 8, (32, 0)),
])
def test_kernel_section_matches_the_bit_arithmetic(config, layers,
                                                   index_bits, version,
                                                   qba, qbb, bits, tmp_path):
    """Per shared layer of n kernels: ceil(n * index_bits / 8) bytes of
    indices, then alpha and beta: 4n bytes each in float32, or ceil(n * b /
    8) bytes of codes and 8 bytes of scale and offset."""
    model = plain_model(config)
    projection, header = compressed(model, tmp_path / 'm.mess',
                                    version=version, qba=qba, qbb=qbb)
    assert [layer.num_pieces for layer in projection.layers] == layers
    quantized = version in ('v2q', 'v2qq')
    expected = 0
    for n in layers:
        expected += packed_size(n, index_bits)
        for b in bits:
            if b:
                expected += packed_size(n, b) + (8 if quantized else 0)
    assert header['sections']['kernels'] == expected
    kernels = kernel_sizes(header)['all']
    assert kernels['stored_bytes'] == expected
    per_kernel = index_bits + sum(bits)
    assert kernels['ratio_fp32'] == pytest.approx(288 / per_kernel,
                                                  rel=2e-3)
    assert kernels['ratio_int8'] == pytest.approx(72 / per_kernel,
                                                  rel=2e-3)
    # the whole file also holds BN, FC, the 1x1 shortcuts and the header
    state_bytes = sum(v.numel() * v.element_size()
                      for v in model.state_dict().values())
    assert header['file_bytes'] > expected
    assert state_bytes / header['file_bytes'] < kernels['ratio_fp32']


def test_the_reference_arithmetic_of_the_digits_resnet(tmp_path):
    """70 bits a kernel with float32 alpha and beta: 4.11x; 22 bits with
    8-bit alpha and beta: 13.1x (the per-layer scales and offsets, 16
    bytes a layer, are counted too)."""
    model = plain_model('configs/baseline/digits_resnet.py')
    p2, v2 = compressed(copy.deepcopy(model), tmp_path / 'a.mess',
                        version='v2')
    pqq, v2qq = compressed(model, tmp_path / 'b.mess', version='v2qq')
    assert {kernel_bits(layer, p2.options) for layer in p2.layers} == {70}
    assert {kernel_bits(layer, pqq.options) for layer in pqq.layers} == {22}
    n = sum(DIGITS_LAYERS)
    assert n == 76288
    assert v2['sections']['kernels'] == n * 70 // 8
    assert v2qq['sections']['kernels'] == n * 22 // 8 + 16 * 16
    assert kernel_sizes(v2)['all']['ratio_fp32'] == pytest.approx(4.114,
                                                                  abs=1e-3)
    assert kernel_sizes(v2qq)['all']['ratio_fp32'] == pytest.approx(
        13.07, abs=0.01)
    # v2qq stores the 3->16 stem as 8-bit codes: 432 bytes + scale, offset
    assert v2qq['sections']['references'] == 432 + 8
    assert v2['sections']['references'] == 432 * 4


# -- damaged files -----------------------------------------------------------

@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / 'good.mess'
    compressed(seeded(ToyResNet), path, version='v2qq')
    return path


def damaged(tmp_path, data: bytes):
    path = tmp_path / 'bad.mess'
    path.write_bytes(data)
    return str(path)


def test_a_flipped_payload_byte_fails_the_checksum(good_file, tmp_path):
    data = bytearray(good_file.read_bytes())
    data[-20] ^= 0x10
    path = damaged(tmp_path, bytes(data))
    with pytest.raises(ConfigError, match='bad.mess: corrupt: checksum'):
        read_mess(path)


def test_a_flipped_header_byte_fails_the_checksum(good_file, tmp_path):
    data = bytearray(good_file.read_bytes())
    data[PREFIX.size + 3] ^= 0x01
    with pytest.raises(ConfigError, match='checksum'):
        read_mess(damaged(tmp_path, bytes(data)))


@pytest.mark.parametrize('keep', [0, 10, PREFIX.size, 100, -1])
def test_a_truncated_file_is_refused(good_file, tmp_path, keep):
    data = good_file.read_bytes()
    with pytest.raises(ConfigError, match='bad.mess: truncated'):
        read_mess(damaged(tmp_path, data[:keep]))


def test_trailing_bytes_wrong_magic_and_version(good_file, tmp_path):
    data = good_file.read_bytes()
    with pytest.raises(ConfigError, match='bytes after the announced end'):
        read_mess(damaged(tmp_path, data + b'\0'))
    with pytest.raises(ConfigError, match='not a MESS file'):
        read_mess(damaged(tmp_path, b'PK\x03\x04' + data[4:]))
    newer = data[:8] + struct.pack('<H', 99) + data[10:]
    with pytest.raises(ConfigError, match='format version 99'):
        read_mess(damaged(tmp_path, newer))
    with pytest.raises(ConfigError, match='MESS file not found'):
        read_mess(str(tmp_path / 'missing.mess'))


def rewrite_header(data: bytes, change) -> bytes:
    """A file whose header ``change(header)`` edited, with a valid CRC:
    what the checks after the checksum must catch."""
    _, version, _, hlen, plen, _ = PREFIX.unpack_from(data)
    header = json.loads(zlib.decompress(data[PREFIX.size:PREFIX.size
                                             + hlen]))
    change(header)
    text = zlib.compress(json.dumps(header).encode())
    body = data[PREFIX.size + hlen:]
    crc = zlib.crc32(body, zlib.crc32(text))
    return PREFIX.pack(MAGIC, version, 0, len(text), plen, crc) + text + body


@pytest.mark.parametrize('change, message', [
    (lambda h: h['layers'][0]['index'].update(bits=5), '5-bit indices'),
    (lambda h: h['layers'][0]['alpha'].update(offset=10 ** 9),
     'outside the payload'),
    (lambda h: h['layers'][1].update(num_pieces=7), 'do not make shape'),
    (lambda h: h['tensors'][0].update(dtype='complex7'), 'unknown dtype'),
    (lambda h: h['keys'].append('extra.weight'), 'extra.weight has no data'),
    (lambda h: h['layers'][0].pop('alpha'), 'inconsistent header'),
])
def test_a_consistent_checksum_over_a_wrong_header(good_file, tmp_path,
                                                   change, message):
    data = rewrite_header(good_file.read_bytes(), change)
    with pytest.raises(ConfigError, match=message):
        read_mess(damaged(tmp_path, data))


@pytest.mark.parametrize('version', ['v2', 'v2qq'])
def test_mobilenet_v2_depthwise_and_pointwise_arithmetic(version, tmp_path):
    """MobileNetV2: 32 depthwise reference kernels (5-bit index: 69 bits a
    kernel with float32 alpha and beta, 21 with 8-bit ones); the first
    pointwise conv (32 -> 16) offers 16 x 25 windows of 8 (9-bit index)."""
    from mmengine.registry import init_default_scope

    from gml.registry import build_model
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = build_model(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='MobileNetV2', widen_factor=1.0),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=1280)))
    model.eval()
    _, header = compressed(model, tmp_path / 'm.mess', version=version)
    coefficient = 32 if version == 'v2' else 8
    extra = 0 if version == 'v2' else 8
    refs = {r['kind']: r['num_candidates'] for r in header['references']}
    assert refs == {'depthwise': 32, 'pointwise': 400}
    for layer in header['layers']:
        n = layer['num_pieces']
        bits = 5 if layer['kind'] == 'depthwise' else 9
        assert layer['index']['nbytes'] == packed_size(n, bits)
        for key in ('alpha', 'beta'):
            assert layer[key]['nbytes'] == packed_size(n, coefficient) + \
                extra
    depthwise = kernel_sizes(header)['depthwise']
    assert depthwise['pieces'] == 7104
    if version == 'v2':
        assert depthwise['bits_per_piece'] == 69
        assert depthwise['ratio_fp32'] == pytest.approx(4.174, abs=1e-3)
    state, _ = read_mess(str(tmp_path / 'm.mess'))
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
