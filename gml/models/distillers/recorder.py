"""Capturing the tensors that named modules produce during a forward pass."""
import difflib
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from ...errors import ConfigError

SOURCES = ('output', 'input')


def find_module(model: nn.Module, name: str, key: str) -> nn.Module:
    """``model``'s submodule ``name``, or a ConfigError with close matches."""
    modules = dict(model.named_modules())
    if name in modules:
        return modules[name]
    close = difflib.get_close_matches(name, [n for n in modules if n], n=5,
                                      cutoff=0.5)
    hint = f'; close matches: {", ".join(close)}' if close else ''
    raise ConfigError(f'{key}: no module named {name!r} in '
                      f'{type(model).__name__}{hint}')


class FeatureRecorder:
    """Forward hooks that keep the last output (or first input) of modules.

    A module called several times in one forward (e.g. a shared ReLU) keeps
    its last call, which for a residual block's ReLU is the block output.
    Hooks are removable and the recorded tensors are dropped with
    :meth:`clear`, so nothing outlives a training step.
    """

    def __init__(self):
        self.records: Dict[Tuple[int, str, str], torch.Tensor] = {}
        self.handles: List = []

    def watch(self, model: nn.Module, name: str, source: str = 'output',
              key: str = 'module') -> Tuple[int, str, str]:
        """Start recording ``model.<name>``; return the record's key."""
        if source not in SOURCES:
            raise ConfigError(f'{key}: record must be one of {SOURCES}, '
                              f'found {source!r}')
        module = find_module(model, name, key)
        record_key = (id(model), name, source)
        if any(k == record_key for k in self._watched()):
            return record_key

        def hook(mod, inputs, output):
            value = output if source == 'output' else inputs[0]
            if isinstance(value, (tuple, list)):
                value = value[-1]
            self.records[record_key] = value

        self.handles.append((record_key, module.register_forward_hook(hook)))
        return record_key

    def _watched(self):
        return [k for k, _ in self.handles]

    def get(self, record_key: Tuple[int, str, str]) -> torch.Tensor:
        if record_key not in self.records:
            raise RuntimeError(f'module {record_key[1]!r} was not called '
                               'in the last forward pass')
        return self.records[record_key]

    def clear(self) -> None:
        self.records.clear()

    def remove(self) -> None:
        for _, handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.records.clear()


def shape_of(tensor: Optional[torch.Tensor]) -> str:
    return 'none' if tensor is None else 'x'.join(map(str, tensor.shape))
