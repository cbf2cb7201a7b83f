import sqlite3
import threading

import numpy as np
import pytest

from jupyterlab_raydata.analysis.synthetic import SyntheticSeries
from jupyterlab_raydata.catalog.demo import IMAGE_KEY, READY
from jupyterlab_raydata.catalog.registry import CatalogRegistry
from jupyterlab_raydata.cli import main

CHX_KEYS = {
    "data path",
    "sequence id",
    "number of images",
    "exposure time",
    "acquire period",
    "auto_pipeline",
    "cycle",
    "owner",
    "user",
    "beamline_id",
    "plan_name",
    "plan_args",
    "scan_id",
    "detectors",
}


@pytest.fixture(scope="module")
def demo(demo_catalog, tmp_path_factory):
    registry = CatalogRegistry(
        {"demo": {"kind": "sqlite", "path": str(demo_catalog)}}, tmp_path_factory.mktemp("state")
    )
    catalog = registry.get("demo")
    catalog.sync()
    return catalog


def test_demo_runs_look_like_chx(demo, demo_runs):
    page = demo.runs([], limit=100, columns=sorted(CHX_KEYS))
    assert page.total == demo_runs
    xpcs = [r for r in page.runs if r.plan_name == "count"]
    assert 0 < len(xpcs) < demo_runs
    for row in xpcs:
        assert all(row.columns[k] is not None for k in CHX_KEYS)
    assert len({r.owner for r in page.runs}) > 1 and len({r.columns["cycle"] for r in page.runs}) > 1
    span = max(r.time for r in page.runs) - min(r.time for r in page.runs)
    assert span > 60 * 86400


def test_demo_images_carry_their_truth(demo):
    uid = next(r.uid for r in demo.runs([], limit=100).runs if r.plan_name == "count")
    detail = demo.run(uid)
    truth = detail.start["synthetic_truth"]
    assert detail.image_keys == [IMAGE_KEY]
    series = demo.source().frames(uid, "primary", IMAGE_KEY)
    assert series.count == detail.start["number of images"] == truth["n_frames"]
    assert series.frame_shape == tuple(truth["shape"])
    geometry = SyntheticSeries(np.zeros(0), truth).geometry
    assert geometry.beam_center == (detail.start["beam_center_y"], detail.start["beam_center_x"])
    assert geometry.distance_m == detail.start["detector_distance"]
    frame = series.frame(0)
    assert frame.dtype == np.uint16 and frame.sum() > 0


def test_concurrent_builds_make_one_catalog_and_replace_a_half_built_one(tmp_path, capsys):
    target = tmp_path / "demo"
    target.mkdir()
    (target / "leftover-from-a-crash").write_text("x")
    results = []

    def build():
        results.append(main(["demo-catalog", "--runs", "2", "--dir", str(target)]))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0, 0]
    assert (target / READY).exists() and not (target / "leftover-from-a-crash").exists()
    with sqlite3.connect(target / "catalog.db") as db:
        runs = db.execute(
            "SELECT count(*) FROM nodes WHERE parent = (SELECT id FROM nodes WHERE key = 'raw')"
        )
        assert runs.fetchone()[0] == 2
    out = capsys.readouterr().out
    assert out.count("Demo catalog ready") == 2 and "c.Raydata.catalogs" in out
