"""gml's registries: children of mmengine's roots under the scope ``gml``
(and :data:`ALGORITHMS`, gml's own root), plus the ``mmcls`` alias of
mmpretrain's registries for older configs."""

import warnings

from mmengine import registry as mme
from mmengine.registry import Registry

from ..utils.config import LEGACY_SCOPES

MODELS = Registry('model', parent=mme.MODELS, scope='gml',
                  locations=['gml.models', 'gml.algorithms', 'gml.mutators',
                             'gml.evaluators'])
DATASETS = Registry('dataset', parent=mme.DATASETS, scope='gml',
                    locations=['gml.datasets'])
TRANSFORMS = Registry('transform', parent=mme.TRANSFORMS, scope='gml',
                      locations=['gml.datasets'])
HOOKS = Registry('hook', parent=mme.HOOKS, scope='gml',
                 locations=['gml.engine'])
LOOPS = Registry('loop', parent=mme.LOOPS, scope='gml',
                 locations=['gml.engine'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=mme.MODEL_WRAPPERS,
                          scope='gml', locations=['gml.engine'])
METRICS = Registry('metric', parent=mme.METRICS, scope='gml',
                   locations=['gml.engine'])

ALGORITHMS = Registry('algorithm', scope='gml', locations=['gml.algorithms'])


def _alias_legacy_scopes() -> None:
    """Let ``mmcls.X`` find ``X`` in mmpretrain's registries.

    mmengine resolves a foreign scope prefix through the ``_children`` table of
    the root registry, so each mmpretrain registry is entered there a second
    time under the old scope name.
    """
    # mmcv-lite has no compiled ops; mmpretrain warns about it on import.
    warnings.filterwarnings('ignore', message='Fail to import')
    import mmpretrain.registry as mmpretrain_registry
    for value in vars(mmpretrain_registry).values():
        if isinstance(value, Registry) and value.scope == 'mmpretrain' \
                and value.parent is not None:
            for old in LEGACY_SCOPES:
                value.parent._children.setdefault(old, value)


_alias_legacy_scopes()
