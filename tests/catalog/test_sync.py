"""Index synchronisation against a real SQLite tiled catalog that keeps being written to."""

import time

from runwriters import write_run

from jupyterlab_raydata.catalog import sync as syncing
from jupyterlab_raydata.catalog.query import parse_query
from jupyterlab_raydata.catalog.registry import Catalog
from jupyterlab_raydata.catalog.specs import parse_spec

T0 = 1_715_000_000.0


def local_catalog(path, data_dir):
    return Catalog("local", parse_spec("local", {"kind": "sqlite", "path": str(path)}), data_dir)


def uids(catalog, q=""):
    return [r.uid for r in catalog.runs(parse_query(q), limit=1000).runs]


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


def test_backfill_pages_resume_where_they_stopped(sqlite_catalog, tmp_path, monkeypatch):
    monkeypatch.setattr(syncing, "PAGE", 2)
    path, writer, _ = sqlite_catalog
    written = [write_run(writer, time_=T0 + i).start_doc["uid"] for i in range(5)]
    catalog = local_catalog(path, tmp_path / "state")
    report = catalog.sync(max_pages=1)
    assert not report.complete and uids(catalog) == written[:2:-1]
    page = catalog.runs([], limit=10)
    assert not page.complete and page.total >= 2
    assert catalog.sync().complete
    assert uids(catalog) == written[::-1]


def test_first_request_syncs_a_page_and_background_finishes(sqlite_catalog, tmp_path, monkeypatch):
    monkeypatch.setattr(syncing, "PAGE", 2)
    path, writer, _ = sqlite_catalog
    for i in range(5):
        write_run(writer, time_=T0 + i)
    catalog = local_catalog(path, tmp_path / "state")
    assert len(catalog.runs([], limit=10).runs) >= 2
    with catalog._sync_lock:  # waits for the background sync the request started
        pass
    assert catalog.runs([], limit=10).total == 5


def test_runs_written_into_a_catalog_that_was_empty_appear(sqlite_catalog, tmp_path):
    path, writer, _ = sqlite_catalog
    catalog = local_catalog(path, tmp_path / "state")
    report = catalog.sync()
    assert report.added == 0 and report.complete
    assert uids(catalog) == []

    uid = write_run(writer, time_=T0, owner="alice").start_doc["uid"]
    assert catalog.sync().added == 1
    assert uids(catalog) == [uid]
