"""A search on the local scheduler over this machine's real GPUs
(``gpus_per_trial: 1``, ``parallel_size: 2``): each trial sees exactly one
device, and trials running at the same time see different ones (checked by
the PCI address CUDA reports inside each trial)."""
import sys

import torch

from ..hpo.gpu_trials import (clashes, gpu_search_config, peak_concurrency,
                              read_runs)
from ..hpo.helpers import search, task_trials
from .conftest import DRY, needs_cuda

pytestmark = needs_cuda


def test_trials_on_real_gpus_see_one_distinct_device_each(tmp_path):
    # the GPUs nvidia-smi (or CUDA_VISIBLE_DEVICES) lists; a dry run on a
    # CPU shares out two fake ids and asks CUDA nothing
    gpus = 2 if DRY else torch.cuda.device_count()
    config = gpu_search_config(
        tmp_path, 4, 'type: local\nparallel_size: 2\ngpus_per_trial: 1\n' +
        ('gpus: [0, 1]\n' if DRY else ''), base=1.0, torch=not DRY)
    run = search('search-run', str(config), cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    trials = task_trials(tmp_path)
    assert [t.state for t in trials] == ['COMPLETED'] * 4, \
        [(t.id, t.message) for t in trials]
    runs = read_runs(tmp_path)
    assert len(runs) == 4
    # one GPU: the trials take turns on it; two or more: two at a time
    assert peak_concurrency(runs) == min(2, gpus), (gpus, runs)
    assert all(len(r.gpus) == 1 for r in runs), runs  # one id each
    assert clashes(runs) == []
    if not DRY:  # what CUDA enumerated inside each trial
        assert all(len(r.devices.split(',')) == 1 for r in runs), runs
        assert clashes(runs, 'devices') == []
        assert len({r.devices for r in runs}) == min(2, gpus), runs
    print(f'{gpus} GPU(s); (trial, CUDA_VISIBLE_DEVICES, PCI address): '
          f'{[(r.trial, r.gpus, r.devices) for r in runs]}', file=sys.stderr)
