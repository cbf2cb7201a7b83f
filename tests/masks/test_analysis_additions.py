"""The science the mask composer adds: line and beam-stop shapes, q/phi ranges, APS-style q-phi
partitions, data thresholds, the beam-centre finder and PONI geometry."""

import numpy as np
import pytest

from jupyterlab_raydata.analysis import geometry, masks, rois
from jupyterlab_raydata.analysis.beam_center import find_beam_center
from jupyterlab_raydata.analysis.partitions import (
    axis_edges,
    bin_index,
    dynamic_static,
    presort,
    qphi_partition,
)
from jupyterlab_raydata.analysis.poni import read_poni
from jupyterlab_raydata.analysis.shapes import beamstop, line, phi_range, q_range
from jupyterlab_raydata.analysis.thresholds import never_counted, outside_range, ring_outliers

SHAPE = (90, 110)
GEOMETRY = geometry.Geometry(beam_center=(41.3, 52.8), distance_m=5.0, wavelength_A=1.285)


@pytest.fixture(scope="module")
def maps():
    return geometry.q_map(SHAPE, GEOMETRY), geometry.phi_map(SHAPE, GEOMETRY)


def test_line_is_every_pixel_centre_within_half_the_width_of_the_segment():
    rows, cols = np.indices((20, 30))
    horizontal = line((20, 30), (10, 5), (10, 20), 3)
    # Rows 9..11 between the ends, plus the round caps (distance to the end points <= 1.5).
    expected = (
        ((np.abs(rows - 10) <= 1.5) & (cols >= 5) & (cols <= 20))
        | (np.hypot(rows - 10, cols - 5) <= 1.5)
        | (np.hypot(rows - 10, cols - 20) <= 1.5)
    )
    np.testing.assert_array_equal(horizontal, expected)
    assert horizontal.sum() == 3 * 16 + 2 * 3  # each cap adds column 4 (or 21), rows 9 to 11
    diagonal = line((20, 30), (0, 0), (19, 19), 1.0)
    assert diagonal[np.arange(20), np.arange(20)].all() and not diagonal[0, 1]
    assert line((20, 30), (-50, -50), (-40, -40), 2).sum() == 0  # off the detector
    with pytest.raises(ValueError, match="width"):
        line((5, 5), (0, 0), (1, 1), 0)


def test_beamstop_is_a_disc_and_an_arm_to_the_edge():
    stop = beamstop(SHAPE, (40, 50), 6, arm_angle_deg=90, arm_width=3)
    disc = masks.circle(SHAPE, (40, 50), 6)
    assert (stop & disc).sum() == disc.sum()
    # 90 degrees points along +row: the arm covers columns 49..51 from the centre to the last row.
    assert stop[40:, 49:52].all() and not stop[60:, 48].any() and not stop[:30].any()
    np.testing.assert_array_equal(beamstop(SHAPE, (40, 50), 6), disc)


def test_q_and_phi_ranges(maps):
    q, phi = maps
    np.testing.assert_array_equal(q_range(q, 0.001, 0.003), (q >= 0.001) & (q < 0.003))
    np.testing.assert_array_equal(q_range(q, None, 0.002), q < 0.002)
    np.testing.assert_array_equal(phi_range(phi, -10, 30), (phi >= -10) & (phi < 30))
    np.testing.assert_array_equal(phi_range(phi, 170, -170), (phi >= 170) | (phi < -170))


def test_rings_and_qphi_partitions_label_pixels_as_analysis_rois(maps):
    q, phi = maps
    mask = ~masks.circle(SHAPE, GEOMETRY.beam_center, 5)
    mask[:, 70:73] = False
    q_edges = axis_edges(0.0005, 0.01, 6)
    phi_edges = axis_edges(-180, 180, 4)
    part = qphi_partition(q, phi, mask, q_edges, phi_edges)
    reference = rois.q_phi_segments(q, phi, q_edges, phi_edges, mask)
    np.testing.assert_array_equal(part.roi_map, reference.labels)
    rings = qphi_partition(q, phi, mask, q_edges, axis_edges(-180, 180, 1))
    np.testing.assert_array_equal(rings.roi_map, rois.q_rings(q, q_edges, mask).labels)
    # The APS bookkeeping: the grid, bin centres and each label's combined 0-based bin index.
    assert part.num_pts == (6, 4)
    np.testing.assert_allclose(part.v_list_dim1, [-135, -45, 45, 135])
    np.testing.assert_allclose(part.v_list_dim0, q_edges.mean(axis=1))
    first_pixel = [np.flatnonzero(part.roi_map.ravel() == k)[0] for k in range(1, part.n + 1)]
    ring = np.searchsorted(q_edges[:, 1], q.ravel()[first_pixel], side="right")
    sector = np.searchsorted(phi_edges[:, 1], phi.ravel()[first_pixel], side="right")
    np.testing.assert_array_equal(part.index_mapping, ring * 4 + sector)
    np.testing.assert_array_equal(part.n_pixels, reference.n_pixels)


@pytest.mark.parametrize(
    "bounds",
    [np.linspace(0.0, 1.0, 11), np.geomspace(1e-4, 1e-1, 31), np.array([-180.0, -90.0, 0.0, 45.0, 180.0])],
    ids=["linear", "log", "uneven"],
)
def test_bin_index_is_exactly_a_binary_search(bounds):
    rng = np.random.default_rng(5)
    span = bounds[-1] - bounds[0]
    values = np.concatenate(
        [
            rng.uniform(bounds[0] - 0.1 * span, bounds[-1] + 0.1 * span, 20_000),
            bounds,  # every edge exactly
            np.nextafter(bounds, -np.inf),  # and a hair below each
            [np.nan, -np.inf, np.inf],
        ]
    )
    edges = np.column_stack([bounds[:-1], bounds[1:]])
    expected = np.searchsorted(bounds, values, side="right")
    expected[values == bounds[-1]] = len(edges)  # the last bin is closed
    expected[(expected < 1) | (expected > len(edges)) | np.isnan(values)] = 0
    np.testing.assert_array_equal(bin_index(values, edges), expected)
    np.testing.assert_array_equal(bin_index(values, edges, presorted=presort(values)), expected)


def test_dynamic_and_static_partitions_nest_and_cover_every_used_pixel(maps):
    q, phi = maps
    mask = ~masks.circle(SHAPE, GEOMETRY.beam_center, 4)
    dynamic, static = dynamic_static(q, phi, mask, dynamic=(3, 2), static=(12, 8))
    # The default q range spans the used pixels, the largest q included.
    assert dynamic.q_edges[0, 0] == q[mask].min() and (dynamic.roi_map > 0).sum() == mask.sum()
    assert (static.roi_map > 0).sum() == mask.sum() and dynamic.num_pts == (3, 2)
    for label in range(1, static.n + 1):
        assert np.unique(dynamic.roi_map[static.roi_map == label]).size == 1
    log_dynamic, _ = dynamic_static(q, phi, mask, dynamic=(4, 1), static=(8, 1), spacing="log")
    np.testing.assert_allclose(
        np.diff(np.log(log_dynamic.q_edges[:, 0])), np.log(q[mask].max() / q[mask].min()) / 4
    )
    with pytest.raises(ValueError, match="multiples"):
        dynamic_static(q, phi, mask, dynamic=(3, 2), static=(10, 8))
    with pytest.raises(ValueError, match="no pixels"):
        dynamic_static(q, phi, np.zeros(SHAPE, bool), dynamic=(1, 1), static=(1, 1))


def test_thresholds_flag_what_they_say():
    np.testing.assert_array_equal(
        never_counted(np.array([[0, 3.0], [np.nan, 1]])), [[True, False], [True, False]]
    )
    image = np.array([[0.0, 1.0], [7.0, np.inf]])
    np.testing.assert_array_equal(outside_range(image, 0.5, 5), [[True, False], [True, True]])
    np.testing.assert_array_equal(outside_range(image), [[False, False], [False, True]])


def test_ring_outliers_finds_planted_pixels_only(maps):
    q, _ = maps
    rng = np.random.default_rng(3)
    image = 100 * np.exp(-q / 0.01) + rng.normal(0, 1, SHAPE)  # smooth in q, unit noise
    planted = [(10, 10), (60, 90), (45, 30)]
    for r, c in planted:
        image[r, c] += 50
    flagged = ring_outliers(image, q, n_rings=30, sigma=8)
    assert sorted(zip(*np.nonzero(flagged), strict=True)) == sorted(planted)
    mask = np.ones(SHAPE, bool)
    mask[10, 10] = False
    assert not ring_outliers(image, q, n_rings=30, sigma=8, mask=mask)[10, 10]


def test_hot_dead_from_a_mean_image_matches_the_streaming_function(rng):
    frames = rng.poisson(5.0, (40, 30, 30)).astype(np.uint16)
    frames[:, 4, 4] = 60
    frames[:, 20, 7] = 0
    streamed = masks.hot_dead_pixels(frames, hot_sigma=6)
    from_mean = masks.hot_dead_from_mean(frames.mean(axis=0), 40, hot_sigma=6)
    np.testing.assert_array_equal(streamed, from_mean)
    assert not from_mean[4, 4] and not from_mean[20, 7]
    hot_only = masks.hot_dead_from_mean(frames.mean(axis=0), 40, hot_sigma=6, dead_fraction=-np.inf)
    assert not hot_only[4, 4] and hot_only[20, 7]


@pytest.fixture
def rng():
    return np.random.default_rng(11)


@pytest.mark.parametrize("center", [(141.3, 177.8), (120.0, 150.5)])
def test_beam_centre_from_the_symmetry_of_a_masked_pattern(center):
    shape = (300, 340)
    rows, cols = np.indices(shape)
    radius = np.hypot(rows - center[0], cols - center[1])
    image = np.random.default_rng(1).poisson(1000 * np.exp(-radius / 40) * (1.2 + np.cos(radius / 4)) + 1)
    mask = ~masks.circle(shape, center, 12)  # the beam stop's shadow
    mask[:, 200:206] = False  # a gap between detector modules
    image = np.where(mask, image, 0)
    found = find_beam_center(image, mask, guess=(150, 170))
    assert np.hypot(found[0] - center[0], found[1] - center[1]) < 0.05
    assert np.hypot(*np.subtract(find_beam_center(image, mask), center)) < 0.05  # from the centroid
    with pytest.raises(ValueError, match="edge"):
        find_beam_center(image, mask, guess=(2, 170))


def test_poni_geometry_and_maps_agree_with_ours(tmp_path):
    pytest.importorskip("pyFAI")
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    detector = Detector(pixel1=75e-6, pixel2=75e-6, max_shape=SHAPE)
    # pyFAI measures the PONI from the detector corner, pixel edges included.
    poni1, poni2 = (GEOMETRY.beam_center[0] + 0.5) * 75e-6, (GEOMETRY.beam_center[1] + 0.5) * 75e-6
    AzimuthalIntegrator(5.0, poni1, poni2, wavelength=1.285e-10, detector=detector).save(
        tmp_path / "cal.poni"
    )
    calibration = read_poni(tmp_path / "cal.poni")
    g = calibration.geometry
    np.testing.assert_allclose(g.beam_center, GEOMETRY.beam_center, atol=1e-9)
    assert g.distance_m == pytest.approx(5.0) and g.wavelength_A == pytest.approx(1.285)
    assert calibration.shape == SHAPE and calibration.tilt_deg == pytest.approx(0)
    q, phi = calibration.maps(SHAPE)
    np.testing.assert_allclose(q, geometry.q_map(SHAPE, GEOMETRY), rtol=1e-6)
    away = np.hypot(*np.subtract(np.indices(SHAPE), np.reshape(GEOMETRY.beam_center, (2, 1, 1)))) > 3
    np.testing.assert_allclose(phi[away], geometry.phi_map(SHAPE, GEOMETRY)[away], atol=1e-3)
    assert read_poni((tmp_path / "cal.poni").read_text()).text == calibration.text  # the content itself
    with pytest.raises(ValueError, match="shape"):
        calibration.maps((10, 10))
    with pytest.raises(ValueError, match="lacks wavelength"):
        read_poni("Distance: 1\nPoni1: 0.01\nPoni2: 0.01\n")
