"""The guide's `pavi` and `use_spe` keys of a search config: `pavi.scalars`
is read, every other `pavi` key is refused with its replacement, and
`use_spe: true` is refused (issue 15: nothing is silently ignored)."""
import re

import pytest

from gml.errors import ConfigError
from gml.search.config import load_search_config, parse_config

from .helpers import write_config

TASK = ('task: {template: "t {lr}", search_args: {lr: {type: Categorical, '
        'data: [0.1, 0.2]}}}\nsearcher: {reward_attribute: acc}\n')


def _refused(text, message, tmp_path):
    path = write_config(tmp_path, TASK + text)
    with pytest.raises(ConfigError, match=f'^{re.escape(message)}$'):
        load_search_config(str(path))


def test_pavi_scalars_are_read_after_the_reward(tmp_path):
    path = write_config(tmp_path, TASK + 'pavi: {scalars: [loss, top5]}\n')
    assert load_search_config(str(path)).scalars == ['acc', 'loss', 'top5']
    # the same list in both places is one list, not a conflict
    path = write_config(tmp_path, TASK + 'scalars: [loss]\n'
                        'pavi: {scalars: [loss]}\n')
    assert load_search_config(str(path)).scalars == ['acc', 'loss']


def test_pavi_compare_names_search_ctl_show(tmp_path):
    _refused('pavi: {compare: {name: lr-search}, scalars: [loss]}\n',
             "pavi.compare: PAVI is an internal service of the original "
             "toolbox; use `search-ctl show -t TASK` instead, which compares "
             "a task's trials (`search-ctl export` writes them for "
             "TensorBoard)", tmp_path)


def test_other_pavi_keys_and_shapes_are_refused(tmp_path):
    _refused('pavi: {project: automl}\n',
             'pavi.project: unknown key; expected scalars (PAVI is an '
             'internal service of the original toolbox; gml records the '
             'metrics itself)', tmp_path)
    _refused('pavi: [loss]\n', "pavi: expected a mapping, found ['loss']",
             tmp_path)
    _refused('scalars: [loss]\npavi: {scalars: [top5]}\n',
             "pavi.scalars: expected the same as scalars (['loss']) or only "
             "one of the two, found ['top5']", tmp_path)


def test_use_spe_true_is_refused_false_is_accepted(tmp_path):
    _refused('use_spe: true\n', 'use_spe: SPE is an internal service of the '
             'original toolbox; gml runs trials itself', tmp_path)
    path = write_config(tmp_path, TASK + 'use_spe: false\npavi: {}\n')
    assert load_search_config(str(path)).scalars == ['acc']


def test_parse_config_without_pavi_is_unchanged():
    raw = dict(task=dict(template='t {lr}', search_args=dict(
        lr=dict(type='Categorical', data=[1]))), scalars=['loss'])
    assert parse_config(raw).scalars == ['acc', 'loss']
