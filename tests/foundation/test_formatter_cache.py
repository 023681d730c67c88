"""Many gml commands starting at once in a new environment: yapf's grammar
cache (written on its first import, read by mmengine's config) is imported
under a lock, so no process reads it half-written."""
import fcntl
import glob
import subprocess
import sys
import time

from gml.utils.formatter_cache import lock_path

from ..conftest import REPO

IMPORT = ('from gml.utils.formatter_cache import import_yapf_locked\n'
          'import_yapf_locked()\n'
          'import mmengine.config\n'
          'print("imported")\n')


def _start(cache_home):
    return subprocess.Popen([sys.executable, '-c', IMPORT], cwd=REPO,
                            env={'PATH': '/usr/bin:/bin',
                                 'XDG_CACHE_HOME': str(cache_home),
                                 'HOME': str(cache_home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _grammar_caches(cache_home):
    return glob.glob(str(cache_home / 'YAPF' / '*' / '*Grammar*.pickle'))


def test_the_first_import_waits_for_the_lock(tmp_path):
    with open(lock_path(), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            process = _start(tmp_path)
            time.sleep(2.0)
            # still waiting: it has not written the cache behind our back
            assert process.poll() is None
            assert _grammar_caches(tmp_path) == []
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert out.strip() == 'imported'
    # yapf wrote its two grammar tables into the fresh cache folder
    assert len(_grammar_caches(tmp_path)) == 2


def test_six_processes_starting_together_all_finish(tmp_path):
    # the lock serialises the first import without deadlock or error
    processes = [_start(tmp_path) for _ in range(6)]
    results = [p.communicate(timeout=300) for p in processes]
    for process, (out, err) in zip(processes, results):
        assert process.returncode == 0, err[-2000:]
        assert out.strip() == 'imported'
