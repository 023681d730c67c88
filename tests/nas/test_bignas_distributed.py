"""BigNAS under DDP: two gloo processes average their sandwich gradients."""
import os
import re

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.optim import OptimWrapper

from ..conftest import run_tool
from .test_bignas import bignas

STEPS, LR = 3, 0.1


def rank_batch(rank, step, n=6):
    """A different batch for every process and step."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(100 * rank + step)
    return dict(inputs=[torch.randint(0, 255, (3, 16, 16), generator=g)
                        .float() for _ in range(n)],
                data_samples=[DataSample().set_gt_label(int(v)) for v in
                              torch.randint(0, 10, (n, ), generator=g)])


def _worker(rank, world, init_file, out_dir):
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world)
    try:
        from gml.engine.ddp import DeviceAwareDDP
        algorithm = bignas()  # seeded: the same weights and subnet draws
        model = DeviceAwareDDP(module=algorithm)
        optim = OptimWrapper(torch.optim.SGD(algorithm.parameters(), lr=LR))
        for step in range(STEPS):
            model.train_step(rank_batch(rank, step), optim)
        params = {k: v.detach() for k, v in algorithm.named_parameters()}
        torch.save(params, os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


class GradientRecorder(torch.optim.SGD):
    """Keeps the gradients a step would apply instead of applying them."""

    def step(self, closure=None):
        self.recorded = [p.grad.clone() if p.grad is not None
                         else torch.zeros_like(p)
                         for p in self.param_groups[0]['params']]


def _reference():
    """One process: each step's sandwich gradients on both processes'
    batches (the same subnets), averaged, then one plain SGD step."""
    algorithm = bignas()
    params = list(algorithm.parameters())
    recorder = GradientRecorder(params, lr=LR)
    optim = OptimWrapper(recorder)
    for step in range(STEPS):
        draws = algorithm.mutator.rng.getstate()
        grads = []
        for rank in (0, 1):
            algorithm.mutator.rng.setstate(draws)
            algorithm.train_step(rank_batch(rank, step), optim)
            grads.append(recorder.recorded)
        with torch.no_grad():
            for p, g0, g1 in zip(params, *grads):
                p -= LR * (g0 + g1) / 2
    return {k: v.detach() for k, v in algorithm.named_parameters()}


@pytest.mark.slow
def test_two_processes_average_sandwich_gradients(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)),
             nprocs=2, join=True)
    rank0 = torch.load(tmp_path / 'rank0.pt')
    rank1 = torch.load(tmp_path / 'rank1.pt')
    reference = _reference()
    initial = dict(bignas().named_parameters())
    moved = 0
    for name, value in reference.items():
        assert torch.equal(rank0[name], rank1[name]), name
        assert torch.allclose(rank0[name], value, atol=1e-6), name
        moved += not torch.equal(value, initial[name].detach())
    assert moved > len(reference) // 2  # the steps changed the weights


@pytest.mark.slow
def test_dist_train_runs_bignas_on_two_gloo_processes(tmp_path):
    run = run_tool(['bash', 'tools/dist_train.sh',
                    'configs/nas/bignas/bignas_resnet_digits.py', '2',
                    '--work-dir', str(tmp_path), '--cfg-options',
                    'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                    'custom_hooks.0.interval=1',
                    'custom_hooks.0.bn_stats_calib_kwargs.num_iters=2'],
                   )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    # 1,438 training images, batch 64 per process, 2 processes
    assert 'Epoch(train) [1][12/12]' in log
    line = re.search(r'Epoch\(subnets\) \[1\] (.*)', log).group(1)
    values = dict(re.findall(r'(\S+): ([0-9.e+-]+)', line))
    assert values['max/flops'] == '8.763' and values['min/flops'] == '0.8175'
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    assert any(k.startswith('model.backbone.') for k in state['state_dict'])
    # the checkpoint of the 12 steps, saved once (by rank 0)
    assert (state['meta']['epoch'], state['meta']['iter']) == (1, 12)
