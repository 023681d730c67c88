"""The controller: compresses what autograd saves for backward.

Used as saved-tensor hooks (``torch.autograd.graph.saved_tensors_hooks``):
``quantize`` packs a tensor when autograd saves it, ``dequantize`` restores
it when backward needs it. Parameters (``filter_tensors``), small tensors
and the inputs the caller keeps anyway are stored as they are.
"""
import contextlib
import weakref
from typing import Dict, Iterable, List, Optional, Tuple

import torch

from ..errors import ConfigError
from . import conf
from .packing import (Packed, pack_channels, pack_groups, pack_integers,
                      pack_mask, pack_relu)
from .precision import choose_bits

RELU_OUTPUTS = ('ReluBackward0', 'ReluBackward1')
SEEN_LIMIT = 512
CONV_OUTPUTS = ('ConvolutionBackward0', 'ConvolutionBackward1',
                'MkldnnConvolutionBackward0', 'CudnnConvolutionBackward0')


def _storage_key(x: torch.Tensor) -> Tuple:
    return (x.untyped_storage().data_ptr(), x.storage_offset(),
            tuple(x.shape), tuple(x.stride()), x.dtype, x._version)


class Controller:
    """Compresses every tensor autograd saves, except parameters and tensors
    too small to matter.

    Args:
        default_bit: fixed bits (1, 2, 4, 8) for every compressed tensor;
            None follows ``level``.
        level: 'L0' .. 'L4' (default: ``gml.actnn.config``, set by
            ``set_optimization_level``).
        group_size, min_numel, swap, auto_precision, adapt_interval:
            override the level's settings (see ``ActNNConfig``).
        seed: seed of the stochastic rounding (None: unseeded).

    ``stats`` counts the bytes saved for backward in the current
    iteration before (``raw_bytes``) and after (``packed_bytes``)
    compression; every storage counts once.

    ``auto_iterate``: for controllers no training loop calls
    :meth:`iterate` on (the one Q-layers built outside ``QModule``
    share): a Q-layer forwarded a second time since the last
    :meth:`iterate` starts the next iteration.
    """

    auto_iterate = False

    def __init__(self, default_bit: Optional[int] = None,
                 level: Optional[str] = None, seed: Optional[int] = None,
                 **overrides):
        settings = conf.level_settings(level) if level is not None else \
            conf.ActNNConfig(**vars(conf.config))
        for key, value in overrides.items():
            if not hasattr(settings, key):
                raise ConfigError(f'actnn Controller: unknown setting '
                                  f'{key!r}')
            setattr(settings, key, value)
        if default_bit is not None:
            settings.activation_compression_bits = conf.check_bits(
                default_bit, 'default_bit')
            settings.auto_precision = False
            settings.compress_activation = True
        conf.check_bits(settings.activation_compression_bits)
        self.settings = settings
        self.generator = None
        if seed is not None:
            self.generator = torch.Generator().manual_seed(seed)
        self.unrelated_tensors = set()
        self.iteration = 0
        self.history: List[Dict[str, int]] = []
        self._bits: List[int] = []
        self._reset()

    # ------------------------------------------------------- bookkeeping
    def _reset(self):
        self.stats = dict(raw_bytes=0, packed_bytes=0, tensors=0,
                          compressed=0)
        self._seen: Dict[Tuple, Tuple] = {}  # storage key: (tensor, packed)
        self._storages = {}  # address: a tensor on it (weak), counted
        self._index = 0
        self._records: List[Dict] = []
        self._plane: Tuple = ((), ())  # of the tensor saved last
        self._forwarded = set()  # Q-layers (ids) run in this iteration

    def filter_tensors(self, named_parameters: Iterable) -> None:
        """Remember parameters (and views of them) so they stay as they
        are."""
        for _, param in named_parameters:
            self.unrelated_tensors.add(param.untyped_storage().data_ptr())

    def iterate(self) -> None:
        """End of a training iteration: keep its statistics, forget its
        tensors, and every ``adapt_interval`` iterations choose new
        per-tensor bits (auto precision)."""
        self.history.append(dict(self.stats))
        self.iteration += 1
        if self._records:  # kept every adapt_interval iterations only
            self._adapt()
        self._reset()

    def layer_forward(self, layer) -> None:
        """A Q-layer's training forward (see ``auto_iterate``)."""
        if not self.auto_iterate:
            return
        if id(layer) in self._forwarded:
            self.iterate()
        self._forwarded.add(id(layer))

    @property
    def ratio(self) -> float:
        """raw / packed bytes of the last finished iteration."""
        last = self.history[-1] if self.history else self.stats
        return last['raw_bytes'] / max(last['packed_bytes'], 1)

    # ------------------------------------------------------ compression
    def _bits_for(self, index: int) -> int:
        if self.settings.auto_precision and index < len(self._bits):
            return self._bits[index]
        return self.settings.activation_compression_bits

    def _passes_through(self, x) -> bool:
        return (not isinstance(x, torch.Tensor) or
                isinstance(x, torch.nn.Parameter) or
                x.untyped_storage().data_ptr() in self.unrelated_tensors)

    def quantize(self, x):
        """Pack hook: the compressed form of ``x`` (or ``x`` itself)."""
        if self._passes_through(x):
            return x
        key = _storage_key(x)
        plane, self._plane = self._plane, (tuple(x.shape[:-2]),
                                           tuple(x.shape[-2:]))
        hit = self._seen.get(key)
        if hit is not None and hit[0]() is not None:
            return hit[1]  # the same storage saved by another op
        packed = self._compress(x, plane)
        storage = x.untyped_storage()
        # a storage counts once while it lives; a freed one's address is
        # soon reused by a new tensor, which counts again
        holder = self._storages.get(storage.data_ptr())
        first_use = holder is None or holder() is None
        if first_use:
            self._storages[storage.data_ptr()] = weakref.ref(x)
        self.stats['tensors'] += 1
        self.stats['raw_bytes'] += storage.nbytes() if first_use else 0
        if isinstance(packed, Packed):
            self.stats['compressed'] += 1
            self.stats['packed_bytes'] += packed.nbytes
            if self.settings.swap and x.is_cuda:
                packed = packed.to('cpu')
        elif first_use:
            self.stats['packed_bytes'] += storage.nbytes()
        if len(self._seen) >= SEEN_LIMIT:  # without iterate(): no leak
            self._seen = {k: v for k, v in self._seen.items()
                          if v[0]() is not None}
            self._storages = {k: v for k, v in self._storages.items()
                              if v() is not None}
        self._seen[key] = (weakref.ref(x), packed)
        return packed

    def _compress(self, x: torch.Tensor, previous: Tuple):
        settings = self.settings
        if not settings.compress_activation or x.numel() < settings.min_numel:
            return x
        if x.dtype == torch.bool:
            return pack_mask(x)
        if not x.is_floating_point():
            # max-pool indices follow the pooled input: its plane size
            leading, plane = previous
            same = x.dim() >= 2 and leading == tuple(x.shape[:-2])
            return pack_integers(x, plane if same else None)
        kind = type(x.grad_fn).__name__ if x.grad_fn is not None else None
        if kind is None and not x.requires_grad:
            value = x.amax()
            if bool(((x == 0) | (x == value)).all()):
                return pack_mask(x, float(value))  # e.g. a dropout mask
            # the model's input: image data, 8 bits to begin with
            return pack_groups(x, settings.input_bits, settings.group_size,
                               self.generator)
        if kind in CONV_OUTPUTS and not settings.compress_conv_outputs:
            return x
        index = self._index
        self._index += 1
        bits = self._bits_for(index)
        relu = kind in RELU_OUTPUTS and bits >= 2
        if relu:
            pack = pack_relu
        elif kind in CONV_OUTPUTS and x.dim() >= 3:
            pack = pack_channels  # BatchNorm's input: per-channel scale
        else:
            pack = pack_groups
        packed = pack(x, bits, settings.group_size, self.generator)
        if settings.auto_precision and \
                self.iteration % settings.adapt_interval == 0:
            # only the iteration whose statistics the next choice uses
            self._record(index, x, packed, relu)
        return packed

    def dequantize(self, packed):
        """Unpack hook: the tensor ``quantize`` packed."""
        if isinstance(packed, Packed):
            return packed.unpack()
        return packed

    # --------------------------------------------------- auto precision
    def _record(self, index: int, x: torch.Tensor, packed: Packed,
                relu: bool) -> None:
        """Keep what the bit choice needs: the tensor's squared ranges
        (its variance at one quantization level) and, in backward, the
        squared norm of its gradient. Both stay on the device."""
        groups = packed.extra['groups']
        scale = packed.tensors['scale'].float()
        levels = 2 ** packed.bits - (2 if relu else 1)
        ranges = (levels / scale).pow(2).sum() * groups[-1]
        if 'spread' in packed.tensors:  # ranges of standardised values
            ranges = ranges * packed.tensors['spread'].pow(2).mean()
        record = dict(index=index, numel=x.numel(), ranges=ranges,
                      min_bits=2 if relu else 1, grad=None)
        if x.requires_grad:
            def keep(grad, record=record):
                record['grad'] = grad.detach().pow(2).mean()
            x.register_hook(keep)
        self._records.append(record)

    def _adapt(self) -> None:
        records = [r for r in self._records if r['grad'] is not None]
        if not records:
            return
        sensitivity = torch.stack([r['ranges'] * r['grad']
                                   for r in records]).cpu().tolist()
        chosen = choose_bits(sensitivity, [r['numel'] for r in records],
                             self.settings.activation_compression_bits,
                             [r['min_bits'] for r in records])
        bits = [self.settings.activation_compression_bits] * \
            (max(r['index'] for r in self._records) + 1)
        for record, b in zip(records, chosen):
            bits[record['index']] = b
        self._bits = bits

    # ------------------------------------------------------------ usage
    @contextlib.contextmanager
    def hooks(self):
        """Compress what autograd saves inside the ``with`` block."""
        with torch.autograd.graph.saved_tensors_hooks(self.quantize,
                                                      self.dequantize):
            yield self
