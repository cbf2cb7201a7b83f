"""The notebook MaskEditor: selections change ``.mask``; saved masks are the composer's, reproducibly."""

import json

import numpy as np
import pytest

from jupyterlab_raydata.catalog.preview import AVERAGE_FRAMES
from jupyterlab_raydata.context import SETTINGS_ENV, KernelSettings
from jupyterlab_raydata.masks import MaskLibrary
from jupyterlab_raydata.masks.service import MaskService
from jupyterlab_raydata.widgets import MaskEditor

SHAPE = (40, 50)


@pytest.fixture
def image():
    return np.random.default_rng(2).poisson(5.0, SHAPE).astype(float)


@pytest.fixture
def editor(image, tmp_path):
    return MaskEditor(image, library=tmp_path / "masks")


def test_rectangle_exclude_include_undo(editor):
    assert editor.mask.all() and editor.status.value == "0 of 2,000 pixels masked, 0 layers"
    rect = editor.selectors["rectangle"]
    rect.selected_x, rect.selected_y = [10.2, 19.6], [4.5, 9.0]  # columns 11..19, rows 5..8
    editor.exclude()
    expected = np.ones(SHAPE, bool)
    expected[5:9, 11:20] = False
    np.testing.assert_array_equal(editor.mask, expected)
    assert editor.status.value == "36 of 2,000 pixels masked, 1 layers"
    rect.selected_x, rect.selected_y = [14.5, 16.5], [4.0, 20.0]
    editor.include()
    expected[5:9, 15:17] = True
    np.testing.assert_array_equal(editor.mask, expected)
    editor.undo()
    assert (~editor.mask).sum() == 36
    editor.exclude()  # the selection was cleared when it was applied
    assert editor.status.value == "Select a region first."


def test_brush_lasso_and_threshold(editor, image):
    editor.tool.value = "brush"
    assert editor.figure.interaction is editor.selectors["brush"]
    editor.selectors["brush"].selected = [2.5, 5.5]
    editor.exclude()
    assert not editor.mask[:, 3:6].any() and editor.mask[:, 6:].all() and editor.mask[:, :3].all()
    editor.tool.value = "lasso"
    # The lasso picks points of the invisible grid; each stands for its cell of pixels.
    grid = editor._grid
    picked = np.flatnonzero((grid.x == 30) & (grid.y == 20))
    grid.selected = picked
    editor.exclude()
    assert not editor.mask[20, 30]
    editor.threshold(3.0, 8.0)
    flagged = (image < 3) | (image > 8)
    assert not editor.mask[flagged].any()
    assert [layer["kind"] for layer in editor.recipe["layers"]] == ["rectangle", "upload", "value_range"]


def test_saved_mask_is_the_libraries_and_reproduces(editor, image, tmp_path):
    start = np.ones(SHAPE, bool)
    start[0] = False
    editor = MaskEditor(image, mask=start, library=tmp_path / "masks")
    rect = editor.selectors["rectangle"]
    rect.selected_x, rect.selected_y = [0, 10], [10, 20]
    editor.exclude()
    editor.threshold(None, 9.0)
    folder = editor.save("from-notebook")
    assert folder == tmp_path / "masks" / "from-notebook"
    library = MaskLibrary(tmp_path / "masks")
    np.testing.assert_array_equal(library.load("from-notebook"), editor.mask)
    recipe = json.loads((folder / "recipe.json").read_text())
    # Without a run, the threshold is kept as the array it flagged, so the recipe stands alone.
    assert [layer["kind"] for layer in recipe["layers"]] == ["upload", "rectangle", "upload"]
    service = MaskService(library, None, tmp_path / "data", 1 << 20)
    np.testing.assert_array_equal(service.reproduce("from-notebook"), editor.mask)


def test_from_run_draws_on_the_composers_average_and_reopens(
    registry, xpcs_uid, demo_catalog, tmp_path, monkeypatch
):
    settings = KernelSettings(
        catalogs={"demo": {"kind": "sqlite", "path": str(demo_catalog)}},
        data_dir=str(tmp_path / "data"),
        masks_dir=str(tmp_path / "masks"),
    )
    monkeypatch.setenv(SETTINGS_ENV, settings.to_env())
    editor = MaskEditor.from_run("demo", xpcs_uid)
    catalog = registry.get("demo")
    series = catalog.source().frames(xpcs_uid, "primary", catalog.run(xpcs_uid).image_keys[0])
    step = -(-series.count // AVERAGE_FRAMES)
    expected = series.read(0, series.count)[::step].mean(axis=0, dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(editor.image, expected)
    assert editor.geometry is not None and editor.run["uid"] == xpcs_uid
    editor.threshold(None, 2.0)
    editor.save("from-run")
    service = MaskService(MaskLibrary(tmp_path / "masks"), registry, tmp_path / "data", 1 << 20)
    detail = service.detail("from-run")
    assert detail.recipe.run.uid == xpcs_uid and detail.recipe.layers[0].kind == "value_range"
    np.testing.assert_array_equal(service.reproduce("from-run"), editor.mask)
