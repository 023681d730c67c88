"""Which part of the graph is quantized, and which layers run fused.

``input_layer`` .. ``output_layer`` bound the quantized region: nodes
before the first node of ``input_layer`` or after the last node of
``output_layer`` (in graph order) lose their annotations and stay fp32,
with quantize/dequantize steps only at the region's borders.
"""
import difflib
from typing import Callable, Dict, Iterable, List, Optional

from ....errors import ConfigError
from .capture import node_module

ANNOTATION = 'quantization_annotation'
FAKE_QUANT_PREFIX = 'activation_post_process_'


def _inside(name: str, prefix: str) -> bool:
    return prefix == '' or name == prefix or name.startswith(prefix + '.')


def check_module_name(name: str, modules: Iterable[str], key: str) -> str:
    """``name`` if the model has such a module, else a ConfigError with
    close matches."""
    modules = list(modules)
    if not isinstance(name, str) or name not in modules:
        close = difflib.get_close_matches(str(name), modules, n=3,
                                          cutoff=0.5)
        hint = f'; close matches: {close}' if close else ''
        raise ConfigError(f'algorithm.quantizer.{key}: the model has no '
                          f'module {name!r}{hint}')
    return name


def region_filter(graph, input_layer: Optional[str],
                  output_layer: Optional[str]) -> Callable:
    """``keep(node)``: the node lies between the first node of
    ``input_layer`` and the last node of ``output_layer`` (inclusive;
    None: the graph's start / end)."""
    nodes = [n for n in graph.graph.nodes if n.op == 'call_function']
    position = {n: i for i, n in enumerate(nodes)}

    def span(layer, key):
        found = [position[n] for n in nodes if _inside(node_module(n), layer)]
        if not found:
            raise ConfigError(f'algorithm.quantizer.{key}: module {layer!r} '
                              'runs no operation in the captured forward')
        return min(found), max(found)

    first = span(input_layer, 'input_layer')[0] if input_layer else 0
    last = span(output_layer, 'output_layer')[1] if output_layer \
        else len(nodes) - 1
    if first > last:
        raise ConfigError(f'algorithm.quantizer: input_layer {input_layer!r}'
                          f' runs after output_layer {output_layer!r}')

    def keep(node) -> bool:
        return node in position and first <= position[node] <= last

    return keep


def bounded(base, keep: Callable):
    """``base`` (a torchao Quantizer) restricted to the nodes ``keep``
    accepts. (Dropping annotations works for every backend; the x86
    quantizer's own per-module ``None`` config crashes its conv-BN QAT
    fusion.)"""
    from torchao.quantization.pt2e.quantizer import Quantizer

    class BoundedQuantizer(Quantizer):

        def transform_for_annotation(self, model):
            return base.transform_for_annotation(model)

        def annotate(self, model):
            base.annotate(model)
            for node in model.graph.nodes:
                if not keep(node):
                    node.meta.pop(ANNOTATION, None)
            return model

        def validate(self, model):
            base.validate(model)

    return BoundedQuantizer()


def fuse_groups(fuse_config: Optional[dict],
                modules: Iterable[str]) -> List[List[str]]:
    """The guide's ``fuse_config`` (``{parent: [[child, child, ...], ...]}``
    or ``{parent: [child, child]}``) as lists of full module names, each
    checked to exist."""
    if not fuse_config:
        return []
    if not isinstance(fuse_config, dict):
        raise ConfigError('algorithm.quantizer.fuse_config: expected a dict '
                          '{module: [[child, child, ...], ...]}, found '
                          f'{fuse_config!r}')
    modules = list(modules)
    groups = []
    for parent, children in fuse_config.items():
        key = f'fuse_config[{parent!r}]'
        if parent:
            check_module_name(parent, modules, key)
        if not isinstance(children, (list, tuple)) or not children:
            raise ConfigError(f'algorithm.quantizer.{key}: expected a list '
                              f'of module names to fuse, found {children!r}')
        nested = children if isinstance(children[0], (list, tuple)) \
            else [children]
        for group in nested:
            if len(group) < 2:
                raise ConfigError(f'algorithm.quantizer.{key}: a fused '
                                  'group needs two or more modules, found '
                                  f'{group!r}')
            names = [f'{parent}.{child}' if parent else child
                     for child in group]
            for name in names:
                check_module_name(name, modules, key)
            groups.append(names)
    return groups


def _reaches(node, source: str, seen: set) -> Optional[bool]:
    """Walk ``node``'s inputs back, through glue nodes that belong to no
    module (reshapes, the fused BN scaling, fake-quantize steps), to a
    node of module ``source``: True if reached without passing a
    fake-quantize step, False if only through one, None if ``source`` does
    not feed ``node`` directly."""
    best = None
    for parent in node.all_input_nodes:
        if parent in seen or parent.op in ('get_attr', 'placeholder'):
            continue
        seen.add(parent)
        owner = node_module(parent)
        if owner == source and parent.op == 'call_function':
            return True
        if owner:  # another module's output: not a direct connection
            continue
        result = _reaches(parent, source, seen)
        if parent.op == 'call_module' and \
                str(parent.target).startswith(FAKE_QUANT_PREFIX) and result:
            result = False
        if result:
            return True
        if result is False:
            best = False
    return best


def unfused_pairs(graph, groups: List[List[str]]) -> Dict[str, str]:
    """For the prepared graph, the consecutive modules of ``groups`` that a
    quantize step separates (``{'a -> b': reason}``); empty when every
    group runs fused."""
    by_module: Dict[str, list] = {}
    for node in graph.graph.nodes:
        if node.op == 'call_function':
            by_module.setdefault(node_module(node), []).append(node)
    problems = {}
    for group in groups:
        for source, target in zip(group, group[1:]):
            results = [_reaches(n, source, set())
                       for n in by_module.get(target, [])]
            if True in results:
                continue
            problems[f'{source} -> {target}'] = (
                'a quantize step separates them' if False in results else
                f'{target} does not take the output of {source}')
    return problems
