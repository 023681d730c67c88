"""The tools' --help texts and the docs: examples print as written, and
every config (and tool, benchmark) path they name exists."""
import glob
import os
import re
import subprocess
import sys

import pytest

from ..conftest import REPO

TOOLS = sorted(os.path.relpath(p, REPO) for p in
               glob.glob(os.path.join(REPO, 'tools', '*.py')))
SEARCH_COMMANDS = ['bin/search-run', 'bin/search-ctl', 'bin/search-init']
DOCS = sorted(os.path.relpath(p, REPO) for p in
              glob.glob(os.path.join(REPO, 'docs', '*.md'))) + \
    ['configs/kd/teachers/README.md']
# a path in the repository: configs/..., tools/..., benchmarks/...; it may
# be a glob (configs/quantization/*/*_cifar10.py)
PATH = re.compile(r'(?<![\w/.<-])((?:configs|tools|benchmarks)/[\w./*-]+?'
                  r'\.(?:py|yaml|yml|sh))(?![\w/-])')
# tools/search_subnet.py is another change's: its docstring still loses its
# backslash continuations (a non-raw docstring)


def _help(command):
    run = subprocess.run([sys.executable, command, '--help'], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def _missing(text):
    return sorted({p for p in PATH.findall(text)
                   if not glob.glob(os.path.join(REPO, p))})


@pytest.mark.parametrize('command', TOOLS + SEARCH_COMMANDS)
def test_paths_in_help_exist(command):
    assert _missing(_help(command)) == []


@pytest.mark.parametrize('doc', DOCS)
def test_paths_in_docs_exist(doc):
    with open(os.path.join(REPO, doc)) as f:
        assert _missing(f.read()) == []


def test_the_path_pattern_finds_what_it_should():
    text = ('python tools/train.py configs/baseline/digits_resnet.py\n'
            '`configs/quantization/*/*_resnet18_cifar10.py`, '
            'work_dirs/min_subnet/subnet_config.py and '
            'configs/no/such.yaml')
    assert PATH.findall(text) == [
        'tools/train.py', 'configs/baseline/digits_resnet.py',
        'configs/quantization/*/*_resnet18_cifar10.py', 'configs/no/such.yaml']
    assert _missing(text) == ['configs/no/such.yaml']


@pytest.mark.parametrize('command', sorted(TOOLS))
def test_help_examples_keep_their_lines(command):
    """An example command split with `\\` prints on several lines: neither
    argparse nor the docstring may join them."""
    lines = _help(command).splitlines()
    examples = [i for i, line in enumerate(lines)
                if line.lstrip().startswith('python ')]
    assert examples, 'no example in the help text'
    for i in examples:
        # a joined continuation leaves a run of spaces inside the line
        assert not re.search(r'\S {3,}\S', lines[i]), lines[i]
        if lines[i].endswith('\\'):
            following = lines[i + 1]
            assert following.startswith(' ' * 8) and following.strip(), \
                (lines[i], following)
