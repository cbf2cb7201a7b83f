"""Where a run's frames are stored, from its documents: the segments of HDF5 datasets, in frame order."""

import pytest

from jupyterlab_raydata.catalog.frame_files import FileSegment, NotLocated, from_documents


def documents(spec="AD_HDF5", points=((0, "r1"), (1, "r1"), (0, "r2")), per_point=5, paged=True):
    """A run whose events each point at one datum: ``points`` are (point number, resource)."""
    yield "descriptor", {"uid": "d1", "name": "primary"}
    yield "descriptor", {"uid": "d2", "name": "baseline"}
    for name in ("r1", "r2"):
        resource = {"uid": name, "spec": spec, "root": "/data", "resource_path": f"{name}.h5"}
        yield "resource", {**resource, "resource_kwargs": {"frame_per_point": per_point}}
    ids = [f"{r}/{p}" for p, r in points]
    if paged:
        for r in ("r1", "r2"):
            mine = [(i, p) for i, (p, rr) in zip(ids, points, strict=True) if rr == r]
            yield (
                "datum_page",
                {
                    "resource": r,
                    "datum_id": [i for i, _ in mine],
                    "datum_kwargs": {"point_number": [p for _, p in mine]},
                },
            )
        yield "event_page", {"descriptor": "d1", "data": {"img": ids}}
        yield "event_page", {"descriptor": "d2", "data": {"img": ["not a datum"]}}
    else:
        for i, (p, r) in zip(ids, points, strict=True):
            yield "datum", {"datum_id": i, "resource": r, "datum_kwargs": {"point_number": p}}
        for i in ids:
            yield "event", {"descriptor": "d1", "data": {"img": i}}


@pytest.mark.parametrize("paged", [True, False])
def test_consecutive_points_of_one_file_make_one_segment(paged):
    files = from_documents(documents(paged=paged), "primary", "img", (3, 5, 8, 9), "uint16")
    assert files.segments == [
        FileSegment(path="/data/r1.h5", dataset="/entry/data/data", first=0, count=10),
        FileSegment(path="/data/r2.h5", dataset="/entry/data/data", first=0, count=5),
    ]
    assert (files.count, files.frame_shape, files.found_by) == (15, (8, 9), "resource documents")


def test_points_out_of_order_are_separate_segments():
    files = from_documents(documents(points=((1, "r1"), (0, "r1"))), "primary", "img", (2, 5, 8, 9), "u2")
    assert [(s.first, s.count) for s in files.segments] == [(5, 5), (0, 5)]


def test_a_resource_spec_that_is_not_one_hdf5_dataset_is_not_located():
    with pytest.raises(NotLocated, match="resource spec is AD_TIFF, which is not read directly"):
        from_documents(documents(spec="AD_TIFF"), "primary", "img", (3, 5, 8, 9), "u2")


def test_events_without_datums_are_not_located():
    docs = [
        ("descriptor", {"uid": "d1", "name": "primary"}),
        ("event", {"descriptor": "d1", "data": {"img": 3}}),
    ]
    with pytest.raises(NotLocated, match="do not point at datums"):
        from_documents(docs, "primary", "img", (1, 8, 9), "u2")
