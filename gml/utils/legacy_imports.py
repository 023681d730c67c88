"""The imports of mmcv 1.x-era files that a config's ``custom_imports``
names, while that config loads.

The ActNN guide's ``hook_actnn.py`` begins::

    from mmcv.parallel import is_module_wrapper
    from mmcv.runner.hooks import HOOKS, Hook
    import actnn

mmcv 2.x has neither ``mmcv.parallel`` nor ``mmcv.runner`` (mmengine took
them over) and ActNN itself is a CUDA-only package. Inside
``with legacy_imports():`` those names resolve to today's equivalents,
only where the installed packages lack them (a real module of the name
always wins):

=====================================  ==================================
``mmcv.parallel.is_module_wrapper``    ``mmengine.model.is_model_wrapper``
``mmcv.runner(.hooks).HOOKS``          ``mmengine.registry.HOOKS``
``mmcv.runner(.hooks).Hook``           ``gml.actnn.compat.Hook`` (mmengine's
                                       ``Hook``, also taking mmcv-style
                                       ``after_train_iter(self, runner)``)
``actnn``                              ``gml.actnn``
=====================================  ==================================

Outside the block nothing changes: the stand-in modules leave
``sys.modules`` again (what a file imported keeps working), so later code
that tests for mmcv 1.x or ActNN still finds them missing.
"""
import contextlib
import importlib.abc
import importlib.machinery
import sys
import types


def _parallel(module):
    from mmengine.model import is_model_wrapper
    module.is_module_wrapper = is_model_wrapper


class _LegacyHookRegistry:
    """mmengine's root HOOKS, except that a user's hook replaces a gml
    class registered there under the same bare name (``ActNNHook``, which
    ``gml.actnn.hook`` puts there for configs that name it unscoped): the
    module a config imports is the one it means."""

    def __init__(self, registry):
        self._registry = registry

    def __getattr__(self, name):
        return getattr(self._registry, name)

    def register_module(self, name=None, force=False, module=None):
        def register(cls):
            existing = self._registry.get(name or cls.__name__)
            ours = getattr(existing, '__module__', '').startswith('gml.')
            return self._registry.register_module(
                name=name, force=force or ours, module=cls)
        return register(module) if module is not None else register


def _hooks(module):
    from mmengine.registry import HOOKS

    from ..actnn.compat import Hook
    module.HOOKS, module.Hook = _LegacyHookRegistry(HOOKS), Hook


def _actnn(module):
    import gml.actnn as actnn  # also gives torch the old hook names back

    def delegate(name):
        return getattr(actnn, name)
    module.__getattr__ = delegate
    module.__all__ = list(actnn.__all__)


# name: (fills the stand-in module, is a package)
STAND_INS = {
    'mmcv': (None, True),  # only where mmcv is not installed at all
    'mmcv.parallel': (_parallel, False),
    'mmcv.runner': (_hooks, True),
    'mmcv.runner.hooks': (_hooks, False),
    'actnn': (_actnn, False),
}


class _LegacyFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on ``sys.meta_path``: asked only for names nothing else
    finds."""

    def __init__(self):
        self.made = []

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in STAND_INS:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, self, is_package=STAND_INS[fullname][1])

    def create_module(self, spec):
        module = types.ModuleType(spec.name, f'{spec.name} as gml maps it '
                                  'for an mmcv 1.x-era file')
        if STAND_INS[spec.name][1]:
            module.__path__ = []
        return module

    def exec_module(self, module):
        name = module.__spec__.name
        self.made.append(name)
        fill = STAND_INS[name][0]
        if fill is not None:
            fill(module)


@contextlib.contextmanager
def legacy_imports():
    """Let the guide-era imports above work inside the block."""
    finder = _LegacyFinder()
    sys.meta_path.append(finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in reversed(finder.made):
            module = sys.modules.get(name)
            if module is None or getattr(module, '__spec__', None) is None \
                    or module.__spec__.loader is not finder:
                continue
            del sys.modules[name]
            parent, _, child = name.rpartition('.')
            if parent and getattr(sys.modules.get(parent), child, None) \
                    is module:
                delattr(sys.modules[parent], child)

