"""``benchmarks/gpu_checks.sh`` on a machine without CUDA: it stops with
one line and exit status 2, and its dry run (``GML_GPU_CHECKS_DRY=1``)
passes every step and writes no more files than come back from the GPU
machine (8, plain names). So a broken script shows before device time is
spent on it."""
import os
import re
import subprocess
import sys

import pytest

from ..conftest import REPO
from .conftest import CUDA

pytestmark = pytest.mark.skipif(CUDA, reason='on a CUDA machine the script '
                                'measures for real (minutes)')


def _run(tmp_path, **env):
    out = tmp_path / 'out'
    return out, subprocess.run(
        ['bash', os.path.join(REPO, 'benchmarks', 'gpu_checks.sh')],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OUT=str(out), GML_GPU_CHECKS_PYTHON=sys.executable,
                 **env))


def test_without_cuda_it_stops_with_one_line(tmp_path):
    out, run = _run(tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stdout.splitlines() == [
        'gpu_checks: no CUDA device (torch.cuda.is_available() is False): '
        'the CUDA steps are skipped, nothing measured (GML_GPU_CHECKS_DRY=1 '
        'checks the script on a CPU)']
    assert (out / 'summary.txt').read_text() == run.stdout


@pytest.mark.slow
def test_the_dry_run_passes_every_step(tmp_path):
    out, run = _run(tmp_path, GML_GPU_CHECKS_DRY='1')
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    steps = [line.split(':')[1].strip() for line in lines[1:-1]]
    assert steps == ['actnn-memory (arguments only)',
                     'gpu-tests (dry', 'nas-overhead (arguments only)',
                     'kd-overhead-cifar (arguments only)',
                     'qat-step (arguments only)'], lines
    assert all(': ok in ' in line for line in lines[1:-1]), lines
    assert '1 passed' in (out / 'gpu_tests.log').read_text()
    assert (out / 'overheads.log').read_text().count(
        'arguments accepted') == 3
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and all(p.is_file() for p in out.iterdir())
    assert all(re.fullmatch(r'[A-Za-z0-9._-]+', name) for name in files)
