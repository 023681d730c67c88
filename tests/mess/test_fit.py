"""The vectorised kernel search against a brute-force computation, one
kernel and one candidate at a time, with numpy's own least squares."""
import numpy as np
import pytest
import torch

from gml.models.mess import fit


def brute_force(pieces, candidates, with_beta=True):
    """For every piece: every candidate fitted with np.polyfit (offset) or
    np.linalg.lstsq (no offset); k by |Pearson| (offset) or the smallest
    squared residual (no offset)."""
    c_all = pieces.numpy().astype(np.float64)
    r_all = candidates.numpy().astype(np.float64)
    index, alpha, beta = [], [], []
    for c in c_all:
        best = None
        for k, r in enumerate(r_all):
            if with_beta:
                a, b = np.polyfit(r, c, 1)
                score = abs(np.corrcoef(c, r)[0, 1])
                key = -score
            else:
                a = np.linalg.lstsq(r[:, None], c, rcond=None)[0][0]
                b = 0.0
                key = float(((a * r - c) ** 2).sum())
            if best is None or key < best[0]:
                best = (key, k, a, b)
        index.append(best[1])
        alpha.append(best[2])
        beta.append(best[3])
    return np.array(index), np.array(alpha), np.array(beta)


@pytest.fixture
def example():
    generator = torch.Generator().manual_seed(3)
    candidates = torch.randn(12, 9, generator=generator)
    # pieces: noisy affine copies of known candidates, plus pure noise
    truth = torch.randint(0, 12, (40,), generator=generator)
    scale = torch.randn(40, generator=generator)
    shift = torch.randn(40, generator=generator)
    pieces = scale[:, None] * candidates[truth] + shift[:, None] + \
        0.3 * torch.randn(40, 9, generator=generator)
    pieces = torch.cat([pieces, torch.randn(20, 9, generator=generator)])
    return pieces, candidates


def test_search_with_offset_matches_brute_force(example):
    pieces, candidates = example
    result = fit.search(pieces, candidates, with_beta=True)
    index, alpha, beta = brute_force(pieces, candidates, True)
    assert result.index.tolist() == index.tolist()
    np.testing.assert_allclose(result.alpha.numpy(), alpha, rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(result.beta.numpy(), beta, rtol=1e-6,
                               atol=1e-7)


def test_search_without_offset_matches_brute_force(example):
    pieces, candidates = example
    result = fit.search(pieces, candidates, with_beta=False)
    index, alpha, _ = brute_force(pieces, candidates, False)
    assert result.beta is None
    assert result.index.tolist() == index.tolist()
    np.testing.assert_allclose(result.alpha.numpy(), alpha, rtol=1e-6,
                               atol=1e-7)


def test_pearson_choice_is_the_smallest_l2_residual(example):
    pieces, candidates = example
    result = fit.search(pieces, candidates, with_beta=True)
    c = pieces.double()
    for k in range(len(candidates)):
        other = fit.refit(pieces, candidates, torch.full((len(c),), k))
        mine = fit.reconstruct(candidates, result.index, result.alpha,
                               result.beta).double()
        theirs = fit.reconstruct(candidates, other.index, other.alpha,
                                 other.beta).double()
        assert (((mine - c) ** 2).sum(1) <=
                ((theirs - c) ** 2).sum(1) + 1e-5).all()


def test_blocks_give_the_same_answer(example, monkeypatch):
    pieces, candidates = example
    whole = fit.search(pieces, candidates)
    monkeypatch.setattr(fit, 'BLOCK_ELEMENTS', 25)  # two pieces a block
    blocked = fit.search(pieces, candidates)
    assert torch.equal(whole.index, blocked.index)
    # float64 products summed in another order: equal to rounding
    torch.testing.assert_close(whole.alpha, blocked.alpha, rtol=1e-12,
                               atol=1e-12)
    torch.testing.assert_close(whole.beta, blocked.beta, rtol=1e-12,
                               atol=1e-12)


def test_exact_affine_copies_are_recovered():
    candidates = torch.randn(5, 9, generator=torch.Generator().manual_seed(1))
    pieces = torch.stack([2.5 * candidates[3] - 1.0,
                          -0.5 * candidates[0] + 0.25])
    result = fit.search(pieces, candidates)
    assert result.index.tolist() == [3, 0]
    np.testing.assert_allclose(result.alpha.numpy(), [2.5, -0.5], rtol=1e-6)
    np.testing.assert_allclose(result.beta.numpy(), [-1.0, 0.25], atol=1e-6)


@pytest.mark.parametrize('with_beta', [True, False])
def test_constant_candidates_and_pieces_give_no_nan(with_beta):
    candidates = torch.stack([torch.full((9,), 2.0), torch.zeros(9)])
    pieces = torch.stack([torch.arange(9.0), torch.full((9,), -3.0),
                          torch.zeros(9)])
    result = fit.search(pieces, candidates, with_beta=with_beta)
    assert torch.isfinite(result.alpha).all()
    if with_beta:
        assert torch.isfinite(result.beta).all()
        # a constant candidate: alpha 0, beta the piece's mean
        assert result.alpha.tolist() == [0.0, 0.0, 0.0]
        np.testing.assert_allclose(result.beta.numpy(), [4.0, -3.0, 0.0])
    rebuilt = fit.reconstruct(candidates, result.index, result.alpha,
                              result.beta)
    assert torch.isfinite(rebuilt).all()


def test_refit_keeps_the_given_indices(example):
    pieces, candidates = example
    index = torch.arange(len(pieces)) % len(candidates)
    result = fit.refit(pieces, candidates, index)
    assert torch.equal(result.index, index)
    for j in (0, 7, 59):
        a, b = np.polyfit(candidates[index[j]].double().numpy(),
                          pieces[j].double().numpy(), 1)
        assert result.alpha[j].item() == pytest.approx(a, rel=1e-6)
        assert result.beta[j].item() == pytest.approx(b, rel=1e-6, abs=1e-7)


def test_best_offset_for_a_rounded_alpha(example):
    pieces, candidates = example
    result = fit.search(pieces, candidates)
    rounded = torch.round(result.alpha * 4) / 4
    beta = fit.best_offset(pieces, candidates, result.index, rounded)
    # for a given alpha, the best beta makes the residual's mean zero
    rebuilt = fit.reconstruct(candidates, result.index, rounded, beta)
    np.testing.assert_allclose((rebuilt - pieces).mean(1).numpy(), 0,
                               atol=1e-5)
