import numpy as np
import pytest

from jupyterlab_raydata.analysis import fits


@pytest.fixture
def tau():
    return np.concatenate([[0.0], np.geomspace(1e-3, 10, 60)])


def test_single_exponential_exact(tau):
    g2 = np.column_stack([fits.g2_model(tau, 0.2, 5.0, 1.01), fits.g2_model(tau, 0.15, 0.5, 1.0)])
    g2[0] = 5.0  # lag 0 (shot noise) must be ignored
    result = fits.fit_g2(tau, g2)
    assert [r.success for r in result] == [True, True]
    assert result[0].gamma == pytest.approx(5.0, rel=1e-6)
    assert result[0].beta == pytest.approx(0.2, rel=1e-6)
    assert result[0].baseline == pytest.approx(1.01, rel=1e-8)
    assert result[1].gamma == pytest.approx(0.5, rel=1e-6)
    assert result[0].alpha == 1.0 and result[0].alpha_err == 0.0
    assert result[0](tau[1:]) == pytest.approx(g2[1:, 0])
    assert set(result[0].to_dict()) >= {"beta", "gamma", "gamma_err", "model"}


def test_stretched_exponential_and_fixed_baseline(tau):
    g2 = fits.g2_model(tau, 0.25, 2.0, 1.0, alpha=0.7)
    (r,) = fits.fit_g2(tau, g2, model="stretched", fix_baseline=1.0)
    assert (r.gamma, r.alpha, r.beta) == pytest.approx((2.0, 0.7, 0.25), rel=1e-5)
    assert r.baseline == 1.0 and r.baseline_err == 0.0


def test_uncertainties_scale_with_noise(tau, rng):
    clean = fits.g2_model(tau, 0.2, 3.0)
    errs = []
    for sigma in (0.001, 0.004):
        noisy = clean + rng.normal(0, sigma, tau.size)
        (r,) = fits.fit_g2(tau, noisy, g2_err=np.full(tau.size, sigma))
        assert abs(r.gamma - 3.0) < 5 * r.gamma_err
        errs.append(r.gamma_err)
    assert errs[1] == pytest.approx(4 * errs[0], rel=0.2)


def test_fit_range_and_unusable_columns(tau):
    g2 = np.column_stack([fits.g2_model(tau, 0.2, 5.0), np.full(tau.size, np.nan)])
    result = fits.fit_g2(tau, g2, fit_range=(1e-3, 1.0))
    assert result[0].success and result[0].gamma == pytest.approx(5.0, rel=1e-6)
    assert not result[1].success and np.isnan(result[1].gamma)
    with pytest.raises(ValueError, match="model"):
        fits.fit_g2(tau, g2, model="double")
    with pytest.raises(ValueError, match="lags"):
        fits.fit_g2(tau[:-1], g2)


def test_diffusion_from_rates(rng):
    q = np.linspace(1e-3, 5e-3, 8)
    gamma = 2e5 * q**2
    d = fits.fit_diffusion(q, gamma)
    assert d.D == pytest.approx(2e5) and d.offset == 0.0
    assert d(q) == pytest.approx(gamma)
    with_offset = fits.fit_diffusion(q, gamma + 0.3, with_offset=True)
    assert (with_offset.D, with_offset.offset) == pytest.approx((2e5, 0.3))
    errors = 0.02 * gamma
    noisy = fits.fit_diffusion(q, gamma * (1 + rng.normal(0, 0.02, q.size)), errors)
    assert abs(noisy.D - 2e5) < 4 * noisy.D_err
    with pytest.raises(ValueError):
        fits.fit_diffusion([1.0], [np.nan])
