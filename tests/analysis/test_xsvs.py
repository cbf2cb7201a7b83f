import numpy as np
import pytest
from scipy import stats

from jupyterlab_raydata.analysis import synthetic, xsvs


def test_negative_binomial_pmf_matches_scipy():
    k = np.arange(30)
    mean, m = 2.5, 4.0
    expected = stats.nbinom.pmf(k, m, m / (m + mean))
    np.testing.assert_allclose(xsvs.negative_binomial_pmf(k, mean, m), expected, rtol=1e-10)


def test_histograms_count_every_pixel_and_exposure(rng):
    frames = rng.poisson(0.3, size=(17, 6, 8)).astype(np.uint16)
    labels = np.zeros((6, 8), int)
    labels[:3] = 1
    labels[3:, :4] = 2
    h = xsvs.photon_histograms(frames, labels, n_bins=3, chunk_size=5, bad_frames=[16])
    np.testing.assert_array_equal(h.bin_frames, [1, 2, 4])
    np.testing.assert_array_equal(h.n_samples, [[16 * 24, 16 * 12], [8 * 24, 8 * 12], [4 * 24, 4 * 12]])
    ones = np.bincount(frames[:16, :3].ravel(), minlength=h.counts.shape[2])
    np.testing.assert_array_equal(h.counts[0, 0], ones)
    pairs = (frames[0:16:2] + frames[1:16:2])[:, 3:, :4].ravel()
    np.testing.assert_array_equal(h.counts[1, 1, : pairs.max() + 1], np.bincount(pairs))
    np.testing.assert_allclose(h.mean[0, 0], frames[:16, :3].mean())


def test_contrast_of_negative_binomial_and_poisson_samples(rng):
    m, mean = 4.0, 1.5  # beta = 0.25
    nb = rng.negative_binomial(m, m / (m + mean), size=(400, 10, 10)).astype(np.uint16)
    poisson = rng.poisson(mean, size=(400, 10, 10)).astype(np.uint16)
    labels = np.ones((10, 10), int)
    (fit_nb,) = xsvs.fit_contrast(xsvs.photon_histograms(nb, labels, n_bins=1))[0]
    (fit_p,) = xsvs.fit_contrast(xsvs.photon_histograms(poisson, labels, n_bins=1))[0]
    assert fit_nb.beta == pytest.approx(0.25, abs=4 * fit_nb.beta_err)
    assert fit_nb.beta_err < 0.02
    assert fit_nb.chi2_nb < 3 < fit_nb.chi2_poisson
    assert fit_p.beta < 0.02
    assert fit_p.chi2_poisson < 3
    moments = xsvs.moment_contrast(xsvs.photon_histograms(nb, labels, n_bins=1))
    assert moments[0, 0] == pytest.approx(0.25, abs=0.03)


def test_speckle_contrast_drops_with_exposure():
    s = synthetic.simulate_speckle(
        (64, 64), 512, beta=0.2, diffusion=2e6, mean_counts=1.0, intensity_exponent=0, seed=4
    )
    labels = np.ones((64, 64), int)
    h = xsvs.photon_histograms(s.frames, labels, n_bins=4)
    betas = [row[0].beta for row in xsvs.fit_contrast(h)]
    assert betas[0] == pytest.approx(0.2, abs=0.02)
    assert betas[0] > betas[1] > betas[2] > betas[3]
