"""Run each trial as its own Slurm batch job."""
import getpass
import math
import os
import shlex
import shutil
import subprocess
from typing import Dict, List, Optional, Sequence, Set, Union

from ...errors import ConfigError
from ...utils.checks import check_int
from ..registry import SCHEDULERS
from .base import LOG_FILE, JobStatus, Scheduler, read_exit_code, write_script

ACTIVE = {'PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED',
          'REQUEUED', 'RESIZING', 'SIGNALING', 'STAGE_OUT'}
# A finished job may leave squeue a moment before its exit file is visible
# on a shared filesystem: wait this many polls before calling it lost.
MISSING_POLLS = 3


def _run(args: List[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=timeout)


@SCHEDULERS.register('slurm')
class SlurmScheduler(Scheduler):
    """One ``sbatch`` per trial; ``squeue`` to watch, ``scancel`` to stop.

    Config keys (``scheduler:``): ``parallel_size``; ``partition`` (default:
    the cluster's default partition); ``gpus_per_trial`` (0); ``cpus_per_trial``
    (1); ``sbatch_args`` (extra ``sbatch`` options, a list or one string).
    Jobs are named ``gml-<task>-<trial id>``; their time limit is
    ``time_limits_per_job`` rounded up to minutes, plus one minute so that
    the controller's own timeout (which records the trial) comes first.
    :meth:`shutdown` cancels the jobs it launched or adopted that are still
    queued or running.
    """

    def __init__(self, parallel_size: int = 1, generate_log: bool = True,
                 partition: Optional[str] = None, gpus_per_trial: int = 0,
                 cpus_per_trial: int = 1,
                 sbatch_args: Union[str, Sequence[str], None] = None,
                 task_name: str = 'task'):
        super().__init__(parallel_size, generate_log, task_name)
        if shutil.which('sbatch') is None:
            raise ConfigError('scheduler.type: slurm, but sbatch is not on '
                              'PATH (is this a Slurm login node?)')
        self.partition = partition
        self.gpus_per_trial = check_int(gpus_per_trial,
                                             'scheduler.gpus_per_trial')
        self.cpus_per_trial = check_int(cpus_per_trial,
                                             'scheduler.cpus_per_trial', 1)
        if isinstance(sbatch_args, str):
            sbatch_args = shlex.split(sbatch_args)
        self.sbatch_args = list(sbatch_args or [])
        self.missing: Dict[str, int] = {}
        self.jobs: Set[str] = set()  # launched or adopted, not seen ending

    def launch(self, trial_id, command, trial_dir, env, time_limit):
        lines = [f'--job-name=gml-{self.task_name}-{trial_id}',
                 f'--output={os.path.join(trial_dir, LOG_FILE)}'
                 if self.generate_log else '--output=/dev/null',
                 '--open-mode=append', '--ntasks=1',
                 f'--cpus-per-task={self.cpus_per_trial}']
        if self.partition:
            lines.append(f'--partition={self.partition}')
        if self.gpus_per_trial:
            lines.append(f'--gres=gpu:{self.gpus_per_trial}')
        if time_limit:
            lines.append(f'--time={math.ceil(time_limit / 60) + 1}')
        header = ''.join(f'#SBATCH {line}\n' for line in lines)
        script = write_script(trial_dir, command, os.getcwd(), env, header)
        out = _run(['sbatch', '--parsable', *self.sbatch_args, script])
        if out.returncode != 0:
            raise RuntimeError(f'sbatch failed: {out.stderr.strip()}')
        job_id = out.stdout.strip().split(';')[0]
        self.jobs.add(job_id)
        return job_id

    def _queue_states(self, job_ids: List[str]) -> Dict[str, str]:
        out = _run(['squeue', '-h', '-u', getpass.getuser(), '-o', '%i %T'])
        if out.returncode != 0:
            raise RuntimeError(f'squeue failed: {out.stderr.strip()}')
        states = dict(line.split(None, 1) for line in out.stdout.splitlines()
                      if line.strip())
        return {j: states[j].strip() for j in job_ids if j in states}

    @staticmethod
    def final_state(job_id: str) -> str:
        """The state Slurm recorded for an ended job (best effort)."""
        out = _run(['sacct', '-n', '-X', '-j', job_id, '-o', 'State'])
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.split()[0]
        out = _run(['scontrol', 'show', 'job', job_id])
        for token in out.stdout.split():
            if token.startswith('JobState='):
                return token.split('=', 1)[1]
        return 'UNKNOWN'

    def poll(self, job_ids, trial_dirs):
        if not job_ids:
            return {}
        queued = self._queue_states(job_ids)
        statuses = {}
        for job_id in job_ids:
            if queued.get(job_id) in ACTIVE:
                statuses[job_id] = JobStatus(True)
                continue
            code = read_exit_code(trial_dirs[job_id])
            if code is None:
                self.missing[job_id] = self.missing.get(job_id, 0) + 1
                if self.missing[job_id] < MISSING_POLLS:
                    statuses[job_id] = JobStatus(True)
                    continue
                state = self.final_state(job_id)
                statuses[job_id] = JobStatus(
                    False, None, f'slurm job {job_id} ended as {state} '
                    'without recording an exit status')
            else:
                statuses[job_id] = JobStatus(False, code)
            self.missing.pop(job_id, None)
            self.jobs.discard(job_id)
        return statuses

    def kill(self, job_id):
        _run(['scancel', job_id])
        self.jobs.discard(job_id)

    def shutdown(self):
        """``scancel`` every job launched or adopted that has not been seen
        ending (Slurm ignores the ones that ended meanwhile)."""
        if self.jobs:
            _run(['scancel', *sorted(self.jobs)])
            self.jobs.clear()

    def find(self, trial_id, trial_dir):
        name = f'gml-{self.task_name}-{trial_id}'
        out = _run(['squeue', '-h', '-u', getpass.getuser(), '-n', name,
                    '-o', '%i'])
        ids = out.stdout.split() if out.returncode == 0 else []
        return ids[0] if ids else None

    def attach(self, job_id, trial_dir):
        if read_exit_code(trial_dir) is not None:
            return False
        if self._queue_states([job_id]).get(job_id) not in ACTIVE:
            return False
        self.jobs.add(job_id)
        return True
