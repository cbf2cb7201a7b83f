"""Composing recipes on a demo run: layers pixel by pixel against numpy, thresholds and ROIs against
the analysis functions, the saved files (the APS /qmap read back with h5py), exact reproduction."""

import re

import h5py
import numpy as np
import pytest

from jupyterlab_raydata.analysis import geometry, masks, rois, thresholds
from jupyterlab_raydata.analysis.partitions import axis_edges
from jupyterlab_raydata.catalog.preview import AVERAGE_FRAMES
from jupyterlab_raydata.errors import BadRequest
from jupyterlab_raydata.masks.library import MaskLibrary
from jupyterlab_raydata.masks.recipe import Annulus, Recipe, RoiSpec
from jupyterlab_raydata.masks.service import MaskService
from jupyterlab_raydata.masks.uploads import ParsedMask

SHAPE = (128, 128)


@pytest.fixture(scope="module")
def run_images(registry, xpcs_uid):
    """The run's start document and its mean and max over the frames the composer reads, computed
    here straight from the catalog."""
    catalog = registry.get("demo")
    detail = catalog.run(xpcs_uid)
    series = catalog.source().frames(xpcs_uid, "primary", detail.image_keys[0])
    step = -(-series.count // AVERAGE_FRAMES)
    frames = series.read(0, series.count)[::step].astype(np.float64)
    return detail.start, frames.mean(axis=0), frames.max(axis=0), len(frames)


def recipe(uid=None, **fields) -> Recipe:
    run = {"catalog": "demo", "uid": uid} if uid else None
    return Recipe.model_validate({"shape": SHAPE, "run": run, **fields})


def test_layers_apply_in_order_pixel_by_pixel(service):
    layers = [
        {"kind": "rectangle", "row0": 10.5, "col0": 100, "row1": 40, "col1": 20.2},
        {"kind": "circle", "row": 64, "col": 64, "radius": 30},
        {"kind": "annulus", "row": 64, "col": 64, "r_inner": 10, "r_outer": 20, "mode": "include"},
        {"kind": "polygon", "vertices": [[100, 10], [100, 60], [120, 30]]},
        {"kind": "line", "row0": 0, "col0": 0, "row1": 127, "col1": 127, "width": 2},
        {"kind": "circle", "row": 5, "col": 5, "radius": 50, "enabled": False},
    ]
    rows, cols = np.indices(SHAPE)
    expected = np.ones(SHAPE, bool)
    expected &= ~((rows >= 11) & (rows < 40) & (cols >= 21) & (cols < 100))
    expected &= ~(np.hypot(rows - 64, cols - 64) <= 30)
    expected |= (np.hypot(rows - 64, cols - 64) >= 10) & (np.hypot(rows - 64, cols - 64) < 20)
    expected &= ~masks.polygon(SHAPE, [(100, 10), (100, 60), (120, 30)])
    expected &= ~(np.abs(rows - cols) / np.sqrt(2) <= 1)
    composition = service.compose(recipe(layers=layers))
    np.testing.assert_array_equal(composition.mask, expected)
    assert [e.pixels for e in composition.layers][-1] == 0  # the disabled layer does nothing
    assert composition.layers[-1].masked_after == int((~expected).sum())
    inverted = service.compose(recipe(layers=layers, invert=True)).mask
    np.testing.assert_array_equal(inverted, ~expected)


def test_upload_polarity_and_library_layers(service):
    nonzero = np.zeros(SHAPE, bool)
    nonzero[:, :10] = True
    ident = service.uploads.put(ParsedMask("gaps.edf", nonzero, "masked"))
    as_used = service.compose(recipe(layers=[{"kind": "upload", "upload": ident, "polarity": "used"}])).mask
    np.testing.assert_array_equal(as_used, nonzero)  # non-zero = used: only those pixels stay
    as_masked = service.compose(
        recipe(layers=[{"kind": "upload", "upload": ident, "polarity": "masked"}])
    ).mask
    np.testing.assert_array_equal(as_masked, ~nonzero)  # non-zero = masked: those go
    service.library.save("stripes", as_masked, {})
    from_library = service.compose(recipe(layers=[{"kind": "library", "name": "stripes"}])).mask
    np.testing.assert_array_equal(from_library, as_masked)
    wrong = service.uploads.put(ParsedMask("small.npy", np.ones((4, 4), bool), "used"))
    with pytest.raises(
        BadRequest, match=r"uploaded mask 'small.npy' has shape \(4, 4\), the image \(128, 128\)"
    ):
        service.compose(recipe(layers=[{"kind": "upload", "upload": wrong, "source": "small.npy"}]))


def test_thresholds_on_a_demo_run_are_the_analysis_functions(service, xpcs_uid, run_images):
    start, mean, maximum, n = run_images
    g = geometry.geometry_from_start_doc(start, detector="eiger4m_single")
    q = geometry.q_map(SHAPE, g)
    cases = [
        (
            {"kind": "hot_pixels", "sigma": 5},
            ~masks.hot_dead_from_mean(mean, n, hot_sigma=5, dead_fraction=-np.inf),
        ),
        (
            {"kind": "dead_pixels", "fraction": 0.05},
            ~masks.hot_dead_from_mean(mean, n, hot_sigma=np.inf, dead_fraction=0.05),
        ),
        ({"kind": "never_counted"}, maximum == 0),
        ({"kind": "value_range", "vmin": 0.05, "vmax": 3}, (mean < 0.05) | (mean > 3)),
        ({"kind": "ring_outliers", "n_rings": 20, "sigma": 4}, thresholds.ring_outliers(mean, q, 20, 4)),
    ]
    for layer, flagged in cases:
        mask = service.compose(recipe(xpcs_uid, layers=[layer])).mask
        np.testing.assert_array_equal(mask, ~flagged, err_msg=layer["kind"])
        assert flagged.any(), layer["kind"]


def test_rings_and_partitions_against_analysis_rois(service, xpcs_uid, run_images):
    start = run_images[0]
    g = geometry.geometry_from_start_doc(start, detector="eiger4m_single")
    q, phi = geometry.q_map(SHAPE, g), geometry.phi_map(SHAPE, g)
    layers = [{"kind": "beamstop", "radius": 6}]  # centred on the beam from the metadata
    used = ~masks.circle(SHAPE, g.beam_center, 6)
    rings = recipe(xpcs_uid, layers=layers, rois={"kind": "rings", "dynamic": {"q": 6}, "static": {"q": 12}})
    dynamic, static = service.compose(rings).partitions
    edges = axis_edges(q[used].min(), q[used].max(), 6)
    # analysis.rois keeps the last ring half-open; the partitions close it to keep the largest q.
    edges[-1, 1] = np.nextafter(edges[-1, 1], np.inf)
    np.testing.assert_array_equal(dynamic.roi_map, rois.q_rings(q, edges, used).labels)
    assert static.n == 12 and dynamic.num_pts == (6, 1)
    qphi = recipe(
        xpcs_uid,
        layers=layers,
        rois={"kind": "qphi", "dynamic": {"q": 3, "phi": 4}, "static": {"q": 6, "phi": 8}, "q_min": 0.001},
    )
    dynamic, _ = service.compose(qphi).partitions
    edges = axis_edges(0.001, q[used].max(), 3)
    edges[-1, 1] = np.nextafter(edges[-1, 1], np.inf)
    expected = rois.q_phi_segments(q, phi, edges, axis_edges(-180, 180, 4), used)
    np.testing.assert_array_equal(dynamic.roi_map, expected.labels)


def test_saved_mask_files_and_the_qmap_read_back(service, xpcs_uid, run_images, tmp_path):
    start = run_images[0]
    r = recipe(
        xpcs_uid,
        layers=[
            {"kind": "beamstop", "radius": 5, "arm_angle": 90, "arm_width": 3},
            {"kind": "never_counted"},
        ],
        rois={"kind": "qphi", "dynamic": {"q": 4, "phi": 2}, "static": {"q": 8, "phi": 4}},
    )
    summary = service.save("sample-A", r)
    assert summary.files == ["mask.npy", "qmap.h5", "recipe.json"] and summary.rois == 8
    composition = service.compose(r)
    dynamic, static = composition.partitions
    g = geometry.geometry_from_start_doc(start, detector="eiger4m_single")
    with h5py.File(tmp_path / "masks" / "sample-A" / "qmap.h5") as f:
        qmap = f["qmap"]
        np.testing.assert_array_equal(qmap["mask"][()], composition.mask.astype(np.uint8))
        np.testing.assert_array_equal(qmap["dynamic_roi_map"][()], dynamic.roi_map)
        np.testing.assert_array_equal(qmap["static_roi_map"][()], static.roi_map)
        np.testing.assert_array_equal(qmap["dynamic_num_pts"][()], [4, 2])
        np.testing.assert_array_equal(qmap["static_num_pts"][()], [8, 4])
        np.testing.assert_array_equal(qmap["dynamic_index_mapping"][()], dynamic.index_mapping)
        np.testing.assert_array_equal(qmap["static_v_list_dim0"][()], static.v_list_dim0)
        np.testing.assert_array_equal(qmap["dynamic_v_list_dim1"][()], [-90, 90])
        assert qmap["beam_center_x"][()] == g.beam_center[1] and qmap["beam_center_y"][()] == g.beam_center[0]
        assert qmap["pixel_size"][()] == 75e-6 and qmap["detector_distance"][()] == g.distance_m
        assert qmap["energy"][()] == pytest.approx(geometry.wavelength_to_energy(g.wavelength_A))
        assert [v.decode() for v in qmap["map_names"][()]] == ["q", "phi"]
        assert qmap["dynamic_v_list_dim0"].attrs["unit"] == "Å⁻¹"
    saved = service.library.recipe("sample-A")
    assert saved["counts"] == {
        "used": int(composition.mask.sum()),
        "total": 128 * 128,
        "dynamic_rois": 8,
        "static_rois": static.n,
    }
    assert saved["convention"].startswith("mask.npy: True (1) = pixel used")


def test_a_saved_recipe_reproduces_its_mask_bit_for_bit(service, registry, xpcs_uid, tmp_path):
    nonzero = np.zeros(SHAPE, bool)
    nonzero[60:70, :] = True
    ident = service.uploads.put(ParsedMask("blemish.edf", nonzero, "masked"))
    service.library.save("base", ~masks.circle(SHAPE, (20, 20), 8), {})
    r = recipe(
        xpcs_uid,
        layers=[
            {"kind": "upload", "upload": ident, "polarity": "masked", "source": "blemish.edf"},
            {"kind": "library", "name": "base"},
            {"kind": "hot_pixels", "sigma": 4},
            {"kind": "polygon", "vertices": [[0.5, 0.5], [30.2, 90.7], [2.1, 120.9]], "mode": "exclude"},
            {"kind": "q_range", "q_max": 0.001},
        ],
    )
    service.save("reproducible", r)
    # A new service with empty caches and an empty upload store: only the folder and the run remain.
    fresh = MaskService(MaskLibrary(tmp_path / "masks"), registry, tmp_path / "other-data", 1 << 20)
    saved = np.load(tmp_path / "masks" / "reproducible" / "mask.npy")
    np.testing.assert_array_equal(fresh.reproduce("reproducible"), saved)
    assert fresh.detail("reproducible").recipe == r
    # The library mask may change later; the saved copy keeps the recipe reproducible.
    service.library.save("base", np.ones(SHAPE, bool), {}, overwrite=True)
    np.testing.assert_array_equal(fresh.reproduce("reproducible"), saved)


def test_missing_run_or_geometry_is_a_clear_400(service):
    with pytest.raises(BadRequest, match="choose a run first"):
        service.compose(recipe(layers=[{"kind": "never_counted"}]))
    with pytest.raises(BadRequest, match="needs the detector geometry"):
        service.compose(recipe(layers=[{"kind": "q_range", "q_max": 0.01}]))
    manual = {"source": "manual", "overrides": {"distance_m": 5}}
    with pytest.raises(BadRequest, match="beam_center, wavelength_A, pixel_size_m"):
        service.compose(recipe(layers=[{"kind": "q_range", "q_max": 0.01}], geometry=manual))
    manual["overrides"].update(beam_center_row=64, beam_center_col=64, energy_keV=9.65, pixel_size_m=75e-6)
    q = geometry.q_map(SHAPE, geometry.Geometry((64, 64), 5, geometry.energy_to_wavelength(9.65), 75e-6))
    mask = service.compose(recipe(layers=[{"kind": "q_range", "q_max": 0.002}], geometry=manual)).mask
    np.testing.assert_array_equal(mask, q >= 0.002)


@pytest.mark.parametrize(
    "model,fields,message",
    [
        (
            Annulus,
            {"row": 0, "col": 0, "r_inner": 5.0, "r_outer": 5.0},
            "r_outer (5.0) must exceed r_inner (5.0)",
        ),
        (RoiSpec, {"q_min": 0.02, "q_max": 0.01}, "q_max (0.01) must exceed q_min (0.02)"),
        (RoiSpec, {"phi_min": 10.0, "phi_max": -10.0}, "phi_max (-10.0) must exceed phi_min (10.0)"),
    ],
)
def test_a_range_needs_its_upper_end_above_its_lower(model, fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        model(**fields)
