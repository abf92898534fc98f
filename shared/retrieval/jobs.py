"""Background jobs on PostgreSQL: Procrastinate for the queue, plus progress and error bookkeeping.

Procrastinate owns locking (``FOR UPDATE SKIP LOCKED`` inside its fetch function), retries and
job states; this module adds what every project's UI needs: a ``job_progress`` row per job with
done/total/message, the attempt count and the last error, and a status vocabulary of
``queued | running | succeeded | failed | cancelled``.

Usage::

    queue = JobQueue(url)

    @queue.task("ingest")
    def ingest(path: str, progress: Progress) -> None:
        for i, item in enumerate(items):
            ...
            progress.update(i + 1, len(items), "embedding")

    job_id = queue.enqueue("ingest", path="/data/a.pdf")
    queue.run_worker()            # or `python -m procrastinate ... worker` style in a service
    queue.status(job_id)

Task functions are plain sync functions (Procrastinate runs them in threads); ``max_attempts``
counts executions, so ``max_attempts=3`` means one run plus up to two automatic retries.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from procrastinate import App, PsycopgConnector, RetryStrategy
from procrastinate import utils as pc_utils

from shared.db import database_url
from shared.observability.metrics import JOB_QUEUE_DEPTH, JOBS_FINISHED
from shared.observability.tracing import span
from shared.settings import JobSettings, get_settings

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
_STATES: dict[str, JobState] = {
    "todo": "queued",
    "doing": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "aborting": "running",
    "aborted": "cancelled",
}


class JobNotFoundError(LookupError):
    pass


class JobStateError(RuntimeError):
    """The operation does not apply to the job in its current state (e.g. retrying a running job)."""


@dataclass(frozen=True)
class JobStatus:
    id: int
    task: str
    queue: str
    status: JobState
    attempts: int
    error: str | None
    done: int
    total: int | None
    message: str | None
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


class Progress:
    """Handed to tasks that declare a ``progress`` parameter; each update is committed at once.

    Also tells the task which job and worker it runs as (for logs and idempotency keys).
    """

    def __init__(self, url: str, job_id: int, worker: str | None = None) -> None:
        self._url = url
        self.job_id = job_id
        self.worker = worker

    def update(self, done: int, total: int | None = None, message: str | None = None) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(
                "UPDATE job_progress SET done = %s, total = COALESCE(%s, total), message = COALESCE(%s, message), "
                "updated_at = now() WHERE job_id = %s",
                (done, total, message, self.job_id),
            )


@dataclass
class _TaskSpec:
    name: str
    func: Callable[..., Any]
    queue: str
    max_attempts: int
    retry_wait_s: int
    wants_progress: bool


class JobQueue:
    """A named set of tasks over one database; cheap to construct, safe to share between threads."""

    def __init__(self, url: str | None = None, settings: JobSettings | None = None) -> None:
        self.url = url or database_url()
        self.settings = settings or get_settings().jobs
        self._specs: dict[str, _TaskSpec] = {}
        self._client: App | None = None
        self._lock = threading.Lock()
        self._inline: threading.Thread | None = None

    # -- registration -----------------------------------------------------------------------------------

    def task(
        self,
        name: str | None = None,
        *,
        queue: str | None = None,
        max_attempts: int | None = None,
        retry_wait_s: int = 0,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a task under ``name`` (default: the function's name)."""

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            spec = _TaskSpec(
                name=name or func.__name__,
                func=func,
                queue=queue or self.settings.default_queue,
                max_attempts=max_attempts or self.settings.max_attempts,
                retry_wait_s=retry_wait_s,
                wants_progress="progress" in inspect.signature(func).parameters,
            )
            self._specs[spec.name] = spec
            return func

        return register

    def _build_app(self, pool_size: int = 2) -> App:
        app = App(connector=PsycopgConnector(conninfo=self.url, min_size=1, max_size=pool_size))
        for spec in self._specs.values():
            # Procrastinate's max_attempts counts *retries*; 0 would mean "forever", so pass None then.
            retries = spec.max_attempts - 1
            retry = RetryStrategy(max_attempts=retries, wait=spec.retry_wait_s) if retries > 0 else None
            app.task(name=spec.name, queue=spec.queue, retry=retry, pass_context=True)(self._wrap(spec))
        return app

    def _wrap(self, spec: _TaskSpec) -> Callable[..., Any]:
        def run(context: Any, **kwargs: Any) -> Any:
            job_id = int(context.job.id)
            self._start_attempt(job_id)
            if spec.wants_progress:
                kwargs["progress"] = Progress(self.url, job_id, context.worker_name)
            with span("job.run", task=spec.name, job_id=job_id):
                try:
                    result = spec.func(**kwargs)
                except Exception as exc:
                    self._record_error(job_id, f"{type(exc).__name__}: {exc}")
                    JOBS_FINISHED.labels(spec.name, "failed").inc()
                    raise
            JOBS_FINISHED.labels(spec.name, "succeeded").inc()
            return result

        run.__name__ = spec.name
        return run

    # -- client side ------------------------------------------------------------------------------------

    def _app(self) -> App:
        with self._lock:
            if self._client is None:
                self._client = self._build_app().open()
            return self._client

    def enqueue(self, task_name: str, *, queue: str | None = None, **kwargs: Any) -> int:
        """Defer ``task_name`` with JSON-serialisable ``kwargs``; returns the job id."""
        if task_name not in self._specs and queue is None:
            raise KeyError(f"unknown task {task_name!r}; registered: {sorted(self._specs)}")
        spec = self._specs.get(task_name)
        target = queue or (spec.queue if spec else self.settings.default_queue)
        job_id = self._app().configure_task(task_name, queue=target).defer(**kwargs)
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("INSERT INTO job_progress (job_id) VALUES (%s) ON CONFLICT DO NOTHING", (job_id,))
        self.queue_depth()
        return int(job_id)

    def status(self, job_id: int) -> JobStatus:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT j.task_name, j.queue_name, j.status::text, j.args, COALESCE(p.attempts, 0), p.error, "
                "COALESCE(p.done, 0), p.total, p.message "
                "FROM procrastinate_jobs j LEFT JOIN job_progress p ON p.job_id = j.id WHERE j.id = %s",
                (job_id,),
            ).fetchone()
        if row is None:
            raise JobNotFoundError(f"no job {job_id}")
        task, queue, state, args, attempts, error, done, total, message = row
        return JobStatus(job_id, task, queue, _STATES[state], attempts, error, done, total, message, args or {})

    def open_jobs(self, task_name: str, **args: str | int | bool) -> list[int]:
        """Ids of ``task_name`` jobs still queued or running whose arguments include ``args``, oldest first.

        For "one run at a time per thing": a caller returns the open job instead of queueing a second
        (re-indexing a repository twice in parallel would only redo the same work)."""
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT id FROM procrastinate_jobs WHERE task_name = %s AND status IN ('todo', 'doing') "
                "AND args @> %s::jsonb ORDER BY id",
                (task_name, json.dumps(args)),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def retry(self, job_id: int) -> None:
        """Put a failed job back in its queue (it gets one more attempt)."""
        current = self.status(job_id)
        if current.status != "failed":
            raise JobStateError(f"job {job_id} is {current.status}; only failed jobs can be retried")
        self._app().job_manager.retry_job_by_id(job_id, retry_at=pc_utils.utcnow())
        self.queue_depth()

    def requeue_stalled(self, queue: str | None = None, seconds_since_heartbeat: float = 30.0) -> list[int]:
        """Put back ``running`` jobs whose worker died (no heartbeat for ``seconds_since_heartbeat``).

        A killed process leaves its jobs in Procrastinate's ``doing`` state forever; a service calls
        this when it starts its worker, so work interrupted by a crash resumes instead of hanging.
        Idempotent tasks (those that skip what they already stored) then continue where they stopped.
        """
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT j.id FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
                "WHERE j.status = 'doing' AND (%(queue)s::text IS NULL OR j.queue_name = %(queue)s) "
                "AND (j.worker_id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %(secs)s))",
                {"queue": queue, "secs": seconds_since_heartbeat},
            ).fetchall()
        ids = [int(r[0]) for r in rows]
        for job_id in ids:
            self._app().job_manager.retry_job_by_id(job_id, retry_at=pc_utils.utcnow())
            log.warning("requeued stalled job %s (its worker stopped sending heartbeats)", job_id)
        if ids:
            self.queue_depth()
        return ids

    def cancel(self, job_id: int) -> bool:
        return bool(self._app().job_manager.cancel_job_by_id(job_id))

    def queue_depth(self) -> dict[tuple[str, str], int]:
        """Queued and running jobs per queue; also exported as the ``job_queue_depth`` gauge."""
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing') GROUP BY 1, 2"
            ).fetchall()
        depth = {(q, _STATES[s]): int(n) for q, s, n in rows}
        queues = {q for q, _ in depth} | {s.queue for s in self._specs.values()}
        for q in queues:
            for state in ("queued", "running"):
                JOB_QUEUE_DEPTH.labels(q, state).set(depth.get((q, state), 0))
        return depth

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- worker -----------------------------------------------------------------------------------------

    def run_worker(
        self,
        queues: Iterable[str] | None = None,
        concurrency: int | None = None,
        wait: bool = True,
        name: str | None = None,
    ) -> None:
        """Run a worker in this thread. ``wait=False`` returns once the queues are drained (tests, batch).

        Each call builds its own Procrastinate app and connection pool, so several workers can run
        in threads of one process (or in separate processes) against the same database.
        """
        concurrency = concurrency or self.settings.worker_concurrency
        app = self._build_app(pool_size=concurrency + 2)
        app.run_worker(
            queues=list(queues) if queues else None,
            concurrency=concurrency,
            wait=wait,
            name=name,
            listen_notify=wait,
            install_signal_handlers=threading.current_thread() is threading.main_thread(),
            fetch_job_polling_interval=0.5 if not wait else 5.0,
        )
        self.queue_depth()

    def serve(self, queue: str, name: str | None = None) -> list[int]:
        """Work ``queue`` until stopped (a worker process's main loop), after putting back the jobs whose worker
        died: they resume where they stopped. Returns the requeued job ids once the worker stops."""
        requeued = self.requeue_stalled(queue)
        if requeued:
            log.info("requeued %d stalled job(s) on queue %r: %s", len(requeued), queue, requeued)
        self.run_worker(queues=[queue], wait=True, name=name)
        return requeued

    def serve_in_thread(self, queue: str, name: str) -> None:
        """Serve ``queue`` from a daemon thread of this process (single-machine setups; once per JobQueue)."""
        with self._lock:
            if self._inline is not None:
                return
            self._inline = threading.Thread(target=self.serve, args=(queue, name), daemon=True, name=name)
        self._inline.start()

    def drain(self, queue: str) -> None:
        """Run the queued jobs of ``queue`` in this thread until none is left (tests, CLIs, demo loaders)."""
        self.run_worker(queues=[queue], wait=False, concurrency=1)

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _start_attempt(self, job_id: int) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO job_progress (job_id, attempts) VALUES (%s, 1) ON CONFLICT (job_id) DO UPDATE "
                "SET attempts = job_progress.attempts + 1, error = NULL, updated_at = now()",
                (job_id,),
            )

    def _record_error(self, job_id: int, error: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "UPDATE job_progress SET error = %s, updated_at = now() WHERE job_id = %s", (error[:4000], job_id)
            )
