"""DMCP's width grid, Markov keep probabilities and expected width, against
values worked out by hand from the DMCP official code's definitions:

    num_groups = floor((max_w - min_w) / offset + 1e-4)
    group_size = floor(offset * C / max_w)
    min_ch     = C - group_size * num_groups   (not exactly min_w * C)
    P(group k kept) = prod_{i <= k} p_i,  p_i = sigmoid(alpha_i)
                      (MMRazor: p_i = exp(-max(alpha_i, 0)))
    E[c] = min_ch + group_size * sum_k P(group k kept)
"""
import random

import pytest
import torch

from gml.errors import ConfigError
from gml.models.pruning.markov import (ChannelGroups, WidthGrid,
                                       channel_scale, direct_sample,
                                       expected_width, keep_probabilities,
                                       marginals)

GRID = WidthGrid(min=0.1, max=1.0, offset=0.1)


# (min_ch, group_size, num_groups) by hand; with (0.1, 1.0, 0.1) there are
# floor(0.9 / 0.1 + 1e-4) = 9 groups of floor(0.1 * C) channels, the rest
# is min_ch: 64 - 9 * 6 = 10, 128 - 9 * 12 = 20, 256 - 9 * 25 = 31,
# 512 - 9 * 51 = 53, 2048 - 9 * 204 = 212. With max 1.5 (the MobileNetV2
# config): floor(1.4 / 0.1 + 1e-4) = 14 groups of floor(0.1 * 48 / 1.5) = 3,
# min_ch = 48 - 14 * 3 = 6.
@pytest.mark.parametrize('channels, grid, expected', [
    (64, GRID, (10, 6, 9)),
    (128, GRID, (20, 12, 9)),
    (256, GRID, (31, 25, 9)),
    (512, GRID, (53, 51, 9)),
    (2048, GRID, (212, 204, 9)),
    (48, WidthGrid(min=0.1, max=1.5, offset=0.1), (6, 3, 14)),
])
def test_group_structure_equals_hand_computed_values(channels, grid,
                                                     expected):
    groups = grid.groups_of(channels)
    assert (groups.min_ch, groups.group_size, groups.num_groups) == expected
    assert groups.channels == channels


def test_expected_width_of_the_worked_example():
    groups = GRID.groups_of(64)
    half = expected_width(groups, torch.zeros(9))  # p = sigmoid(0) = 0.5
    assert half.item() == pytest.approx(15.98828125, abs=1e-6)
    # 10 + 6 * (1/2 + 1/4 + ... + 1/512) by hand
    assert 10 + 6 * sum(0.5 ** k for k in range(1, 10)) == 15.98828125
    assert expected_width(groups, torch.full((9, ), 50.)).item() == \
        pytest.approx(64)
    assert expected_width(groups, torch.full((9, ), -50.)).item() == \
        pytest.approx(10)
    # the exp parametrisation: p = exp(-max(alpha, 0)); alpha <= 0 keeps all
    assert expected_width(groups, torch.zeros(9), 'exp').item() == 64
    alpha = torch.full((9, ), 0.6931471805599453)  # p = 1/2 again
    assert expected_width(groups, alpha, 'exp').item() == \
        pytest.approx(15.98828125, abs=1e-5)


def test_marginals_are_products_and_scales_cover_every_channel():
    alpha = torch.tensor([0.0, 1.0, -1.0])
    # by hand: sigmoid(0) = 1/2, sigmoid(1) = e / (1 + e) = 0.7310585786,
    # sigmoid(-1) = 1 / (1 + e) = 0.2689414214; the marginals are the
    # running products 1/2, 1/2 * 0.7310585786 = 0.3655292893 and
    # 0.3655292893 * 0.2689414214 = 1/2 * e / (1 + e)**2 = 0.0983059666
    p = [0.5, 0.7310585786, 0.2689414214]
    m = [0.5, 0.3655292893, 0.0983059666]
    torch.testing.assert_close(keep_probabilities(alpha),
                               torch.tensor(p), rtol=0, atol=1e-7)
    torch.testing.assert_close(marginals(alpha), torch.tensor(m),
                               rtol=0, atol=1e-7)
    # 2 channels always kept, then 3 groups of 2 scaled by their marginal
    groups = ChannelGroups(min_ch=2, group_size=2, num_groups=3)
    scale = channel_scale(groups, alpha)
    assert [float(v) for v in scale] == pytest.approx(
        [1, 1, m[0], m[0], m[1], m[1], m[2], m[2]], abs=1e-7)


def test_direct_samples_average_to_the_expected_width():
    groups = GRID.groups_of(64)
    alpha = torch.linspace(2.0, -1.0, 9)
    rng = random.Random(0)
    draws = [direct_sample(groups, alpha, rng) for _ in range(20000)]
    mean = sum(draws) / len(draws)
    expected = expected_width(groups, alpha).item()
    # the standard error of the mean is below 0.12 channels here
    assert abs(mean - expected) < 0.4, (mean, expected)
    assert set(draws) <= {groups.width(k) for k in range(10)}


def test_grid_widths_nearest_and_errors():
    groups = GRID.groups_of(64)
    assert [groups.width(k) for k in (0, 1, 9)] == [10, 16, 64]
    assert groups.kept_groups(40) == 5
    assert groups.nearest(12.9) == 10 and groups.nearest(13.1) == 16
    assert groups.nearest(-5) == 10 and groups.nearest(100) == 64
    with pytest.raises(ConfigError, match='not on the grid 10 \\+ 6'):
        groups.kept_groups(41)
    with pytest.raises(ConfigError, match='mutator.width: unknown keys'):
        WidthGrid.from_cfg(dict(minimum=0.1))
    with pytest.raises(ConfigError, match='0 < min < max'):
        WidthGrid.from_cfg(dict(min=0.5, max=0.4))
    with pytest.raises(ConfigError, match='mutator.probability'):
        keep_probabilities(torch.zeros(2), 'softmax')
