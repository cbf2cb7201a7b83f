"""The job queue through the REST API and the event bus, with the real runner on a real LocalCluster."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from notebooks import write_template
from tornado.httpclient import HTTPClientError

PLOT = "import matplotlib.pyplot as plt\nplt.plot(range(points))\nplt.show()"
WAIT = "import pathlib, time\nwhile gate and not pathlib.Path(gate).exists():\n    time.sleep(0.05)"


class TwoUsers(IdentityProvider):
    """Requests carry ``Authorization: token <name>-token``: real, distinct users as under JupyterHub."""

    def get_user(self, handler):
        token = handler.request.headers.get("Authorization", "").partition(" ")[2]
        if token not in ("alice-token", "bob-token", "carol-token"):
            return None
        # Token-authenticated, as with jupyter_server's own tokens: no XSRF cookie needed.
        handler._token_authenticated = True
        return User(username=token.removesuffix("-token"))


@pytest.fixture
def templates_dir(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    points = {"type": "integer", "default": 3, "minimum": 2, "maximum": 100, "description": "Points."}
    write_template(folder, "plot", ["# Plot", PLOT], {"points": points})
    write_template(folder, "gate", ["# Wait", WAIT], {"gate": {"type": "string", "default": ""}})
    (folder / "broken.ipynb").write_text("{not json")
    return folder


@pytest.fixture
def limits():
    return {"max_running_jobs": 1, "max_running_jobs_per_user": 1}


@pytest.fixture
def raydata_config(tmp_path, jobs_demo_catalog, templates_dir, limits):
    return {
        "data_dir": str(tmp_path / "raydata-data"),
        "catalogs": {"demo": {"kind": "sqlite", "path": str(jobs_demo_catalog)}},
        "template_paths": [str(templates_dir)],
        "cluster": {"kwargs": {"n_workers": 2, "threads_per_worker": 1, "processes": False}},
        "owner": "alice",
        "admin_users": ["carol"],
        "auto_pipelines": {"XPCS_SAXS_2way_pipeline": "plot"},
        **limits,
    }


@pytest.fixture
def jp_server_config(raydata_config):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyterlab_raydata": True},
            "identity_provider_class": TwoUsers,
        },
        "Raydata": raydata_config,
    }


@pytest.fixture
def api(jp_fetch):
    async def call(method, *parts, user="alice", body=None, raw=False, **params):
        kwargs = {"method": method, "headers": {"Authorization": f"token {user}-token"}}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PUT"):
            kwargs["body"] = ""
        if params:
            kwargs["params"] = params
        response = await jp_fetch("raydata", "api", *parts, **kwargs)
        return response if raw else json.loads(response.body)

    return call


async def failure(call) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as caught:
        await call
    return caught.value.code, json.loads(caught.value.response.body)


async def xpcs_runs(api):
    """The uids of the demo catalog's XPCS runs, by scan id."""
    page = await api("GET", "catalogs", "demo", "runs", q="plan_name=count", sort="scan_id")
    return [row["uid"] for row in page["runs"]]


async def until(api, job_id, predicate, timeout=90.0, user="alice"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await api("GET", "jobs", str(job_id), user=user)
        if predicate(job):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached the expected state; last: {job}")


async def submit(api, template, uids, user="alice", **parameters) -> list[dict]:
    """Submit ``template`` on the demo catalog's runs ``uids`` (with ``parameters``, if any); the jobs."""
    body = {"template": template, "catalog": "demo", "uids": uids}
    if parameters:
        body["parameters"] = parameters
    return (await api("POST", "jobs", user=user, body=body))["jobs"]


def final(job):
    return job["state"] in ("completed", "failed", "cancelled")


# -- submitting and running -------------------------------------------------------------------------


async def test_submitted_runs_become_jobs_whose_events_reach_a_subscriber(api, jp_ws_fetch, jp_root_dir):
    xpcs_uids = await xpcs_runs(api)
    ws = await jp_ws_fetch("api", "events", "subscribe", headers={"Authorization": "token alice-token"})
    jobs = await submit(api, "plot", xpcs_uids[:2], points=5)
    assert [(j["uid"], j["state"], j["template"], j["owner"], j["parameters"]) for j in jobs] == [
        (uid, "queued", "plot", "alice", {"points": 5}) for uid in xpcs_uids[:2]
    ]
    assert jobs[0]["position"] < jobs[1]["position"]

    seen: dict[int, list[str]] = {j["id"]: [] for j in jobs}
    figures = []
    while not all(reasons and reasons[-1] == "finished" for reasons in seen.values()):
        message = json.loads(await asyncio.wait_for(ws.read_message(), 90))
        if message["schema_id"].endswith("/job") and message["id"] in seen:
            seen[message["id"]].append(message["reason"])
            assert message["owner"] == "alice" and isinstance(message["time"], float)
        elif message["schema_id"].endswith("/job-figure"):
            figures.append((message["id"], message["file"], message["heading"]))
    ws.close()
    for reasons in seen.values():
        assert reasons[0] == "queued" and "started" in reasons and "progress" in reasons
    assert sorted(figures) == [(j["id"], "cell003-1.png", "Plot") for j in jobs]

    job = await api("GET", "jobs", str(jobs[0]["id"]))
    assert job["state"] == "completed" and job["failure"] is None and job["attempts"] == 1
    assert (job["cells_done"], job["cells_total"]) == (3, 3)
    folder = Path(job["folder"])
    assert folder.parent.parent == jp_root_dir / "raydata-results" / "demo"
    assert folder.name == f"plot-{job['id']}"
    assert folder.parent.name == f"{job['scan_id']}-{job['uid'][:8]}"

    files = await api("GET", "jobs", str(job["id"]), "files")
    assert files["folder"] == folder.relative_to(jp_root_dir).as_posix()
    names = {f["path"] for f in files["files"]}
    assert {"notebook.ipynb", "log.txt", "job.json", "status.json", "figures/cell003-1.png"} <= names
    assert (folder / "runner-alive").is_file() and "runner-alive" not in names  # the runner's mark
    png = await api("GET", "jobs", str(job["id"]), "files", "figures", "cell003-1.png", raw=True)
    assert png.headers["Content-Type"] == "image/png"
    nb = nbformat.read(folder / "notebook.ipynb", as_version=4)
    assert png.body == base64.b64decode(nb.cells[3].outputs[-1]["data"]["image/png"])


async def test_the_template_list_has_schemas_and_broken_templates_with_their_error(api):
    listed = {t["name"]: t for t in (await api("GET", "templates"))["templates"]}
    assert listed["plot"]["error"] is None
    assert listed["plot"]["parameters"]["properties"]["points"]["maximum"] == 100
    assert listed["broken"]["error"] == "not a notebook: invalid JSON at line 1, column 2"


@pytest.mark.parametrize(
    ("body", "status", "error", "detail"),
    [
        (
            {"template": "nope", "catalog": "demo", "uids": ["x"]},
            404,
            "Unknown template",
            None,
        ),
        (
            {"template": "plot", "catalog": "demo", "uids": ["RUN0"], "parameters": {"points": 1}},
            400,
            "Invalid parameter",
            "points: 1 is less than the minimum of 2",
        ),
        (
            {"template": "plot", "catalog": "demo", "uids": ["RUN0"], "parameters": {"colour": "red"}},
            400,
            "Unknown parameter",
            "Template 'plot' has no parameter 'colour'; its parameters: points.",
        ),
        (
            {"template": "broken", "catalog": "demo", "uids": ["RUN0"]},
            400,
            "Broken template",
            "Template 'broken' cannot be used: not a notebook: invalid JSON at line 1, column 2",
        ),
        (
            {"template": "plot", "catalog": "nowhere", "uids": ["RUN0"]},
            404,
            "Unknown catalog",
            "There is no catalog 'nowhere' (configured: demo).",
        ),
        ({"template": "plot", "catalog": "demo", "uids": []}, 400, "Invalid request", None),
        (
            {"template": "plot", "catalog": "demo", "uids": ["abcd"]},
            400,
            "Ambiguous run",
            "'abcd' is too short to name a run: give at least 8 characters of its uid.",
        ),
        ({"template": "plot", "catalog": "demo", "uids": ["RUN0"], "mask": "no-such-mask"}, 404, None, None),
    ],
)
async def test_a_bad_submission_is_refused_whole_naming_what_is_wrong(api, body, status, error, detail):
    xpcs_uids = await xpcs_runs(api)
    body = {**body, "uids": [xpcs_uids[0] if u == "RUN0" else u for u in body["uids"]]}
    code, answer = await failure(api("POST", "jobs", body=body))
    assert code == status
    if error is not None:
        assert answer["error"] == error
    if detail is not None:
        assert answer["detail"] == detail
    assert (await api("GET", "jobs"))["total"] == 0


async def test_a_uid_prefix_names_its_run(api):
    xpcs_uids = await xpcs_runs(api)
    body = {"template": "plot", "catalog": "demo", "uids": [xpcs_uids[0][:8].upper()]}
    (job,) = (await api("POST", "jobs", body=body))["jobs"]
    assert job["uid"] == xpcs_uids[0]


async def test_an_unknown_run_refuses_the_whole_submission(api):
    xpcs_uids = await xpcs_runs(api)
    body = {"template": "plot", "catalog": "demo", "uids": [xpcs_uids[0], "f" * 36]}
    code, answer = await failure(api("POST", "jobs", body=body))
    assert (code, answer["error"]) == (404, "Unknown run")
    assert (await api("GET", "jobs"))["total"] == 0


async def test_bad_queries_and_bodies_are_400(api):
    code, answer = await failure(api("GET", "jobs", sort="colour"))
    assert code == 400 and "colour" in answer["detail"]
    code, answer = await failure(api("GET", "jobs", state="lost"))
    assert code == 400 and answer["detail"].startswith("state.0:")
    code, _ = await failure(api("POST", "jobs", raw=True, body=None))
    assert code == 400


# -- order, limits, cancel, re-run ------------------------------------------------------------------


async def test_one_at_a_time_in_queue_order_with_moves_and_a_queued_cancel(api, tmp_path):
    xpcs_uids = await xpcs_runs(api)
    gate = tmp_path / "open"
    [first] = await submit(api, "gate", xpcs_uids[:1], gate=str(gate))
    rest = await submit(api, "plot", xpcs_uids[:3])
    b, c, d = (j["id"] for j in rest)
    await until(api, first["id"], lambda j: j["state"] == "running")

    await api("POST", "jobs", str(d), "move", body={"to": "top"})
    await api("POST", "jobs", str(b), "move", body={"to": "bottom"})
    await api("POST", "jobs", str(b), "move", body={"to": "up"})
    queued = await api("GET", "jobs", state="queued")
    assert [j["id"] for j in queued["jobs"]] == [d, b, c]
    await api("POST", "jobs", str(c), "move", body={"to": "up"})
    await api("POST", "jobs", str(d), "move", body={"to": "down"})
    queued = await api("GET", "jobs", state="queued")
    assert [j["id"] for j in queued["jobs"]] == [c, d, b]

    cancelled = await api("POST", "jobs", str(d), "cancel")
    assert cancelled["state"] == "cancelled" and cancelled["started"] is None
    code, _ = await failure(api("POST", "jobs", str(d), "move", body={"to": "top"}))
    assert code == 409
    code, _ = await failure(api("POST", "jobs", str(c), "move", body={"to": "sideways"}))
    assert code == 400

    running = await api("GET", "jobs", state="running")
    assert [j["id"] for j in running["jobs"]] == [first["id"]]
    gate.touch()
    done = [await until(api, i, final) for i in (first["id"], c, b)]
    assert [j["state"] for j in done] == ["completed"] * 3
    # One at a time, in the order the queue had after the moves.
    spans = sorted((j["started"], j["finished"], j["id"]) for j in done)
    assert [s[2] for s in spans] == [first["id"], c, b]
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))


class TestTwoAtOnce:
    @pytest.fixture
    def limits(self):
        return {"max_running_jobs": 2, "max_running_jobs_per_user": 2}

    async def test_two_jobs_run_at_once_and_a_third_waits(self, api, tmp_path):
        xpcs_uids = await xpcs_runs(api)
        gate = tmp_path / "open"
        a, b, c = await submit(api, "gate", xpcs_uids[:3], gate=str(gate))
        await until(api, a["id"], lambda j: j["state"] == "running")
        await until(api, b["id"], lambda j: j["state"] == "running")
        await asyncio.sleep(1.0)
        assert (await api("GET", "jobs", str(c["id"])))["state"] == "queued"
        gate.touch()
        assert [(await until(api, j["id"], final))["state"] for j in (a, b, c)] == ["completed"] * 3


async def test_cancel_stops_a_running_job_and_a_finished_one_cannot_be_cancelled(api, tmp_path):
    xpcs_uids = await xpcs_runs(api)
    [job] = await submit(api, "gate", xpcs_uids[:1], gate=str(tmp_path / "never"))
    await until(api, job["id"], lambda j: j["state"] == "running" and j["heading"] == "Wait")
    answer = await api("POST", "jobs", str(job["id"]), "cancel")
    assert (answer["state"], answer["cancel_requested"]) == ("running", True)
    job = await until(api, job["id"], final, timeout=30)
    assert job["state"] == "cancelled"
    code, answer = await failure(api("POST", "jobs", str(job["id"]), "cancel"))
    assert code == 409


async def test_rerun_makes_a_new_job_and_keeps_the_old_folder(api):
    xpcs_uids = await xpcs_runs(api)
    [old] = await submit(api, "plot", xpcs_uids[:1])
    code, _ = await failure(api("POST", "jobs", str(old["id"]), "rerun"))
    assert code == 409  # still queued or running
    old = await until(api, old["id"], final)
    new = await api("POST", "jobs", str(old["id"]), "rerun")
    assert (new["rerun_of"], new["state"], new["uid"], new["parameters"]) == (
        old["id"],
        "queued",
        old["uid"],
        old["parameters"],
    )
    new = await until(api, new["id"], final)
    assert new["state"] == "completed"
    assert Path(old["folder"]).is_dir() and Path(new["folder"]).is_dir() and new["folder"] != old["folder"]


# -- who may do what ----------------------------------------------------------------------------------


async def test_only_the_owner_or_an_admin_may_act_on_a_job(api, tmp_path):
    xpcs_uids = await xpcs_runs(api)
    running, queued = await submit(api, "gate", xpcs_uids[:2], gate=str(tmp_path / "never"))
    await until(api, running["id"], lambda j: j["state"] == "running")
    for parts, payload in [
        ((str(queued["id"]), "cancel"), None),
        ((str(queued["id"]), "move"), {"to": "top"}),
        ((str(running["id"]), "files"), None),
    ]:
        method = "GET" if parts[-1] == "files" else "POST"
        code, answer = await failure(api(method, "jobs", *parts, user="bob", body=payload))
        assert (code, answer["error"]) == (403, "Not your job")
        assert answer["detail"].startswith(
            f"Job {parts[0]} belongs to alice; only its owner or an admin may "
        )
    # An admin may.
    moved = await api("POST", "jobs", str(queued["id"]), "move", user="carol", body={"to": "top"})
    assert moved["state"] == "queued"
    assert (await api("POST", "jobs", str(queued["id"]), "cancel", user="carol"))["state"] == "cancelled"
    assert (await api("POST", "jobs", str(running["id"]), "cancel"))["cancel_requested"] is True
    await until(api, running["id"], final, timeout=30)
    code, answer = await failure(api("GET", "jobs", "999"))
    assert (code, answer["error"], answer["detail"]) == (404, "Unknown job", "No job with id 999.")


async def test_a_server_never_starts_another_users_job(api):
    xpcs_uids = await xpcs_runs(api)
    [theirs] = await submit(api, "plot", xpcs_uids[:1], user="bob")
    [mine] = await submit(api, "plot", xpcs_uids[:1])
    assert theirs["owner"] == "bob"
    assert (await until(api, mine["id"], final))["state"] == "completed"
    await asyncio.sleep(1.0)  # several dispatcher ticks with a free slot
    assert (await api("GET", "jobs", str(theirs["id"])))["state"] == "queued"
    assert [j["id"] for j in (await api("GET", "jobs", owner="bob"))["jobs"]] == [theirs["id"]]


async def test_job_files_stay_inside_the_job_folder(api, tmp_path, http_server_client, jp_base_url):
    xpcs_uids = await xpcs_runs(api)
    [job] = await submit(api, "plot", xpcs_uids[:1])
    job = await until(api, job["id"], final)
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    os.symlink(tmp_path, Path(job["folder"]) / "outside")
    jid = str(job["id"])
    code, answer = await failure(api("GET", "jobs", jid, "files", "..", "..", "secret.txt", raw=True))
    assert (code, answer["error"]) == (400, "Invalid path")
    absolute = await http_server_client.fetch(
        f"{jp_base_url}raydata/api/jobs/{jid}/files//etc/passwd",
        headers={"Authorization": "token alice-token"},
        raise_error=False,
    )
    assert (absolute.code, json.loads(absolute.body)["error"]) == (400, "Invalid path")
    code, answer = await failure(api("GET", "jobs", jid, "files", "outside", "secret.txt", raw=True))
    assert (code, answer["error"]) == (403, "Outside the job folder")
    code, answer = await failure(api("GET", "jobs", jid, "files", "nothing.png", raw=True))
    assert (code, answer["error"]) == (404, "No such file")
    listed = {f["path"] for f in (await api("GET", "jobs", jid, "files"))["files"]}
    assert not any(p.startswith("outside") for p in listed)


async def test_automatic_analysis_is_off_by_default_and_switchable(api):
    auto = await api("GET", "catalogs", "demo", "auto-analysis")
    assert auto["enabled"] is False
    assert auto["pipelines"]["XPCS_SAXS_2way_pipeline"] == "plot"
    auto = await api("PUT", "catalogs", "demo", "auto-analysis", body={"enabled": True})
    assert auto["enabled"] is True
    assert (await api("GET", "catalogs", "demo", "auto-analysis"))["enabled"] is True
    code, answer = await failure(api("GET", "catalogs", "nowhere", "auto-analysis"))
    assert (code, answer["error"]) == (404, "Unknown catalog")
    code, _ = await failure(api("PUT", "catalogs", "demo", "auto-analysis", body={"enabled": "maybe"}))
    assert code == 400


class TestWorkerProcesses:
    @pytest.fixture
    def raydata_config(self, raydata_config):
        return {**raydata_config, "cluster": {"kwargs": {"n_workers": 1, "threads_per_worker": 1}}}

    async def test_a_killed_worker_fails_its_job_with_the_reason_and_the_queue_goes_on(
        self, api, jp_serverapp, tmp_path
    ):
        xpcs_uids = await xpcs_runs(api)
        [doomed] = await submit(api, "gate", xpcs_uids[:1], gate=str(tmp_path / "never"))
        [after] = await submit(api, "plot", xpcs_uids[:1])
        await until(api, doomed["id"], lambda j: j["state"] == "running" and j["heading"] == "Wait")
        client = jp_serverapp.web_app.settings["raydata"].services.executor.client()
        (pid,) = (await asyncio.to_thread(client.run, os.getpid)).values()
        os.kill(pid, 9)
        doomed = await until(api, doomed["id"], final)
        assert (doomed["state"], doomed["failure"]) == (
            "failed",
            "The dask worker running this job died; the partial notebook is kept.",
        )
        assert (await until(api, after["id"], final))["state"] == "completed"
