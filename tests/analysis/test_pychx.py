import numpy as np
import pyCHX.chx_correlationc as chx  # a declared test dependency: missing, it must fail, not skip
import pytest

from jupyterlab_raydata.analysis import compress, correlation
from jupyterlab_raydata.analysis.pychx_interop import PyChxFrames


@pytest.fixture
def numpy_in1d(monkeypatch):
    # pyCHX 4.4.2 counts bad frames with np.in1d, which numpy 2.4 removed.
    monkeypatch.setattr(np, "in1d", np.isin, raising=False)


def test_adapter_presents_frames_as_pychx_reads_them(small):
    frames, _ = small
    fd = PyChxFrames(frames)
    assert (fd.beg, fd.end) == (0, len(frames))
    assert (fd.md["ncols"], fd.md["nrows"]) == frames.shape[1:]
    p, v = fd.rdrawframe(3)
    assert p.dtype == np.int32
    dense = np.zeros(frames.shape[1] * frames.shape[2])
    dense[p] = v
    np.testing.assert_array_equal(dense.reshape(frames.shape[1:]), frames[3])
    np.testing.assert_array_equal(fd.rdframe(3), frames[3])


def test_cal_g2c_through_the_adapter_matches_multi_tau(small, numpy_in1d):
    frames, labels = small
    compressed, _ = compress.compress_frames(frames)
    bad = [2, 3, 77]
    g2_chx, lags_chx = chx.cal_g2c(PyChxFrames(compressed), labels, bad_frame_list=bad, num_buf=8)
    lags, g2 = correlation.multi_tau(compressed, labels, 8, bad_frames=bad)
    np.testing.assert_array_equal(lags, lags_chx)
    np.testing.assert_allclose(g2, g2_chx, rtol=1e-6)


def test_cal_g2c_with_pixel_normalisation(small, rng):
    frames, labels = small
    norm = rng.uniform(0.5, 2.0, labels.shape)
    pixels = np.flatnonzero(labels.ravel() > 0)  # pyCHX takes norm in its pixel-list order
    g2_chx, _ = chx.cal_g2c(PyChxFrames(frames), labels, num_buf=8, num_lev=5, norm=norm.ravel()[pixels])
    _, g2 = correlation.multi_tau(frames, labels, 8, 5, norm=norm)
    np.testing.assert_allclose(g2, g2_chx, rtol=1e-6)
