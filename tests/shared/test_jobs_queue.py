"""The PostgreSQL job queue (Procrastinate) on the real embedded server: exactly-once, failure, retry, progress."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from prometheus_client import REGISTRY

from shared.retrieval.jobs import JobNotFoundError, JobQueue, JobStateError, Progress
from shared.retrieval.migrations import upgrade
from shared.settings import JobSettings


@pytest.fixture
def queue(database_url: str) -> JobQueue:
    upgrade(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE executions (n int, worker text, at timestamptz DEFAULT clock_timestamp())")
        conn.execute("CREATE TABLE switches (name text PRIMARY KEY, on_ boolean)")
    q = JobQueue(database_url, JobSettings(max_attempts=2, worker_concurrency=1))
    yield q
    q.close()


def test_two_concurrent_workers_run_each_job_exactly_once(queue: JobQueue, database_url: str) -> None:
    @queue.task("record")
    def record(n: int, progress: Progress) -> None:
        time.sleep(0.05)  # long enough that both workers are busy at the same time
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("INSERT INTO executions (n, worker) VALUES (%s, %s)", (n, progress.worker))

    ids = [queue.enqueue("record", n=i) for i in range(40)]
    assert queue.queue_depth()[("default", "queued")] == 40
    assert REGISTRY.get_sample_value("job_queue_depth", {"queue": "default", "status": "queued"}) == 40

    workers = [threading.Thread(target=queue.run_worker, kwargs={"wait": False, "name": f"w{i}"}) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers)

    with psycopg.connect(database_url) as conn:
        executed = conn.execute("SELECT n, count(*) FROM executions GROUP BY n ORDER BY n").fetchall()
        by_worker = dict(conn.execute("SELECT worker, count(*) FROM executions GROUP BY worker").fetchall())
        # at least one execution of each worker overlapped the other's activity window
        overlap = conn.execute(
            "SELECT (SELECT min(at) FROM executions WHERE worker = 'w0') < "
            "(SELECT max(at) FROM executions WHERE worker = 'w1') AND "
            "(SELECT min(at) FROM executions WHERE worker = 'w1') < "
            "(SELECT max(at) FROM executions WHERE worker = 'w0')"
        ).fetchone()[0]
    assert executed == [(i, 1) for i in range(40)]  # every job, exactly once
    assert set(by_worker) == {"w0", "w1"} and overlap  # and both workers really ran concurrently
    statuses = [queue.status(i) for i in ids]
    assert all(s.status == "succeeded" and s.attempts == 1 and s.error is None for s in statuses)
    assert queue.queue_depth() == {}


def test_failed_job_records_error_and_can_be_retried(queue: JobQueue, database_url: str) -> None:
    @queue.task("flaky")
    def flaky(name: str) -> None:
        with psycopg.connect(database_url) as conn:
            on = conn.execute("SELECT on_ FROM switches WHERE name = %s", (name,)).fetchone()
        if not on or not on[0]:
            raise RuntimeError(f"switch {name} is off")

    job_id = queue.enqueue("flaky", name="s1")
    queue.run_worker(wait=False)
    status = queue.status(job_id)
    assert status.status == "failed"
    assert status.attempts == 2  # max_attempts=2: the first run plus one automatic retry
    assert status.error == "RuntimeError: switch s1 is off"
    assert status.finished

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO switches VALUES ('s1', true)")
    queue.retry(job_id)
    assert queue.status(job_id).status == "queued"
    queue.run_worker(wait=False)
    status = queue.status(job_id)
    assert (status.status, status.attempts, status.error) == ("succeeded", 3, None)
    with pytest.raises(JobStateError):
        queue.retry(job_id)


def test_progress_is_visible_while_running(queue: JobQueue) -> None:
    started, release = threading.Event(), threading.Event()

    @queue.task("batch")
    def batch(items: list[str], progress: Progress) -> None:
        progress.update(0, len(items), "starting")
        progress.update(1, message="embedded first item")
        started.set()
        assert release.wait(30)
        progress.update(len(items), message="done")

    job_id = queue.enqueue("batch", items=["a", "b", "c"])
    assert queue.status(job_id).status == "queued"
    worker = threading.Thread(target=queue.run_worker, kwargs={"wait": False})
    worker.start()
    assert started.wait(60)
    mid = queue.status(job_id)
    assert (mid.status, mid.done, mid.total, mid.message) == ("running", 1, 3, "embedded first item")
    assert mid.args == {"items": ["a", "b", "c"]}
    release.set()
    worker.join(60)
    end = queue.status(job_id)
    assert (end.status, end.done, end.total, end.message) == ("succeeded", 3, 3, "done")


def test_unknown_jobs_and_tasks_are_errors(queue: JobQueue) -> None:
    with pytest.raises(JobNotFoundError):
        queue.status(987654)
    with pytest.raises(KeyError):
        queue.enqueue("nope")


def test_open_jobs_match_task_and_arguments_until_they_finish(queue: JobQueue) -> None:
    @queue.task("index")
    def index(repo: str, full: bool = False) -> None:
        pass

    a = queue.enqueue("index", repo="a", full=False)
    b = queue.enqueue("index", repo="b", full=True)
    a2 = queue.enqueue("index", repo="a", full=True)
    assert queue.open_jobs("index", repo="a") == [a, a2]
    assert queue.open_jobs("index", repo="a", full=True) == [a2]
    assert queue.open_jobs("index") == [a, b, a2] and queue.open_jobs("other", repo="a") == []
    queue.drain("default")
    assert queue.status(a).status == "succeeded" and queue.open_jobs("index", repo="a") == []


_CRASHING_WORKER = """
import sys, time
import psycopg
from shared.retrieval.jobs import JobQueue
from shared.settings import JobSettings
url = sys.argv[1]
q = JobQueue(url, JobSettings(max_attempts=1, worker_concurrency=1))
@q.task("slow")
def slow(n: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO executions (n, worker) VALUES (%s, 'doomed')", (n,))
    time.sleep(600)
q.run_worker(queues=["default"], wait=True, name="doomed")
"""


def test_a_job_whose_worker_was_killed_is_requeued_and_finishes(
    queue: JobQueue, database_url: str, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from shared.settings import REPO_ROOT

    script = tmp_path / "worker.py"
    script.write_text(_CRASHING_WORKER)
    job_id = queue.enqueue("slow", queue="default", n=7)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), database_url], env=env)
    try:
        deadline = time.monotonic() + 60

        # wait for the task body itself (its row), not only the 'running' state, which is set just before it
        # runs: killed in between, the first attempt would leave no row on a loaded machine
        def started() -> bool:
            with psycopg.connect(database_url) as conn:
                return conn.execute("SELECT count(*) FROM executions WHERE n = 7").fetchone()[0] > 0

        while queue.status(job_id).status != "running" or not started():
            assert time.monotonic() < deadline, "the subprocess worker never started the job"
            assert proc.poll() is None, "the subprocess worker exited early"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # the dead worker's job is stuck in 'running'; a live heartbeat window keeps it there
    assert queue.requeue_stalled("default", seconds_since_heartbeat=3600) == []
    assert queue.status(job_id).status == "running"
    assert queue.requeue_stalled("default", seconds_since_heartbeat=0) == [job_id]

    @queue.task("slow")
    def slow(n: int) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("INSERT INTO executions (n, worker) VALUES (%s, 'survivor')", (n,))

    queue.run_worker(queues=["default"], wait=False)
    st = queue.status(job_id)
    assert st.status == "succeeded" and st.attempts == 2
    with psycopg.connect(database_url) as conn:
        runs = conn.execute("SELECT worker FROM executions WHERE n = 7 ORDER BY at").fetchall()
    assert [r[0] for r in runs] == ["doomed", "survivor"]
