"""Helpers shared by every test package."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tool(args, cwd=REPO, timeout=600, env=None):
    """Run a repository script as a user would; return the CompletedProcess."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', **(env or {}))
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture
def repo():
    return REPO


@pytest.fixture
def python():
    return sys.executable
