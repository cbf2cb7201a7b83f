"""The mask library: one folder per mask, names checked, whole folders written or nothing."""

import json

import numpy as np
import pytest

from jupyterlab_raydata.errors import BadRequest, Conflict, NotFound
from jupyterlab_raydata.masks import MaskLibrary
from jupyterlab_raydata.masks.library import check_name


@pytest.fixture
def library(tmp_path):
    return MaskLibrary(tmp_path / "raydata-masks")


@pytest.fixture
def mask():
    m = np.ones((6, 8), bool)
    m[2:4, 3:7] = False
    return m


def test_save_writes_the_contract_files_and_load_gives_the_bool_array(library, mask):
    folder = library.save("sample-A_1.2", mask, {"layers": []}, sources={"upload/ab.npy": ~mask})
    assert folder == library.root / "sample-A_1.2"
    assert sorted(p.name for p in folder.iterdir()) == ["mask.npy", "recipe.json", "sources"]
    raw = np.load(folder / "mask.npy")
    assert raw.dtype == bool and raw.ndim == 2
    loaded = library.load("sample-A_1.2")
    np.testing.assert_array_equal(loaded, mask)
    assert json.loads((folder / "recipe.json").read_text()) == {"layers": []}
    np.testing.assert_array_equal(library.source("sample-A_1.2", "upload/ab.npy"), ~mask)
    assert library.names() == ["sample-A_1.2"]
    # Nothing but the mask's folder is left behind.
    assert [p.name for p in library.root.iterdir()] == ["sample-A_1.2"]


def test_unknown_mask_names_the_library_folder(library):
    with pytest.raises(NotFound) as info:
        library.load("nope")
    assert str(library.root) in info.value.detail and "'nope'" in info.value.detail


@pytest.mark.parametrize(
    "name", ["../evil", "a/b", ".hidden", "", "sp ace", "x" * 129, "..", "upload", "preview", "ü"]
)
def test_invalid_names_are_refused(library, mask, name):
    with pytest.raises(BadRequest, match="name"):
        check_name(name)
    with pytest.raises(BadRequest):
        library.save(name, mask, {})
    assert not library.root.exists() or list(library.root.iterdir()) == []


def test_existing_name_is_a_conflict_unless_overwriting(library, mask):
    library.save("m", mask, {"v": 1})
    with pytest.raises(Conflict):
        library.save("m", ~mask, {"v": 2})
    np.testing.assert_array_equal(library.load("m"), mask)
    library.save("m", ~mask, {"v": 2}, overwrite=True)
    np.testing.assert_array_equal(library.load("m"), ~mask)
    assert library.recipe("m") == {"v": 2}
    assert library.names() == ["m"]


def test_a_failed_save_leaves_nothing(library, mask):
    def broken(path):
        path.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        library.save("m", mask, {}, writers={"qmap.h5": broken})
    assert list(library.root.iterdir()) == []


def test_rename_duplicate_delete(library, mask):
    library.save("a", mask, {"x": 1})
    library.duplicate("a", "b")
    library.rename("a", "c")
    assert library.names() == ["b", "c"]
    np.testing.assert_array_equal(library.load("b"), library.load("c"))
    with pytest.raises(Conflict):
        library.rename("b", "c")
    with pytest.raises(Conflict):
        library.duplicate("b", "c")
    library.delete("b")
    assert library.names() == ["c"]
    with pytest.raises(NotFound):
        library.delete("b")


def test_folders_that_are_not_masks_are_not_listed(library, mask):
    library.save("real", mask, {})
    (library.root / "empty-folder").mkdir()
    (library.root / ".work-abc").mkdir()
    (library.root / "notes.txt").write_text("hello")
    assert library.names() == ["real"]


def test_refuses_an_array_that_is_not_a_2d_bool_mask(library):
    with pytest.raises(ValueError, match="2-D bool"):
        library.save("m", np.ones((3, 3), np.uint8), {})
