"""One-call conversion: ``model = QModule(model)``."""
import torch.nn as nn

from .controller import Controller


class QModule(nn.Module):
    """``model`` whose training forwards keep compressed activations for
    backward; evaluation and no-grad forwards run unchanged.

    The same effect as replacing every layer by a compressing one, but
    through saved-tensor hooks, so functional calls are covered too.
    Each training forward starts a new controller iteration (the previous
    one's backward is done by then).

    Args:
        model: the module to wrap.
        controller: a :class:`Controller` (default: one built from
            ``controller_args``, e.g. ``default_bit=4`` or
            ``level='L3'``).
    """

    def __init__(self, model: nn.Module, controller: Controller = None,
                 **controller_args):
        super().__init__()
        self.model = model
        self.controller = controller or Controller(**controller_args)
        self._started = False

    def forward(self, *args, **kwargs):
        import torch
        if not (self.training and torch.is_grad_enabled()):
            return self.model(*args, **kwargs)
        if self._started:
            self.controller.iterate()
        self._started = True
        self.controller.unrelated_tensors = set()
        self.controller.filter_tensors(self.model.named_parameters())
        with self.controller.hooks():
            return self.model(*args, **kwargs)
