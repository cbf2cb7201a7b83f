"""The catalogs/… routes, against a small demo catalog served from SQLite."""

import io
import json
import socket
from datetime import datetime, timedelta

import pytest
from PIL import Image
from tornado.httpclient import HTTPClientError

from jupyterlab_raydata.catalog.demo import IMAGE_KEY


@pytest.fixture(scope="session")
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def raydata_config(tmp_path, demo_catalog, closed_port):
    return {
        "data_dir": str(tmp_path / "raydata-data"),
        "catalogs": {
            "chx": {"kind": "sqlite", "path": str(demo_catalog)},
            "offline": {"kind": "tiled", "uri": f"http://127.0.0.1:{closed_port}", "timeout": 2},
            "broken": {"kind": "sqlite"},
        },
    }


@pytest.fixture
def api(jp_fetch):
    async def get(*parts, **params):
        response = await jp_fetch("raydata", "api", *parts, params=params)
        return response

    return get


async def get_json(api, *parts, **params):
    response = await api(*parts, **params)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def error_of(api, *parts, **params):
    with pytest.raises(HTTPClientError) as info:
        await api(*parts, **params)
    body = json.loads(info.value.response.body)
    assert set(body) == {"error", "detail"}
    assert "Traceback" not in body["detail"]
    return info.value.code, body


async def first_uid(api, q=""):
    return (await get_json(api, "catalogs", "chx", "runs", q=q, limit="1"))["runs"][0]["uid"]


async def test_catalog_list_reports_reachability(api):
    body = await get_json(api, "catalogs")
    by_name = {c["name"]: c for c in body["catalogs"]}
    assert list(by_name) == ["broken", "chx", "offline"]
    assert by_name["chx"]["reachable"] and by_name["chx"]["kind"] == "sqlite"
    assert not by_name["offline"]["reachable"] and by_name["offline"]["reason"]
    assert not by_name["broken"]["reachable"] and "broken" in by_name["broken"]["reason"]


async def test_runs_newest_first_with_columns(api, demo_runs):
    body = await get_json(api, "catalogs", "chx", "runs", columns="sequence id,sample", limit="4")
    assert body["total"] == demo_runs and body["offset"] == 0 and not body["partial"]
    assert body["indexed_runs"] == body["catalog_runs"] == demo_runs
    times = [r["time"] for r in body["runs"]]
    assert times == sorted(times, reverse=True) and len(times) == 4
    row = body["runs"][0]
    assert {"uid", "scan_id", "time", "plan_name", "owner", "exit_status"} <= set(row)
    assert set(row["columns"]) == {"sequence id", "sample"}


async def test_runs_search_sort_and_paging(api, demo_runs):
    everything = await get_json(api, "catalogs", "chx", "runs", sort="scan_id", limit="100")
    ids = [r["scan_id"] for r in everything["runs"]]
    assert ids == sorted(ids)
    page = await get_json(api, "catalogs", "chx", "runs", sort="scan_id", offset="3", limit="2")
    assert [r["scan_id"] for r in page["runs"]] == ids[3:5] and page["offset"] == 3
    counts = await get_json(api, "catalogs", "chx", "runs", q="plan_name=count")
    assert 0 < counts["total"] < demo_runs
    assert all(r["plan_name"] == "count" for r in counts["runs"])
    quoted = await get_json(api, "catalogs", "chx", "runs", q='"sequence id"=1', columns="sequence id")
    assert quoted["total"] > 0 and all(r["columns"]["sequence id"] == 1 for r in quoted["runs"])
    dated = await get_json(api, "catalogs", "chx", "runs", since="2024-01-01", until="1735689600")
    assert dated["total"] == demo_runs
    assert (await get_json(api, "catalogs", "chx", "runs", since="2030-01-01"))["total"] == 0


async def test_columns_and_query_help(api, demo_runs):
    body = await get_json(api, "catalogs", "chx", "columns")
    counts = {c["key"]: c["count"] for c in body["columns"]}
    assert counts["data path"] == demo_runs == body["total_runs"]
    assert 0 < counts["number of images"] < demo_runs
    help_ = await get_json(api, "catalogs", "chx", "query-help")
    assert "owner=alice" in help_["query"] and help_["examples"] and help_["sort"] and help_["dates"]


async def test_run_detail_panels_documents_and_streams(api):
    uid = await first_uid(api, "plan_name=count")
    body = await get_json(api, "catalogs", "chx", "runs", uid)
    panels = {p["name"]: {f["key"]: f["value"] for f in p["fields"]} for p in body["panels"]}
    assert panels["general"]["uid"] == uid and panels["general"]["beamline_id"] == "CHX"
    assert panels["plan"]["plan_name"] == "count" and "sequence id" in panels["plan"]
    assert panels["analysis"]["number of images"] >= 100
    assert body["start"]["uid"] == uid and body["stop"]["exit_status"] == "success"
    assert "synthetic_truth" in body["start"]
    (stream,) = body["streams"]
    image = next(k for k in stream["data_keys"] if k["key"] == "eiger4m_single_image")
    assert image["image"] and image["shape"][1:] == [128, 128] and image["dtype"] == "<u2"
    assert body["image_keys"] == ["eiger4m_single_image"]


async def test_preview_png_is_cached(api, tmp_path):
    uid = await first_uid(api, "plan_name=count")
    first = await api("catalogs", "chx", "runs", uid, "image", scale="linear", max_size="64")
    assert first.code == 200 and first.headers["Content-Type"] == "image/png"
    assert first.headers["X-Raydata-Cache"] == "miss"
    image = Image.open(io.BytesIO(first.body))
    assert image.format == "PNG" and max(image.size) == 64
    cached = list((tmp_path / "raydata-data" / "previews" / "chx").glob("*.png"))
    assert len(cached) == 1
    second = await api("catalogs", "chx", "runs", uid, "image", scale="linear", max_size="64")
    assert second.headers["X-Raydata-Cache"] == "hit" and second.body == first.body
    frame = await api("catalogs", "chx", "runs", uid, "image", kind="frame", index="5")
    assert frame.headers["X-Raydata-Cache"] == "miss"
    assert Image.open(io.BytesIO(frame.body)).size == (128, 128)


async def test_preview_errors(api):
    uid = await first_uid(api, "plan_name=rel_scan")
    code, body = await error_of(api, "catalogs", "chx", "runs", uid, "image")
    assert code == 404 and "no detector images" in body["detail"]
    image_uid = await first_uid(api, "plan_name=count")
    code, body = await error_of(api, "catalogs", "chx", "runs", image_uid, "image", kind="frame", index="999")
    assert code == 404 and "out of range" in body["detail"]
    code, _ = await error_of(api, "catalogs", "chx", "runs", image_uid, "image", scale="cubic")
    assert code == 400


@pytest.mark.parametrize(
    ("parts", "params", "status", "words"),
    [
        (("catalogs", "nope", "runs"), {}, 404, "nope"),
        (("catalogs", "chx", "runs", "0000-not-a-uid"), {}, 404, "0000-not-a-uid"),
        (("catalogs", "chx", "runs", "0000-not-a-uid", "image"), {}, 404, "0000-not-a-uid"),
        (("catalogs", "nope", "columns"), {}, 404, "nope"),
        (("catalogs", "chx", "runs"), {"since": "last tuesday"}, 400, "since"),
        (("catalogs", "chx", "runs"), {"until": "2024-13-45"}, 400, "until"),
        (("catalogs", "chx", "runs"), {"sort": "time,,owner"}, 400, "empty sort key"),
        (("catalogs", "chx", "runs"), {"sort": "a,b,c,d"}, 400, "At most 3"),
        (("catalogs", "chx", "runs"), {"q": 'owner="alice'}, 400, "position 7"),
        (("catalogs", "chx", "runs"), {"q": "owner="}, 400, "Missing value"),
        (("catalogs", "chx", "runs"), {"limit": "1001"}, 400, "limit"),
        (("catalogs", "chx", "runs"), {"limit": "0"}, 400, "limit"),
        (("catalogs", "chx", "runs"), {"offset": "-1"}, 400, "offset"),
        (("catalogs", "offline", "runs"), {}, 503, "offline"),
        (("catalogs", "broken", "runs"), {}, 503, "broken"),
    ],
)
async def test_errors_are_json(api, parts, params, status, words):
    code, body = await error_of(api, *parts, **params)
    assert code == status
    assert words.lower() in (body["error"] + " " + body["detail"]).lower()


async def test_uid_prefix_search(api):
    uid = await first_uid(api)
    body = await get_json(api, "catalogs", "chx", "runs", q=f"uid={uid[:8]}")
    assert [r["uid"] for r in body["runs"]] == [uid]


async def test_until_a_date_means_the_end_of_that_day(api, new_york):
    runs = (await get_json(api, "catalogs", "chx", "runs", limit="100"))["runs"]
    run = runs[len(runs) // 2]
    day = datetime.fromtimestamp(run["time"]).date()  # the run's day in the server's zone
    same_day = await get_json(api, "catalogs", "chx", "runs", since=day.isoformat(), until=day.isoformat())
    assert run["uid"] in [r["uid"] for r in same_day["runs"]]
    assert all(datetime.fromtimestamp(r["time"]).date() == day for r in same_day["runs"])
    day_before = (day - timedelta(days=1)).isoformat()
    earlier = await get_json(api, "catalogs", "chx", "runs", until=day_before, limit="100")
    assert run["uid"] not in [r["uid"] for r in earlier["runs"]]
    assert all(r["time"] < run["time"] for r in earlier["runs"])


async def test_unknown_sort_key_is_400_naming_the_valid_keys(api, demo_runs):
    code, body = await error_of(api, "catalogs", "chx", "runs", sort="-colour")
    assert code == 400 and body["error"] == "Unknown sort key"
    assert "'colour'" in body["detail"] and "sequence id" in body["detail"]
    assert "time, scan_id, uid, plan_name, owner, exit_status" in body["detail"]
    good = await get_json(
        api, "catalogs", "chx", "runs", sort='"sequence id",-time', columns="sequence id", limit="100"
    )
    sequences = [r["columns"]["sequence id"] for r in good["runs"]]
    assert sequences == sorted(sequences) and len(sequences) == demo_runs


@pytest.mark.parametrize("uid", ["0", "abcd", "ü", "0000-not-a-uid", "a" * 36])
async def test_any_unknown_uid_is_404(api, uid):
    for parts in (("runs", uid), ("runs", uid, "image")):
        code, body = await error_of(api, "catalogs", "chx", *parts)
        assert (code, body["error"]) == (404, "Unknown run")


async def test_unknown_image_key_is_404_naming_the_keys(api):
    uid = await first_uid(api, "plan_name=count")
    code, body = await error_of(api, "catalogs", "chx", "runs", uid, "image", key="eiger1m_single_image")
    assert (code, body["error"]) == (404, "No such image")
    assert f"it has {IMAGE_KEY}" in body["detail"]
