"""Progress of long steps (gml.utils.progress) and the tools that show it:
with stderr not a terminal, plain lines a person (or a log) can read."""
import re
import sys
import time

import pytest

from gml.utils.progress import progress_status, progress_task

from ..conftest import run_tool


def test_a_status_prints_a_start_and_a_done_line(capsys):
    with progress_status('converting'):
        pass
    err = capsys.readouterr().err.splitlines()
    assert err[0] == 'converting ...'
    assert re.fullmatch(r'converting: done in \d+\.\d s', err[1])


def test_a_delayed_start_line_waits_and_a_quick_failure_prints_nothing(
        capsys):
    with pytest.raises(ValueError):
        with progress_status('loading', start_delay=5):
            raise ValueError('bad input')
    time.sleep(0.1)
    assert capsys.readouterr().err == ''
    with progress_status('loading', start_delay=5):
        pass  # quick: the done line alone
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith('loading: done in')
    with progress_status('loading', start_delay=0.05):
        time.sleep(0.3)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == 'loading ...' and err[1].startswith('loading: done in')


def test_a_task_counts_what_its_consumer_takes(capsys):
    def consumer(batches, limit):
        used = 0
        for _ in batches:  # like recalibrate_bn: checks after taking one
            if used >= limit:
                break
            used += 1
        return used

    with progress_task('calibrating', total=4, log_every=0) as bar:
        assert consumer(bar.iterate(range(10)), 4) == 4
    assert bar.completed == 4
    with progress_task('calibrating', total=3, log_every=1e9) as bar:
        assert consumer(bar.iterate(range(3)), 8) == 3
    assert bar.completed == 3
    err = capsys.readouterr().err.splitlines()
    assert err[:5] == ['calibrating ...'] + [f'calibrating: {i}/4'
                                            for i in range(1, 5)]
    assert re.fullmatch(r'calibrating: 4/4 \(done in \d+\.\d s\)', err[5])
    assert re.fullmatch(r'calibrating: 3/3 \(done in \d+\.\d s\)', err[-1])


def _save_untrained(config, path, plain=False):
    """A checkpoint of ``config``'s (untrained) model or algorithm."""
    import torch
    from mmengine.registry import init_default_scope

    from gml.apis.export import build_config_algorithm
    from gml.registry import build_model
    from gml.utils.config import load_config
    if plain:
        cfg = load_config(config)
        init_default_scope(cfg.get('default_scope', 'mmengine'))
        module = build_model(cfg.model)
    else:
        module = build_config_algorithm(config, 'test', lambda a: True, '')[1]
    torch.save({'state_dict': module.state_dict()}, path)
    return str(path)


def test_mess_compress_shows_its_progress(tmp_path):
    config = 'configs/baseline/digits_resnet.py'
    checkpoint = _save_untrained(config, tmp_path / 'baseline.pth', True)
    run = run_tool([sys.executable, 'tools/mess_compress.py', config,
                    checkpoint, '--out', str(tmp_path / 'm.mess')])
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r'^MESS v2qq: searching the shared kernels of '
                     rf'{re.escape(checkpoint)}: done in \d+\.\d s$',
                     run.stderr, re.M), run.stderr
    decompress = run_tool([sys.executable, 'tools/mess_decompress.py',
                           str(tmp_path / 'm.mess'), '--out',
                           str(tmp_path / 'm.pth')])
    assert decompress.returncode == 0, decompress.stderr[-3000:]
    assert 'm.mess: done in' in decompress.stderr


def test_export_subnet_counts_its_bn_calibration(tmp_path):
    config = 'configs/nas/bignas/bignas_resnet_digits.py'
    checkpoint = _save_untrained(config, tmp_path / 'supernet.pth')
    run = run_tool([sys.executable, 'tools/export_subnet.py', config,
                    checkpoint, '--subnet', 'min', '--calib-iters', '3',
                    '--out-dir', str(tmp_path / 'min')])
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r'^building the supernet: done in \d+\.\d s$',
                     run.stderr, re.M), run.stderr
    assert re.search(r'^recalibrating BN statistics on 3 batches: 3/3 '
                     r'\(done in \d+\.\d s\)$', run.stderr, re.M), run.stderr


@pytest.mark.slow
def test_int8_export_shows_the_conversion(tmp_path):
    config = 'configs/qat/IAO/classification/iao_res18_digits_quantization.py'
    checkpoint = _save_untrained(config, tmp_path / 'qat.pth')
    run = run_tool([sys.executable, 'tools/export_quantized.py', config,
                    checkpoint, '--out-dir', str(tmp_path / 'int8')])
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stderr.splitlines()
    assert 'converting the QAT model to int8 ...' in lines
    assert any(re.fullmatch(r'converting the QAT model to int8: done in '
                            r'\d+\.\d s', line) for line in lines)
    assert any(line.startswith('exporting the int8 program to ') and
               ': done in ' in line for line in lines)
