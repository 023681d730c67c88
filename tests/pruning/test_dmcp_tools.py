"""DMCP end to end on the digits, through the documented commands: train,
draw architectures, export a really smaller model, test and retrain it, and
run the exported program with torch alone."""
import json
import re
import sys
import textwrap

import numpy as np
import pytest
import torch
import yaml

from ..conftest import run_tool

CONFIG = 'configs/pruning/dmcp/dmcp_resnet_digits.py'
TARGET = 8.762624 / 2


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two epochs of DMCP; architecture steps from iteration 10."""
    work = tmp_path_factory.mktemp('dmcp_digits')
    train = run_tool([sys.executable, 'tools/train.py', CONFIG,
                      '--work-dir', str(work), '--cfg-options',
                      'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
                      'algorithm.algorithm_cfg.arch_start_training=10',
                      'custom_hooks.0.interval=2',
                      'default_hooks.checkpoint.interval=2',
                      'default_hooks.checkpoint.save_best=None'])
    assert train.returncode == 0, train.stderr[-3000:]
    log = train.stdout + train.stderr
    assert 'expected_mflops' in log and 'loss_3_arch_random' in log
    return work


def test_sample_tool_draws_architectures_within_tolerance(trained):
    out = trained / 'archs'
    run = run_tool([sys.executable, 'tools/sample_pruned.py', CONFIG,
                    str(trained / 'epoch_2.pth'), '--out-dir', str(out),
                    '--num', '4'])
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((out / 'archs.json').read_text())
    assert summary['target_mflops'] == pytest.approx(TARGET)
    archs = [summary['expected']] + summary['samples']
    assert len(archs) == 5
    for arch in archs:
        assert abs(arch['mflops'] - TARGET) <= 0.03 * TARGET
    expected = yaml.safe_load((out / 'expected.yaml').read_text())
    assert expected == summary['expected']['subnet']
    assert (out / 'sample_3.yaml').is_file()


def digits_val():
    from gml.datasets import DigitsDataset
    data = DigitsDataset(split='val', image_size=16, pipeline=[])
    items = [data.get_data_info(i) for i in range(len(data))]
    assert len(items) == 359  # the per-class 20% split
    images = np.stack([d['img'].transpose(2, 0, 1) for d in items])
    labels = np.array([d['gt_label'] for d in items])
    return images.astype(np.float32), labels


def test_export_test_retrain_and_run_without_gml(trained, tmp_path):
    out = trained / 'pruned'
    run = run_tool([sys.executable, 'tools/export_pruned.py', CONFIG,
                    str(trained / 'epoch_2.pth'), '--subnet', 'expected',
                    '--out-dir', str(out)])
    assert run.returncode == 0, run.stderr[-3000:]
    reported = float(re.search(r'pruned model ([0-9.]+) MFLOPs',
                               run.stdout).group(1))
    assert abs(reported - TARGET) <= 0.03 * TARGET

    # the pruned model, rebuilt from its config: smaller tensors, FLOPs
    # counted on the real layers within 3% of the target
    from mmengine.config import Config

    from gml.models.ops.flops import count_flops
    from gml.registry import build_model
    cfg = Config.fromfile(str(out / 'pruned_config.py'))
    assert cfg.model.type == 'gml.PrunedModel' and 'algorithm' not in cfg
    model = build_model(cfg.model)
    state = torch.load(out / 'pruned.pth', weights_only=False)
    model.load_state_dict(state['state_dict'])
    model.eval()
    counted = count_flops(model, (1, 3, 16, 16))['flops']
    assert counted == pytest.approx(state['meta']['mflops'], rel=1e-9)
    assert counted == pytest.approx(reported, rel=1e-3)  # printed .4g
    assert abs(counted - TARGET) <= 0.03 * TARGET
    subnet = yaml.safe_load((out / 'pruned.yaml').read_text())
    assert model.head.fc.in_features == subnet['backbone.layer4.0.conv2']
    assert model.backbone.layer4[1].conv1.out_channels == \
        subnet['backbone.layer4.1.conv1']
    full = build_model(Config.fromfile(CONFIG).model)
    assert sum(p.numel() for p in model.parameters()) < \
        0.75 * sum(p.numel() for p in full.parameters())

    # tools/test.py on the exported model
    test = run_tool([sys.executable, 'tools/test.py',
                     str(out / 'pruned_config.py'), str(out / 'pruned.pth'),
                     '--work-dir', str(tmp_path / 'test')])
    assert test.returncode == 0, test.stderr[-3000:]
    accuracy = float(re.search(r'accuracy/top1=([0-9.]+)',
                               test.stdout).group(1))

    # the torch.export program, in a process without gml or OpenMMLab,
    # takes raw images and gives the same accuracy
    images, labels = digits_val()
    np.savez(tmp_path / 'val.npz', images=images, labels=labels)
    script = textwrap.dedent(f'''
        import sys, numpy, torch
        program = torch.export.load({str(out / 'pruned_model.pt2')!r})
        data = numpy.load({str(tmp_path / 'val.npz')!r})
        logits = program.module()(torch.from_numpy(data['images']))
        correct = (logits.argmax(1).numpy() == data['labels']).sum()
        loaded = [m for m in sys.modules
                  if m.split('.')[0] in ('gml', 'mmpretrain', 'mmengine')]
        print(100.0 * correct / len(data['labels']), loaded)
    ''')
    plain = run_tool([sys.executable, '-c', script], cwd=str(tmp_path))
    assert plain.returncode == 0, plain.stderr[-3000:]
    value, loaded = plain.stdout.split(maxsplit=1)
    assert loaded.strip() == '[]'
    assert float(value) == pytest.approx(accuracy, abs=0.01)

    # retraining from scratch and fine-tuning use the same config
    for extra in ([], [f'load_from={out / "pruned.pth"}']):
        again = run_tool([sys.executable, 'tools/train.py',
                          str(out / 'pruned_config.py'), '--work-dir',
                          str(tmp_path / f'retrain{len(extra)}'),
                          '--cfg-options', 'train_cfg.max_epochs=1',
                          *extra])
        assert again.returncode == 0, again.stderr[-3000:]
        assert re.search(r'accuracy/top1=([0-9.]+)', again.stdout)


def test_bad_subnet_and_checkpoint_are_reported(trained, tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('backbone.layer4.0.conv2: 100\n')
    run = run_tool([sys.executable, 'tools/export_pruned.py', CONFIG,
                    str(trained / 'epoch_2.pth'), '--subnet', str(bad),
                    '--out-dir', str(tmp_path / 'out')])
    assert run.returncode == 2  # a user error: one message, no traceback
    assert ('subnet.backbone.layer4.0.conv2: 100 channels is not on the '
            'grid 20 + 12 * k') in run.stderr
    assert 'Traceback' not in run.stderr
    assert not (tmp_path / 'out').exists()
    other = run_tool([sys.executable, 'tools/export_pruned.py',
                      'configs/pruning/dmcp/dmcp_resnet18_cifar10.py',
                      str(trained / 'epoch_2.pth'), '--out-dir',
                      str(tmp_path / 'out2')])
    assert other.returncode == 2 and 'Traceback' not in other.stderr
    assert 'does not fit' in other.stderr
