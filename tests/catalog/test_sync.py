"""Index synchronisation against a real SQLite tiled catalog that keeps being written to."""

import time

import pytest
from runwriters import write_run

from jupyterlab_raydata.catalog import sync as syncing
from jupyterlab_raydata.catalog.catalog import Catalog
from jupyterlab_raydata.catalog.params import parse_sort
from jupyterlab_raydata.catalog.query import parse_query
from jupyterlab_raydata.catalog.specs import parse_spec
from jupyterlab_raydata.errors import BadRequest

T0 = 1_715_000_000.0


def local_catalog(path, data_dir, follow=True, **spec):
    spec = parse_spec("local", {"kind": "sqlite", "path": str(path), **spec})
    return Catalog("local", spec, data_dir, follow=follow)


def uids(catalog, q=""):
    return [r.uid for r in catalog.runs(parse_query(q), limit=1000).runs]


def indexed(catalog):
    """What the index holds, without starting a refresh as a listing would."""
    return [row["uid"] for row in catalog.index().search([], limit=1000).rows]


def test_new_runs_and_late_stops_appear_incrementally(sqlite_catalog, tmp_path):
    path, writer, _ = sqlite_catalog
    # Recent start times: a run without a stop document is only asked again while it may still run.
    t0 = time.time() - 3600
    first = [write_run(writer, time_=t0 + i, owner="alice").start_doc["uid"] for i in range(3)]
    catalog = local_catalog(path, tmp_path / "state")
    report = catalog.sync()
    assert report.added == 3 and report.complete
    assert uids(catalog) == first[::-1]

    running = write_run(writer, time_=t0 + 10, stop=False, owner="bob")
    later = write_run(writer, time_=t0 + 20, owner="bob")
    assert catalog.sync().added == 2
    rows = {r.uid: r for r in catalog.runs([], limit=10).runs}
    assert rows[running.start_doc["uid"]].exit_status is None
    assert set(uids(catalog, "owner=bob")) == {running.start_doc["uid"], later.start_doc["uid"]}

    writer("stop", running.compose_stop(time=t0 + 30, exit_status="abort"))
    assert catalog.sync().added == 0
    rows = {r.uid: r for r in catalog.runs([], limit=10).runs}
    assert rows[running.start_doc["uid"]].exit_status == "abort"


def test_first_index_pages_newest_first_then_resumes(sqlite_catalog, tmp_path, monkeypatch):
    monkeypatch.setattr(syncing, "PAGE", 2)
    path, writer, _ = sqlite_catalog
    written = [write_run(writer, time_=T0 + i).start_doc["uid"] for i in range(5)]
    catalog = local_catalog(path, tmp_path / "state")

    report = catalog.sync(max_pages=1)
    assert (report.added, report.complete) == (2, False)
    assert indexed(catalog) == written[:2:-1]  # the newest page, sorted on start time
    # The backfill reads the catalog in its own order, one page a call here, and never repeats the newest.
    assert catalog.sync(max_pages=1).added == 2
    assert set(indexed(catalog)) == {written[0], written[1], written[3], written[4]}
    report = catalog.sync()
    assert (report.added, report.complete) == (1, True)
    assert indexed(catalog) == written[::-1]
    page = catalog.runs([], limit=10)
    assert (page.total, page.partial, page.indexed_runs, page.catalog_runs) == (5, False, 5, 5)


def test_first_request_answers_with_one_page_and_background_finishes(sqlite_catalog, tmp_path, monkeypatch):
    monkeypatch.setattr(syncing, "PAGE", 2)
    path, writer, _ = sqlite_catalog
    written = [write_run(writer, time_=T0 + i).start_doc["uid"] for i in range(5)]
    catalog = local_catalog(path, tmp_path / "state")
    first = catalog.runs([], limit=10)
    # Exactly the newest page: the background copy starts only after the answer.
    assert [r.uid for r in first.runs] == written[:2:-1]
    assert (first.total, first.partial, first.indexed_runs, first.catalog_runs) == (2, True, 2, 5)
    assert catalog.settle(timeout=60)
    page = catalog.runs([], limit=10)
    assert [r.uid for r in page.runs] == written[::-1] and not page.partial


def test_a_catalog_not_following_copies_only_what_answers_need(sqlite_catalog, tmp_path, monkeypatch):
    """A job kernel's catalog: the first page of an empty index, a run asked for by uid; nothing later."""
    monkeypatch.setattr(syncing, "PAGE", 2)
    path, writer, _ = sqlite_catalog
    written = [write_run(writer, time_=T0 + i).start_doc["uid"] for i in range(5)]
    catalog = local_catalog(path, tmp_path / "state", follow=False)
    first = catalog.runs([], limit=10)
    assert [r.uid for r in first.runs] == written[:2:-1]
    assert catalog.run(written[0]).start["uid"] == written[0]
    assert catalog.settle(timeout=60)
    assert indexed(catalog) == [written[4], written[3], written[0]]


def test_runs_written_into_a_catalog_that_was_empty_appear(sqlite_catalog, tmp_path):
    path, writer, _ = sqlite_catalog
    catalog = local_catalog(path, tmp_path / "state")
    report = catalog.sync()
    assert report.added == 0 and report.complete
    assert uids(catalog) == []

    uid = write_run(writer, time_=T0, owner="alice").start_doc["uid"]
    assert catalog.sync().added == 1
    assert uids(catalog) == [uid]


def test_deleted_runs_leave_the_index(sqlite_catalog, tmp_path):
    path, writer, client = sqlite_catalog
    written = [write_run(writer, time_=T0 + i, owner="alice").start_doc["uid"] for i in range(4)]
    catalog = local_catalog(path, tmp_path / "state")
    catalog.sync()
    client[written[1]].delete(recursive=True, external_only=False)
    client[written[2]].delete(recursive=True, external_only=False)
    report = catalog.sync()
    assert (report.added, report.removed) == (0, 2)
    assert uids(catalog) == [written[3], written[0]]
    assert uids(catalog, "owner=alice") == [written[3], written[0]]
    assert dict(catalog.index().columns())["owner"] == 2

    # A deletion and an addition between two refreshes: the counts match, the new run is still found
    # (newer than the index) and the deleted one goes at the next mismatch.
    client[written[0]].delete(recursive=True, external_only=False)
    added = write_run(writer, time_=T0 + 10).start_doc["uid"]
    report = catalog.sync()
    assert (report.added, report.removed) == (1, 1)
    assert uids(catalog) == [added, written[3]]


def test_a_refresh_that_finds_nothing_writes_nothing(sqlite_catalog, tmp_path):
    path, writer, _ = sqlite_catalog
    write_run(writer, time_=T0)
    catalog = local_catalog(path, tmp_path / "state")
    catalog.sync()
    index = catalog.index()
    before = index.path.stat().st_mtime_ns, (index.path.parent / (index.path.name + "-wal")).stat().st_size
    assert catalog.sync().added == 0
    after = index.path.stat().st_mtime_ns, (index.path.parent / (index.path.name + "-wal")).stat().st_size
    assert after == before


def test_stale_when_the_catalog_goes_away_and_indexed_runs(sqlite_catalog, tmp_path):
    path, writer, _ = sqlite_catalog
    uid = write_run(writer, time_=T0).start_doc["uid"]
    catalog = local_catalog(path, tmp_path / "state", refresh_seconds=0)
    assert catalog.info().indexed_runs is None  # no index before the first listing
    page = catalog.runs([])
    assert [r.uid for r in page.runs] == [uid] and not page.stale
    assert catalog.settle(timeout=60)
    assert catalog.info().indexed_runs == 1

    # The catalog's file disappears: the index still answers, and says it may be out of date.
    path.rename(path.with_suffix(".moved"))
    catalog.source().client.context.http_client.close()
    catalog.runs([])  # starts a refresh, which fails
    assert catalog.settle(timeout=60)
    page = catalog.runs([])
    assert [r.uid for r in page.runs] == [uid] and page.stale


def test_unknown_sort_key_is_refused_once_everything_is_indexed(sqlite_catalog, tmp_path, monkeypatch):
    monkeypatch.setattr(syncing, "PAGE", 2)
    path, writer, _ = sqlite_catalog
    for i in range(3):
        write_run(writer, time_=T0 + i, sample=f"s{i}", plan_args={"num": i})
    catalog = local_catalog(path, tmp_path / "state")
    catalog.sync(max_pages=1)
    # Not every run is indexed yet: the key may still come, so it sorts (runs without it last).
    assert len(catalog.runs([], sort=parse_sort("colour")).runs) == 2
    catalog.sync()
    assert [r.uid for r in catalog.runs([], sort=parse_sort("sample")).runs] == uids(catalog)[::-1]
    assert len(catalog.runs([], sort=parse_sort("-plan_args.num,uid")).runs) == 3
    with pytest.raises(BadRequest) as info:
        catalog.runs([], sort=parse_sort("time,colour"))
    assert info.value.error == "Unknown sort key"
    assert "'colour'" in info.value.detail and "time, scan_id, uid" in info.value.detail
    assert "sample" in info.value.detail
