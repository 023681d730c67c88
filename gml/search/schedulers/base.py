"""What a scheduler does: start, watch and stop trial commands.

A trial runs ``trial_dir/run.sh``: the rendered command line followed by
writing its exit status to ``trial_dir/exit_code``. The file tells the
controller how a trial ended even when the controller was not running at
the time (after ``kill -9`` and ``search-run --resume``).
"""
from abc import ABC, abstractmethod
import os
import shlex
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Union


EXIT_FILE = 'exit_code'
LOG_FILE = 'log.txt'
SCRIPT_FILE = 'run.sh'
STARTS_FILE = 'starts'


@dataclass
class JobStatus:
    """What :meth:`Scheduler.poll` found.

    ``lost`` marks a job the cluster ended, not the trial (preempted, its
    node failed): the controller runs the trial again with the same
    parameters (up to ``scheduler.max_requeues`` times) instead of
    recording it FAILED. ``requeued`` counts the times the cluster itself
    started the same job again (Slurm's requeue): the controller counts
    them in the trial's attempts and forgets the metrics of the run that
    was cut short.
    """
    running: bool
    exit_code: Optional[int] = None
    message: str = ''
    lost: bool = False
    requeued: int = 0  # times the cluster re-ran the job in place


@dataclass
class LaunchRequest:
    """One trial to start: the arguments of :meth:`Scheduler.launch`."""
    trial_id: int
    command: str
    trial_dir: str
    env: Dict[str, str]
    time_limit: Optional[float]


def write_script(trial_dir: str, command: str, cwd: str,
                 env: Dict[str, str], header: str = '') -> str:
    """Write the trial's ``run.sh`` and return its path.

    Run again in place (a cluster re-queued the job), the script first
    moves the cut-short run's ``metrics.jsonl`` and ``work/`` aside (with
    the number of the earlier start), so the new run starts clean and its
    checkpoints stay available.
    """
    q = shlex.quote
    exit_file = os.path.join(trial_dir, EXIT_FILE)
    starts = os.path.join(trial_dir, STARTS_FILE)
    exports = ''.join(f'export {k}={q(v)}\n' for k, v in env.items())
    script = (
        '#!/usr/bin/env bash\n' + header +
        f'echo "${{SLURM_JOB_ID:-$$}}" > {q(trial_dir)}/job_id\n'
        f'n=$(cat {q(starts)} 2>/dev/null || echo 0)\n'
        'if [ "$n" -gt 0 ]; then\n'
        f'  for f in metrics.jsonl work; do [ -e {q(trial_dir)}/$f ] && '
        f'mv {q(trial_dir)}/$f {q(trial_dir)}/$f.$n; done\n'
        f'  rm -f {q(exit_file)}\n'
        'fi\n'
        f'echo $((n + 1)) > {q(starts)}\n' +
        exports +
        f'cd {q(cwd)} || exit 97\n'
        f'bash -c {q(command)}\n'
        'code=$?\n'
        f'echo $code > {q(exit_file)}.tmp && '
        f'mv {q(exit_file)}.tmp {q(exit_file)}\n'
        'exit $code\n')
    path = os.path.join(trial_dir, SCRIPT_FILE)
    with open(path, 'w') as f:
        f.write(script)
    os.chmod(path, 0o755)
    return path


def read_exit_code(trial_dir: str) -> Optional[int]:
    """The exit status ``run.sh`` recorded, or None if it has not."""
    try:
        with open(os.path.join(trial_dir, EXIT_FILE)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def read_starts(trial_dir: str) -> int:
    """How many times ``run.sh`` has started (0 before it first runs)."""
    try:
        with open(os.path.join(trial_dir, STARTS_FILE)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def file_tail(path: str, lines: int, max_bytes: int) -> str:
    """The last ``lines`` lines of a text file, read from at most its last
    ``max_bytes`` bytes (a line cut there is left out); '' if unreadable."""
    try:
        with open(path, 'rb') as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - max_bytes))
            text = f.read().decode('utf-8', 'replace').splitlines()
    except OSError:
        return ''
    if size > max_bytes:
        text = text[1:]
    return '\n'.join(text[-lines:])


def log_tail(trial_dir: str, lines: int = 20) -> str:
    """The last lines of the trial's log, for a FAILED trial's message."""
    return file_tail(os.path.join(trial_dir, LOG_FILE), lines, 8192)


def script_export(script: str, name: str) -> Optional[str]:
    """The value ``run.sh`` (as :func:`write_script` writes it) exports for
    the environment variable ``name``; None if it exports none."""
    try:
        with open(script) as f:
            for line in f:
                if line.startswith(f'export {name}='):
                    return shlex.split(line.split('=', 1)[1])[0]
    except (OSError, ValueError, IndexError):
        pass
    return None


class Scheduler(ABC):
    """Runs trials somewhere: this machine, or a cluster.

    ``launch`` returns a job id (a string the store keeps), from which
    ``poll``, ``kill`` and ``attach`` work, also in a new controller process.
    The controller is the only caller, from one thread; it calls
    ``shutdown`` once when it ends, however it ends (unless it is killed
    outright: then a later controller adopts the jobs with ``attach``).

    Args:
        parallel_size: trials running at once (at most).
        generate_log: keep each trial's output in ``trial_dir/log.txt``.
        task_name: names the jobs (``gml-<task>-<trial id>``).
    """

    def __init__(self, parallel_size: int = 1, generate_log: bool = True,
                 task_name: str = 'task'):
        self.parallel_size = parallel_size
        self.generate_log = generate_log
        self.task_name = task_name

    def capacity(self) -> int:
        """How many trials may run at once."""
        return self.parallel_size

    def can_launch(self) -> bool:
        """True if resources for one more trial are free right now."""
        return True

    @abstractmethod
    def launch(self, trial_id: int, command: str, trial_dir: str,
               env: Dict[str, str], time_limit: Optional[float]) -> str:
        """Start trial ``trial_id`` and return its job id without waiting
        for it to run.

        Args:
            trial_id: the trial's number in the store (names the job).
            command: the rendered shell command line of the trial.
            trial_dir: the trial's folder (it exists); the job runs
                ``trial_dir/run.sh`` (:func:`write_script`), which records
                the command's exit status in ``trial_dir/exit_code``, and
                its output goes to ``trial_dir/log.txt`` when
                ``generate_log``.
            env: environment variables the trial gets on top of the
                controller's.
            time_limit: the trial's time limit in seconds, or None. The
                controller enforces it; a scheduler may also hand it to
                its backend (with a margin, so the controller's timeout
                comes first).

        Returns:
            The job id: a string the store keeps and from which
            :meth:`poll`, :meth:`kill` and :meth:`attach` find the job,
            also in a later controller process.

        Raises:
            OSError or RuntimeError when the trial could not be started;
            the controller records the trial FAILED and goes on.
        """

    @abstractmethod
    def poll(self, job_ids: List[str], trial_dirs: Dict[str, str]) -> \
            Dict[str, JobStatus]:
        """The status of every job in ``job_ids``."""

    @abstractmethod
    def kill(self, job_id: str) -> None:
        """Stop job ``job_id`` and everything it started, and forget it.

        Returns without waiting for the job to end (:meth:`housekeeping`
        and :meth:`shutdown` finish what takes time) and frees the job's
        slot and resources at once. A job that has already ended, or one
        this scheduler did not launch (left by an earlier controller), is
        no error. The job is not polled again.
        """

    @abstractmethod
    def attach(self, job_id: str, trial_dir: str) -> bool:
        """After a restart: True if the job still runs (and is adopted)."""

    #: whether :meth:`launch_many` starts several trials in one request
    batches = False

    def launch_many(self, requests: List[LaunchRequest]) -> \
            List[Union[str, Exception]]:
        """Start several trials; for each, its job id or the exception
        (OSError or RuntimeError) that kept it from starting. The default
        launches them one by one; a scheduler with ``batches`` submits
        them at once (a Slurm job array)."""
        results: List[Union[str, Exception]] = []
        for r in requests:
            try:
                results.append(self.launch(r.trial_id, r.command, r.trial_dir,
                                           r.env, r.time_limit))
            except (OSError, RuntimeError) as exc:
                results.append(exc)
        return results

    def find(self, trial_id: int, trial_dir: str) -> Optional[str]:
        """After a restart: the job id of a trial that was being launched
        when the controller died, if that job exists."""
        return None

    def housekeeping(self) -> None:
        """Called every loop: finish kills in progress, and the like."""

    @abstractmethod
    def shutdown(self) -> None:
        """The controller is ending: normally, on an error or on Ctrl-C.

        Stops every job this scheduler launched or adopted that still runs
        or waits (a later ``search-run --resume`` re-queues their trials),
        waits a little for killed jobs to go and releases what the
        scheduler holds (signal handlers, pipes). Called once; the
        scheduler is not used after it.
        """

    def wait(self, timeout: float) -> None:
        """Sleep until the next poll (a scheduler may wake up earlier when
        a trial ends)."""
        time.sleep(timeout)
