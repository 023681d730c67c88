"""DMCP under DDP: two gloo processes with different batches keep the same
weights and architecture parameters; tools/dist_train.sh runs it."""
import os
import re

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.optim import OptimWrapper

from ..conftest import REPO, run_tool
from ..nas.test_bignas_distributed import rank_batch
from .test_dmcp import dmcp

STEPS = 3


def _worker(rank, world, init_file, out_dir):
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world)
    try:
        from gml.engine.ddp import DeviceAwareDDP
        algorithm = dmcp(dict(arch_start_training=1))  # seeded alike
        model = DeviceAwareDDP(module=algorithm)
        optim = OptimWrapper(torch.optim.SGD(algorithm.parameters(), lr=0.1,
                                             momentum=0.9))
        for step in range(STEPS):
            model.train_step(rank_batch(rank, step), optim)
        state = {k: v for k, v in algorithm.state_dict().items()
                 if 'running' not in k and 'num_batches' not in k}
        torch.save(state, os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_keep_weights_and_alphas_identical(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)),
             nprocs=2, join=True)
    rank0 = torch.load(tmp_path / 'rank0.pt')
    rank1 = torch.load(tmp_path / 'rank1.pt')
    initial = dmcp().state_dict()
    assert rank0.keys() == rank1.keys()
    for name, value in rank0.items():
        assert torch.equal(value, rank1[name]), name
    alphas = [k for k in rank0 if '.alphas.' in k]
    assert len(alphas) == 12
    assert all(not torch.equal(rank0[k], initial[k]) for k in alphas)
    assert int(rank0['iteration']) == STEPS
    assert 'mutator.arch_optimizer.0.exp_avg' in rank0


CONFIG = 'configs/pruning/dmcp/dmcp_resnet_digits.py'


@pytest.mark.slow
def test_dist_train_runs_dmcp_on_two_gloo_processes(tmp_path):
    run = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2',
                    '--work-dir', str(tmp_path), '--cfg-options',
                    'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                    'algorithm.algorithm_cfg.arch_start_training=4',
                    'custom_hooks.0.interval=1',
                    'custom_hooks.0.bn_stats_calib_kwargs.num_iters=2',
                    'default_hooks.checkpoint.interval=1'])
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    # 1,438 training images, batch 64 per process, 2 processes
    assert 'Epoch(train) [1][12/12]' in log
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    assert int(state['state_dict']['iteration']) == 12
    # The expected MFLOPs of the architecture parameters, computed here from
    # a fresh build and from the checkpoint: keep probabilities of 1/2
    # start far below the target (50% of 8.762624), and the 8 Adam steps
    # (lr 0.5) of iterations 4..11 bring them to within 30% of it. Measured
    # (seeds 0-2): 5.262, 4.912, 5.324 in the checkpoint, 5.329, 5.036,
    # 5.381 logged at iteration 12; with 12 steps (start 0) 3.90-4.11:
    # Adam overshoots and comes back, too few steps to settle in the band.
    from gml.apis.export import build_config_algorithm
    _, algorithm = build_config_algorithm(os.path.join(REPO, CONFIG), 'DMCP',
                                          lambda a: True, '')
    target = algorithm.target_flops
    assert target == pytest.approx(8.762624 / 2)
    start = float(algorithm.mutator.expected_flops())
    assert start == pytest.approx(1.0582, abs=1e-3)
    algorithm.load_state_dict(state['state_dict'])
    final = float(algorithm.mutator.expected_flops())
    assert abs(final - target) < 0.3 * target, (start, final, target)
    logged = [float(v) for v in re.findall(r'expected_mflops: ([0-9.]+)',
                                           log)]
    assert logged and abs(logged[-1] - target) < 0.3 * target, logged
