"""The import a config names to use ``ActNNHook`` as the ActNN guide does:

    custom_imports = dict(imports=['gml.actnn.hook'],
                          allow_failed_imports=False)
    custom_hooks = [dict(type='ActNNHook', default_bit=4)]

The hook lives with the other Runner hooks, in
:mod:`gml.engine.hooks.actnn`; this module only adds it to mmengine's root
hook registry under the bare name ``ActNNHook``, unless a hook of that name
is registered already (e.g. a port of the guide's own ``hook_actnn.py``).
"""
from mmengine.registry import HOOKS as ROOT_HOOKS

from ..engine.hooks.actnn import ActNNHook

if 'ActNNHook' not in ROOT_HOOKS.module_dict:
    ROOT_HOOKS.register_module(module=ActNNHook)

__all__ = ['ActNNHook']
