"""tools/search_subnet.py: evolution over a trained supernet, resume, export."""
import json
import re
import sys

import pytest
import yaml

from gml.apis.search_subnet import search_subnet
from gml.errors import ConfigError

from ..conftest import REPO, run_tool
from .conftest import DIGITS_CONFIG

SMALL = {'candidate_pool_size': 6, 'top_k': 3, 'num_mutation': 3,
         'num_crossover': 3, 'bn_stats_calib_kwargs.num_iters': 2}


def _options(**settings):
    merged = dict(SMALL, **settings)
    return {f'subnet_search.{k}': v for k, v in merged.items()}


def _search(checkpoint, work_dir, resume=False, **settings):
    settings.setdefault('export', False)
    return search_subnet(f'{REPO}/{DIGITS_CONFIG}', checkpoint, str(work_dir),
                         cfg_options=_options(**settings), resume=resume,
                         device='cpu', log=lambda line: None)


@pytest.mark.slow
def test_search_writes_the_best_subnet_which_tests_at_its_score(
        tmp_path, digits_supernet):
    work = tmp_path / 'search'
    run = run_tool([sys.executable, 'tools/search_subnet.py', DIGITS_CONFIG,
                    digits_supernet, '--work-dir', str(work), '--device',
                    'cpu', '--cfg-options'] +
                   [f'{k}={v}' for k, v in _options(
                       max_generations=2).items()])
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'gml: generation 2/2' in run.stdout
    results = json.loads((work / 'results.json').read_text())
    scored = results['scored']
    assert 6 < len(scored) <= 12  # the first pool plus new children
    keys = [json.dumps(e['config'], sort_keys=True) for e in scored]
    assert len(set(keys)) == len(keys)  # every subnet scored once
    best = max(scored, key=lambda e: e['score'])
    assert results['best']['score'] == best['score']
    assert yaml.safe_load((work / 'best_subnet.yaml').read_text()) == \
        results['best']['config']
    assert not list(work.rglob('.partial-*'))  # every file written whole
    # the exported subnet, calibrated on the same batches, tests at the
    # score the search gave it
    test = run_tool([sys.executable, 'tools/test.py',
                     str(work / 'best' / 'subnet_config.py'),
                     str(work / 'best' / 'subnet.pth'), '--work-dir',
                     str(tmp_path / 'test')])
    assert test.returncode == 0, test.stderr[-3000:]
    acc = float(re.search(r'accuracy/top1=([0-9.]+)', test.stdout).group(1))
    assert acc == pytest.approx(results['best']['score'], abs=0.006)


@pytest.mark.slow
def test_progress_lines_on_stderr_when_not_a_terminal(tmp_path,
                                                     digits_supernet):
    work = tmp_path / 'progress'
    settings = _options(max_generations=2, candidate_pool_size=3, top_k=2,
                        num_mutation=2, num_crossover=1, export=False)
    run = run_tool([sys.executable, 'tools/search_subnet.py', DIGITS_CONFIG,
                    digits_supernet, '--work-dir', str(work), '--device',
                    'cpu', '--cfg-options'] +
                   [f'{k}={v}' for k, v in settings.items()])
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((work / 'results.json').read_text())
    counted = 0
    for generation in (1, 2):
        prefix = f'generation {generation}/2: scoring subnets: '
        done = [line for line in run.stderr.splitlines()
                if line.startswith(prefix) and '(done in' in line]
        assert len(done) == 1, run.stderr[-3000:]
        match = re.fullmatch(re.escape(prefix) + r'(\d+)/(\d+), best '
                             r'(\S+) \(done in [0-9.]+ s\)', done[0])
        assert match and match.group(1) == match.group(2), done[0]
        counted += int(match.group(1))
    assert int(match.group(1)) > 0 and counted == results['evaluations']
    assert match.group(3) == f"{results['best']['score']:.4g}"
    assert '\x1b[' not in run.stderr  # no live bar outside a terminal


@pytest.mark.slow
def test_resumed_search_equals_an_uninterrupted_one(tmp_path,
                                                    digits_supernet):
    straight = _search(digits_supernet, tmp_path / 'a', max_generations=2)
    _search(digits_supernet, tmp_path / 'b', max_generations=1)
    first = json.loads((tmp_path / 'b' / 'results.json').read_text())
    resumed = _search(digits_supernet, tmp_path / 'b', resume=True,
                      max_generations=2)
    a = json.loads((tmp_path / 'a' / 'results.json').read_text())
    b = json.loads((tmp_path / 'b' / 'results.json').read_text())
    assert b['scored'] == a['scored']
    assert b['scored'][:len(first['scored'])] == first['scored']
    assert resumed['best'] == straight['best']


@pytest.mark.slow
def test_flops_range_and_pareto_mode(tmp_path, digits_supernet):
    result = _search(digits_supernet, tmp_path / 'p', max_generations=1,
                     constraints=(1.0, 4.0), pareto=True, pareto_step=1.0,
                     export=True)
    scored = json.loads((tmp_path / 'p' / 'results.json').read_text())
    assert all(1.0 <= e['flops'] <= 4.0 for e in scored['scored'])
    front = result['pareto']
    buckets = [int(e['flops'] // 1.0) for e in front]
    assert buckets == sorted(set(buckets))  # one subnet per 1-MFLOPs bucket
    for entry in front:  # each is the best scored subnet of its bucket
        same = [e['score'] for e in scored['scored']
                if int(e['flops'] // 1.0) == int(entry['flops'] // 1.0)]
        assert entry['score'] == max(same)
    folders = sorted(p.name for p in (tmp_path / 'p' / 'pareto').iterdir())
    assert len(folders) == len(front)
    for folder in folders:
        files = {p.name for p in (tmp_path / 'p' / 'pareto' / folder)
                 .iterdir()}
        assert files == {'subnet.yaml', 'subnet.pth', 'subnet_config.py'}


@pytest.mark.slow
def test_bad_input_is_one_clear_message_and_writes_nothing(tmp_path,
                                                           digits_supernet):
    def tool(*extra):
        return run_tool([sys.executable, 'tools/search_subnet.py',
                         DIGITS_CONFIG, digits_supernet, '--device', 'cpu',
                         '--work-dir', str(tmp_path / 'w')] + list(extra))

    run = tool('--cfg-options', 'subnet_search.constraints=(100,200)')
    assert run.returncode == 2
    assert 'subnet_search.constraints' in run.stderr
    assert 'Traceback' not in run.stderr
    assert not (tmp_path / 'w').exists()
    run = tool('--cfg-options', 'subnet_search.pool=5')
    assert run.returncode == 2
    assert "subnet_search: unknown keys ['pool']" in run.stderr
    run = tool('--cfg-options', 'subnet_search.metric=accuracy/top5',
               'subnet_search.candidate_pool_size=2')
    assert run.returncode == 2
    assert "subnet_search.metric: 'accuracy/top5' is not a validation " \
        "metric; found ['accuracy/top1']" in run.stderr
    assert not (tmp_path / 'w').exists()
    run = tool('--resume')
    assert run.returncode == 2 and '--resume: cannot read' in run.stderr
    _search(digits_supernet, tmp_path / 'w', max_generations=1)
    with pytest.raises(ConfigError, match='holds a search already'):
        _search(digits_supernet, tmp_path / 'w', max_generations=1)
    with pytest.raises(ConfigError, match='belongs to another search'):
        _search(digits_supernet, tmp_path / 'w', resume=True, top_k=2)
