"""Where trials run: ``local`` process groups or ``slurm`` batch jobs."""
from ..registry import SCHEDULERS
from .base import JobStatus, Scheduler
from .local import LocalScheduler
from .slurm import SlurmScheduler

__all__ = ['SCHEDULERS', 'Scheduler', 'JobStatus', 'LocalScheduler',
           'SlurmScheduler']
