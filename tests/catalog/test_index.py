"""The summary index on its own: documents in, searches out (no tiled involved)."""

import pytest

from jupyterlab_raydata.catalog.documents import RunDocs
from jupyterlab_raydata.catalog.index import RunIndex, flatten
from jupyterlab_raydata.catalog.params import SortKey, parse_sort
from jupyterlab_raydata.catalog.query import parse_query
from jupyterlab_raydata.errors import BadRequest

T0 = 1_710_000_000.0


def start(i, **extra):
    doc = {
        "uid": f"{i:08x}-0000-4000-8000-{i:012x}",
        "time": T0 + 3600 * i,
        "scan_id": 10_000 + i,
        "plan_name": "count" if i % 2 else "rel_scan",
        "owner": ["alice", "bob", "Chen"][i % 3],
        "sample": ["silica beads", "PS latex", "gold rods"][i % 3],
        "sequence id": i // 4,
        "temperature": 20.0 + 5 * i,
        "detectors": ["eiger4m_single", "xray_eye3"] if i % 2 else ["xray_eye3"],
        "plan_args": {"num": i, "detectors": ["eiger4m_single"]},
    }
    doc.update(extra)
    return doc


def stop(doc, status="success"):
    return {"uid": "s" + doc["uid"], "run_start": doc["uid"], "time": doc["time"] + 60, "exit_status": status}


@pytest.fixture
def index(tmp_path):
    idx = RunIndex(tmp_path / "i.sqlite", "source-a")
    docs = [start(i) for i in range(12)]
    assert idx.upsert(RunDocs(d, stop(d, "abort" if i == 5 else "success")) for i, d in enumerate(docs)) == 12
    return idx


def scan_ids(index, q="", **kw):
    return [r["scan_id"] for r in index.search(parse_query(q), limit=100, **kw).rows]


def test_flatten_nested_and_lists():
    items = list(flatten({"uid": "u", "time": 1, "a": {"b": 1, "c": {"deep": 1}}, "l": ["x", {"no": 1}, 2]}))
    assert items == [("a.b", 0, 1), ("l", 0, "x"), ("l", 2, 2)]


def test_newest_first_paging_and_total(index):
    result = index.search([], offset=2, limit=3)
    assert [r["scan_id"] for r in result.rows] == [10_009, 10_008, 10_007]
    assert result.total == 12


def test_free_text_prefix_phrase_and_negation(index):
    assert scan_ids(index, "silica") == [10_009, 10_006, 10_003, 10_000]
    assert scan_ids(index, "sili*") == scan_ids(index, "silica")
    assert scan_ids(index, '"PS latex"') == [10_010, 10_007, 10_004, 10_001]
    assert scan_ids(index, '"latex PS"') == []
    assert scan_ids(index, "-silica -gold") == scan_ids(index, "latex")


def test_key_filters(index):
    assert scan_ids(index, "owner=ALICE") == [10_009, 10_006, 10_003, 10_000]
    assert scan_ids(index, "owner!=alice") == [
        i for i in scan_ids(index) if i not in scan_ids(index, "owner=alice")
    ]
    assert scan_ids(index, '"sequence id"=2') == [10_011, 10_010, 10_009, 10_008]
    assert scan_ids(index, "temperature>=60 temperature<70") == [10_009, 10_008]
    assert scan_ids(index, "temperature>70") == [10_011]
    assert scan_ids(index, "sample=*latex*") == scan_ids(index, '"PS latex"')
    assert scan_ids(index, "detectors=eiger4m_single") == [10_011, 10_009, 10_007, 10_005, 10_003, 10_001]
    assert scan_ids(index, "plan_args.num=3") == [10_003]
    assert scan_ids(index, "nothing=*") == []
    assert len(scan_ids(index, "sample=*")) == 12


def test_scan_id_uid_and_time_terms(index):
    assert scan_ids(index, "10004") == [10_004]
    assert scan_ids(index, "-10004") == [i for i in scan_ids(index) if i != 10_004]
    assert scan_ids(index, "00000003") == []  # 8 digits: a scan_id, and there is none
    assert scan_ids(index, "0000000b") == [10_011]
    assert scan_ids(index, "uid=0000000a*") == [10_010]
    assert scan_ids(index, f"time>={T0 + 3600 * 10}") == [10_011, 10_010]
    with pytest.raises(BadRequest, match="Compare time"):
        scan_ids(index, "time=2024-01-01")


def test_since_until(index):
    assert scan_ids(index, since=T0 + 3600 * 2, until=T0 + 3600 * 4) == [10_003, 10_002]


def test_sort_on_columns_and_any_key(index):
    rows = index.search([], sort=parse_sort("owner,-temperature"), limit=12).rows
    assert [r["owner"] for r in rows] == ["alice"] * 4 + ["bob"] * 4 + ["Chen"] * 4
    assert [r["scan_id"] for r in rows[:4]] == [10_009, 10_006, 10_003, 10_000]
    by_sequence = index.search([], sort=[SortKey("sequence id"), SortKey("time")], limit=5).rows
    assert [r["scan_id"] for r in by_sequence] == [10_000, 10_001, 10_002, 10_003, 10_004]
    by_list = index.search([], sort=[SortKey("detectors", True)], limit=12).rows
    assert len({r["uid"] for r in by_list}) == 12  # a list key never duplicates a run


def test_columns_values_and_key_counts(index):
    row = index.search(parse_query("10003"), columns=["sequence id", "plan_args.num", "missing"]).rows[0]
    assert row["columns"] == {"sequence id": 0, "plan_args.num": 3, "missing": None}
    counts = dict(index.columns())
    assert counts["sequence id"] == 12 and counts["uid"] == 12


def test_upsert_is_idempotent_and_records_late_stops(tmp_path):
    idx = RunIndex(tmp_path / "i.sqlite", "a")
    doc = start(1)
    assert idx.upsert([RunDocs(doc)]) == 1
    assert idx.open_runs(0, 10) == [doc["uid"]]
    assert idx.upsert([RunDocs(doc, stop(doc, "fail"))]) == 0
    assert idx.open_runs(0, 10) == []
    assert idx.search([]).rows[0]["exit_status"] == "fail"
    assert dict(idx.columns())["owner"] == 1


def test_a_new_source_resets_the_index(tmp_path):
    RunIndex(tmp_path / "i.sqlite", "a").upsert([RunDocs(start(1))])
    assert RunIndex(tmp_path / "i.sqlite", "a").count() == 1
    assert RunIndex(tmp_path / "i.sqlite", "b").count() == 0


def test_dates_split_runs_at_local_midnight(tmp_path, new_york):
    idx = RunIndex(tmp_path / "i.sqlite", "a")
    midnight = 1_709_614_800.0  # 2024-03-05 00:00 in New York (05:00 UTC)
    before, after = start(1, time=midnight - 60), start(2, time=midnight + 60)
    idx.upsert([RunDocs(before), RunDocs(after)])
    assert scan_ids(idx, "time>=2024-03-05") == [10_002]
    assert scan_ids(idx, "time<=2024-03-04") == [10_001]
    assert scan_ids(idx, "time>2024-03-04") == [10_002]
    assert scan_ids(idx, "time<2024-03-05") == [10_001]
