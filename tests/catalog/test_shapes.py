"""The same runs through both catalog shapes: SQL (tiled SQLite) and MongoDB (databroker, mongomock)."""

from pathlib import Path

import numpy as np
import pytest
from runwriters import write_image_run, write_run

from jupyterlab_raydata.analysis.hdf5_series import HDF5Series
from jupyterlab_raydata.catalog.catalog import Catalog
from jupyterlab_raydata.catalog.preview import render_png
from jupyterlab_raydata.catalog.query import parse_query
from jupyterlab_raydata.errors import NotFound

T0 = 1_712_000_000.0


def fill(writer, data_dir):
    frames = np.random.default_rng(3).poisson(2.0, size=(12, 32, 40)).astype(np.uint16)
    image = write_image_run(
        writer, data_dir, frames, time_=T0 + 100, owner="alice", sample="silica gel", **{"sequence id": 4}
    )
    plain = write_run(writer, time_=T0, owner="bob", sample="latex", **{"sequence id": 5})
    return frames, image.start_doc["uid"], plain.start_doc["uid"]


@pytest.fixture(params=["sql", "mongo"])
def shaped(request, sqlite_catalog, tmp_path):
    if request.param == "sql":
        path, post, client = sqlite_catalog
        data_dir = path.parent / "data"  # tiled serves files only from its readable storage
    else:
        from databroker.v2 import temp

        client = temp()
        post = client.post_document
        data_dir = tmp_path / "frames"
        data_dir.mkdir()
    frames, image_uid, plain_uid = fill(post, data_dir)
    catalog = Catalog.from_client(request.param, client, tmp_path / "state")
    catalog.sync()
    return request.param, catalog, frames, image_uid, plain_uid


def test_listing_and_search(shaped):
    shape, catalog, _, image_uid, plain_uid = shaped
    assert catalog.source().shape.name == shape
    assert [r.uid for r in catalog.runs([]).runs] == [image_uid, plain_uid]
    assert [r.uid for r in catalog.runs(parse_query('silica "sequence id"=4')).runs] == [image_uid]
    assert [r.uid for r in catalog.runs(parse_query("owner=bob")).runs] == [plain_uid]
    assert [r.uid for r in catalog.runs([], since=T0 + 50).runs] == [image_uid]


def test_streams_frames_and_preview(shaped):
    _, catalog, frames, image_uid, plain_uid = shaped
    detail = catalog.run(image_uid)
    assert detail.image_keys == ["eiger1m_single_image"]
    (key,) = detail.streams[0].data_keys
    assert key.shape == [12, 32, 40] and key.image and key.dtype == "<u2"
    series = catalog.source().frames(image_uid, "primary", "eiger1m_single_image")
    assert series.count == 12
    np.testing.assert_array_equal(series.frame(7), frames[7])
    np.testing.assert_array_equal(series.sample(4), frames[::3])
    png, cached = catalog.preview(image_uid, kind="frame", index=7)
    assert png.startswith(b"\x89PNG") and not cached
    assert catalog.preview(image_uid, kind="frame", index=7) == (png, True)
    assert catalog.run(plain_uid).image_keys == []


def test_previews_show_the_frame_or_average_asked_for(shaped):
    _, catalog, frames, image_uid, _ = shaped
    seven, cached = catalog.preview(image_uid, kind="frame", index=7, scale="linear")
    assert not cached and seven == render_png(frames[7].astype(np.float64), scale="linear")
    eight, _ = catalog.preview(image_uid, kind="frame", index=8, scale="linear")
    assert eight != seven and eight == render_png(frames[8].astype(np.float64), scale="linear")
    average, _ = catalog.preview(image_uid, kind="average", max_size=20)
    assert average == render_png(frames.astype(np.float64).mean(axis=0), scale="log", max_size=20)
    with pytest.raises(NotFound, match="no image key 'eiger4m_single_image'"):
        catalog.preview(image_uid, key="eiger4m_single_image")


def test_the_record_names_the_file_that_holds_the_frames(shaped):
    shape, catalog, frames, image_uid, _ = shaped
    record = catalog.record(image_uid)
    assert (record.uid, record.stream, record.image_key) == (image_uid, "primary", "eiger1m_single_image")
    assert record.files_unknown is None
    files = record.files
    assert files.found_by == {"sql": "tiled data source", "mongo": "resource documents"}[shape]
    assert (files.count, files.frame_shape, files.dtype) == (12, (32, 40), "uint16")
    [segment] = files.segments
    assert Path(segment.path).name == f"{image_uid}.h5"
    assert segment.dataset.strip("/") == "entry/data/data"
    with HDF5Series([(s.path, s.dataset, s.first, s.count) for s in files.segments], count=12) as series:
        np.testing.assert_array_equal(np.asarray(series), frames)


def test_a_run_without_images_has_no_record(shaped):
    _, catalog, _, _, plain_uid = shaped
    with pytest.raises(NotFound, match="no detector images"):
        catalog.record(plain_uid)
