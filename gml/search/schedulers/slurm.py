"""Run each trial as a Slurm batch job, politely.

A shared cluster's scheduler is a shared service: gml asks it about its jobs
in **one** ``squeue`` call for all of them, at most every ``query_interval``
seconds (10 by default), and between calls learns that a trial ended from
the trial's own ``exit_code`` file. A shared filesystem may show that file
on the login node seconds after the compute node wrote it, so a job Slurm
reports ended is given ``exit_file_grace`` seconds (60) for it to appear
before the trial is decided from Slurm's record alone.
"""
import getpass
import math
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

from ...errors import ConfigError
from ...utils.checks import check_bool, check_int, check_number
from ..registry import SCHEDULERS
from .base import (LOG_FILE, SCRIPT_FILE, JobStatus, LaunchRequest,
                   Scheduler, read_exit_code, read_starts,
                   write_script)

#: states of a job that is queued or runs (or will run again)
ACTIVE = {'PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED',
          'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD', 'RESIZING', 'SIGNALING',
          'STAGE_OUT', 'STOPPED', 'RESV_DEL_HOLD', 'PREEMPTED_REQUEUE'}
#: ended by the cluster, not by the trial: the trial runs again
LOST = {'PREEMPTED': 'was preempted', 'NODE_FAIL': 'lost its node',
        'BOOT_FAIL': 'could not boot its node'}
#: ended by Slurm killing it: it cannot have written its exit file
KILLED = {'CANCELLED': 'was cancelled',
          'TIMEOUT': 'reached its Slurm time limit',
          'DEADLINE': 'reached its deadline',
          'OUT_OF_MEMORY': 'ran out of memory; raise scheduler.mem'}
#: Slurm's states of a job whose script ended by itself: its exit file
#: should appear (after the filesystem's delay)
EXITED = {'COMPLETED', 'FAILED'}
#: controller variables a trial job must not inherit: Slurm's own (a job
#: gets fresh ones), the login node's device assignment and shell
#: bookkeeping
_NOT_INHERITED = re.compile(
    r'^(SLURM_|SBATCH_|SRUN_|SALLOC_|BASH_FUNC_)|^(PWD|OLDPWD|SHLVL|_|'
    r'CUDA_VISIBLE_DEVICES|ROCR_VISIBLE_DEVICES|GPU_DEVICE_ORDINAL|'
    r'HOSTNAME|TMPDIR|PS1)$')
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
ARRAY_SCRIPT = 'array.sh'
FILE_CHECK_SECONDS = 1.0


def _run(args: List[str], timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, '', f'{args[0]} timed '
                                           f'out after {timeout:g} s')


def trial_environment() -> Dict[str, str]:
    """The environment a trial job gets, written into its script: the
    controller's, less what belongs to the login node or to Slurm."""
    return {k: v for k, v in os.environ.items()
            if _NAME.match(k) and not _NOT_INHERITED.match(k)}


@dataclass
class SlurmRecord:
    """One job as ``squeue`` (or ``sacct``) reported it."""
    state: str
    restarts: int = 0
    exit_code: Optional[int] = None  # the script's status, if it exited
    name: str = ''


@dataclass
class _Job:
    trial_dir: str
    restarts: int = 0
    record: Optional[SlurmRecord] = None
    ended_at: Optional[float] = None  # when Slurm was first seen done
    exited_at: Optional[float] = None  # when its exit file was first seen

    @property
    def settled(self) -> bool:
        """Slurm has recorded how the job ended."""
        return self.record is not None and self.record.state not in ACTIVE \
            and self.record.state != 'UNKNOWN'


def _wait_status(raw: str) -> Optional[int]:
    """squeue's exit_code is a wait status: ``768`` -> 3; a signal -> -N."""
    try:
        status = int(raw.split(':')[0])
    except ValueError:
        return None
    return -(status & 0x7F) if status & 0x7F else status >> 8


def _sacct_code(raw: str) -> Optional[int]:
    """sacct's ExitCode ``3:0`` -> 3; ``0:9`` (signal 9) -> -9."""
    try:
        code, signal = (int(x) for x in raw.split(':'))
    except ValueError:
        return None
    return -signal if signal else code


@SCHEDULERS.register('slurm')
class SlurmScheduler(Scheduler):
    """One ``sbatch`` per trial (or one job array per batch of trials);
    one batched ``squeue`` per ``query_interval`` to watch them; ``scancel``
    to stop them.

    Config keys (``scheduler:``), besides ``parallel_size``:
    ``partition``, ``account``, ``qos``, ``constraint``, ``mem`` (``4G``),
    ``time`` (Slurm's ``--time``; default ``time_limits_per_job`` + 1 min),
    ``exclusive`` (false), ``gpus_per_trial`` (0), ``cpus_per_trial`` (1),
    ``sbatch_args`` (more ``sbatch`` options, a list or one string),
    ``array`` (false: submit the trials started together as one job
    array), ``query_interval`` (10 s between scheduler queries) and
    ``exit_file_grace`` (60 s for an ended job's exit file to appear).
    Jobs are named ``gml-<task>-<trial id>`` (arrays ``gml-<task>-array``,
    task id = trial id). The trial's environment is written into its
    script (:func:`trial_environment`), so it does not depend on the login
    shell of the compute node.
    """

    def __init__(self, parallel_size: int = 1, generate_log: bool = True,
                 partition: Optional[str] = None, gpus_per_trial: int = 0,
                 cpus_per_trial: int = 1, mem: Union[str, int, None] = None,
                 time: Union[str, int, None] = None,
                 account: Optional[str] = None, qos: Optional[str] = None,
                 constraint: Optional[str] = None, exclusive: bool = False,
                 sbatch_args: Union[str, Sequence[str], None] = None,
                 array: bool = False, query_interval: float = 10.0,
                 exit_file_grace: float = 60.0, task_name: str = 'task'):
        super().__init__(parallel_size, generate_log, task_name)
        if shutil.which('sbatch') is None:
            raise ConfigError('scheduler.type: slurm, but sbatch is not on '
                              'PATH (is this a Slurm login node?)')
        self.gpus_per_trial = check_int(gpus_per_trial,
                                        'scheduler.gpus_per_trial')
        self.cpus_per_trial = check_int(cpus_per_trial,
                                        'scheduler.cpus_per_trial', 1)
        self.options = {
            key: self._option(value, f'scheduler.{key}')
            for key, value in (('partition', partition), ('account', account),
                               ('qos', qos), ('constraint', constraint),
                               ('mem', mem), ('time', time))
            if value is not None}
        self.exclusive = check_bool(exclusive, 'scheduler.exclusive')
        self.batches = check_bool(array, 'scheduler.array')
        if isinstance(sbatch_args, str):
            sbatch_args = shlex.split(sbatch_args)
        if not isinstance(sbatch_args, (list, tuple, type(None))) or \
                not all(isinstance(a, str) for a in sbatch_args or ()):
            raise ConfigError('scheduler.sbatch_args: expected a list of '
                              f'sbatch options or one string, found '
                              f'{sbatch_args!r}')
        self.sbatch_args = list(sbatch_args or [])
        self.query_interval = check_number(query_interval,
                                           'scheduler.query_interval', 0)
        self.exit_file_grace = check_number(exit_file_grace,
                                            'scheduler.exit_file_grace', 0)
        self.jobs: Dict[str, _Job] = {}  # launched or adopted, not ended
        self.last_query = float('-inf')
        self._listing: Optional[Dict[str, SlurmRecord]] = None

    @staticmethod
    def _option(value, key: str) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or \
                not str(value).strip() or any(c.isspace() for c in str(value)):
            raise ConfigError(f'{key}: expected one sbatch value (a word or '
                              f'a number), found {value!r}')
        return str(value)

    # -- launching -------------------------------------------------------------
    def _header(self, time_limit: Optional[float], output: str,
                name: str) -> List[str]:
        lines = [f'--job-name={name}', f'--output={output}',
                 '--open-mode=append', '--ntasks=1',
                 f'--cpus-per-task={self.cpus_per_trial}',
                 f'--chdir={os.getcwd()}']
        lines += [f'--{key}={value}' for key, value in self.options.items()]
        if 'time' not in self.options and time_limit:
            lines.append(f'--time={math.ceil(time_limit / 60) + 1}')
        if self.gpus_per_trial:
            lines.append(f'--gres=gpu:{self.gpus_per_trial}')
        if self.exclusive:
            lines.append('--exclusive')
        return lines

    def _script(self, request: LaunchRequest, header: str = '') -> str:
        env = trial_environment()
        env.setdefault('OMP_NUM_THREADS', str(self.cpus_per_trial))
        env.update(request.env)
        return write_script(request.trial_dir, request.command, os.getcwd(),
                            env, header)

    def _sbatch(self, script: str) -> str:
        out = _run(['sbatch', '--parsable', *self.sbatch_args, script])
        if out.returncode != 0:
            raise RuntimeError(f'sbatch failed: {out.stderr.strip()}')
        return out.stdout.strip().split(';')[0]

    def launch(self, trial_id, command, trial_dir, env, time_limit):
        request = LaunchRequest(trial_id, command, trial_dir, env, time_limit)
        output = os.path.join(trial_dir, LOG_FILE) if self.generate_log \
            else '/dev/null'
        header = ''.join(f'#SBATCH {line}\n' for line in self._header(
            time_limit, output, f'gml-{self.task_name}-{trial_id}'))
        job_id = self._sbatch(self._script(request, header))
        self.jobs[job_id] = _Job(trial_dir)
        return job_id

    def launch_many(self, requests):
        if not self.batches or len(requests) < 2:
            return super().launch_many(requests)
        for request in requests:
            self._script(request)
        trials_dir = os.path.dirname(requests[0].trial_dir)
        output = os.path.join(trials_dir, '%a', LOG_FILE) \
            if self.generate_log else '/dev/null'
        ids = ','.join(str(r.trial_id) for r in requests)
        lines = self._header(requests[0].time_limit, output,
                             f'gml-{self.task_name}-array')
        lines.append(f'--array={ids}')
        driver = os.path.join(trials_dir, ARRAY_SCRIPT)
        with open(driver, 'w') as f:
            f.write('#!/usr/bin/env bash\n'
                    + ''.join(f'#SBATCH {line}\n' for line in lines)
                    + f'exec bash {shlex.quote(trials_dir)}/'
                    f'"$SLURM_ARRAY_TASK_ID"/{SCRIPT_FILE}\n')
        try:
            array_id = self._sbatch(driver)
        except RuntimeError as exc:
            return [exc] * len(requests)
        job_ids = [f'{array_id}_{r.trial_id}' for r in requests]
        for job_id, request in zip(job_ids, requests):
            self.jobs[job_id] = _Job(request.trial_dir)
        return job_ids

    # -- asking Slurm ----------------------------------------------------------
    def _squeue(self, *selection: str) -> Optional[Dict[str, SlurmRecord]]:
        """Jobs as squeue lists them (also ended ones it still knows), or
        None when squeue failed."""
        out = _run(['squeue', '-h', '-r', '-t', 'all', *selection, '-O',
                    'JobArrayID:|,Name:|,State:|,RestartCnt:|,exit_code:|'])
        if out.returncode != 0:
            if 'Invalid job id' in out.stderr:  # none of them is known
                return {}
            return None
        records = {}
        for line in out.stdout.splitlines():
            fields = [f.strip() for f in line.split('|')]
            if len(fields) < 5 or not fields[0]:
                continue
            job_id, name, state, restarts, code = fields[:5]
            records[job_id] = SlurmRecord(
                state.split()[0] if state else 'UNKNOWN',
                int(restarts) if restarts.isdigit() else 0,
                _wait_status(code) if state in EXITED else None, name)
        return records

    def _sacct(self, job_ids: List[str]) -> Dict[str, SlurmRecord]:
        """What Slurm's accounting recorded for jobs squeue no longer
        knows (nothing where accounting is off)."""
        if not job_ids or shutil.which('sacct') is None:
            return {}
        out = _run(['sacct', '-n', '-X', '-P', '-j', ','.join(job_ids),
                    '-o', 'JobID,State,ExitCode,Restarts'])
        records = {}
        if out.returncode == 0:
            for line in out.stdout.splitlines():
                fields = line.split('|')
                if len(fields) >= 4 and fields[0] in job_ids:
                    state = fields[1].split()[0] if fields[1] else 'UNKNOWN'
                    records[fields[0]] = SlurmRecord(
                        state, int(fields[3]) if fields[3].isdigit() else 0,
                        _sacct_code(fields[2]) if state in EXITED else None)
        return records

    def _query(self, job_ids: List[str]) -> None:
        """One squeue for every active job (sacct for the ones it forgot);
        updates each job's record."""
        self.last_query = time.monotonic()
        records = self._squeue('-j', ','.join(job_ids))
        if records is None:  # the controller may be busy: keep going
            return
        missing = [j for j in job_ids if j not in records]
        records.update(self._sacct(missing))
        for job_id in job_ids:
            self.jobs[job_id].record = records.get(job_id,
                                                   SlurmRecord('UNKNOWN'))

    # -- watching --------------------------------------------------------------
    def poll(self, job_ids, trial_dirs):
        now = time.monotonic()
        codes = {}
        for job_id in job_ids:
            job = self.jobs.setdefault(job_id, _Job(trial_dirs[job_id]))
            codes[job_id] = read_exit_code(job.trial_dir)
            if codes[job_id] is not None and job.exited_at is None:
                job.exited_at = now
        wanted = [j for j in job_ids if codes[j] is None or
                  (codes[j] != 0 and not self.jobs[j].settled)]
        if wanted and now - self.last_query >= self.query_interval:
            self._query(wanted)
        statuses = {}
        for job_id in job_ids:
            statuses[job_id] = self._status(job_id, self.jobs[job_id],
                                            codes[job_id], now)
            if not statuses[job_id].running:
                del self.jobs[job_id]
        return statuses

    def _status(self, job_id: str, job: _Job, code: Optional[int],
                now: float) -> JobStatus:
        """The job's status from its exit file and Slurm's last record. A
        failed script waits (two queries at most) for Slurm's verdict, which
        may say why (out of memory); a job Slurm reports ended waits
        ``exit_file_grace`` for its exit file, unless Slurm killed it."""
        record = job.record
        if record is not None and record.restarts > job.restarts:
            # Slurm re-queued the job: it counts once its script runs again
            # (and has moved the cut-short run's files aside)
            job.restarts = min(record.restarts,
                               read_starts(job.trial_dir) - 1)
        where = f'slurm job {job_id}'
        state = record.state if record else None
        if code is not None:
            job.restarts = max(job.restarts, read_starts(job.trial_dir) - 1)
            if code != 0 and not job.settled and \
                    now - job.exited_at < 2 * self.query_interval + 1:
                return JobStatus(True, requeued=job.restarts)
            note = f'{where} ended as {state}: it {KILLED[state]}' \
                if state in KILLED else ''
            return JobStatus(False, code, note, requeued=job.restarts)
        if record is None or state in ACTIVE:
            job.ended_at = None
            return JobStatus(True, requeued=job.restarts)
        if state in LOST:
            return JobStatus(False, None, f'{where} {LOST[state]} ({state})',
                             lost=True, requeued=job.restarts)
        if state in KILLED:
            return JobStatus(False, None, f'{where} ended as {state}: it '
                             f'{KILLED[state]}', requeued=job.restarts)
        if record.exit_code is not None and record.exit_code < 0:
            return JobStatus(False, record.exit_code, f'{where} ended as '
                             f'{state}: its script was killed',
                             requeued=job.restarts)
        # the script ended by itself (or Slurm forgot the job): its exit
        # file may take a while to show on a shared filesystem
        if job.ended_at is None:
            job.ended_at = now
        if now - job.ended_at < self.exit_file_grace:
            return JobStatus(True, requeued=job.restarts)
        ended = 'is no longer known to Slurm' if state == 'UNKNOWN' \
            else f'ended as {state}'
        verdict = 'no exit status is known' if record.exit_code is None \
            else f'its exit status is taken from Slurm ({record.exit_code})'
        message = (f'{where} {ended} but its exit file did not appear in '
                   f'{job.trial_dir} within {self.exit_file_grace:g} s '
                   f'(scheduler.exit_file_grace), so {verdict}; is that '
                   'folder on a filesystem the compute nodes share?')
        return JobStatus(False, record.exit_code, message,
                         requeued=job.restarts)

    def kill(self, job_id):
        _run(['scancel', job_id])
        self.jobs.pop(job_id, None)

    def shutdown(self):
        """``scancel`` every job launched or adopted that has not been seen
        ending (Slurm ignores the ones that ended meanwhile)."""
        if self.jobs:
            _run(['scancel', *sorted(self.jobs)])
            self.jobs.clear()

    # -- after a restart -------------------------------------------------------
    def _known_jobs(self) -> Dict[str, SlurmRecord]:
        """This user's jobs, listed once per restart (not once per trial)."""
        if self._listing is None:
            self._listing = self._squeue('-u', getpass.getuser()) or {}
        return self._listing

    def find(self, trial_id, trial_dir):
        single = f'gml-{self.task_name}-{trial_id}'
        array = f'gml-{self.task_name}-array'
        for job_id, record in self._known_jobs().items():
            if record.name == single or (record.name == array and
                                         job_id.endswith(f'_{trial_id}')):
                return job_id
        return None

    def attach(self, job_id, trial_dir):
        if read_exit_code(trial_dir) is not None:
            return False
        record = self._known_jobs().get(job_id)
        if record is None or record.state not in ACTIVE:
            return False
        self.jobs[job_id] = _Job(trial_dir, record.restarts, record)
        return True

    def wait(self, timeout: float) -> None:
        """Trials' files are looked at no more than once a second (on a
        shared filesystem each look is a request to its server)."""
        time.sleep(max(timeout, FILE_CHECK_SECONDS))
