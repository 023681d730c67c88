"""One-call conversion: ``model = QModule(model)``."""
import torch
import torch.nn as nn

from .controller import Controller
from .layers import QLayer, to_q_layer

PREFIX = 'model.'


class QModule(nn.Module):
    """``model`` with its standard layers (``nn.Conv2d``, ``nn.BatchNorm2d``,
    ``nn.ReLU``, ... see ``layers.Q_LAYERS``) replaced by the ``Q`` layers
    of :mod:`gml.actnn.layers`, whose training forwards keep compressed
    activations for backward; evaluation and no-grad forwards run
    unchanged.

    The layers keep their parameters (the same tensors) and ``state_dict``
    keys: a ``QModule``'s ``state_dict`` has the model's keys (no
    ``model.`` prefix), so checkpoints load both ways. Besides the
    converted layers, the whole training forward runs under the
    controller's saved-tensor hooks, so functional calls (``F.relu``) and
    layers of other types are compressed as well. Each training forward
    starts a new controller iteration (the previous one's backward is done
    by then).

    Args:
        model: the module to convert (in place) and wrap.
        controller: a :class:`Controller` (default: one built from
            ``controller_args``, e.g. ``default_bit=4`` or
            ``level='L3'``; without them from ``gml.actnn.config``).
    """

    def __init__(self, model: nn.Module, controller: Controller = None,
                 **controller_args):
        super().__init__()
        self.controller = controller or Controller(**controller_args)
        self.model = convert_layers(model, self.controller)
        self._started = False
        self.register_state_dict_post_hook(_drop_prefix)
        self.register_load_state_dict_pre_hook(_add_prefix)

    def forward(self, *args, **kwargs):
        if not (self.training and torch.is_grad_enabled()):
            return self.model(*args, **kwargs)
        if self._started:
            self.controller.iterate()
        self._started = True
        self.controller.unrelated_tensors = set()
        self.controller.filter_tensors(self.model.named_parameters())
        with self.controller.hooks():
            return self.model(*args, **kwargs)


def convert_layers(model: nn.Module, controller: Controller) -> nn.Module:
    """Replace, in place, every standard layer of ``model`` by its Q-layer
    using ``controller`` (Q-layers already there adopt it); returns the
    model (the Q-layer if ``model`` itself is a standard layer). A layer
    reached twice stays one layer."""
    done = {}

    def convert(module):
        if id(module) in done:
            return done[id(module)]
        if isinstance(module, QLayer):
            module.controller = controller
            new = module
        else:
            new = to_q_layer(module, controller)
        done[id(module)] = new
        for name, child in list(new._modules.items()):
            if child is not None:
                new._modules[name] = convert(child)
        return new
    return convert(model)


def _drop_prefix(module, state_dict, prefix, local_metadata) -> None:
    """state_dict hook: ``<prefix>model.<key>`` becomes ``<prefix><key>``
    (the version metadata of the model's modules moves along)."""
    inner = prefix + PREFIX
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + key[len(inner):]] = state_dict.pop(key)
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is None:
        return
    for key in [k for k in metadata
                if k == inner[:-1] or k.startswith(inner)]:
        outer = prefix + key[len(inner):] if key != inner[:-1] \
            else prefix[:-1]
        metadata[outer] = metadata.pop(key)


def _add_prefix(module, state_dict, prefix, local_metadata, strict,
                missing_keys, unexpected_keys, error_msgs) -> None:
    """load_state_dict pre-hook: the keys (a QModule's own or the plain
    model's) get the ``model.`` prefix the wrapped model's are under; a
    state dict with prefixed keys (from an older gml) loads as it is."""
    inner = prefix + PREFIX
    ours = [k for k in state_dict if k.startswith(prefix)]
    if any(k.startswith(inner) for k in ours):
        return
    for key in ours:
        state_dict[inner + key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:  # the caller's: entries are added, not moved
        for key in [k for k in metadata if k == prefix[:-1] or
                    k.startswith(prefix)]:
            moved = inner + key[len(prefix):] if key != prefix[:-1] \
                else inner[:-1]
            metadata.setdefault(moved, metadata[key])
