"""Importing yapf safely when several processes start at once.

mmengine imports yapf, and yapf's first import in a new environment writes
its grammar tables to a cache under the user's cache folder. It renames the
file into place before flushing it, so a second process starting at the
same moment (two trials of a search, two ranks of a distributed run) can
read an empty file and die with ``EOFError: Ran out of input``. Importing
yapf once under a file lock, before mmengine is imported, makes the others
wait until the cache is whole.
"""
import os
import sys
import tempfile


def lock_path() -> str:
    """The lock file (one per user, in the temporary folder)."""
    uid = os.getuid() if hasattr(os, 'getuid') else 0
    return os.path.join(tempfile.gettempdir(), f'gml-yapf-{uid}.lock')


def import_yapf_locked() -> None:
    """Import yapf while holding :func:`lock_path` (no-op once imported,
    without yapf, or where file locks are not available)."""
    if 'yapf' in sys.modules:
        return
    try:
        import fcntl
    except ImportError:
        return
    with open(lock_path(), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            import yapf  # noqa: F401  (loads, or writes, the grammar cache)
        except ImportError:
            pass
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
