import numpy as np
import pytest

from jupyterlab_raydata.analysis import geometry, rois


@pytest.fixture
def maps():
    g = geometry.Geometry((20.0, 30.0), 5.0, 1.0, 75e-6)
    return geometry.q_map((40, 60), g), geometry.phi_map((40, 60), g)


def test_ring_edges_linear_and_log():
    np.testing.assert_allclose(rois.ring_edges(0.0, 4.0, 4), [[0, 1], [1, 2], [2, 3], [3, 4]])
    np.testing.assert_allclose(rois.ring_edges(1.0, 8.0, 3, "log"), [[1, 2], [2, 4], [4, 8]])
    gap = rois.ring_edges(0.0, 10.0, 3, width=1.0)
    np.testing.assert_allclose(gap, [[0, 1], [4.5, 5.5], [9, 10]])
    rel = rois.ring_edges(1.0, 100.0, 3, "log", width=0.2)
    np.testing.assert_allclose((rel[:, 1] - rel[:, 0]) / rel.mean(axis=1), 0.2)
    np.testing.assert_allclose([rel[0, 0], rel[-1, 1]], [1.0, 100.0])
    with pytest.raises(ValueError):
        rois.ring_edges(0.0, 1.0, 3, "log")
    with pytest.raises(ValueError):
        rois.ring_edges(1.0, 1.0, 3)


def test_q_rings_labels_and_q(maps):
    q, _ = maps
    edges = rois.ring_edges(q[20, 35], q[20, 55], 4)
    r = rois.q_rings(q, edges)
    assert r.labels.dtype == np.int32 and r.n == 4
    for k, (lo, hi) in enumerate(edges, start=1):
        inside = r.labels == k
        np.testing.assert_array_equal(inside, (q >= lo) & (q < hi))
        assert r.q[k - 1] == pytest.approx(q[inside].mean())
    np.testing.assert_array_equal(r.n_pixels, [np.sum(r.labels == k) for k in range(1, 5)])
    assert r.to_dict()["n_pixels"] == r.n_pixels.tolist()


def test_masked_pixels_and_empty_rings_are_dropped(maps):
    q, _ = maps
    edges = np.array([[0.0, 1e-4], [1.0, 2.0], [1e-4, 3e-4]])  # the middle ring is off the detector
    mask = np.ones(q.shape, bool)
    mask[20, :] = False
    r = rois.q_rings(q, edges, mask)
    assert r.n == 2
    np.testing.assert_allclose(r.q_edges, edges[[0, 2]])
    assert (r.labels[20] == 0).all()
    assert set(np.unique(r.labels)) == {0, 1, 2}
    with pytest.raises(ValueError, match="overlap"):
        rois.q_rings(q, [[0.0, 2e-4], [1e-4, 3e-4]])
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        rois.q_rings(q, edges, np.ones((3, 3), bool))


def test_q_phi_segments_including_a_wrapping_sector(maps):
    q, phi = maps
    q_edges = rois.ring_edges(q[20, 40], q[20, 55], 2)
    phi_edges = [(-45, 45), (135, -135)]  # right and left sectors (the left one wraps)
    seg = rois.q_phi_segments(q, phi, q_edges, phi_edges)
    assert seg.n == 4
    right = (phi >= -45) & (phi < 45)
    left = (phi >= 135) | (phi < -135)
    ring1 = (q >= q_edges[0, 0]) & (q < q_edges[0, 1])
    np.testing.assert_array_equal(seg.labels == 1, ring1 & right)
    np.testing.assert_array_equal(seg.labels == 2, ring1 & left)
    for k in (1, 2):
        a = np.radians(phi[seg.labels == k])
        assert seg.phi[k - 1] == pytest.approx(np.degrees(np.arctan2(np.sin(a).mean(), np.cos(a).mean())))
    assert seg.phi[0] == pytest.approx(0, abs=3)
    assert abs(seg.phi[1]) == pytest.approx(180, abs=3)
    np.testing.assert_allclose(seg.q_edges[:2], [q_edges[0], q_edges[0]])


def test_boxes(maps):
    q, _ = maps
    b = rois.boxes(q.shape, [(0, 0, 2, 3), (10, 10, 12, 12)], q_map=q)
    assert b.n_pixels.tolist() == [6, 4]
    assert b.q[1] == pytest.approx(q[10:12, 10:12].mean())
    assert np.isnan(b.q_edges).all()
    with pytest.raises(ValueError, match="empty"):
        rois.boxes(q.shape, [(3, 3, 3, 5)])
