"""Shared data for the analysis tests: small synthetic speckle series with known dynamics."""

import numpy as np
import pytest

from jupyterlab_raydata.analysis import geometry, rois, synthetic

# Frames between the beam and the detector edge sample decays from ~1 to ~30 frames.
PHYSICS = {"shape": (128, 128), "n_frames": 2000, "diffusion": 3e6, "mean_counts": 0.5, "seed": 1}


@pytest.fixture(scope="session")
def speckle():
    """2000 frames of 128x128 speckle (the physics check needs the statistics)."""
    p = dict(PHYSICS)
    return synthetic.simulate_speckle(p.pop("shape"), p.pop("n_frames"), **p)


@pytest.fixture(scope="session")
def speckle_rings(speckle):
    """Eight q rings from 8 to 56 pixels around the beam."""
    q = geometry.q_map(speckle.frames.shape[1:], speckle.geometry)
    pixel_q = q[64, 65] - q[64, 64]
    return rois.q_rings(q, rois.ring_edges(8 * pixel_q, 56 * pixel_q, 8))


@pytest.fixture(scope="session")
def small():
    """A short, small series for exact comparisons with the reference libraries."""
    series = synthetic.simulate_speckle((48, 64), 160, diffusion=2e6, mean_counts=1.0, seed=7)
    q = geometry.q_map((48, 64), series.geometry)
    labels = rois.q_rings(q, rois.ring_edges(q[24, 36], q[24, 62], 5)).labels
    return series.frames, labels


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
