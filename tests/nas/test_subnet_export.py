"""Exported subnets equal the supernet's subnet and run as plain models."""
import re
import sys

import pytest
import torch

from gml.algorithms.nas.export import (load_sliced_weights, slice_like,
                                       subnet_model_cfg)
from gml.registry import build_model
from gml.utils.config import load_config

from ..conftest import run_tool

CONFIG = 'configs/nas/bignas/bignas_resnet_digits.py'


def test_slice_like_takes_leading_channels_and_centre_kernels():
    w = torch.arange(2 * 3 * 5 * 5).float().reshape(2, 3, 5, 5)
    out = slice_like(w, torch.Size([1, 2, 3, 3]))
    assert torch.equal(out, w[:1, :2, 1:4, 1:4])
    v = torch.arange(6.)
    assert torch.equal(slice_like(v, torch.Size([4])), v[:4])


@pytest.mark.parametrize('kind', ['max', 'min', 'random'])
def test_exported_subnet_computes_what_the_supernet_subnet_computes(kind):
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    cfg = load_config(CONFIG)
    torch.manual_seed(0)
    supernet = build_model(cfg.algorithm.model)
    from gml.mutators import StatelessMutator
    mutator = StatelessMutator(seed=3)
    mutator.prepare(supernet)
    chosen = mutator.sample(kind)
    supernet.set_subnet(chosen)
    # give the BN layers non-trivial statistics first
    supernet.train()
    with torch.no_grad():
        supernet.extract_feat(torch.randn(8, 3, 16, 16) * 50 + 80)
    supernet.eval()
    subnet = build_model(subnet_model_cfg(cfg.algorithm.model, chosen))
    load_sliced_weights(subnet, supernet.state_dict())
    subnet.eval()
    x = torch.randn(4, 3, 16, 16) * 50 + 80
    with torch.no_grad():
        expected = supernet(x, mode='tensor')
        got = subnet(x, mode='tensor')
    assert torch.allclose(got, expected, atol=1e-5)
    n_super = sum(p.numel() for p in supernet.parameters())
    n_sub = sum(p.numel() for p in subnet.parameters())
    # at max the subnet drops only projections its equal widths never use
    assert n_sub <= n_super
    if kind == 'min':
        assert n_sub < n_super / 2


@pytest.mark.slow
def test_export_tool_writes_a_subnet_that_tests_at_the_supernets_accuracy(
        tmp_path, digits_supernet):
    """The max subnet exported with the supernet's own BN statistics
    (--calib-iters 0) tests at the accuracy the training run's validation
    measured for the supernet at its max subnet (that validation used the
    statistics the epoch checkpoint holds)."""
    from pathlib import Path
    log = next(Path(digits_supernet).parent.glob('*/*.log')).read_text()
    supernet_acc = float(re.search(
        r'Epoch\(val\) \[1\].*?accuracy/top1: ([0-9.]+)', log).group(1))
    out = tmp_path / 'max'
    export = run_tool([sys.executable, 'tools/export_subnet.py', CONFIG,
                       digits_supernet, '--subnet', 'max', '--out-dir',
                       str(out), '--calib-iters', '0'])
    assert export.returncode == 0, export.stderr[-3000:]
    assert {p.name for p in out.iterdir()} == {'subnet.yaml', 'subnet.pth',
                                              'subnet_config.py'}
    test = run_tool([sys.executable, 'tools/test.py',
                     str(out / 'subnet_config.py'), str(out / 'subnet.pth'),
                     '--work-dir', str(tmp_path / 'test')])
    assert test.returncode == 0, test.stderr[-3000:]
    acc = float(re.search(r'accuracy/top1=([0-9.]+)', test.stdout).group(1))
    # equal outputs up to float rounding: at most one of the 359 validation
    # images (0.28 points) may flip on a near tie
    assert acc == pytest.approx(supernet_acc, abs=0.28)
    bad = run_tool([sys.executable, 'tools/export_subnet.py', CONFIG,
                    digits_supernet, '--subnet',
                    'smallest', '--out-dir', str(tmp_path / 'x')])
    assert bad.returncode == 2
    assert "--subnet: expected max, min or a YAML file" in bad.stderr
