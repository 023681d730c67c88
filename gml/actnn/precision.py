"""Choosing per-tensor bits for a target average (auto precision)."""
from typing import List, Sequence

import numpy as np


def choose_bits(sensitivity: Sequence[float], sizes: Sequence[int],
                target: float, min_bits: Sequence[int],
                max_bits: int = 8) -> List[int]:
    """Bits per tensor minimising sum C_l / (2^b_l - 1)^2 with the
    size-weighted average of b_l at most ``target``.

    Greedy, as ActNN's solver: everything starts at ``max_bits``; one bit
    at a time is taken from the tensor whose objective rises least per
    bit-element saved, until the average reaches the target; then bits
    are given back, most useful first, where they still fit (a large
    tensor's last cut can overshoot the budget). C_l is the
    stochastic-rounding variance of tensor l at one level (its squared
    ranges) weighted by its gradient's squared magnitude.
    """
    c = np.asarray(sensitivity, dtype=np.float64)
    n = np.asarray(sizes, dtype=np.float64)
    low = np.asarray(min_bits, dtype=np.int64)
    bits = np.full(len(c), max_bits, dtype=np.int64)
    budget = target * n.sum()

    def cost(b):
        with np.errstate(divide='ignore'):  # b = 0 is never chosen
            return c / (2.0 ** b - 1) ** 2

    while (bits * n).sum() > budget + 1e-9:
        rise = np.where(bits > low, (cost(bits - 1) - cost(bits)) / n,
                        np.inf)
        pick = int(np.argmin(rise))
        if not np.isfinite(rise[pick]):
            break  # every tensor at its minimum
        bits[pick] -= 1
    while True:
        gain = np.where((bits < max_bits) & ((bits * n).sum() + n <=
                                             budget + 1e-9),
                        (cost(bits) - cost(bits + 1)) / n, -np.inf)
        pick = int(np.argmax(gain))
        if not np.isfinite(gain[pick]) or gain[pick] <= 0:
            return bits.tolist()
        bits[pick] += 1
