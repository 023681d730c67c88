"""An mmpretrain image classifier whose backbone (and input size) can vary."""
from typing import Any, Dict, Optional

from mmpretrain.models import ImageClassifier

from ...errors import ConfigError
from ...registry import MODELS
from ...space.supernet import SupernetBackbone, require

@MODELS.register_module()
class ImageClassifierSearch(ImageClassifier):
    """A supernet classifier: slice backbone, neck, head, input resizing.

    It is a :class:`gml.space.Supernet`: ``arch_space()`` and
    ``set_subnet(config)``.

    Args:
        backbone, neck, head, ...: as mmpretrain's ``ImageClassifier``; the
            backbone is a gml slice backbone
            (:class:`gml.space.SupernetBackbone`).
        resize_process: e.g. ``dict(type='ResizeSlice', resolution=dict(
            type='Int', lower=192, upper=289, step=32, default=224))``: the
            input is resized to the active resolution inside the model.
        connect_head: ``dict(in_channels='backbone.feat_dim')``: head
            attributes that follow an attribute of the active subnet.

    Built from a config (``gml.registry.build_model``, as every config
    model is), the largest subnet runs once on a tiny input: a head that
    does not take what the backbone (and neck) give -- e.g. no neck in
    front of a linear head, or ``head.in_channels`` other than the largest
    ``feat_dim`` -- is a ConfigError naming ``model.neck`` or
    ``model.head.in_channels`` and the fix.
    """

    def __init__(self, backbone: dict, neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 resize_process: Optional[dict] = None,
                 connect_head: Optional[Dict[str, str]] = None, **kwargs):
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        if resize_process is not None:  # the guide writes type='ResizeSlice'
            resize_process = dict(resize_process)
            resize_process.setdefault('_scope_', 'gml')
        self.resize_process = MODELS.build(resize_process) \
            if resize_process else None
        self.connect_head = dict(connect_head or {})
        for attr, source in self.connect_head.items():
            self._check_path(source, f'model.connect_head.{attr}')
        require(self.backbone, SupernetBackbone, 'model.backbone',
                'a slice backbone')
        self._check_head_capacity()
        # a supernet starts as its largest subnet: what build_model's
        # head-fit probe (head_fit.py) checks the head against
        self.backbone.set_subnet(self.backbone.max_subnet())

    def _check_head_capacity(self) -> None:
        """A connected head attribute (e.g. ``in_channels``) must hold the
        largest value its source takes: the max subnet's."""
        if not self.connect_head:
            return
        self.backbone.set_subnet(self.backbone.max_subnet())
        for attr, source in self.connect_head.items():
            capacity = getattr(self.head, attr, None)
            largest = self._resolve(source, f'model.connect_head.{attr}')
            if isinstance(capacity, int) and isinstance(largest, int) and \
                    largest > capacity:
                raise ConfigError(
                    f'model.head.{attr}: {capacity} is below the largest '
                    f'{source} of the supernet ({largest}, its max subnet); '
                    f'set it to {largest}')

    def _check_path(self, path: str, key: str) -> None:
        """``path`` names an attribute (or property) of the model."""
        owner: Any = self
        *parents, last = path.split('.')
        for part in parents:
            owner = getattr(owner, part, None)
        if owner is None or not (hasattr(type(owner), last) or
                                 last in vars(owner)):
            raise ConfigError(f'{key}: {path!r} does not exist on the model')

    def _resolve(self, path: str, key: str) -> Any:
        value: Any = self
        for part in path.split('.'):
            if not hasattr(value, part):
                raise ConfigError(f'{key}: {path!r} does not exist on the '
                                  'model')
            value = getattr(value, part)
        return value

    def arch_space(self) -> Dict[str, Any]:
        """The tree of spaces a mutator samples from."""
        space: Dict[str, Any] = {'backbone': self.backbone.search_space}
        if self.resize_process is not None:
            space['resize_process'] = {'resolution': self.resize_process.space}
        return space

    def set_subnet(self, config: Dict[str, Any]) -> None:
        """Activate one subnet (a configuration of :meth:`arch_space`)."""
        self.backbone.set_subnet(config['backbone'])
        if self.resize_process is not None:
            self.resize_process.set_active(
                config['resize_process']['resolution'])
        for attr, source in self.connect_head.items():
            setattr(self.head, attr, self._resolve(source, attr))

    def extract_feat(self, inputs, stage: str = 'neck'):
        if self.resize_process is not None:
            inputs = self.resize_process(inputs)
        return super().extract_feat(inputs, stage)
