"""Where a task lives on disk: ``<root>/<name>/``.

    task.db          the SQLite store (written by the controller only)
    config.yaml      a copy of the search config the task was started with
    source           the path of that config
    controller.lock  held (flock) by the running controller
    controller.log   the controller's own output
    STOP             created by ``search-ctl stop``; the controller obeys it
    trials/<id>/     run.sh, log.txt, metrics.jsonl, exit_code, job_id, work/
"""
import fcntl
import os
import time
from typing import Any, Dict, List, Optional

from ..errors import GMLError
from .store import TaskState

DEFAULT_ROOT = os.environ.get('GML_SEARCH_ROOT', 'search_tasks')

#: a controller whose heartbeat (every 2 s) is younger than this is taken
#: as alive where its lock cannot be seen (another host, or a reader that
#: must not touch the lock)
ALIVE_SECONDS = 30.0


def heartbeat_fresh(meta: Dict[str, Any]) -> bool:
    """True if the store's meta shows a running task whose controller's
    heartbeat is younger than :data:`ALIVE_SECONDS`."""
    return meta.get('state') == TaskState.RUNNING and \
        time.time() - float(meta.get('heartbeat') or 0) < ALIVE_SECONDS


class TaskDir:
    """Paths of one task, and the lock that keeps it to one controller."""

    def __init__(self, name: str, root: Optional[str] = None):
        self.name = name
        self.root = root or DEFAULT_ROOT
        self.path = os.path.join(self.root, name)
        self._lock_file = None

    @property
    def db(self) -> str:
        return os.path.join(self.path, 'task.db')

    @property
    def config_copy(self) -> str:
        return os.path.join(self.path, 'config.yaml')

    @property
    def source_file(self) -> str:
        """Holds the path of the config the task was started from."""
        return os.path.join(self.path, 'source')

    @property
    def stop_file(self) -> str:
        return os.path.join(self.path, 'STOP')

    def request_stop(self) -> None:
        """Ask the running controller to stop the task (it polls for the
        STOP file)."""
        open(self.stop_file, 'w').close()

    def trial_dir(self, trial_id: int) -> str:
        return os.path.join(self.path, 'trials', str(trial_id))

    def exists(self) -> bool:
        return os.path.isfile(self.db)

    def lock(self) -> None:
        """Take the controller lock, or fail if another controller has it."""
        os.makedirs(self.path, exist_ok=True)
        handle = open(os.path.join(self.path, 'controller.lock'), 'a+')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or 'unknown'
            handle.close()
            raise GMLError(f'task {self.name!r} is being run by another '
                           f'controller (pid {owner}); stop it first with '
                           f'`search-ctl stop -t {self.name}`') from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def is_locked(self) -> bool:
        """True while a controller runs this task."""
        path = os.path.join(self.path, 'controller.lock')
        if not os.path.exists(path):
            return False
        with open(path, 'a+') as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

    def lock_owner(self) -> Optional[int]:
        """The pid the lock holder wrote (None if none is written)."""
        try:
            with open(os.path.join(self.path, 'controller.lock')) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def list_tasks(root: Optional[str] = None) -> List[str]:
    """Names of the tasks under ``root``."""
    root = root or DEFAULT_ROOT
    if not os.path.isdir(root):
        return []
    return sorted(n for n in os.listdir(root)
                  if os.path.isfile(os.path.join(root, n, 'task.db')))
