"""Run trials as process groups on this machine."""
import json
import os
import select
import signal
import subprocess
import threading
import time
from typing import Dict, List, Optional, Sequence

from ...errors import ConfigError
from ...utils.checks import check_int
from ..registry import SCHEDULERS
from .base import (LOG_FILE, SCRIPT_FILE, JobStatus, Scheduler,
                   read_exit_code, script_export, write_script)

KILL_GRACE_SECONDS = 5.0


def visible_gpus() -> List[str]:
    """GPU ids from CUDA_VISIBLE_DEVICES, else counted by nvidia-smi."""
    env = os.environ.get('CUDA_VISIBLE_DEVICES')
    if env is not None:
        return [g for g in env.split(',') if g.strip() and g.strip() != '-1']
    try:
        out = subprocess.run(['nvidia-smi', '-L'], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines())
            if line.startswith('GPU ')]


def gpu_pool(gpus) -> List[str]:
    """The ``scheduler.gpus`` ids as strings: a list of ints or names
    (``GPU-<uuid>``, ``MIG-...``), or one comma-separated string as
    CUDA_VISIBLE_DEVICES writes them; each id at most once."""
    if isinstance(gpus, str):
        gpus = [g.strip() for g in gpus.split(',') if g.strip()]
    if not isinstance(gpus, (list, tuple)):
        raise ConfigError(f'scheduler.gpus: expected a list of GPU ids, '
                          f'found {gpus!r}')
    pool = []
    for gpu in gpus:
        if isinstance(gpu, bool) or not isinstance(gpu, (int, str)) or \
                not str(gpu).strip() or \
                any(c.isspace() or c == ',' for c in str(gpu)):
            raise ConfigError(f'scheduler.gpus: expected GPU ids (integers '
                              f'or names), found {gpu!r}')
        if str(gpu) in pool:
            raise ConfigError(f'scheduler.gpus: expected distinct GPU ids, '
                              f'found {gpu} twice')
        pool.append(str(gpu))
    return pool


def _script_gpus(script: str) -> List[str]:
    """The GPUs a trial's run.sh exports (launch writes them there)."""
    value = script_export(script, 'CUDA_VISIBLE_DEVICES') or ''
    return [g for g in value.split(',') if g]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_trial_process(pid: int, script: str) -> bool:
    """Guard against a recycled pid: the process must run our script."""
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return script.encode() in f.read()
    except OSError:
        return _alive(pid)


def _script_process(script: str) -> Optional[int]:
    """The pid of a process running ``bash <script>`` (as launched, with a
    relative or an absolute path), or None."""
    if not os.path.isdir('/proc'):
        return None
    real = os.path.realpath(script)
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/cmdline', 'rb') as f:
                args = f.read().split(b'\0')
            if args[:1] != [b'bash'] or len(args) != 3 or \
                    os.path.basename(args[1]) != SCRIPT_FILE.encode():
                continue
            if os.path.abspath(args[1].decode()) == real:
                return int(name)
            # bash keeps the script it runs open on fd 255: its true path
            if os.readlink(f'/proc/{name}/fd/255') == real:
                return int(name)
        except (OSError, UnicodeDecodeError):
            continue
    return None


@SCHEDULERS.register('local')
class LocalScheduler(Scheduler):
    """Each trial is its own process group on this machine.

    Config keys (``scheduler:``): ``parallel_size``; ``gpus_per_trial``
    (default 0: GPUs are not assigned); ``gpus`` (ids to share out, a list
    or one comma-separated string; default CUDA_VISIBLE_DEVICES or every
    GPU nvidia-smi lists). Trials get disjoint ``CUDA_VISIBLE_DEVICES``,
    also across a ``kill -9`` of the controller and ``--resume`` (running
    trials keep their GPUs). Stopping a trial signals its whole process
    group (SIGTERM, then SIGKILL after 5 s); :meth:`shutdown` stops every
    trial still running this way and waits for them to go.
    """

    def __init__(self, parallel_size: int = 1, generate_log: bool = True,
                 task_name: str = 'task', gpus_per_trial: int = 0,
                 gpus: Optional[Sequence[int]] = None):
        super().__init__(parallel_size, generate_log, task_name)
        self.gpus_per_trial = check_int(gpus_per_trial,
                                             'scheduler.gpus_per_trial')
        pool = gpu_pool(gpus) if gpus is not None else \
            (visible_gpus() if self.gpus_per_trial else [])
        if self.gpus_per_trial and len(pool) < self.gpus_per_trial:
            raise ConfigError(
                f'scheduler.gpus_per_trial: {self.gpus_per_trial} GPU(s) per '
                f'trial, but only {len(pool)} to share out '
                f'({",".join(pool) or "none"}; scheduler.gpus or '
                'CUDA_VISIBLE_DEVICES sets them)')
        self.free_gpus = pool
        self.children: Dict[str, subprocess.Popen] = {}
        self.adopted: Dict[str, str] = {}  # job id -> script path
        self.dying: Dict[int, float] = {}  # pgid -> SIGKILL deadline
        self.reapers: List[subprocess.Popen] = []  # killed children to wait
        self._wakeup = ChildExitAlarm()

    def capacity(self) -> int:
        if not self.gpus_per_trial:
            return self.parallel_size
        total = len(self.free_gpus) + sum(
            len(json.loads(j)['gpus']) for j in
            list(self.children) + list(self.adopted))
        return min(self.parallel_size, total // self.gpus_per_trial)

    def can_launch(self) -> bool:
        return len(self.free_gpus) >= self.gpus_per_trial

    def launch(self, trial_id, command, trial_dir, env, time_limit):
        gpus = [self.free_gpus.pop(0) for _ in range(self.gpus_per_trial)]
        env = dict(env)
        if 'OMP_NUM_THREADS' not in os.environ:  # share the cores out
            env['OMP_NUM_THREADS'] = str(
                max(1, (os.cpu_count() or 1) // self.parallel_size))
        if self.gpus_per_trial:
            env['CUDA_VISIBLE_DEVICES'] = ','.join(gpus)
        script = write_script(trial_dir, command, os.getcwd(), env)
        log = open(os.path.join(trial_dir, LOG_FILE), 'ab') \
            if self.generate_log else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(['bash', script], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        job_id = json.dumps({'pid': proc.pid, 'gpus': gpus})
        self.children[job_id] = proc
        return job_id

    def _release(self, job_id: str) -> None:
        """Forget the job; its GPUs are free again if it held them (a job
        that ended while no controller ran never took them from the pool:
        returning them would list them twice)."""
        held = self.children.pop(job_id, None) is not None or \
            self.adopted.pop(job_id, None) is not None
        if held:
            self.free_gpus.extend(json.loads(job_id)['gpus'])

    def poll(self, job_ids, trial_dirs):
        statuses = {}
        for job_id in job_ids:
            proc = self.children.get(job_id)
            if proc is not None:
                code = proc.poll()
                if code is None:
                    statuses[job_id] = JobStatus(True)
                    continue
            elif job_id in self.adopted:
                pid = json.loads(job_id)['pid']
                if _alive(pid) and read_exit_code(trial_dirs[job_id]) is None:
                    statuses[job_id] = JobStatus(True)
                    continue
                code = None
            else:
                code = None
            recorded = read_exit_code(trial_dirs[job_id])
            if recorded is not None:
                code = recorded
            message = '' if code is not None else 'the process vanished ' \
                'without recording an exit status'
            if code is not None and code < 0:
                message = f'killed by signal {-code}'
            self._release(job_id)
            statuses[job_id] = JobStatus(False, code, message)
        return statuses

    def kill(self, job_id):
        pid = json.loads(job_id)['pid']
        try:
            os.killpg(pid, signal.SIGTERM)
            self.dying[pid] = time.monotonic() + KILL_GRACE_SECONDS
        except ProcessLookupError:
            pass
        proc = self.children.get(job_id)
        self._release(job_id)
        if proc is not None:
            self.reapers.append(proc)

    def housekeeping(self):
        now = time.monotonic()
        for pgid, deadline in list(self.dying.items()):
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                del self.dying[pgid]
                continue
            if now >= deadline:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                del self.dying[pgid]
        self.reapers = [p for p in self.reapers if p.poll() is None]

    def attach(self, job_id, trial_dir):
        info = json.loads(job_id)
        script = os.path.join(trial_dir, 'run.sh')
        if not (_alive(info['pid']) and _is_trial_process(info['pid'], script)):
            return False
        for gpu in info['gpus']:
            if gpu in self.free_gpus:
                self.free_gpus.remove(gpu)
        self.adopted[job_id] = script
        return True

    def find(self, trial_id, trial_dir):
        """The job of a launch the controller did not record: its pid from
        the ``job_id`` file run.sh writes first, else (run.sh had not got
        that far) from the process running run.sh. A job that already
        ended is found too when it recorded its exit status (the controller
        then finalizes the trial instead of running it again)."""
        try:
            with open(os.path.join(trial_dir, 'job_id')) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pid = _script_process(os.path.join(trial_dir, SCRIPT_FILE))
            if pid is None:
                return None
        job_id = json.dumps({'pid': pid, 'gpus': _script_gpus(
            os.path.join(trial_dir, SCRIPT_FILE))})
        if read_exit_code(trial_dir) is not None:
            return job_id
        return job_id if self.attach(job_id, trial_dir) else None

    def wait(self, timeout: float) -> None:
        self._wakeup.wait(timeout)

    def shutdown(self, wait: float = KILL_GRACE_SECONDS) -> None:
        """Kill the trials still running (launched or adopted), wait for
        every killed process group to end (SIGKILL after ``wait`` s)."""
        for job_id in list(self.children) + list(self.adopted):
            self.kill(job_id)
        deadline = time.monotonic() + wait + 1
        while self.dying and time.monotonic() < deadline:
            self.housekeeping()
            time.sleep(0.05)
        self._wakeup.close()


class ChildExitAlarm:
    """Wakes a waiting controller as soon as a child process exits.

    SIGCHLD is routed to a pipe (``signal.set_wakeup_fd``), so waiting for
    the next poll is a ``select`` that returns when a trial ends instead of
    a fixed sleep. Outside the main thread it falls back to sleeping.
    """

    def __init__(self):
        self.read_fd = self.write_fd = None
        if threading.current_thread() is not threading.main_thread():
            return
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self.previous_fd = signal.set_wakeup_fd(self.write_fd,
                                                warn_on_full_buffer=False)
        self.previous_handler = signal.signal(signal.SIGCHLD,
                                              lambda *_: None)

    def wait(self, timeout: float) -> None:
        if self.read_fd is None:
            time.sleep(timeout)
            return
        ready, _, _ = select.select([self.read_fd], [], [], timeout)
        if ready:
            try:
                while os.read(self.read_fd, 512):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        if self.read_fd is None:
            return
        signal.set_wakeup_fd(self.previous_fd)
        signal.signal(signal.SIGCHLD, self.previous_handler or signal.SIG_DFL)
        os.close(self.read_fd)
        os.close(self.write_fd)
        self.read_fd = self.write_fd = None
