"""Search configs: placeholders, quoting, and every bad input the issue lists."""
import re

import pytest

from gml.errors import ConfigError
from gml.search.config import check_task_name, parse_config
from gml.search.template import check_template, placeholders, render

from .helpers import search, write_config


def test_render_quotes_values_and_reads_nested_keys():
    template = 'train --lr {lr} --tag {tag} --w {size.width} {{x}} --dir {work_dir}'
    command = render(template, dict(lr=0.001, tag="it's", size=dict(width=8)),
                     work_dir='/tmp/a b', trial_id=3)
    assert command == ("train --lr 0.001 --tag 'it'\"'\"'s' --w 8 {x} "
                       "--dir '/tmp/a b'")
    assert placeholders(template) == ['lr', 'tag', 'size.width', 'work_dir']
    assert render('{cfg}', dict(cfg=dict(a=1, b=[2])), 'w', 1) == \
        '\'{"a":1,"b":[2]}\''


def test_template_checks_both_directions():
    check_template('run {lr} {work_dir} {trial_id}', dict(lr=1))
    with pytest.raises(ConfigError, match=r'placeholder \{lrr\} is not a '
                       r'search arg \(search args: lr'):
        check_template('run {lrr}', dict(lr=1))
    with pytest.raises(ConfigError, match=r'task.search_args.wd: never used'):
        check_template('run {lr}', dict(lr=1, wd=2))


def _raw(**over):
    raw = dict(task=dict(template='t {lr}', search_args=dict(
        lr=dict(type='Categorical', data=[0.1, 0.2]))))
    for key, value in over.items():
        raw[key] = value
    return raw


def test_defaults_of_a_minimal_config():
    cfg = parse_config(_raw())
    assert cfg.searcher_cfg == dict(type='GridSearcher',
                                    optimize_mode='maximize')
    assert parse_config(_raw(searcher=dict(optimize_mode='min'))) \
        .optimize_mode == 'minimize'  # the short words are aliases
    assert (cfg.reward_attribute, cfg.reward_reduce) == ('acc', 'final')
    assert cfg.scheduler_cfg == dict(type='local')
    assert cfg.parallel_size == 1 and cfg.generate_log is True
    assert cfg.scalars == ['acc']


# The whole message: the key, what was expected, what was found.
@pytest.mark.parametrize('over,message', [
    (dict(scheduler=dict(parallel_size=0)),
     'scheduler.parallel_size: expected an integer >= 1, found 0'),
    (dict(scheduler=dict(stop_criterion=dict(max_tries=-1))),
     'scheduler.stop_criterion.max_tries: expected an integer > 0, found -1'),
    (dict(scheduler=dict(stop_criterion=dict(max_trys=3))),
     "scheduler.stop_criterion.max_trys: unknown key; expected some of "
     "['max_tries', 'time_limits', 'max_reward', 'time_limits_per_job']"),
    (dict(searcher=dict(optimize_mode='up')),
     "searcher.optimize_mode: expected maximize or minimize (or max / min), "
     "found 'up'"),
    (dict(searcher=dict(reward_reduce='mean')),
     "searcher.reward_reduce: expected final or best, found 'mean'"),
    (dict(task=dict(template='t {lr}', search_args=dict(
        lr=dict(type='Real', lower=0.3, upper=0.001)))),
     'task.search_args.lr: lower 0.3 must be < upper 0.001'),
    (dict(extra=1), "extra: unknown top-level key; expected some of "
     "['generate_log', 'scalars', 'scheduler', 'searcher', 'task']"),
])
def test_bad_values_name_their_key(over, message):
    with pytest.raises(ConfigError, match=f'^{re.escape(message)}$'):
        parse_config(_raw(**over))


def test_task_names_are_single_folder_names():
    assert check_task_name('lr-search_1') == 'lr-search_1'
    for bad in ('a/b', '..', '', '.'):
        with pytest.raises(ConfigError, match=re.escape(
                '--name: a task name is one folder name without path '
                f'separators, found {bad!r}')):
            check_task_name(bad)


# (config text, what the one error line says: the key, what was expected,
# what was found)
BAD_CONFIGS = {
    'malformed': ('task: [unclosed\n', "malformed YAML (line 2, column 1): "
                  "expected ',' or ']', but got '<stream end>'"),
    'searcher': ('task: {template: "t {lr}", search_args: {lr: {type: '
                 'Categorical, data: [1]}}}\nsearcher: {type: GridSercher}\n',
                 "searcher.type: unknown searcher 'GridSercher'; expected one "
                 "of ['BatchSearcher', "),
    'assessor': ('task: {template: "t {lr}", search_args: {lr: {type: '
                 'Categorical, data: [1]}}}\nscheduler: {assessor: {type: '
                 'Median}}\n', "scheduler.assessor.type: unknown assessor "
                 "'Median'; expected one of ['ASHA', 'CurveFittingAssessor', "
                 "'HyperbandAssessor', 'MedianStopAssessor', "
                 "'SuccessiveHalvingAssessor', 'asha', 'hyperband', "
                 "'successive_halving']"),
    'scheduler': ('task: {template: "t {lr}", search_args: {lr: {type: '
                  'Categorical, data: [1]}}}\nscheduler: {type: pbs}\n',
                  "scheduler.type: unknown scheduler 'pbs'; expected one of "
                  "['LocalScheduler', 'RayScheduler', 'SlurmScheduler', "
                  "'local', 'ray', 'slurm']"),
    'placeholder': ('task: {template: "t {lr} {wd}", search_args: {lr: '
                    '{type: Categorical, data: [1]}}}\n',
                    'task.template: placeholder {wd} is not a search arg '
                    '(search args: lr; provided: {work_dir}, {trial_id})'),
    'unused': ('task: {template: "t {lr}", search_args: {lr: {type: '
               'Categorical, data: [1]}, wd: {type: Categorical, data: [1]}}}\n',
               'task.search_args.wd: never used in task.template'),
    'batch': ('task: {template: "t {lr}", search_args: {lr: {type: Real, '
              'lower: 0.1, upper: 0.2}}}\nsearcher: {type: BatchSearcher}\n',
              'task.search_args.lr: BatchSearcher needs Nested spaces of '
              'plain values, found Real'),
    'bounds': ('task: {template: "t {lr}", search_args: {lr: {type: Int, '
               'lower: 5, upper: 5}}}\n',
               'task.search_args.lr: lower 5 must be < upper 5'),
    'parallel': ('task: {template: "t {lr}", search_args: {lr: {type: '
                 'Categorical, data: [1]}}}\nscheduler: {parallel_size: 0}\n',
                 'scheduler.parallel_size: expected an integer >= 1, '
                 'found 0'),
}


@pytest.mark.parametrize('case', sorted(BAD_CONFIGS))
def test_search_run_refuses_bad_configs_with_exit_2(tmp_path, case):
    text, expected = BAD_CONFIGS[case]
    config = write_config(tmp_path, text)
    run = search('search-run', str(config), cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('search-run: error: ')
    assert expected in lines[0], lines[0]
    assert not (tmp_path / 'search_tasks').exists()  # nothing launched


def test_bad_task_name_and_missing_resume(tmp_path):
    config = write_config(tmp_path, 'task: {template: "t {lr}", search_args: '
                          '{lr: {type: Categorical, data: [1]}}}\n')
    run = search('search-run', str(config), '--name', 'a/b', cwd=tmp_path)
    assert run.returncode == 2
    assert ("--name: a task name is one folder name without path separators, "
            "found 'a/b'") in run.stderr
    run = search('search-run', '--resume', 'nothing', cwd=tmp_path)
    assert run.returncode == 2
    assert "--resume: no task 'nothing' in search_tasks/" in run.stderr
    run = search('search-run', str(tmp_path / 'missing.yaml'), cwd=tmp_path)
    assert run.returncode == 2
    assert f"search config not found: {tmp_path / 'missing.yaml'}" in \
        run.stderr


def test_search_init_writes_configs_that_parse(tmp_path):
    from gml.search.config import load_search_config
    template = search('search-init', cwd=tmp_path)
    assert template.returncode == 0, template.stderr
    cfg = load_search_config(str(tmp_path / 'search_config.yaml'))
    assert cfg.searcher_cfg['type'] == 'GridSearcher'
    assert set(cfg.search_args) == {'lr', 'depth'}
    digits = search('search-init', 'd/digits.yaml', '--example', 'digits',
                    cwd=tmp_path)
    assert digits.returncode == 0
    cfg = load_search_config(str(tmp_path / 'd' / 'digits.yaml'))
    assert cfg.parallel_size == 2 and 'tools/train.py' in cfg.template
    again = search('search-init', cwd=tmp_path)
    assert again.returncode == 2
    assert ('search-init: error: search_config.yaml exists; choose another '
            'path or pass --force') in again.stderr


@pytest.mark.parametrize('command', ['search-run', 'search-ctl',
                                     'search-init'])
def test_every_command_has_help_with_examples(tmp_path, command):
    run = search(command, '--help', cwd=tmp_path)
    assert run.returncode == 0
    assert 'Examples:' in run.stdout
