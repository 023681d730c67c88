"""Starting the process group, including on machines without a GPU."""
import os
import subprocess

LAUNCHERS = ('none', 'pytorch', 'slurm')


def _first_slurm_host(nodelist: str) -> str:
    try:
        out = subprocess.run(['scontrol', 'show', 'hostnames', nodelist],
                             capture_output=True, text=True, check=True)
        return out.stdout.split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return '127.0.0.1'


def export_slurm_env() -> None:
    """Translate the variables srun sets into torch.distributed's names."""
    env = os.environ
    env.setdefault('RANK', env['SLURM_PROCID'])
    env.setdefault('WORLD_SIZE', env['SLURM_NTASKS'])
    env.setdefault('LOCAL_RANK', env.get('SLURM_LOCALID', '0'))
    env.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in env:
        env['MASTER_ADDR'] = _first_slurm_host(env.get('SLURM_NODELIST', ''))


def init_cpu_distributed(launcher: str) -> None:
    """Start a gloo process group for ``launcher`` when CUDA is absent.

    mmengine's own initialisation selects a CUDA device first, which fails
    on CPU-only machines. Once the group exists the Runner uses it as is.
    With CUDA present nothing is done here and mmengine initialises NCCL.
    """
    import torch
    import torch.distributed as dist
    if launcher == 'none' or torch.cuda.is_available() or \
            dist.is_initialized():
        return
    if launcher == 'slurm':
        export_slurm_env()
    dist.init_process_group(backend='gloo',
                            rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))


def finish_distributed() -> None:
    """Wait for every process, then tear the process group down.

    Without this a process that finishes first (rank 1: rank 0 still saves
    the best checkpoint) exits with the group alive, and gloo's threads
    sometimes abort it at interpreter shutdown ("terminate called without
    an active exception", SIGABRT), failing a run that had succeeded.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def is_first_process() -> bool:
    """Rank 0 of the launch (also after the group is torn down)."""
    return int(os.environ.get('RANK', '0')) == 0
