"""The GPU part of ``benchmarks/actnn_memory.py`` run on the CPU with the
CUDA allocator faked: each level's memory grows with the batch at a known
rate per image, so the largest batch under the budget and the ratios to
L0 are known beforehand. Catches a mistake before device time is spent."""
import importlib.util
import json
import os
import types

import pytest
import torch

from ..conftest import REPO

GIB = 2**30
#: fake bytes per image: under 1 GiB, L0 fits 24 images, L1 48, L3 160;
#: L4 keeps almost nothing on the device
FITS = dict(fp32=24, L0=24, L1=48, L3=160, L4=10**5)
PER_IMAGE = {level: GIB / n for level, n in FITS.items()}


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location(
        'actnn_memory', os.path.join(REPO, 'benchmarks', 'actnn_memory.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_largest_batch_bisects_to_within_a_sixteenth(bench):
    tried = []

    def fits(batch):
        tried.append(batch)
        return batch <= 100
    batch, stopped = bench.largest_batch(fits, cap=1024, seconds=60)
    assert stopped is None and 100 * 15 / 16 <= batch <= 100
    assert tried[:5] == [8, 16, 32, 64, 128] and len(tried) <= 10


def test_largest_batch_stops_at_the_cap_and_on_time(bench):
    assert bench.largest_batch(lambda b: True, cap=1024, seconds=60) == \
        (1024, 'cap')
    assert bench.largest_batch(lambda b: True, cap=1024, seconds=0) == \
        (8, 'time')
    assert bench.largest_batch(lambda b: b < 3, cap=1024, seconds=60) == \
        (2, None)


class FakeAllocator:
    """The torch.cuda calls of the GPU part; the peak comes from the
    batch and level of the steps run since the last reset."""

    def __init__(self):
        self.peak = 0
        self.fraction = None

    def step(self, real_step):
        def fake(model, images, labels, controller=None):
            level = controller.settings.level if controller else 'fp32'
            need = images.shape[0] * PER_IMAGE[level]
            if need > GIB * 1.25:  # the capped allocator gives up
                raise torch.cuda.OutOfMemoryError('fake: out of memory')
            self.peak = max(self.peak, need)
            real_step(model, images, labels, controller)
        return fake

    def install(self, monkeypatch, bench):
        cuda = torch.cuda
        monkeypatch.setattr(bench, 'DEVICE', 'cpu')
        monkeypatch.setattr(bench, 'IMAGE', 8)
        monkeypatch.setattr(bench, 'step', self.step(bench.step))
        monkeypatch.setattr(bench, 'resnet', lambda depth, device: (
            torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2),
                                torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(8, 1000))))
        monkeypatch.setattr(cuda, 'get_device_properties', lambda i: (
            types.SimpleNamespace(total_memory=80 * GIB)))
        monkeypatch.setattr(cuda, 'set_per_process_memory_fraction',
                            lambda f: setattr(self, 'fraction', f))
        for name in ('empty_cache', 'synchronize'):
            monkeypatch.setattr(cuda, name, lambda: None)
        monkeypatch.setattr(cuda, 'reset_peak_memory_stats',
                            lambda: setattr(self, 'peak', 0))
        monkeypatch.setattr(cuda, 'memory_allocated', lambda: 0)
        monkeypatch.setattr(cuda, 'max_memory_allocated', lambda: self.peak)


def test_the_gpu_part_on_a_fake_allocator(bench, monkeypatch, capsys):
    fake = FakeAllocator()
    fake.install(monkeypatch, bench)
    result = bench.gpu(budget_gib=1, max_batch=256, level_seconds=120)
    assert fake.fraction == pytest.approx(1 / 80)
    found = {k: v['max_batch'] for k, v in result['max_batch'].items()}
    for level in ('L0', 'L1', 'L3'):
        assert FITS[level] * 15 / 16 <= found[level] <= FITS[level], found
        assert result['max_batch'][level]['stopped'] is None
    assert found['L4'] == 256 and result['max_batch']['L4']['stopped'] == \
        'cap'
    assert result['batch_ratio']['L3'] == round(found['L3'] / found['L0'], 2)
    same = found['L0'] * 7 // 8
    rows = result['at_same_batch']
    assert list(rows) == ['fp32', 'L0', 'L1', 'L3', 'L4']
    for level, row in rows.items():
        assert row['batch'] == same and row['images_per_s'] > 0
        assert row['peak_mib'] == round(same * PER_IMAGE[level] / 2**20, 1)
    assert result['peak_ratio']['L3'] == pytest.approx(24 / 160, abs=2e-3)
    assert result['throughput_ratio']['L0'] == 1.0
    # each result also went to stderr as it came: 4 searches, 5 timings
    lines = [json.loads(line.split(': ', 1)[1]) for line in
             capsys.readouterr().err.splitlines()
             if line.startswith('actnn_memory gpu: ')]
    assert [row['level'] for row in lines] == \
        ['L0', 'L1', 'L3', 'L4', 'fp32', 'L0', 'L1', 'L3', 'L4']
