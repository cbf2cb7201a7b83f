import json

import numpy as np
import pytest

from jupyterlab_raydata.analysis import geometry, synthetic


def test_frames_and_truth_shape_and_types():
    s = synthetic.simulate_speckle((32, 40), 50, beta=0.25, seed=3)
    assert s.frames.shape == (50, 32, 40)
    assert s.frames.dtype == np.uint16
    truth = json.loads(json.dumps(s.truth))
    assert truth["beta"] == 0.25
    assert truth["geometry"]["beam_center"] == [16.0, 20.0]
    assert truth["n_frames"] == 50
    assert s.geometry == geometry.Geometry((16.0, 20.0), 5.0, 1.285, 75e-6)


def test_same_seed_same_frames_whatever_the_chunking():
    whole = synthetic.simulate_speckle((24, 24), 30, seed=5).frames
    chunks = list(synthetic.iter_speckle_chunks((24, 24), 30, seed=5, chunk=7))
    assert [c.shape[0] for c in chunks] == [7, 7, 7, 7, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    assert not np.array_equal(synthetic.simulate_speckle((24, 24), 30, seed=6).frames, whole)


def test_mean_counts_and_speckle_contrast():
    # Slow dynamics: frames are nearly independent samples of static speckle per pixel
    # only over long times, so check the one-frame statistics: counts are a Poisson
    # mixture over a Gamma intensity, var = mu + beta * mu^2 per pixel.
    s = synthetic.simulate_speckle((64, 64), 400, mean_counts=2.0, beta=0.3, intensity_exponent=0.0, seed=2)
    counts = s.frames.astype(float)
    mu = counts.mean()
    assert mu == pytest.approx(2.0, rel=0.02)
    contrast = (counts.var() - mu) / mu**2
    assert contrast == pytest.approx(0.3, abs=0.02)


@pytest.mark.parametrize("beta", [1.0, 0.5, 0.3, 0.2, 0.17, 0.011])
def test_mode_weights_reproduce_any_contrast(beta):
    w = synthetic._mode_weights(beta)
    assert (w**2).sum() / w.sum() ** 2 == pytest.approx(beta, rel=1e-12)
    assert np.all((w > 0) & (w <= 1))


def test_expected_g2_formula():
    truth = {"diffusion_A2_per_s": 2.0, "beta": 0.2}
    g = synthetic.expected_g2(truth, q=[1.0, 2.0], lag_s=[0.0, 0.25])
    np.testing.assert_allclose(g, [[1.2, 1.2], [1 + 0.2 * np.exp(-1), 1 + 0.2 * np.exp(-4)]])


def test_invalid_parameters_raise():
    with pytest.raises(ValueError, match="beta"):
        synthetic.simulate_speckle((8, 8), 2, beta=0)
    with pytest.raises(ValueError, match="unsigned"):
        synthetic.simulate_speckle((8, 8), 2, dtype=np.float32)
    with pytest.raises(ValueError, match="exceed"):
        synthetic.simulate_speckle((8, 8), 2, mean_counts=1e6, dtype=np.uint8)
