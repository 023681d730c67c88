"""The command template of a trial and its ``{placeholders}``.

``{work_dir}`` and ``{trial_id}`` are provided by the controller; every other
placeholder names a search arg (``{lr}``) or a key inside a Nested arg's
choice (``{model.depth}``). Values are substituted shell-quoted. ``{{`` and
``}}`` stand for literal braces.
"""
import json
import re
import shlex
from typing import Any, Dict, List, Set

from ..errors import ConfigError

PROVIDED = ('work_dir', 'trial_id')
_FIELD = re.compile(r'\{\{|\}\}|\{([^{}]*)\}')
_NAME = re.compile(r'[A-Za-z_][\w\-]*(\.[\w\-]+)*$')


def placeholders(template: str) -> List[str]:
    """The placeholder names in ``template``, in order of appearance."""
    names = []
    for match in _FIELD.finditer(template):
        name = match.group(1)
        if name is None:
            continue
        if not _NAME.match(name):
            raise ConfigError(f'task.template: {{{name}}} is not a valid '
                              'placeholder (use {name} or {name.key}; write '
                              '{{ and }} for literal braces)')
        names.append(name)
    return names


def check_template(template: Any, search_args: Dict[str, Any]) -> None:
    """Every placeholder must be a search arg and every search arg used."""
    if not isinstance(template, str) or not template.strip():
        raise ConfigError(f'task.template: expected the command line of one '
                          f'trial, found {template!r}')
    used: Set[str] = set()
    for name in placeholders(template):
        root = name.split('.')[0]
        if root in PROVIDED and '.' not in name:
            continue
        if root not in search_args:
            known = ', '.join(sorted(search_args)) or 'none'
            raise ConfigError(
                f'task.template: placeholder {{{name}}} is not a search arg '
                f'(search args: {known}; provided: {{work_dir}}, {{trial_id}})')
        used.add(root)
    for name in search_args:
        if name in PROVIDED:
            raise ConfigError(f'task.search_args.{name}: the name is reserved '
                              f'for the placeholder the controller provides')
        if name not in used:
            raise ConfigError(f'task.search_args.{name}: never used in '
                              'task.template')


def _lookup(params: Dict[str, Any], name: str) -> Any:
    value: Any = params
    for part in name.split('.'):
        if not isinstance(value, dict) or part not in value:
            raise ConfigError(f'task.template: {{{name}}} has no value in '
                              f'the trial parameters {params!r}')
        value = value[part]
    return value


def format_value(value: Any) -> str:
    """How a value appears on the command line (before quoting)."""
    if isinstance(value, bool):
        return 'True' if value else 'False'
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(',', ':'))
    return str(value)


def render(template: str, params: Dict[str, Any], work_dir: str,
           trial_id: int) -> str:
    """The command line of one trial, values shell-quoted."""
    context = dict(params, work_dir=work_dir, trial_id=trial_id)

    def substitute(match: re.Match) -> str:
        token = match.group(0)
        if token == '{{':
            return '{'
        if token == '}}':
            return '}'
        return shlex.quote(format_value(_lookup(context, match.group(1))))

    return _FIELD.sub(substitute, template)
