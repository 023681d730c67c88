"""Run each trial as a job on a Ray cluster (Ray's job submission API).

Ray is imported only when a ``type: ray`` scheduler is built, so ``import
gml`` and the ``search-*`` commands work without it.
"""
import os
import re
import secrets
import shlex
import time
from typing import Any, Dict, Optional, Set

from ...errors import ConfigError
from ...utils.checks import check_number
from ..registry import SCHEDULERS
from .base import LOG_FILE, JobStatus, Scheduler, read_exit_code, write_script

DEFAULT_ADDRESS = 'http://127.0.0.1:8265'
ACTIVE = {'PENDING', 'RUNNING'}
# Failures Ray puts on the cluster, not on the trial: the job's supervisor
# actor died (its node went away) or its monitoring broke.
LOST_ERRORS = {'JOB_SUPERVISOR_ACTOR_DIED',
               'JOB_SUPERVISOR_ACTOR_UNKNOWN_FAILURE'}
LOST_WORDS = re.compile(r'node.*(died|dead|failed|removed|preempt)|'
                        r'(supervisor|actor) died', re.IGNORECASE)
LIST_EVERY_SECONDS = 1.0  # list_jobs() at most this often
# An ended job's exit file may show up on a shared filesystem a moment after
# Ray reports the end: wait this many job listings before going without it.
MISSING_LISTINGS = 3
# A job server that does not answer for this long ends the controller.
UNREACHABLE_SECONDS = 60.0
HTTP_TIMEOUT_SECONDS = 60.0
STOP_WAIT_SECONDS = 10.0

# The first lines of run.sh. Ray stops a job by signalling the processes it
# finds under the entrypoint at that moment; one forked a moment later (a
# job stopped just as it starts) would be left running. So the script runs
# itself again in the background and, on SIGTERM or SIGINT, signals the
# job's whole process group: Ray starts each entrypoint in a session of its
# own, which the script checks (/proc) before signalling the group; where it
# cannot, it signals its copy alone.
STOP_GUARD = (
    'if [ -z "$GML_RAY_INNER" ]; then\n'
    '  if [ "$(cut -d" " -f5 /proc/$$/stat 2>/dev/null)" = "$$" ]; then\n'
    '    trap \'trap - TERM INT; kill -TERM 0\' TERM INT\n'
    '  else\n'
    '    trap \'kill -TERM $copy 2>/dev/null; exit 143\' TERM INT\n'
    '  fi\n'
    '  GML_RAY_INNER=1 bash "$0" &\n'
    '  copy=$!\n'
    '  wait $copy\n'
    '  exit $?\n'
    'fi\n'
    'unset GML_RAY_INNER\n')


def _job_client_class():
    """JobSubmissionClient whose HTTP requests time out (Ray's never do)."""
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError:
        raise ConfigError('scheduler.type: ray needs Ray\'s job client: '
                          'pip install "ray[default]"') from None

    class TimedJobClient(JobSubmissionClient):
        def _do_request(self, method, endpoint, **kwargs):
            kwargs.setdefault('timeout', HTTP_TIMEOUT_SECONDS)
            return super()._do_request(method, endpoint, **kwargs)

    return TimedJobClient


def _first_line(text: Optional[str]) -> str:
    """The first line of a Ray message, without the log tail Ray appends
    (the trial's own log is in its folder)."""
    lines = (text or '').strip().splitlines()
    line = lines[0].strip() if lines else ''
    return re.sub(r',?\s*last available logs.*$', '', line)


@SCHEDULERS.register('ray')
class RayScheduler(Scheduler):
    """One Ray job per trial: ``bash <trial_dir>/run.sh`` as its entrypoint.

    The head and worker nodes must see the trial folders and the
    controller's working directory at the same paths (a shared filesystem,
    as with Slurm): the job runs the ``run.sh`` the controller wrote, and
    the trial's exit status and metrics come back through files.

    Config keys (``scheduler:``): ``parallel_size``; ``address`` (the Ray
    dashboard, default ``$RAY_API_SERVER_ADDRESS``, else ``$RAY_ADDRESS``,
    else ``http://127.0.0.1:8265``); ``num_cpus_per_trial`` (1) and
    ``num_gpus_per_trial`` (0), reserved for each job's entrypoint;
    ``runtime_env`` (a mapping handed to Ray as it is). Jobs get the
    submission id ``gml-<task>-<trial id>-<random>`` and metadata naming
    the task, trial and trial folder, from which :meth:`find` recognizes a
    job launched just before a crash. One ``list_jobs()`` call, at most
    once a second, watches every job; in between, the trials' exit files
    tell which ended.
    """

    def __init__(self, parallel_size: int = 1, generate_log: bool = True,
                 task_name: str = 'task', address: Optional[str] = None,
                 num_cpus_per_trial: float = 1, num_gpus_per_trial: float = 0,
                 runtime_env: Optional[Dict[str, Any]] = None):
        super().__init__(parallel_size, generate_log, task_name)
        self.num_cpus = check_number(num_cpus_per_trial,
                                     'scheduler.num_cpus_per_trial', 0)
        self.num_gpus = check_number(num_gpus_per_trial,
                                     'scheduler.num_gpus_per_trial', 0)
        if runtime_env is not None and not isinstance(runtime_env, dict):
            raise ConfigError('scheduler.runtime_env: expected a mapping, '
                              f'found {runtime_env!r}')
        self.runtime_env = runtime_env or None
        self.address, source = self._resolve_address(address)
        self.client = self._connect(source)
        self.jobs: Set[str] = set()  # launched or adopted, not seen ending
        self.stopping: Set[str] = set()  # stopped, not seen ending
        self.states: Dict[str, Any] = {}  # submission id -> JobDetails
        self.listed_at = float('-inf')
        self.listing = 0  # how many listings so far
        self.unreachable_since: Optional[float] = None
        self.missing: Dict[str, int] = {}  # job id -> listing it went missing
        self.prefix = 'gml-' + re.sub(r'[^A-Za-z0-9_.-]', '_', task_name)

    # -- connecting ------------------------------------------------------------
    @staticmethod
    def _resolve_address(address: Optional[str]):
        if address is not None:
            if not isinstance(address, str) or not address.strip():
                raise ConfigError('scheduler.address: expected the Ray '
                                  'dashboard address (http://HOST:8265), '
                                  f'found {address!r}')
            return address.strip().rstrip('/'), 'from scheduler.address'
        for var in ('RAY_API_SERVER_ADDRESS', 'RAY_ADDRESS'):
            if os.environ.get(var):
                return os.environ[var].strip().rstrip('/'), f'from ${var}'
        return DEFAULT_ADDRESS, ('the default: neither scheduler.address '
                                 'nor $RAY_ADDRESS is set')

    def _connect(self, source: str):
        client_class = _job_client_class()
        # Ray lets these variables override the address it is given; the
        # config's address wins here, so hide them while connecting.
        hidden = {var: os.environ.pop(var) for var in
                  ('RAY_API_SERVER_ADDRESS', 'RAY_ADDRESS')
                  if var in os.environ}
        try:
            return client_class(self.address)
        except Exception as exc:  # noqa: BLE001 (Ray raises many kinds)
            reason = _first_line(str(exc)).rstrip('.') or type(exc).__name__
            if reason.startswith('Failed to connect to Ray at address'):
                reason = 'could not connect'
            raise ConfigError(
                f'scheduler.address: no Ray job server answers at '
                f'{self.address} ({source}): {reason}; give the dashboard '
                'address of a running Ray cluster, the one `ray job submit` '
                'uses (http://HEAD:8265)') from None
        finally:
            os.environ.update(hidden)

    # -- the job list ----------------------------------------------------------
    def _refresh(self, force: bool = False) -> bool:
        """List the cluster's jobs if the last listing is a second old (or
        ``force``); False if the job server did not answer."""
        now = time.monotonic()
        if not force and now - self.listed_at < LIST_EVERY_SECONDS:
            return True
        self.listed_at = now
        try:
            jobs = self.client.list_jobs()
        except Exception as exc:  # noqa: BLE001
            if self.unreachable_since is None:
                self.unreachable_since = now
            elif now - self.unreachable_since > UNREACHABLE_SECONDS:
                raise RuntimeError(
                    f'the Ray job server at {self.address} has not answered '
                    f'for {UNREACHABLE_SECONDS:g} s: {_first_line(str(exc))}'
                ) from None
            return False
        self.unreachable_since = None
        self.listing += 1
        self.states = {j.submission_id: j for j in jobs if j.submission_id}
        return True

    def _state(self, job_id: str) -> Optional[str]:
        """PENDING, RUNNING, STOPPED, SUCCEEDED or FAILED, as last listed;
        None for a job the listing did not have."""
        details = self.states.get(job_id)
        if details is None:
            return None
        return str(getattr(details.status, 'value', details.status))

    # -- the Scheduler API -----------------------------------------------------
    def launch(self, trial_id, command, trial_dir, env, time_limit):
        trial_dir = os.path.abspath(trial_dir)
        header = STOP_GUARD + ((
            f'exec >>{shlex.quote(os.path.join(trial_dir, LOG_FILE))} 2>&1\n')
            if self.generate_log else '')
        script = write_script(trial_dir, command, os.getcwd(), env, header)
        job_id = f'{self.prefix}-{trial_id}-{secrets.token_hex(4)}'
        try:
            self.client.submit_job(
                entrypoint=f'exec bash {shlex.quote(script)}',
                submission_id=job_id,
                metadata={'gml_task': self.task_name,
                          'gml_trial': str(trial_id),
                          'gml_trial_dir': trial_dir},
                runtime_env=self.runtime_env,
                entrypoint_num_cpus=self.num_cpus or None,
                entrypoint_num_gpus=self.num_gpus or None)
        except Exception as exc:  # noqa: BLE001
            raise RuntimeError(f'ray job submission to {self.address} '
                               f'failed: {_first_line(str(exc))}') from None
        self.jobs.add(job_id)
        return job_id

    def poll(self, job_ids, trial_dirs):
        statuses = {}
        pending = []
        for job_id in job_ids:
            code = read_exit_code(trial_dirs[job_id])
            if code is not None:
                statuses[job_id] = JobStatus(False, code)
                self._forget(job_id)
            else:
                pending.append(job_id)
        if not pending or not self._refresh():
            statuses.update((j, JobStatus(True)) for j in pending)
            return statuses
        for job_id in pending:
            status = self._status(job_id, trial_dirs[job_id])
            statuses[job_id] = status
            if not status.running:
                self._forget(job_id)
        return statuses

    def _status(self, job_id: str, trial_dir: str) -> JobStatus:
        """The status of a job with no exit file, from the last listing."""
        state = self._state(job_id)
        if state in ACTIVE:
            self.missing.pop(job_id, None)
            return JobStatus(True)
        first = self.missing.setdefault(job_id, self.listing)
        if self.listing - first < MISSING_LISTINGS:
            return JobStatus(True)  # the exit file may be on its way
        code = read_exit_code(trial_dir)
        if code is not None:
            return JobStatus(False, code)
        if state is None:
            return JobStatus(False, None, f'ray job {job_id} is no longer '
                             f'known to the Ray cluster at {self.address} '
                             '(did the head node restart?)', lost=True)
        details = self.states[job_id]
        error = getattr(details, 'error_type', None)  # not in old Rays
        error = str(getattr(error, 'value', error)) if error else ''
        said = _first_line(details.message)
        message = f'ray job {job_id} ended as {state}' + \
            (f' ({error}: {said})' if error and said else
             f' ({said or error})' if said or error else '') + \
            ' without recording an exit status'
        lost = state == 'FAILED' and (
            error in LOST_ERRORS or
            (not error and bool(LOST_WORDS.search(said))))
        if state == 'SUCCEEDED' or error == 'JOB_ENTRYPOINT_COMMAND_ERROR':
            message += (f'; do the Ray nodes see {trial_dir}? (trial folders '
                        'must be on a filesystem the cluster shares)')
        return JobStatus(False, None, message, lost=lost)

    def _forget(self, job_id: str) -> None:
        self.jobs.discard(job_id)
        self.missing.pop(job_id, None)

    def kill(self, job_id):
        self._forget(job_id)
        self.stopping.add(job_id)
        try:
            self.client.stop_job(job_id)
        except Exception:  # noqa: BLE001 (ended, unknown or unreachable)
            pass

    def housekeeping(self):
        if self.stopping and self._refresh():
            self.stopping = {j for j in self.stopping
                             if self._state(j) in ACTIVE}

    def _listing_or_error(self, job: str) -> None:
        """Refresh the job list; after a restart a job that may still run
        must not be run again, so an unanswered listing is an error."""
        if not self._refresh():
            raise RuntimeError(f'the Ray job server at {self.address} does '
                               f'not answer; cannot tell whether {job} '
                               'still runs (resume again later)')

    def find(self, trial_id, trial_dir):
        """The newest job submitted for ``trial_dir`` (by submission id
        prefix and ``gml_trial_dir`` metadata) if it still runs, or if it
        ended and recorded its exit status (the controller then finalizes
        the trial). A job of an earlier attempt, which ended without one,
        is not returned."""
        self._listing_or_error(f'a job of trial {trial_id}')
        trial_dir = os.path.abspath(trial_dir)
        start = f'{self.prefix}-{trial_id}-'
        mine = [j for j in self.states.values()
                if j.submission_id.startswith(start) and
                (j.metadata or {}).get('gml_trial_dir') == trial_dir]
        if not mine:
            return None
        newest = max(mine, key=lambda j: j.start_time or 0).submission_id
        if self._state(newest) in ACTIVE or \
                read_exit_code(trial_dir) is not None:
            return newest
        return None

    def attach(self, job_id, trial_dir):
        if read_exit_code(trial_dir) is not None:
            return False
        self._listing_or_error(f'job {job_id}')
        if self._state(job_id) not in ACTIVE:
            return False
        self.jobs.add(job_id)
        return True

    def shutdown(self):
        """Stop every job launched or adopted that has not been seen ending,
        and wait (up to 10 s) until Ray reports the stopped jobs ended."""
        for job_id in sorted(self.jobs):
            self.kill(job_id)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while self.stopping and time.monotonic() < deadline:
            time.sleep(0.2)
            if not self._refresh(force=True):
                break
            self.stopping = {j for j in self.stopping
                             if self._state(j) in ACTIVE}
