"""Projecting a model onto its MESS form, in place.

For every family (:mod:`.kernels`) the reference conv is kept (quantized
to ``qb`` bits first in ``v2qq``/``v2f``) and every piece of every other
conv of the family is overwritten with ``alpha * r_k + beta``:

1. ``v2qq``/``v2f``: the conv's weight is quantized to ``qb`` bits (one
   scale and offset per conv) before the search;
2. k, alpha (and beta) are searched (:func:`.fit.search`), or, given
   ``fixed`` indices (``v2f`` while retraining), only alpha and beta are
   refit (:func:`.fit.refit`);
3. ``v2q``/``v2qq``/``v2f``: alpha is quantized to ``qba`` bits, beta is
   refit for the quantized alpha (``mean(c) - alpha * mean(r_k)``, the
   least-squares offset) and quantized to ``qbb`` bits;
4. the weight becomes :func:`.fit.reconstruct` of the stored values.

The returned :class:`Projection` holds everything the file format writes;
rebuilding from it gives the projected weights bit for bit.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from ...errors import ConfigError
from .bitpack import index_bits
from .fit import best_offset, reconstruct, refit, search
from .kernels import Family, find_families
from .options import MESSOptions
from .quantize import Quantized, quantize


@dataclass
class Coefficients:
    """One layer's alpha or beta: float32 ``values`` as the model uses them
    and, when quantized, the codes they come from."""

    values: torch.Tensor
    quantized: Optional[Quantized] = None


@dataclass
class ReferenceLayer:
    """A reference conv: its weight as the model holds it after the
    projection (float32), and its codes in ``v2qq``/``v2f``."""

    name: str
    kind: str
    shape: Tuple[int, ...]
    weight: torch.Tensor
    quantized: Optional[Quantized]
    num_candidates: int
    slice_size: int


@dataclass
class SharedLayer:
    """A conv rebuilt from its reference: piece ``j`` is ``alpha[j] *
    candidate[index[j]] + beta[j]``. ``error``: the relative L2 change of
    its weight by this projection."""

    name: str
    kind: str
    reference: str
    shape: Tuple[int, ...]
    index: torch.Tensor
    alpha: Coefficients
    beta: Optional[Coefficients]
    num_candidates: int
    error: float

    @property
    def num_pieces(self) -> int:
        return int(self.index.numel())


@dataclass
class Projection:
    """The result of :func:`project`."""

    options: MESSOptions
    references: List[ReferenceLayer]
    layers: List[SharedLayer]

    def indices(self) -> Dict[str, torch.Tensor]:
        """Every shared layer's indices, by layer name."""
        return {layer.name: layer.index.clone() for layer in self.layers}

    def changed(self, previous: Dict[str, torch.Tensor]) -> int:
        """How many indices differ from ``previous`` (layers missing from
        it count whole)."""
        total = 0
        for layer in self.layers:
            old = previous.get(layer.name)
            if old is None or old.shape != layer.index.shape:
                total += layer.num_pieces
            else:
                total += int((old != layer.index).sum())
        return total

    @property
    def num_pieces(self) -> int:
        return sum(layer.num_pieces for layer in self.layers)

    def mean_error(self) -> float:
        """The shared layers' relative weight change, averaged."""
        errors = [layer.error for layer in self.layers]
        return sum(errors) / len(errors) if errors else 0.0


def _finite(weight: torch.Tensor, name: str) -> torch.Tensor:
    weight = weight.detach().to(torch.float32).clone()
    if not torch.isfinite(weight).all():
        raise ConfigError(f'MESS: {name}.weight has NaN or infinite values')
    return weight


def _relative_change(new: torch.Tensor, old: torch.Tensor) -> float:
    norm = float(old.norm())
    return float((new - old).norm()) / norm if norm > 0 else \
        float((new - old).norm())


def _coefficients(values: torch.Tensor, bits: Optional[int]) -> Coefficients:
    if bits is None:
        return Coefficients(values.to(torch.float32))
    codes = quantize(values, bits)
    return Coefficients(codes.values(), codes)


def _check_fixed(index: torch.Tensor, name: str, n: int, m: int):
    index = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
    if index.numel() != n or (n and (index.min() < 0 or index.max() >= m)):
        raise ConfigError(f'MESS: the fixed indices of {name} do not fit it '
                          f'({index.numel()} indices for {n} pieces, '
                          f'{m} candidates)')
    return index


def _project_family(family: Family, options: MESSOptions,
                    fixed: Optional[Dict[str, torch.Tensor]]):
    ref_name, ref = family.reference
    dense = _finite(ref.weight, ref_name)
    codes = quantize(dense, options.qb) if options.quantize_weights else None
    weight = codes.values() if codes is not None else dense
    ref.weight.copy_(weight.to(ref.weight.dtype))
    weight = ref.weight.detach().to(torch.float32).clone()
    candidates = family.candidates(weight)
    m = len(candidates)
    reference = ReferenceLayer(ref_name, family.kind, tuple(weight.shape),
                               weight, codes, m, family.slice_size)
    layers = []
    alpha_bits = options.qba if options.quantize_coefficients else None
    beta_bits = options.qbb if options.quantize_coefficients else None
    for name, conv in family.shared:
        dense = _finite(conv.weight, name)
        seen = quantize(dense, options.qb).values() \
            if options.quantize_weights else dense
        pieces = family.pieces(seen)
        if fixed is not None and name in fixed:
            index = _check_fixed(fixed[name], name, len(pieces), m)
            fit = refit(pieces, candidates, index, options.with_beta)
        else:
            fit = search(pieces, candidates, options.with_beta)
        alpha = _coefficients(fit.alpha, alpha_bits)
        beta = None
        if options.with_beta:
            offset = fit.beta if alpha.quantized is None else \
                best_offset(pieces, candidates, fit.index, alpha.values)
            beta = _coefficients(offset, beta_bits)
        new = reconstruct(candidates, fit.index, alpha.values,
                          beta.values if beta is not None else None)
        new = new.reshape(dense.shape)
        conv.weight.copy_(new.to(conv.weight.dtype))
        layers.append(SharedLayer(
            name, family.kind, ref_name, tuple(dense.shape), fit.index,
            alpha, beta, m, _relative_change(new, dense)))
    return reference, layers


@torch.no_grad()
def project(model: nn.Module, options: MESSOptions,
            fixed: Optional[Dict[str, torch.Tensor]] = None) -> Projection:
    """Overwrite ``model``'s shared convs with their MESS reconstruction
    (and quantize the references in ``v2qq``/``v2f``); return what was
    stored. ``fixed``: indices by layer name to keep instead of searching
    (alpha and beta are refit)."""
    families = find_families(model, options.pointwise, options.slice_size)
    references, layers = [], []
    for family in families:
        reference, shared = _project_family(family, options, fixed)
        references.append(reference)
        layers.extend(shared)
    return Projection(options, references, layers)


def kernel_bits(layer: SharedLayer, options: MESSOptions) -> int:
    """Bits one piece of ``layer`` takes in the file, without the per-layer
    scales and offsets: index + alpha + beta."""
    index = index_bits(layer.num_candidates)
    coefficient = options.qba if options.quantize_coefficients else 32
    beta = 0 if not options.with_beta else \
        options.qbb if options.quantize_coefficients else 32
    return index + coefficient + beta
