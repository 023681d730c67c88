"""The search loop: ask the searcher, launch trials, watch them, record.

One controller runs a task at a time (a file lock); it is the only writer of
the task store. Killed at any moment (even ``kill -9``), it can be restarted
with ``search-run --resume NAME``: ended trials are replayed to the searcher
and assessor, trials that were running are re-attached if their process or
job is still alive, finalized if they ended meanwhile, and otherwise
re-queued with the same parameters. No trial runs twice at once, and
``max_tries`` counts trials across restarts.
"""
import os
import shutil
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, TextIO, Tuple

from .config import SearchConfig
from .metrics import MetricCollector, reduce_reward
from .registry import ASSESSORS, SCHEDULERS, SEARCHERS
from .schedulers.base import (EXIT_FILE, STARTS_FILE, JobStatus,
                              LaunchRequest, log_tail, read_exit_code)
from .store import TaskState, TaskStore, Trial, TrialState
from .task import TaskDir

HEARTBEAT_SECONDS = 2.0
STATUS_EVERY_SECONDS = 30.0  # a status line at least this often
STATUS_MIN_GAP_SECONDS = 5.0  # unforced lines at most this often


def build_components(cfg: SearchConfig, name: str) -> Tuple[Any, Any, Any]:
    """Build the searcher, assessor (or None) and scheduler of a config.

    Every config mistake surfaces here, before anything is launched.
    """
    from . import assessors, schedulers, searchers  # noqa: F401 (register)
    # a searcher that takes a `budget` (the evolution) learns max_tries
    searcher = SEARCHERS.build(
        searchers.base.with_budget(cfg.searcher_cfg, cfg.stop.max_tries),
        'searcher', space=cfg.space)
    assessor = ASSESSORS.build(cfg.assessor_cfg, 'scheduler.assessor') \
        if cfg.assessor_cfg else None
    scheduler = SCHEDULERS.build(cfg.scheduler_cfg, 'scheduler',
                                 parallel_size=cfg.parallel_size,
                                 generate_log=cfg.generate_log,
                                 task_name=name)
    return searcher, assessor, scheduler


def format_seconds(seconds: float) -> str:
    """``75`` -> ``'1m15s'``, ``3700`` -> ``'1h01m'``."""
    seconds = int(seconds)
    if seconds < 60:
        return f'{seconds}s'
    if seconds < 3600:
        return f'{seconds // 60}m{seconds % 60:02d}s'
    return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'


@dataclass
class SearchStatus:
    """Where a task stands, as the controller reports it to a view.

    ``running`` and ``recent`` (the last trials that ended) are filled only
    for views that show trials (``detailed = True``); each entry is
    ``(trial, latest reward or None)``.
    """
    task: str
    reward_name: str
    counts: Dict[str, int]
    best: Optional[Tuple[int, float]]
    tries_left: Optional[int]
    time_left: Optional[float]
    elapsed: float
    running: List[Tuple[Trial, Optional[float]]] = field(default_factory=list)
    recent: List[Tuple[Trial, Optional[float]]] = field(default_factory=list)

    def parts(self) -> List[str]:
        counts = self.counts
        state = TrialState
        parts = [f'running {counts.get(state.RUNNING, 0)}',
                 f'waiting {counts.get(state.WAITING, 0)}',
                 f'done {counts.get(state.COMPLETED, 0)}',
                 f'failed {counts.get(state.FAILED, 0)}',
                 f'early-stopped {counts.get(state.EARLY_STOPPED, 0)}']
        if counts.get(state.PAUSED):
            parts.append(f'paused {counts[state.PAUSED]}')
        if counts.get(state.STOPPED):
            parts.append(f'stopped {counts[state.STOPPED]}')
        parts.append(f'best {self.best[1]:.4g} (trial {self.best[0]})'
                     if self.best else 'best -')
        if self.tries_left is not None:
            parts.append(f'tries left {self.tries_left}')
        if self.time_left is not None:
            parts.append(f'time left {int(self.time_left)} s')
        return parts

    def line(self) -> str:
        """``[task] running 2 | waiting 0 | ... | elapsed 1m05s``."""
        return (f'[{self.task}] ' + ' | '.join(self.parts())
                + f' | elapsed {format_seconds(self.elapsed)}')


class StatusLines:
    """A view that prints the status as plain lines: when it changes
    (at once for ``force``, else at most every ``min_gap`` seconds) and,
    unchanged, every ``every`` seconds, so a log shows the task is alive."""

    detailed = False

    def __init__(self, out: TextIO, every: float = STATUS_EVERY_SECONDS,
                 min_gap: float = STATUS_MIN_GAP_SECONDS):
        self.out, self.every, self.min_gap = out, every, min_gap
        # how often the controller offers a status (besides every change)
        self.interval = min(every, HEARTBEAT_SECONDS)
        self._last_parts: Optional[List[str]] = None
        self._last_print = float('-inf')

    def status(self, status: SearchStatus, force: bool = False) -> None:
        parts = status.parts()
        since = time.monotonic() - self._last_print
        changed = parts != self._last_parts
        if (changed and (force or since >= self.min_gap)) or \
                since >= self.every:
            print(status.line(), file=self.out, flush=True)
            self._last_parts, self._last_print = parts, time.monotonic()


@dataclass
class Running:
    """A trial the controller is watching."""
    trial: Trial
    job_id: str
    trial_dir: str
    collector: MetricCollector
    started: float
    steps_seen: int = 0
    requeued: int = 0  # in-place re-runs by the cluster seen so far


class Controller:
    """Runs one task to its end (or until stopped).

    Args:
        task: the task's directory.
        cfg: the checked search config.
        components: ``build_components(cfg, task.name)``.
        out: where status lines go (when no ``view`` is given).
        poll_interval: seconds between polls of running trials.
        view: what shows the task's status: an object with
            ``status(SearchStatus, force)``, called on every change and
            every ``interval`` seconds, and ``detailed`` (whether it shows
            the running and recent trials); default ``StatusLines(out)``.
    """

    def __init__(self, task: TaskDir, cfg: SearchConfig, components,
                 out: TextIO = sys.stdout, poll_interval: float = 0.05,
                 view=None):
        self.task, self.cfg = task, cfg
        self.searcher, self.assessor, self.scheduler = components
        self.out = out
        self.view = view if view is not None else StatusLines(out)
        self.poll_interval = poll_interval
        self.store: Optional[TaskStore] = None
        self.running: Dict[int, Running] = {}
        self.waiting: Deque[int] = deque()
        self.exhausted = False
        self.stop_reason: Optional[str] = None
        self.elapsed_before = 0.0
        self.session_start = time.monotonic()
        self._last_beat = 0.0
        self._last_status = 0.0
        self._best: Optional[Tuple[int, float]] = None  # kept by _tell

    # -- the whole run -------------------------------------------------------
    def run(self, resume: bool = False) -> str:
        """Run the task; return its final state (DONE or STOPPED).

        However the run ends (normally, by an error, by Ctrl-C), the
        scheduler is shut down: trials still running are stopped, and a
        later ``search-run --resume`` re-queues them. Only a controller
        killed outright leaves its trials running (resume adopts them).
        """
        self.task.lock()
        try:
            self.store = TaskStore(self.task.db)
            if resume:
                self._replay()
            else:
                self.store.set_meta(name=self.task.name, config=self.cfg.raw,
                                    created=time.time(), elapsed=0.0)
            self.store.set_meta(state=TaskState.RUNNING,
                                controller_pid=os.getpid(),
                                controller_host=socket.gethostname(),
                                heartbeat=time.time())
            if os.path.exists(self.task.stop_file):
                os.remove(self.task.stop_file)
            self._loop()
            state = TaskState.STOPPED if self.stop_reason \
                else TaskState.DONE
            self.store.set_meta(state=state, stop_reason=self.stop_reason,
                                elapsed=self.elapsed(), heartbeat=time.time())
            return state
        finally:
            try:
                if self.running:  # an error or Ctrl-C interrupted the loop
                    print(f'[{self.task.name}] stopping {len(self.running)} '
                          'running trial(s); `search-run --resume '
                          f'{self.task.name}` runs them again',
                          file=self.out, flush=True)
                self.scheduler.shutdown()
            finally:
                if self.store is not None:
                    self.store.close()
                self.task.unlock()

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.session_start

    # -- resume ----------------------------------------------------------------
    def _replay(self) -> None:
        meta = self.store.meta()
        self.elapsed_before = float(meta.get('elapsed', 0.0))
        for trial in self.store.trials():
            if trial.state.ended:
                self._tell(trial, trial.state, trial.reward)
                continue
            trial_dir = self.task.trial_dir(trial.id)
            job_id = trial.job_id or self.scheduler.find(trial.id, trial_dir)
            if job_id and not trial.job_id:
                self._record_found_launch(trial, job_id, trial_dir)
            if job_id and read_exit_code(trial_dir) is not None:
                self._pending(trial)
                self._watch(trial, job_id, trial.started or time.time())
                continue  # ended while no controller ran: finalized by poll
            if job_id and self.scheduler.attach(job_id, trial_dir):
                self._pending(trial)
                self.store.update_trial(trial.id, state=TrialState.RUNNING,
                                        job_id=job_id,
                                        message='re-attached after restart')
                self._watch(trial, job_id, trial.started or time.time())
                continue
            self._pending(trial)
            self.store.update_trial(trial.id, state=TrialState.WAITING,
                                    job_id=None,
                                    message='re-queued after restart')
            self.waiting.append(trial.id)

    def _pending(self, trial: Trial) -> None:
        """Replay a trial that still runs or waits: pending for the
        searcher; or, for a trial promoted after a pause, what the searcher
        and the assessor learned when it was paused and promoted."""
        if trial.paused_reward is None:
            self.searcher.mark_pending(trial.params)
            return
        history = self._reward_history(trial.id)
        self.searcher.observe(trial.params, trial.paused_reward)
        if history:  # the steps so far (at least those up to the pause)
            self.searcher.observe_steps(trial.params, history, False,
                                        trial.paused_reward)
        if self.assessor is not None:
            self.assessor.trial_end(trial.id, history, completed=False,
                                    paused=True)
            self.assessor.promote(trial.id)

    def _record_found_launch(self, trial: Trial, job_id: str,
                             trial_dir: str) -> None:
        """A launch the controller died before recording (the scheduler
        found its job): record it as :meth:`_launch` would have, started
        when its script was written."""
        from .schedulers.base import SCRIPT_FILE
        try:
            trial.started = os.path.getmtime(os.path.join(trial_dir,
                                                          SCRIPT_FILE))
        except OSError:
            trial.started = time.time()
        trial.attempts += 1
        self.store.update_trial(trial.id, state=TrialState.RUNNING,
                                job_id=job_id, started=trial.started,
                                attempts=trial.attempts)

    # -- the loop --------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            self._poll()
            self.scheduler.housekeeping()
            self._check_stop_criteria()
            if self.stop_reason:
                self._stop_everything()
                return
            self._launch_free_slots()
            self._heartbeat()
            if time.monotonic() - self._last_status >= \
                    getattr(self.view, 'interval', HEARTBEAT_SECONDS):
                self._print_status()
            if not self.running and not self.waiting and \
                    (self.exhausted or self._tries_left() == 0):
                self._print_status(force=True)
                return
            self.scheduler.wait(self.poll_interval)

    def _tries_left(self) -> Optional[int]:
        limit = self.cfg.stop.max_tries
        if limit is None:
            return None
        return max(0, limit - self.store.count_trials())

    def _check_stop_criteria(self) -> None:
        stop = self.cfg.stop
        if os.path.exists(self.task.stop_file):
            self.stop_reason = 'stopped by search-ctl stop'
        elif stop.time_limits is not None and self.elapsed() >= stop.time_limits:
            self.stop_reason = f'time_limits ({stop.time_limits:g} s) reached'
        elif stop.max_reward is not None:
            best = self.best()
            if best is not None and \
                    self.cfg.optimize_mode.reached(best[1], stop.max_reward):
                self.stop_reason = (f'max_reward {stop.max_reward:g} reached '
                                    f'by trial {best[0]}')

    def _stop_everything(self) -> None:
        for trial_id in list(self.running):
            self._end(trial_id, TrialState.STOPPED, self.stop_reason,
                      kill=True)
        while self.waiting:
            self.store.update_trial(self.waiting.popleft(),
                                    state=TrialState.STOPPED,
                                    message=self.stop_reason)
        self._print_status(force=True)

    def _launch_free_slots(self) -> None:
        batch: List[Trial] = []
        while len(self.running) + len(batch) < self.scheduler.capacity() \
                and self.scheduler.can_launch():
            trial = self._next_trial()
            if trial is None:
                break
            batch.append(trial)
            if not self.scheduler.batches:
                self._launch(batch)
                batch = []
        if batch:
            self._launch(batch)

    def _next_trial(self) -> Optional[Trial]:
        """A re-queued trial, else a paused trial the assessor promotes,
        else a new one from the searcher (None when the searcher or
        ``max_tries`` is exhausted)."""
        if self.waiting:
            return self.store.trial(self.waiting.popleft())
        promoted = self.assessor.promotion() if self.assessor else None
        if promoted is not None:  # a paused trial goes on, before new ones
            return self.store.trial(promoted)
        if self.exhausted or self._tries_left() == 0:
            return None
        params = self.searcher.suggest()
        if params is None:
            self.exhausted = True
            return None
        return self.store.trial(self.store.add_trial(params))

    def _request(self, trial: Trial) -> LaunchRequest:
        """Prepare the trial's folder and command line."""
        from .template import render
        from .report import METRICS_ENV
        trial_dir = self.task.trial_dir(trial.id)
        work_dir = os.path.join(trial_dir, 'work')
        if trial.paused_reward is not None:  # promoted: go on from there
            for name in (EXIT_FILE, STARTS_FILE):
                if os.path.exists(os.path.join(trial_dir, name)):
                    os.remove(os.path.join(trial_dir, name))
        elif trial.attempts:  # a re-queued trial starts afresh
            shutil.rmtree(trial_dir, ignore_errors=True)
            self.store.db.execute('DELETE FROM metrics WHERE trial_id = ?',
                                  (trial.id, ))
        os.makedirs(trial_dir, exist_ok=True)
        command = render(self.cfg.template, trial.params, work_dir, trial.id)
        env = {METRICS_ENV: os.path.abspath(
                   os.path.join(trial_dir, 'metrics.jsonl')),
               'GML_SEARCH_TASK': self.task.name,
               'GML_SEARCH_TRIAL_ID': str(trial.id)}
        return LaunchRequest(trial.id, command, trial_dir, env,
                             self.cfg.stop.time_limits_per_job)

    def _launch(self, trials: List[Trial]) -> None:
        """Start ``trials`` (one request where the scheduler batches)."""
        requests = [self._request(trial) for trial in trials]
        started = time.time()
        results = self.scheduler.launch_many(requests)
        for trial, result in zip(trials, results):
            if isinstance(result, Exception):
                self.store.update_trial(trial.id, state=TrialState.FAILED,
                                        started=started, ended=time.time(),
                                        attempts=trial.attempts + 1,
                                        message=f'could not launch: {result}')
                self._tell(trial, TrialState.FAILED, None)
                continue
            self.store.update_trial(trial.id, state=TrialState.RUNNING,
                                    started=started, job_id=result,
                                    attempts=trial.attempts + 1,
                                    message=None)
            trial.attempts += 1
            self._watch(trial, result, started)

    def _watch(self, trial: Trial, job_id: str, started: float) -> None:
        trial_dir = self.task.trial_dir(trial.id)
        collector = MetricCollector(trial_dir, os.path.join(trial_dir, 'work'),
                                    self.cfg.scalars)
        self.running[trial.id] = Running(trial, job_id, trial_dir, collector,
                                         started)

    # -- watching --------------------------------------------------------------
    def _poll(self) -> None:
        if not self.running:
            return
        jobs = {r.job_id: r for r in self.running.values()}
        statuses = self.scheduler.poll(list(jobs),
                                       {j: r.trial_dir for j, r in jobs.items()})
        limit = self.cfg.stop.time_limits_per_job
        for job_id, status in statuses.items():
            run = jobs[job_id]
            if status.requeued > run.requeued:
                self._restarted(run, status.requeued)
            self._record_metrics(run, force_scan=not status.running)
            if status.lost:
                self._lost(run, status.message)
            elif not status.running:
                self._finish(run, status)
            elif limit is not None and time.time() - run.started > limit:
                tail = log_tail(run.trial_dir)
                self._end(run.trial.id, TrialState.FAILED,
                          f'exceeded time_limits_per_job ({limit:g} s)'
                          + (f'\n{tail}' if tail else ''), kill=True)
            elif self.assessor is not None:
                self._assess(run)

    def _restarted(self, run: Running, requeued: int) -> None:
        """The cluster started the trial's job again in place: count the
        attempt and forget the metrics of the run it cut short."""
        run.trial.attempts += requeued - run.requeued
        run.requeued = requeued
        run.steps_seen = 0
        self.store.db.execute('DELETE FROM metrics WHERE trial_id = ?',
                              (run.trial.id, ))
        run.collector = MetricCollector(run.trial_dir,
                                        os.path.join(run.trial_dir, 'work'),
                                        self.cfg.scalars)
        self.store.update_trial(run.trial.id, attempts=run.trial.attempts,
                                message=f're-queued by the cluster '
                                f'({requeued} time(s))')

    def _lost(self, run: Running, reason: str) -> None:
        """The cluster ended the trial's job (preemption, node failure):
        run the trial again, up to ``scheduler.max_requeues`` times."""
        requeues = run.trial.attempts - 1
        if requeues >= self.cfg.max_requeues:
            self._finish(run, JobStatus(False, None, f'{reason}; not re-queued'
                                        f' again after {requeues} re-queue(s)'
                                        ' (scheduler.max_requeues)'))
            return
        self.running.pop(run.trial.id)
        self.store.update_trial(run.trial.id, state=TrialState.WAITING,
                                job_id=None, message=f'{reason}; re-queued')
        self.waiting.appendleft(run.trial.id)
        print(f'[{self.task.name}] trial {run.trial.id}: {reason}; '
              're-queued with the same parameters', file=self.out, flush=True)

    def _record_metrics(self, run: Running, force_scan: bool) -> None:
        records = run.collector.collect(force_scan=force_scan)
        if records:
            self.store.add_metrics(run.trial.id, records)

    def _reward_history(self, trial_id: int) -> List[float]:
        series = self.store.metric_series(trial_id, self.cfg.reward_attribute)
        return [v for _, v in series]

    def _assess(self, run: Running) -> None:
        history = self._reward_history(run.trial.id)
        if len(history) <= run.steps_seen:
            return
        run.steps_seen = len(history)
        if self.assessor.assess(run.trial.id, history):
            return
        name = type(self.assessor).__name__
        rung = self.assessor.pause_rung(run.trial.id)
        if rung is None:
            self._end(run.trial.id, TrialState.EARLY_STOPPED,
                      f'stopped by {name} after {len(history)} steps',
                      kill=True)
        else:
            self._end(run.trial.id, TrialState.PAUSED,
                      f'paused by {name} at rung {rung} (after '
                      f'{len(history)} steps); promoted if it ranks among '
                      'the best there', kill=True)

    def _finish(self, run: Running, status: JobStatus) -> None:
        series = self.store.metric_series(run.trial.id,
                                          self.cfg.reward_attribute)
        reward = reduce_reward(series, self.cfg.optimize_mode,
                               self.cfg.reward_reduce)
        if status.exit_code == 0 and reward is not None:
            self._end(run.trial.id, TrialState.COMPLETED,
                      status.message or None)
            return
        if status.exit_code == 0:
            reason = (f'finished without reporting '
                      f'{self.cfg.reward_attribute!r} (looked in '
                      'metrics.jsonl and vis_data/scalars.json)')
        elif status.exit_code is None:
            reason = status.message or 'ended without an exit status'
        else:
            reason = f'exit code {status.exit_code}'
            if status.message:
                reason += f' ({status.message})'
        tail = log_tail(run.trial_dir)
        self._end(run.trial.id, TrialState.FAILED,
                  reason + (f'\n{tail}' if tail else ''))

    def _end(self, trial_id: int, state: str, message: Optional[str],
             kill: bool = False) -> None:
        run = self.running.pop(trial_id)
        if kill:
            self.scheduler.kill(run.job_id)
            self._record_metrics(run, force_scan=True)
        series = self.store.metric_series(trial_id, self.cfg.reward_attribute)
        reduce = 'final' if state in (TrialState.EARLY_STOPPED,
                                      TrialState.PAUSED) \
            else self.cfg.reward_reduce
        reward = None if state == TrialState.FAILED else reduce_reward(
            series, self.cfg.optimize_mode, reduce)
        first_end = run.trial.paused_reward is None
        extra = {'paused_reward': reward} if first_end and \
            state == TrialState.PAUSED else {}
        self.store.update_trial(trial_id, state=state, reward=reward,
                                ended=time.time(), message=message, **extra)
        self._tell(run.trial, state, reward, searcher=first_end)
        run.trial.paused_reward = extra.get('paused_reward',
                                            run.trial.paused_reward)
        self._print_status(force=True)

    def _tell(self, trial: Trial, state: str, reward: Optional[float],
              searcher: bool = True) -> None:
        """Tell the searcher and assessor how a trial ended (or paused).

        The searcher learns each trial once, when it first ends or is
        paused (the reward it had then); what a promoted trial reaches
        later goes to the store and the assessor (``searcher`` False).
        """
        usable = state in (TrialState.COMPLETED, TrialState.EARLY_STOPPED,
                           TrialState.PAUSED) and reward is not None
        history = self._reward_history(trial.id)
        completed = state == TrialState.COMPLETED
        if searcher:
            told = trial.paused_reward if trial.paused_reward is not None \
                else (reward if usable else None)
            self.searcher.observe(trial.params, told)
        if usable and history:
            self.searcher.observe_steps(trial.params, history, completed,
                                        reward)
        if completed and reward is not None:
            rows = sorted([(trial.id, reward)] +
                          ([self._best] if self._best else []))
            self._best = self.cfg.optimize_mode.best(rows, key=lambda r: r[1])
        if self.assessor is not None:
            self.assessor.trial_end(trial.id, history, completed=completed,
                                    paused=state == TrialState.PAUSED)

    # -- reporting -------------------------------------------------------------
    def best(self) -> Optional[Tuple[int, float]]:
        """(trial id, reward) of the best completed trial (the first of
        equals), kept as trials end: no store query."""
        return self._best

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = now
            self.store.set_meta(heartbeat=time.time(), elapsed=self.elapsed())

    def status(self, detailed: bool = False) -> SearchStatus:
        """The task's status now; ``detailed`` adds the running trials and
        the last ended ones with their latest reward. Its cost does not grow
        with the number of trials (it runs each time a trial ends)."""
        time_left = None
        if self.cfg.stop.time_limits is not None:
            time_left = max(0.0, self.cfg.stop.time_limits - self.elapsed())
        status = SearchStatus(self.task.name, self.cfg.reward_attribute,
                              self.store.state_counts(), self.best(),
                              self._tries_left(),
                              time_left, self.elapsed())
        if detailed:
            for trial in self.store.trials([TrialState.RUNNING]):
                history = self._reward_history(trial.id)
                status.running.append(
                    (trial, history[-1] if history else None))
            status.recent = [(t, t.reward)
                             for t in self.store.recent_trials(5)]
        return status

    def _print_status(self, force: bool = False) -> None:
        self._last_status = time.monotonic()
        self.view.status(self.status(getattr(self.view, 'detailed', False)),
                         force)
