"""A run taken by a real RunEngine, with ophyd's simulated hardware, lands in a configured catalog."""

import time

from bluesky import RunEngine
from bluesky.plans import count, scan
from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter
from ophyd.sim import det, motor

from jupyterlab_raydata.catalog.query import parse_query
from jupyterlab_raydata.catalog.registry import CatalogRegistry


def test_runengine_run_is_found_by_time_text_and_key(sqlite_catalog, tmp_path):
    path, _, client = sqlite_catalog
    RE = RunEngine({})
    RE.subscribe(TiledWriter(client))
    before = time.time()
    (count_uid,) = RE(count([det], num=3), sample="runengine zeolite", **{"sequence id": 77})
    (scan_uid,) = RE(scan([det], motor, -1, 1, 5), sample="background")

    registry = CatalogRegistry({"beamline": {"kind": "sqlite", "path": str(path)}}, tmp_path / "state")
    catalog = registry.get("beamline")

    def found(q="", **kw):
        return [r.uid for r in catalog.runs(parse_query(q), **kw).runs]

    assert found(since=before) == [scan_uid, count_uid]
    assert found(since=time.time() + 60) == []
    assert found("zeolite") == [count_uid]
    assert found('"sequence id"=77') == [count_uid]
    assert found("plan_name=scan") == [scan_uid]
    detail = catalog.run(scan_uid)
    assert detail.stop["exit_status"] == "success"
    keys = {k.key for s in detail.streams for k in s.data_keys}
    assert {"det", "motor"} <= keys
