"""Which names a scope resolves, gml names written without a scope, and
the message for a name no registry knows."""
import difflib
from typing import Any, Dict, Iterator, List, Optional, Tuple

from mmengine import registry as mme
from mmengine.registry import Registry

from .registries import ALGORITHMS


def _roots() -> List[Registry]:
    roots = [v for v in vars(mme).values() if isinstance(v, Registry)]
    return roots + [ALGORITHMS]


def _visible_names(registry: Registry) -> set:
    """The unprefixed names ``registry`` resolves: its own and its parents'."""
    names: set = set()
    node = registry
    while node is not None:
        node.import_from_location()
        names.update(node.module_dict)
        node = node.parent
    return names


def _scope_names(scope: str) -> Tuple[set, set]:
    """(names the scope resolves unprefixed, names only gml has)."""
    seen, gml_only = set(), set()
    for root in _roots():
        own = root._search_child(scope) if scope else None
        # a Registry's truth value is its length: compare with None
        seen |= _visible_names(root if own is None else own)
        gml = root._search_child('gml')
        if gml is not None:
            gml.import_from_location()
            gml_only.update(gml.module_dict)
    return seen, gml_only - seen


def qualify_gml_types(cfg: Any, default_scope: Optional[str]) -> Any:
    """Prefix ``gml.`` to every unprefixed ``type`` only gml registers.

    Under ``default_scope='mmpretrain'`` mmengine looks an unprefixed name up
    in mmpretrain's registries and their parents, never in gml's siblings.
    Names that scope resolves (``ResNet``, ``CIFAR10``) are left as they
    are, so no mmpretrain name changes meaning; a name neither knows is left
    for the unknown-type message. A dict's ``_scope_`` applies to its
    subtree. Works in place on dicts and mmengine Configs; returns ``cfg``.
    """
    cache: Dict[Optional[str], set] = {}

    def gml_names(scope):
        if scope not in cache:
            cache[scope] = _scope_names(scope)[1]
        return cache[scope]

    def visit(node, scope):
        if isinstance(node, (list, tuple)):
            for item in node:
                visit(item, scope)
            return
        if not (isinstance(node, dict) or hasattr(node, 'keys')):
            return
        scope = node.get('_scope_', scope)
        obj_type = node.get('type')
        if isinstance(obj_type, str) and '.' not in obj_type \
                and scope != 'gml' and obj_type in gml_names(scope):
            node['type'] = f'gml.{obj_type}'
        for value in node.values():
            visit(value, scope)

    visit(cfg, default_scope)
    return cfg


def _walk(registry: Registry) -> Iterator[Registry]:
    yield registry
    for child in set(registry._children.values()):
        yield from _walk(child)


def _candidates(scope: Optional[str], name: str) -> Tuple[List[str], str]:
    """Every name visible from the registry ``scope::name``, and a label."""
    for root in _roots():
        if root.name != name:
            continue
        current = root._search_child(scope) if scope else root
        current = root if current is None else current
        names = _visible_names(current)
        for other in _walk(root):
            if other is not current and other.scope != root.scope:
                other.import_from_location()
                names.update(f'{other.scope}.{k}' for k in other.module_dict)
        return sorted(names), f'{current.scope}::{name}'
    return [], f'{scope}::{name}'


def typed_nodes(cfg: Any, key: str = '') -> Iterator[Tuple[str, dict]]:
    """``(key path, dict)`` of every dict in ``cfg`` that has a ``type``."""
    if isinstance(cfg, dict):
        if 'type' in cfg:
            yield key, cfg
        for k, v in cfg.items():
            yield from typed_nodes(v, f'{key}.{k}' if key else str(k))
    elif isinstance(cfg, (list, tuple)):
        for i, v in enumerate(cfg):
            yield from typed_nodes(v, f'{key}[{i}]')


def find_key_paths(cfg: Any, value: str, key: str = '') -> List[str]:
    """The dotted paths of every ``type`` key in ``cfg`` equal to ``value``."""
    return [f'{path}.type' if path else 'type'
            for path, node in typed_nodes(cfg, key)
            if node['type'] == value]


def unknown_type_message(obj_type: str, scope: Optional[str], name: str,
                         cfg: Any = None) -> str:
    """Explain that ``obj_type`` is not in the registry ``scope::name``.

    Names the config keys that use the type and the closest registered names.
    """
    names, label = _candidates(scope, name)
    bare = obj_type.split('.')[-1].lower()
    lowered: Dict[str, str] = {}
    for n in names:
        lowered.setdefault(n.split('.')[-1].lower(), n)
        lowered.setdefault(n.lower(), n)
    close = difflib.get_close_matches(bare, list(lowered), n=5, cutoff=0.6)
    suggestions = sorted({lowered[c] for c in close})
    if hasattr(cfg, 'to_dict'):
        cfg = cfg.to_dict()
    where = find_key_paths(cfg, obj_type) if cfg is not None else []
    message = (f"unknown type {obj_type!r}"
               + (f" at {', '.join(where)}" if where else '')
               + f": searched the {label} registry and its parents")
    if suggestions:
        return message + '; close matches: ' + ', '.join(suggestions)
    return message + '; no similar name is registered'
