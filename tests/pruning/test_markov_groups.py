"""DMCP's width grid, Markov keep probabilities and expected width, against
the reference's worked example (shared/reference/algorithms.md, DMCP)."""
import random

import pytest
import torch

from gml.errors import ConfigError
from gml.models.pruning.markov import (ChannelGroups, WidthGrid,
                                       channel_scale, direct_sample,
                                       expected_width, keep_probabilities,
                                       marginals)

GRID = WidthGrid(min=0.1, max=1.0, offset=0.1)


@pytest.mark.parametrize('channels, grid, expected', [
    (64, GRID, (10, 6, 9)),
    (128, GRID, (20, 12, 9)),
    (256, GRID, (31, 25, 9)),
    (512, GRID, (53, 51, 9)),
    (2048, GRID, (212, 204, 9)),
    (48, WidthGrid(min=0.1, max=1.5, offset=0.1), (6, 3, 14)),
])
def test_group_structure_equals_the_reference_table(channels, grid,
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
    p = torch.sigmoid(alpha)
    assert torch.allclose(keep_probabilities(alpha), p)
    assert torch.allclose(marginals(alpha),
                          torch.stack([p[0], p[0] * p[1], p[0] * p[1] * p[2]]))
    groups = ChannelGroups(min_ch=2, group_size=2, num_groups=3)
    scale = channel_scale(groups, alpha)
    m = marginals(alpha)
    assert scale.tolist() == pytest.approx(
        [1, 1, m[0], m[0], m[1], m[1], m[2], m[2]])


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
