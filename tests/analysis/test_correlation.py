import numpy as np
import pytest
from skbeam.core import correlation as skc

from jupyterlab_raydata.analysis import compress, correlation, fits, geometry, preprocess, synthetic
from jupyterlab_raydata.analysis.correlation import MultiTauCorrelator


def _sk_multi_tau(frames, labels, num_bufs, num_levels, bad=()):
    images = frames.astype(np.float64)
    images[list(bad)] = np.nan  # scikit-beam's way of marking bad frames
    g2, lags = skc.multi_tau_auto_corr(num_levels, num_bufs, labels, images)
    return lags, g2


@pytest.mark.parametrize(("num_bufs", "num_levels"), [(8, 5), (4, 7), (16, 3), (8, None)])
def test_multi_tau_matches_scikit_beam(small, num_bufs, num_levels):
    frames, labels = small
    result = correlation.multi_tau(frames, labels, num_bufs, num_levels)
    lags, g2 = result
    assert result.lags is lags and result.g2 is g2
    sk_lags, sk_g2 = _sk_multi_tau(frames, labels, num_bufs, num_levels or 30)
    np.testing.assert_array_equal(lags, sk_lags)
    assert g2.shape == (len(lags), labels.max())
    np.testing.assert_allclose(g2, sk_g2, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(lags, correlation.multi_tau_lags(num_bufs, 30)[: len(lags)])


def test_bad_frames_are_skipped_like_nan_frames_in_scikit_beam(small):
    frames, labels = small
    bad = [0, 5, 6, 41, 100, 159]
    lags, g2 = correlation.multi_tau(frames, labels, 8, 5, bad_frames=bad)
    sk_lags, sk_g2 = _sk_multi_tau(frames, labels, 8, 5, bad)
    np.testing.assert_array_equal(lags, sk_lags)
    np.testing.assert_allclose(g2, sk_g2, rtol=1e-6)
    # Skipped, not zero-filled: the content of a bad frame has no influence.
    altered = frames.copy()
    altered[bad] = 999
    np.testing.assert_array_equal(correlation.multi_tau(altered, labels, 8, 5, bad_frames=bad)[1], g2)
    flags = np.zeros(len(frames), bool)
    flags[bad] = True
    np.testing.assert_array_equal(correlation.multi_tau(frames, labels, 8, 5, bad_frames=flags)[1], g2)


def test_result_independent_of_chunking_threads_and_input_kind(small, tmp_path):
    import h5py

    frames, labels = small
    reference = correlation.multi_tau(frames, labels, 8, None, bad_frames=[7, 8, 9])
    with h5py.File(tmp_path / "frames.h5", "w") as f:
        f.create_dataset("data", data=frames, chunks=(16, *frames.shape[1:]))
    with h5py.File(tmp_path / "frames.h5", "r") as f:
        from_file = correlation.multi_tau(f["data"], labels, 8, None, bad_frames=[7, 8, 9], chunk_size=48)
    variants = [
        from_file,
        correlation.multi_tau(frames, labels, 8, None, bad_frames=[7, 8, 9], chunk_size=13, workers=1),
        correlation.multi_tau(frames, labels, 8, None, bad_frames=[7, 8, 9], workers=3),
        correlation.multi_tau(iter(frames), labels, 8, None, bad_frames=[7, 8, 9], chunk_size=29),
        correlation.multi_tau(compress.compress_frames(frames)[0], labels, 8, None, bad_frames=[7, 8, 9]),
    ]
    # Fed in odd pieces, asking for (and so flushing) results in between.
    corr = MultiTauCorrelator(labels, 8)
    for start in range(0, len(frames), 11):
        corr.update(frames[start : start + 11], bad_frames=[7, 8, 9])
        if start == 55:
            corr.result()
    variants.append(corr.result())
    for lags, g2 in variants:
        np.testing.assert_array_equal(lags, reference[0])
        np.testing.assert_allclose(g2, reference[1], rtol=1e-12)


def test_masked_pixels_are_excluded(small):
    frames, labels = small
    mask = np.ones(labels.shape, bool)
    mask[::3, ::2] = False
    _lags, g2 = correlation.multi_tau(frames, labels, 8, 4, mask=mask)
    _, sk_g2 = _sk_multi_tau(frames, np.where(mask, labels, 0), 8, 4)
    np.testing.assert_allclose(g2, sk_g2, rtol=1e-6)


def test_large_counts_fall_back_to_exact_float64(small):
    frames, labels = small
    bright = frames.astype(np.uint32) * 1000 + 7  # squares far beyond float32's exact range
    _lags, g2 = correlation.multi_tau(bright, labels, 8, 5)
    np.testing.assert_allclose(g2, _sk_multi_tau(bright, labels, 8, 5)[1], rtol=1e-9)
    floats = frames * 0.37
    np.testing.assert_allclose(
        correlation.multi_tau(floats, labels, 8, 5)[1], _sk_multi_tau(floats, labels, 8, 5)[1]
    )


def test_norm_divides_each_pixel(small, rng):
    frames, labels = small
    norm = rng.uniform(0.5, 2.0, labels.shape)
    _lags, g2 = correlation.multi_tau(frames, labels, 8, 5, norm=norm)
    np.testing.assert_allclose(g2, _sk_multi_tau(frames / norm, labels, 8, 5)[1], rtol=1e-9)
    bad_norm = norm.copy()
    bad_norm[labels > 0] = 0
    with pytest.raises(ValueError, match="positive"):
        correlation.multi_tau(frames, labels, norm=bad_norm)
    with pytest.raises(ValueError, match="norm shape"):
        correlation.multi_tau(frames, labels, norm=norm[:5])


def test_invalid_arguments(small):
    frames, labels = small
    with pytest.raises(ValueError, match="even"):
        correlation.multi_tau(frames, labels, num_bufs=7)
    with pytest.raises(ValueError, match="num_levels"):
        correlation.multi_tau(frames, labels, num_levels=0)
    with pytest.raises(ValueError, match="does not match"):
        correlation.multi_tau(frames[:, :10], labels)


def test_two_time_matches_scikit_beam(small):
    frames, labels = small
    frames = frames[:80]
    c2 = correlation.two_time(frames, labels, chunk_size=30)
    sk = skc.two_time_corr(labels, frames.astype(np.float64), len(frames), len(frames), 1)
    assert c2.shape == sk.g2.shape and c2.dtype == np.float32
    np.testing.assert_allclose(c2, sk.g2, rtol=1e-6)
    one_time = correlation.one_time_from_two_time(c2)
    lags, g = one_time
    assert one_time.lags is lags and one_time.g2 is g
    np.testing.assert_allclose(g.T, skc.one_time_from_two_time(sk.g2), rtol=1e-6)
    np.testing.assert_array_equal(lags, np.arange(80))


def test_two_time_bad_frames_are_nan_and_skipped(small):
    frames, labels = small
    frames = frames[:60]
    bad = [4, 30]
    c2 = correlation.two_time(frames, labels, bad_frames=bad)
    assert np.isnan(c2[:, bad, :]).all() and np.isnan(c2[:, :, bad]).all()
    good = np.delete(np.arange(60), bad)
    clean = correlation.two_time(frames[good], labels)
    np.testing.assert_allclose(c2[:, good][:, :, good], clean, rtol=1e-6)
    _lags, g = correlation.one_time_from_two_time(c2, max_lag=5)
    manual = [np.nanmean(np.diagonal(c2[0], offset=k)) for k in range(6)]
    np.testing.assert_allclose(g[:, 0], manual, rtol=1e-6)
    np.testing.assert_allclose(
        correlation.two_time(frames * 1e4, labels), correlation.two_time(frames, labels), rtol=1e-5
    )


def test_one_time_from_two_time_agrees_with_multi_tau_on_level_zero(small):
    frames, labels = small
    _lags, g2 = correlation.multi_tau(frames, labels, 8, 1)
    _, from_two_time = correlation.one_time_from_two_time(correlation.two_time(frames, labels), max_lag=7)
    # Same pairs, different normalisation order (per frame vs over all frames): close, not equal.
    np.testing.assert_allclose(from_two_time[1:], g2[1:], rtol=0.02)


def _expected_multi_tau_g2(truth, q_pixels, lags):
    """1 + beta <exp(-2 D q^2 tau)> over an ROI's pixels, with multi-tau block averaging.

    At level k a lag of ``i * 2^k`` frames correlates means of B = 2^k frames, i.e.
    frame pairs at separations ``lag + m`` for ``|m| < B``, each ``B - |m|`` times.
    """
    dt, rate = truth["dt_s"], 2 * truth["diffusion_A2_per_s"] * q_pixels**2
    out = []
    for lag in lags:
        block = 1 if lag < 8 else 2 ** int(np.floor(np.log2(lag / 4)))
        m = np.arange(1 - block, block)
        weights = (block - np.abs(m)) / block**2
        decay = np.exp(-rate[:, None] * (lag + m)[None, :] * dt) @ weights
        out.append(1 + truth["beta"] * decay.mean())
    return np.array(out)


def test_recovers_known_dynamics(speckle, speckle_rings):
    """Synthetic Brownian speckle: g2 within 0.01 of theory on 8 rings, D within 3 %."""
    frames, truth, rings = speckle.frames, speckle.truth, speckle_rings
    q = geometry.q_map((128, 128), speckle.geometry)
    stats = preprocess.frame_stats(frames)
    norm = preprocess.smooth_iq_map(stats.mean_image, q)
    lags, g2 = correlation.multi_tau(frames, rings.labels, norm=norm)
    assert rings.n >= 6
    for j in range(rings.n):
        expected = _expected_multi_tau_g2(truth, q[rings.labels == j + 1], lags[1:])
        assert np.abs(g2[1:, j] - expected).max() < 0.01, f"ring {j}"
    fitted = fits.fit_g2(lags * truth["dt_s"], g2)
    gamma = np.array([f.gamma for f in fitted])
    diffusion = fits.fit_diffusion(rings.q, gamma, [f.gamma_err for f in fitted])
    assert diffusion.D == pytest.approx(truth["diffusion_A2_per_s"], rel=0.03)
    assert np.mean([f.beta for f in fitted]) == pytest.approx(truth["beta"], abs=0.01)
    # Theory itself, evaluated the simple way for the mean q of a ring, is close too.
    simple = synthetic.expected_g2(truth, rings.q, lags[1:] * truth["dt_s"])
    assert np.abs(g2[1:] - simple).max() < 0.03
