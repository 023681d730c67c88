"""The kernel search: for every piece ``c`` the candidate ``r_k`` and the
coefficients with ``c ~ alpha * r_k + beta``, all pieces of a layer at once.

With an offset (every version but ``v2nb``), for each pair (c, r) least
squares gives, with centred vectors ``c' = c - mean(c)``, ``r' = r -
mean(r)``::

    alpha = <c', r'> / (|r'|^2 + eps),    beta = mean(c) - alpha * mean(r)

and the residual ``|c'|^2 - <c', r'>^2 / |r'|^2``. The smallest residual
is therefore the largest ``|<c', r'>| / (|c'| |r'|)``, the absolute Pearson
correlation: k is chosen by it, computed as ``|<c', r'>| / sqrt((|c'|^2 +
eps)(|r'|^2 + eps))`` (ties: the lowest k). Without the offset (``v2nb``)
``alpha = <c, r> / (|r|^2 + eps)`` and k is the candidate with the smallest
squared residual ``|alpha * r - c|^2``. ``eps = 1e-8``: a constant
candidate gets ``alpha = 0`` (and ``beta = mean(c)``), never a NaN.

The arithmetic runs in float64, blocks of pieces at a time, so a layer of
262,144 pieces against 192 candidates (CIFAR ResNet-18) needs no more than
:data:`BLOCK_ELEMENTS` numbers per matrix.
"""
from dataclasses import dataclass
from typing import Optional

import torch

EPS = 1e-8
BLOCK_ELEMENTS = 1 << 22


@dataclass
class KernelFit:
    """The fit of ``n`` pieces: ``index`` (int64), ``alpha`` and ``beta``
    (float64; ``beta`` is None without an offset)."""

    index: torch.Tensor
    alpha: torch.Tensor
    beta: Optional[torch.Tensor]


def _blocks(n: int, m: int):
    step = max(1, BLOCK_ELEMENTS // max(m, 1))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def search(pieces: torch.Tensor, candidates: torch.Tensor,
           with_beta: bool = True, eps: float = EPS) -> KernelFit:
    """The best candidate of every piece and its coefficients.

    ``pieces``: ``(n, d)``; ``candidates``: ``(m, d)``.
    """
    c_all = pieces.detach().to(torch.float64)
    r = candidates.detach().to(torch.float64)
    index = torch.empty(len(c_all), dtype=torch.int64)
    alpha = torch.empty(len(c_all), dtype=torch.float64)
    if with_beta:
        r_mean = r.mean(1)
        r_c = r - r_mean[:, None]
        r_var = (r_c * r_c).sum(1)
        for block in _blocks(len(c_all), len(r)):
            c = c_all[block]
            c_c = c - c.mean(1, keepdim=True)
            c_var = (c_c * c_c).sum(1)
            cov = c_c @ r_c.T
            score = cov.abs() / torch.sqrt((c_var[:, None] + eps)
                                           * (r_var[None, :] + eps))
            k = score.argmax(1)
            index[block] = k
            alpha[block] = cov.gather(1, k[:, None])[:, 0] / (r_var[k] + eps)
        beta = c_all.mean(1) - alpha * r_mean[index]
        return KernelFit(index, alpha, beta)
    r_norm = (r * r).sum(1)
    for block in _blocks(len(c_all), len(r)):
        c = c_all[block]
        dot = c @ r.T
        a = dot / (r_norm[None, :] + eps)
        # |a r - c|^2 = a^2 |r|^2 - 2 a <c, r> + |c|^2 (the last is the
        # same for every candidate)
        residual = a * a * r_norm[None, :] - 2 * a * dot
        k = residual.argmin(1)
        index[block] = k
        alpha[block] = a.gather(1, k[:, None])[:, 0]
    return KernelFit(index, alpha, None)


def refit(pieces: torch.Tensor, candidates: torch.Tensor,
          index: torch.Tensor, with_beta: bool = True,
          eps: float = EPS) -> KernelFit:
    """The coefficients of every piece against its given candidate
    ``candidates[index]`` (``v2f`` keeps k and refits these only)."""
    c = pieces.detach().to(torch.float64)
    r = candidates.detach().to(torch.float64)[index]
    if not with_beta:
        alpha = (c * r).sum(1) / ((r * r).sum(1) + eps)
        return KernelFit(index.clone(), alpha, None)
    c_c = c - c.mean(1, keepdim=True)
    r_c = r - r.mean(1, keepdim=True)
    alpha = (c_c * r_c).sum(1) / ((r_c * r_c).sum(1) + eps)
    return KernelFit(index.clone(), alpha, c.mean(1) - alpha * r.mean(1))


def best_offset(pieces: torch.Tensor, candidates: torch.Tensor,
                index: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The least-squares beta for a given (quantized) alpha:
    ``mean(c) - alpha * mean(r_k)``."""
    c = pieces.detach().to(torch.float64)
    r = candidates.detach().to(torch.float64)[index]
    return c.mean(1) - alpha.to(torch.float64) * r.mean(1)


def reconstruct(candidates: torch.Tensor, index: torch.Tensor,
                alpha: torch.Tensor,
                beta: Optional[torch.Tensor]) -> torch.Tensor:
    """``alpha * candidates[index] + beta`` in float32, ``(n, d)``.

    The projection and the file loader both rebuild weights with this
    function from the same float32 values, so they agree bit for bit.
    """
    r = candidates.to(torch.float32)[index]
    out = alpha.to(torch.float32)[:, None] * r
    if beta is not None:
        out = out + beta.to(torch.float32)[:, None]
    return out
