"""``ActNNHook``: activation-compressed training in the mmengine Runner.

    custom_hooks = [dict(type='gml.ActNNHook', level='L3')]

    custom_imports = dict(imports=['gml.actnn.hook'])    # as the guide does
    custom_hooks = [dict(type='ActNNHook', default_bit=4)]

The hook is registered in gml's hook registry (``type='gml.ActNNHook'``
needs no import); importing :mod:`gml.actnn.hook` also registers it under
the guide's unprefixed name. The compression itself is
:class:`gml.actnn.Controller`.

``ActNNRatioHook`` logs ``actnn_ratio`` for a hook that leaves its
controller on the runner without logging (the guide's own
``hook_actnn.py``):

    custom_hooks = [dict(type='ActNNHook', default_bit=4),
                    dict(type='gml.ActNNRatioHook')]
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...registry import HOOKS


@HOOKS.register_module()
class ActNNHook(Hook):
    """Compress the activations kept for backward during training.

    Installs the controller's saved-tensor hooks before the run and removes
    them after it, keeps the parameters out of compression each epoch,
    ends a controller iteration after every training iteration, and logs
    the compression ratio of the saved tensors (``actnn_ratio``).

    Args:
        default_bit: fixed bits for every compressed tensor (1, 2, 4, 8);
            None follows ``level``.
        level: 'L0' .. 'L4' (default: ``gml.actnn.config``).
        **settings: more controller settings (``group_size``,
            ``min_numel``, ``adapt_interval``, ``swap``, ``seed``).
    """

    priority = 'VERY_HIGH'

    def __init__(self, default_bit: Optional[int] = None,
                 level: Optional[str] = None, **settings):
        # imported here: gml.actnn fills in torch names it lacks, which
        # importing gml.engine alone should not do
        from ...actnn.controller import Controller
        self.controller = Controller(default_bit=default_bit, level=level,
                                     **settings)
        self._hooks = None

    def before_run(self, runner) -> None:
        import torch
        self._hooks = torch.autograd.graph.saved_tensors_hooks(
            self.controller.quantize, self.controller.dequantize)
        self._hooks.__enter__()
        runner.controller = self.controller
        from ...actnn.layers import QLayer
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        for module in model.modules():  # one controller, one account
            if isinstance(module, QLayer):
                module.controller = self.controller

    def after_run(self, runner) -> None:
        if self._hooks is not None:
            self._hooks.__exit__(None, None, None)
            self._hooks = None

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        self.controller.unrelated_tensors = set()
        self.controller.filter_tensors(model.named_parameters())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self.controller.iterate()
        runner.message_hub.update_scalar('train/actnn_ratio',
                                         self.controller.ratio)


@HOOKS.register_module()
class ActNNRatioHook(Hook):
    """Log ``actnn_ratio``, the bytes autograd would have kept divided by
    the bytes kept, of the last finished iteration of
    ``runner.controller`` (a :class:`gml.actnn.Controller` that another
    hook, such as the ActNN guide's, put there and iterates)."""

    priority = 55  # after NORMAL hooks (the guide's), before the logger

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        controller = getattr(runner, 'controller', None)
        if controller is None or not getattr(controller, 'history', None):
            return
        runner.message_hub.update_scalar('train/actnn_ratio',
                                         controller.ratio)
