"""Where trials run: ``local`` process groups, ``slurm`` batch jobs or
``ray`` jobs (Ray is imported only when a ``ray`` scheduler is built)."""
from ..registry import SCHEDULERS
from .base import JobStatus, Scheduler
from .local import LocalScheduler
from .ray import RayScheduler
from .slurm import SlurmScheduler

__all__ = ['SCHEDULERS', 'Scheduler', 'JobStatus', 'LocalScheduler',
           'SlurmScheduler', 'RayScheduler']
