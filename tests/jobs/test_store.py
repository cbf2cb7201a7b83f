"""The job store and its queue policy, on SQLite and on a real PostgreSQL (scripts/postgres.sh)."""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
import time
import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from jupyterlab_raydata.errors import BadRequest, Conflict, NotFound
from jupyterlab_raydata.jobs import store as store_module
from jupyterlab_raydata.jobs.store import INTERRUPTED, JobQuery, JobStore, NewJob


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(url):
    jobs = JobStore(url)
    yield jobs
    jobs.close()


@pytest.fixture
def clock(monkeypatch):
    """The store's clock, set by the test: ``clock.now`` is what ``time.time()`` returns in the store."""
    fake = types.SimpleNamespace(now=1000.0)
    fake.time = lambda: fake.now
    monkeypatch.setattr(store_module, "time", fake)
    return fake


def new(owner: str = "alice", uid: str = "uid-1", **fields) -> NewJob:
    return NewJob(
        **{
            "owner": owner,
            "catalog": "chx",
            "uid": uid,
            "scan_id": 101,
            "template": "xpcs_saxs",
            "parameters": {"rings": 8},
            "mask": "beamstop",
            **fields,
        }
    )


def queue(store: JobStore, *owners: str) -> list[int]:
    """One job per owner, in this order; their ids."""
    return [job.id for job in store.add([new(owner, uid=f"run-{i}") for i, owner in enumerate(owners)])]


def order(store: JobStore) -> list[int]:
    """The ids of the queued jobs, first in line first."""
    return [job.id for job in store.list(JobQuery(state=["queued"])).jobs]


def claim(store: JobStore, owner: str, server: str = "", **limits):
    limits = {"global_limit": 1, "user_limit": 1, **limits}
    job = store.claim(owner, server or f"server-{owner}", **limits)
    return job.id if job else None


# -- records -----------------------------------------------------------------------------------------


def test_add_appends_in_order_and_get_returns_the_record(store, clock):
    first = store.add([new("alice", "u1"), new("bob", "u2", scan_id=None, mask=None, parameters={})])
    clock.now = 1005.0
    (third,) = store.add([new("alice", "u3")])
    assert [(job.id, job.position, job.created) for job in [*first, third]] == [
        (1, 1.0, 1000.0),
        (2, 2.0, 1000.0),
        (3, 3.0, 1005.0),
    ]
    assert store.get(1).model_dump() == {
        "id": 1,
        "owner": "alice",
        "catalog": "chx",
        "uid": "u1",
        "scan_id": 101,
        "template": "xpcs_saxs",
        "parameters": {"rings": 8},
        "mask": "beamstop",
        "state": "queued",
        "position": 1.0,
        "created": 1000.0,
        "started": None,
        "finished": None,
        "cells_done": 0,
        "cells_total": 0,
        "heading": "",
        "worker": None,
        "folder": None,
        "failure": None,
        "attempts": 0,
        "rerun_of": None,
        "auto": False,
        "cancel_requested": False,
        "server_id": None,
    }
    second = store.get(2)
    assert (second.owner, second.scan_id, second.mask, second.parameters) == ("bob", None, None, {})
    with pytest.raises(NotFound) as caught:
        store.get(99)
    assert (caught.value.error, caught.value.detail, caught.value.status) == (
        "Unknown job",
        "No job with id 99.",
        404,
    )


def test_a_second_store_on_the_same_database_sees_the_same_queue(store, url):
    queue(store, "alice", "bob")
    other = JobStore(url)
    try:
        assert order(other) == [1, 2]
        assert claim(other, "bob", global_limit=2) == 2
        assert store.get(2).state == "running"
    finally:
        other.close()


def start_together(url: str, servers: int = 6) -> tuple[list[JobStore], list[BaseException]]:
    """Open ``servers`` stores on ``url`` at the same moment, each in a thread of its own."""
    stores: list[JobStore] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(servers)

    def start():
        barrier.wait()
        try:
            stores.append(JobStore(url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stores, errors


def test_servers_starting_together_on_a_new_database_create_it_once(url):
    stores, errors = start_together(url)
    try:
        assert errors == []
        assert [job.id for job in stores[0].add([new("alice")])] == [1]
        assert [store.get(1).owner for store in stores] == ["alice"] * 6
    finally:
        for store in stores:
            store.close()


def test_new_sqlite_files_opened_together_never_answer_locked(tmp_path):
    # Switching a new file to WAL failed "database is locked" in about 1 start in 25 when every
    # connection did it; many rounds make that race show.
    for round_ in range(60):
        stores, errors = start_together(f"sqlite:///{tmp_path / f'jobs-{round_}.db'}")
        for store in stores:
            store.close()
        assert (round_, errors) == (round_, [])


def test_list_filters_sorts_and_pages(store, clock):
    store.add(
        [
            new("alice", "u1", scan_id=30, template="quick_look"),
            new("bob", "u2", scan_id=10),
            new("carol", "u1", scan_id=20, catalog="csx"),
            new("alice", "u3", scan_id=None),
        ]
    )
    clock.now = 2000.0
    assert claim(store, "bob", global_limit=4, user_limit=4) == 2
    clock.now = 2001.0
    assert claim(store, "alice", global_limit=4, user_limit=4) == 1
    store.finish(1, "completed")

    def ids(**query):
        return [job.id for job in store.list(JobQuery(**query)).jobs]

    assert ids() == [1, 2, 3, 4]
    assert ids(state=["queued"]) == [3, 4]
    assert ids(state=["running", "completed"]) == [1, 2]
    assert ids(owner="alice") == [1, 4]
    assert ids(catalog="csx") == [3]
    assert ids(uid="u1") == [1, 3]
    assert ids(template="quick_look") == [1]
    assert ids(owner="alice", state=["queued"]) == [4]
    assert ids(sort="-position") == [4, 3, 2, 1]
    assert ids(sort="scan_id") == [2, 3, 1, 4]  # no scan id sorts last either way
    assert ids(sort="-scan_id") == [1, 3, 2, 4]
    assert ids(sort="started") == [2, 1, 3, 4]
    assert ids(sort="-started") == [1, 2, 3, 4]
    assert ids(sort="owner,-id") == [4, 1, 2, 3]
    assert ids(sort=" state , -scan_id") == [1, 3, 4, 2]
    page = store.list(JobQuery(sort="-id", offset=1, limit=2))
    assert ([job.id for job in page.jobs], page.total, page.offset) == ([3, 2], 4, 1)
    page = store.list(JobQuery(owner="alice", offset=5))
    assert (page.jobs, page.total, page.offset) == ([], 2, 5)
    with pytest.raises(BadRequest) as caught:
        store.list(JobQuery(sort="position,-priority"))
    assert (caught.value.error, caught.value.detail) == (
        "Bad sort",
        "Unknown sort key '-priority'; use one of position, created, started, finished, id, scan_id, "
        "state, owner, template.",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("limit", 0), ("limit", 1001), ("offset", -1), ("state", ["paused"]), ("sort", "x" * 201)],
)
def test_a_job_query_refuses_values_out_of_bounds(field, value):
    with pytest.raises(ValidationError) as caught:
        JobQuery(**{field: value})
    assert [error["loc"][0] for error in caught.value.errors()] == [field]


def test_limit_bounds_are_inclusive():
    assert (JobQuery(limit=1).limit, JobQuery(limit=1000).limit, JobQuery().limit) == (1, 1000, 100)


def test_folder_and_progress_are_recorded_while_running(store):
    queue(store, "alice")
    store.set_folder(1, "/results/chx/101-run-0/xpcs_saxs-1")
    claim(store, "alice")
    store.progress(1, cells_done=2, cells_total=9, heading="Masks", worker="tcp://10.0.0.5:4000")
    store.progress(1, cells_done=5, cells_total=9, heading="Correlation")
    job = store.get(1)
    assert (job.folder, job.cells_done, job.cells_total, job.heading, job.worker) == (
        "/results/chx/101-run-0/xpcs_saxs-1",
        5,
        9,
        "Correlation",
        "tcp://10.0.0.5:4000",
    )
    store.finish(1, "completed")
    store.progress(1, cells_done=9, cells_total=9, heading="late report")
    assert (store.get(1).cells_done, store.get(1).heading) == (5, "Correlation")
    for call in (
        lambda: store.set_folder(7, "/x"),
        lambda: store.progress(7, cells_done=1, cells_total=2, heading=""),
    ):
        with pytest.raises(NotFound):
            call()


def test_finish_ends_only_a_running_job_in_a_final_state(store, clock):
    queue(store, "alice", "alice")
    with pytest.raises(Conflict) as caught:
        store.finish(1, "completed")
    assert caught.value.detail == "Job 1 is queued; only a running job can end."
    claim(store, "alice")
    with pytest.raises(BadRequest) as caught:
        store.finish(1, "queued")
    assert caught.value.detail == "A job ends as one of completed, failed, cancelled, not 'queued'."
    clock.now = 1010.0
    done = store.finish(1, "failed", "cell 3: ValueError: no frames")
    assert (done.state, done.finished, done.failure) == ("failed", 1010.0, "cell 3: ValueError: no frames")
    with pytest.raises(Conflict):
        store.finish(1, "completed")
    with pytest.raises(NotFound):
        store.finish(42, "completed")


# -- claims: order and limits ------------------------------------------------------------------------


def test_claims_go_first_in_first_out_and_set_the_running_fields(store, clock):
    queue(store, "alice", "alice", "alice")
    clock.now = 1100.0
    job = store.claim("alice", "incarnation-1", global_limit=1, user_limit=1)
    assert (job.id, job.state, job.started, job.attempts, job.server_id, job.cancel_requested) == (
        1,
        "running",
        1100.0,
        1,
        "incarnation-1",
        False,
    )
    assert store.get(1) == job
    assert claim(store, "alice") is None
    store.finish(1, "completed")
    assert claim(store, "alice") == 2
    store.finish(2, "completed")
    assert claim(store, "alice") == 3
    store.finish(3, "completed")
    assert claim(store, "alice") is None
    assert claim(store, "nobody") is None


def test_global_limit_one_runs_one_job_of_anyone_at_a_time(store):
    queue(store, "alice", "bob", "alice")
    assert claim(store, "alice") == 1
    assert claim(store, "bob") is None
    store.finish(1, "completed")
    assert claim(store, "alice") is None  # bob's job is ahead and he may start it
    assert claim(store, "bob") == 2
    store.finish(2, "completed")
    assert claim(store, "alice") == 3


def test_global_limit_two_with_one_per_user(store):
    queue(store, "alice", "alice", "bob", "bob", "carol")
    assert claim(store, "alice", global_limit=2) == 1
    assert claim(store, "alice", global_limit=2) is None  # alice is at her limit ...
    assert claim(store, "bob", global_limit=2) == 3  # ... so her second job does not block bob
    assert claim(store, "carol", global_limit=2) is None  # both slots taken
    store.finish(1, "completed")
    # One slot free: alice's job 2 is first in line and she may start it, so bob and carol wait.
    assert claim(store, "carol", global_limit=2) is None
    assert claim(store, "alice", global_limit=2) == 2
    store.finish(3, "completed")
    # bob's job 4 is ahead of carol's: carol waits for him.
    assert claim(store, "carol", global_limit=2) is None
    assert claim(store, "bob", global_limit=2) == 4
    store.finish(2, "completed")
    assert claim(store, "carol", global_limit=2) == 5
    assert store.list(JobQuery(state=["running"])).total == 2


def test_a_user_may_run_several_jobs_up_to_the_user_limit(store):
    queue(store, "alice", "alice", "alice")
    assert [claim(store, "alice", global_limit=3, user_limit=2) for _ in range(3)] == [1, 2, None]
    store.finish(2, "completed")
    assert claim(store, "alice", global_limit=3, user_limit=2) == 3


def test_a_user_who_can_take_only_one_slot_does_not_block_a_second(store):
    # bob has two queued jobs ahead of alice's but may start only one (user limit 1): of the two free
    # slots one is left for alice.
    queue(store, "bob", "bob", "alice")
    assert claim(store, "alice", global_limit=2) == 3
    assert claim(store, "carol", global_limit=2) is None
    # With one free slot left, bob's first job is first in line for it.
    queue(store, "alice")
    assert claim(store, "alice", global_limit=3, user_limit=2) is None
    assert claim(store, "bob", global_limit=3) == 1


def test_a_user_over_a_lowered_limit_neither_blocks_nor_makes_room(store):
    queue(store, "alice", "alice", "alice", "bob", "carol")
    assert [claim(store, "alice", global_limit=3, user_limit=2) for _ in range(2)] == [1, 2]
    # The limit drops to one per user while alice runs two: one slot is free and bob is first in line.
    assert claim(store, "alice", global_limit=3) is None
    assert claim(store, "carol", global_limit=3) is None
    assert claim(store, "bob", global_limit=3) == 4


def test_a_user_whose_server_is_down_does_not_block_the_queue(store, clock):
    queue(store, "bob", "alice")
    store.heartbeat("server-alice", "alice", "host-a:8888")
    store.heartbeat("server-bob", "bob", "host-b:8888")
    clock.now = 1100.0
    store.heartbeat("server-alice", "alice", "host-a:8888")
    alive = store.alive_servers(within_s=30)
    assert alive == {"server-alice"}
    # Every user counts as alive without the set: bob's job is first in line.
    assert claim(store, "alice") is None
    assert claim(store, "alice", alive=alive) == 2
    assert store.get(1).state == "queued"


def test_an_alive_users_earlier_job_is_not_overtaken_when_slots_are_scarce(store):
    queue(store, "bob", "alice")
    store.heartbeat("server-alice", "alice", "host-a:8888")
    store.heartbeat("server-bob", "bob", "host-b:8888")
    alive = store.alive_servers(within_s=30)
    assert alive == {"server-alice", "server-bob"}
    assert claim(store, "alice", alive=alive) is None
    assert claim(store, "bob", alive=alive) == 1
    store.finish(1, "completed")
    assert claim(store, "alice", alive=alive) == 2


def test_heartbeat_updates_the_server_and_alive_servers_looks_back_in_time(store, clock):
    store.heartbeat("s1", "alice", "key-a")
    clock.now = 1010.0
    store.heartbeat("s2", "bob", "key-b")
    assert store.alive_servers(within_s=5) == {"s2"}
    assert store.alive_servers(within_s=10) == {"s1", "s2"}
    clock.now = 1020.0
    store.heartbeat("s1", "alice", "key-a")
    assert store.alive_servers(within_s=5) == {"s1"}


# -- cancel, move, re-run ----------------------------------------------------------------------------


def test_cancel_queued_at_once_running_by_request_final_refused(store, clock):
    queue(store, "alice", "alice")
    assert claim(store, "alice") == 1
    clock.now = 1050.0
    queued = store.cancel(2)
    assert (queued.state, queued.finished, queued.cancel_requested) == ("cancelled", 1050.0, False)
    running = store.cancel(1)
    assert (running.state, running.finished, running.cancel_requested) == ("running", None, True)
    assert store.cancel(1).cancel_requested is True  # asking twice is harmless
    assert store.finish(1, "cancelled").state == "cancelled"
    for job_id in (1, 2):
        with pytest.raises(Conflict) as caught:
            store.cancel(job_id)
        assert (caught.value.error, caught.value.detail, caught.value.status) == (
            "Job already finished",
            f"Job {job_id} is cancelled; only a queued or running job can be cancelled.",
            409,
        )
    assert claim(store, "alice") is None  # the cancelled queued job never starts
    with pytest.raises(NotFound):
        store.cancel(3)


def test_move_to_top_bottom_up_and_down(store):
    queue(store, "alice", "bob", "alice", "carol")
    assert order(store) == [1, 2, 3, 4]
    assert store.move(4, "top").position == 0.0
    assert order(store) == [4, 1, 2, 3]
    assert store.move(4, "down").position == 1.0
    assert order(store) == [1, 4, 2, 3]
    store.move(2, "up")
    assert order(store) == [1, 2, 4, 3]
    assert store.move(1, "bottom").position == 4.0  # after swaps the positions are 0, 1, 2, 3
    assert order(store) == [2, 4, 3, 1]
    store.move(2, "up")  # already first
    store.move(1, "down")  # already last
    store.move(2, "top")
    assert order(store) == [2, 4, 3, 1]
    # The queue order is the claim order.
    assert [claim(store, owner, global_limit=4) for owner in ("bob", "carol", "alice")] == [2, 4, 3]


def test_up_and_down_skip_jobs_that_are_not_queued(store):
    queue(store, "alice", "bob", "carol")
    assert claim(store, "bob", global_limit=2) == 2
    store.move(3, "up")
    assert order(store) == [3, 1]
    store.move(3, "down")
    assert order(store) == [1, 3]


def test_only_a_queued_job_moves(store):
    queue(store, "alice", "bob")
    claim(store, "alice")
    with pytest.raises(Conflict) as caught:
        store.move(1, "top")
    assert (caught.value.error, caught.value.detail) == (
        "Job not queued",
        "Job 1 is running; only a queued job can move.",
    )
    store.cancel(2)
    with pytest.raises(Conflict):
        store.move(2, "up")
    with pytest.raises(BadRequest) as bad:
        store.move(1, "sideways")
    assert bad.value.detail == "A job moves to top, bottom, up or down, not 'sideways'."
    with pytest.raises(NotFound):
        store.move(9, "up")


def test_rerun_queues_a_copy_at_the_end(store):
    queue(store, "alice", "bob")
    store.set_folder(1, "/results/one")
    claim(store, "alice")
    store.finish(1, "failed", "boom")
    again = store.rerun(1, "admin")
    fields = {"id", "owner", "rerun_of", "state", "position", "attempts", "folder"}
    assert again.model_dump(include=fields) == {
        "id": 3,
        "owner": "admin",
        "rerun_of": 1,
        "state": "queued",
        "position": 3.0,
        "attempts": 0,
        "folder": None,
    }
    old = store.get(1)
    for field in ("catalog", "uid", "scan_id", "template", "parameters", "mask"):
        assert getattr(again, field) == getattr(old, field)
    assert (old.state, old.folder) == ("failed", "/results/one")
    assert order(store) == [2, 3]
    with pytest.raises(Conflict) as caught:
        store.rerun(2, "bob")
    assert caught.value.detail == "Job 2 is queued; only a completed, failed or cancelled job can be re-run."
    with pytest.raises(NotFound):
        store.rerun(8, "bob")


# -- restart safety ----------------------------------------------------------------------------------


def test_recover_requeues_once_in_the_original_order_then_fails(store, clock):
    store.heartbeat("first", "alice", "host-a")
    queue(store, "alice", "alice", "alice", "bob")
    assert [claim(store, "alice", "first", global_limit=4, user_limit=2) for _ in range(2)] == [1, 2]
    assert claim(store, "bob", "server-bob", global_limit=4) == 4
    # The server restarts as incarnation "second" (same key): its running jobs come back at once.
    clock.now = 1001.0
    back = store.recover("alice", "host-a", "second", stale_s=300)
    assert [(job.id, job.state, job.position, job.started, job.attempts, job.server_id) for job in back] == [
        (1, "queued", 1.0, None, 1, None),
        (2, "queued", 2.0, None, 1, None),
    ]
    assert order(store) == [1, 2, 3]
    assert store.get(4).state == "running"  # bob's job is his server's business
    store.heartbeat("second", "alice", "host-a")
    assert claim(store, "alice", "second", global_limit=4) == 1
    # Interrupted again: job 1 had its second start and fails; job 2 waits, untouched.
    failed = store.recover("alice", "host-a", "third", stale_s=300)
    assert [(job.id, job.state, job.failure, job.finished) for job in failed] == [
        (1, "failed", INTERRUPTED, 1001.0)
    ]
    assert INTERRUPTED == "interrupted by server restart"
    assert order(store) == [2, 3]
    assert store.recover("alice", "host-a", "third", stale_s=300) == []


def test_recover_takes_another_servers_jobs_only_when_it_is_stale(store, clock):
    # alice's jobs run on her server on another host (another key) that then stops answering.
    store.heartbeat("elsewhere", "alice", "host-b")
    queue(store, "alice", "alice")
    assert claim(store, "alice", "elsewhere", global_limit=2, user_limit=2) == 1
    assert claim(store, "alice", "elsewhere", global_limit=2, user_limit=2) == 2
    store.cancel(2)
    store.heartbeat("here", "alice", "host-a")
    clock.now = 1059.0
    assert store.recover("alice", "host-a", "here", stale_s=60) == []
    clock.now = 1061.0
    changed = store.recover("alice", "host-a", "here", stale_s=60)
    # A job whose cancel was asked for is not started again.
    assert [(job.id, job.state, job.cancel_requested, job.finished) for job in changed] == [
        (1, "queued", False, None),
        (2, "cancelled", False, 1061.0),
    ]
    assert store.recover("alice", "host-a", "here", stale_s=60) == []


def test_recover_never_touches_this_incarnations_jobs(store):
    store.heartbeat("now", "alice", "host-a")
    queue(store, "alice")
    claim(store, "alice", "now")
    assert store.recover("alice", "host-a", "now", stale_s=0) == []
    assert store.get(1).state == "running"


# -- automatic analysis ------------------------------------------------------------------------------


def test_the_auto_analysis_switch_is_per_catalog_and_off_by_default(store, url):
    assert store.auto_enabled("chx") is False
    store.set_auto("chx", True, by="alice")
    assert (store.auto_enabled("chx"), store.auto_enabled("csx")) == (True, False)
    store.set_auto("chx", False, by="bob")
    store.set_auto("csx", True, by="bob")
    reopened = JobStore(url)
    try:
        assert (reopened.auto_enabled("chx"), reopened.auto_enabled("csx")) == (False, True)
    finally:
        reopened.close()


def test_a_run_is_marked_auto_queued_once_even_with_racing_threads(store):
    assert store.mark_auto_queued("chx", "u1") is True
    assert store.mark_auto_queued("chx", "u1") is False
    assert store.mark_auto_queued("csx", "u1") is True
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def race():
        barrier.wait()
        results.append(store.mark_auto_queued("chx", "u2"))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_queue_auto_queues_a_run_once(store):
    job = store.queue_auto(new("alice", "u9"))
    assert (job.id, job.auto, job.state, job.uid) == (1, True, "queued", "u9")
    assert store.queue_auto(new("alice", "u9")) is None
    assert store.mark_auto_queued("chx", "u9") is False
    assert store.list(JobQuery()).total == 1


# -- several processes on one database ---------------------------------------------------------------

GLOBAL_LIMIT = 3
USER_LIMIT = 2
JOBS_PER_OWNER = 30


def dispatcher(url: str, owner: str, server_id: str, seed: int, ready, out: str) -> None:
    """Claim and finish ``owner``'s jobs like a server's dispatcher, recording every start and end."""
    store = JobStore(url)
    rng = random.Random(seed)
    held: dict[int, float] = {}
    events = []
    # The four children take up to a second to import and open their stores, longer than all 60 jobs
    # take; they start claiming together, or the first ones may run the whole queue alone.
    ready.wait(timeout=60)
    while True:
        job = store.claim(owner, server_id, global_limit=GLOBAL_LIMIT, user_limit=USER_LIMIT)
        if job is not None:
            events.append(("start", job.id, job.started, owner))
            held[job.id] = time.monotonic() + rng.uniform(0.0, 0.01)
        for job_id, until in list(held.items()):
            if time.monotonic() >= until:
                done = store.finish(job_id, "completed")
                events.append(("end", job_id, done.finished, owner))
                del held[job_id]
        if job is None and not held:
            if store.list(JobQuery(state=["queued"], owner=owner, limit=1)).total == 0:
                break
            time.sleep(0.001)
    store.close()
    Path(out).write_text(json.dumps(events))


def peak(events, owner=None) -> int:
    """The most jobs running at once, replaying the recorded starts and ends (ends first on a tie)."""
    timeline = sorted((t, kind == "start") for kind, _, t, who in events if owner in (None, who))
    running = most = 0
    for _, starts in timeline:
        running += 1 if starts else -1
        most = max(most, running)
    return most


def test_dispatchers_in_four_processes_never_share_a_job_or_exceed_the_limits(store, url, tmp_path):
    owners = ["alice", "bob"]
    store.add([new(owner, uid=f"run-{i}") for i in range(JOBS_PER_OWNER) for owner in owners])
    # Each child opens its own store, as each server does. Children come from a fork server, not from
    # this process: earlier tests leave dask and tornado threads here, and a fork can inherit one of
    # their locks held.
    store.close()
    context = multiprocessing.get_context("forkserver")
    ready = context.Barrier(4)
    outs = [tmp_path / f"events-{i}.json" for i in range(4)]
    processes = [
        context.Process(target=dispatcher, args=(url, owners[i % 2], f"server-{i}", i, ready, str(outs[i])))
        for i in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    events = [event for out in outs for event in json.loads(out.read_text())]
    starts = sorted(job_id for kind, job_id, _, _ in events if kind == "start")
    ends = sorted(job_id for kind, job_id, _, _ in events if kind == "end")
    assert starts == ends == list(range(1, 2 * JOBS_PER_OWNER + 1))
    assert peak(events) == GLOBAL_LIMIT
    # The per-user limit is never exceeded; whether a user's two servers overlap at all is up to the
    # OS scheduler (on a loaded machine one may finish its claims before the other starts).
    assert peak(events, "alice") <= USER_LIMIT and peak(events, "bob") <= USER_LIMIT
    final = store.list(JobQuery(limit=1000)).jobs
    assert {(job.state, job.attempts) for job in final} == {("completed", 1)}
    # Each job ran on a server of its owner.
    servers = {"alice": {"server-0", "server-2"}, "bob": {"server-1", "server-3"}}
    assert all(job.server_id in servers[job.owner] for job in final)
