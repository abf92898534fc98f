"""The moderation service: synchronous decisions, asynchronous jobs with signed callbacks, appeals into review.

Why it is shaped this way:
- **One cascade per process**, built lazily (the packaged models load in seconds) and shared by every tenant;
  a tenant with its own policy gets a :class:`Cascade` over the *same* detectors with its policy, so policies
  per tenant cost nothing extra. Every decision row records the policy version that produced it.
- **A decision, its review item and its idempotency record commit together.** The cascade runs outside the
  transaction; the write is one transaction that ends with the ``cm_idempotency`` insert. A concurrent duplicate
  (same tenant and key) blocks on that primary key until the first commits, then finds it, rolls its own
  writes back and replays the stored response: two identical submissions leave one decision row.
- **Jobs** store their texts, run on the shared job queue (``shared.retrieval.jobs``), write their decisions
  like the synchronous path, then deliver a signed callback with retries. Results are stored before delivery,
  so a job whose callback failed is ``failed`` but keeps its results, and a retry only re-delivers.
- **Appeals** of a reviewed decision go back to the queue (second-reviewer rule in ``review.py``); an automated
  decision is appealed by re-sending its text, checked against the stored hash (texts are not kept otherwise).
- **Images** (:meth:`ModerationService.moderate_image`) are one decision each, recorded like a text (their
  SHA-256 and size); their bytes are kept only when the decision goes to review, for the reviewer to look at.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from projects.content_moderation import webhooks
from projects.content_moderation.inputs import TextInputError, validate_texts
from projects.content_moderation.review import ItemNotFound, ReviewConflict, ReviewQueue
from projects.content_moderation.schema import ensure_schema
from projects.content_moderation.settings import ContentModerationSettings, Tiers
from shared.db import connection
from shared.moderation.cascade import Cascade, Verdict
from shared.moderation.image import moderate_image as run_image_moderation
from shared.moderation.policy import Policy, load_policy
from shared.retrieval.jobs import JobQueue, Progress
from shared.retrieval.migrations import upgrade
from shared.settings import ModerationSettings, get_settings
from shared.vision.images import ImageInputError, ImageLimits

log = logging.getLogger(__name__)

JOB_TASK = "cm.moderate"
NO_TEXT_READ = "(image, no text read)"  # a review item's text when OCR found nothing in the image
WEBHOOK_EVENT = "moderation.job.completed"
_DECISION_COLUMNS = (
    "id::text, tenant_id, text_sha256, text_bytes, action, categories, policy_version, surface, source_ref, "
    "idempotency_key, job_id::text, review_item_id::text, tiers_run, timings_ms, created_at"
)
_JOB_COLUMNS = (
    "id::text, tenant_id, created_by, surface, reach, source_ref, total, done, status, queue_job_id, policy_version, "
    "results, error, webhook_url, webhook_status, created_at, updated_at, finished_at"
)


class DecisionNotFound(LookupError):
    pass


class JobNotFound(LookupError):
    pass


class JobStateError(RuntimeError):
    """The job is not in a state that allows the action (retrying a job that did not fail)."""


class IdempotencyConflict(RuntimeError):
    """The Idempotency-Key was used before with a different request body."""


class AppealRefused(RuntimeError):
    """Nothing to appeal (the text was allowed) or the decision is already in review/appealed."""


class WebhookDeliveryFailed(RuntimeError):
    pass


class MediaNotFound(LookupError):
    """The review item has no stored image (it is a text, or the image was purged)."""


@lru_cache(maxsize=4)
def default_cascade(tiers: Tiers, policy: str) -> Cascade:
    """The process-wide cascade for ``tiers`` (models load once; the guardrail rails build their own)."""
    from shared.moderation.pipeline import build_cascade

    return build_cascade(tiers=tiers, policy=load_policy(policy))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_sha256(kind: str, **fields: Any) -> str:
    canonical = json.dumps({"kind": kind, **fields}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verdict_out(verdict: Verdict) -> dict[str, Any]:
    """A verdict as the API's result: every category's score and action; detectors and evidence where something
    fired (image evidence adds its ``source`` and ``box``)."""
    return {
        "action": verdict.action,
        "flagged": verdict.flagged,
        "categories": {c: v.as_dict() for c, v in verdict.categories.items()},
        "tiers_run": verdict.tiers_run,
        "timings_ms": {k: round(t, 3) for k, t in verdict.timings_ms.items()},
    }


class _Replay(Exception):
    """Raised inside the write transaction when a concurrent request stored the same key first (rolls back)."""


class ModerationService:
    def __init__(
        self,
        url: str,
        settings: ContentModerationSettings,
        *,
        moderation: ModerationSettings | None = None,
        cascade: Cascade | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self.moderation = moderation or get_settings().moderation
        upgrade(url)  # shared tables: the job queue
        self.review = ReviewQueue(url, sla=timedelta(hours=settings.review_sla_hours))
        ensure_schema(url)
        self._base = cascade
        self._cascades: dict[str, Cascade] = {}
        self._lock = threading.Lock()
        self.queue = JobQueue(url)
        self.queue.task(JOB_TASK, queue=settings.job_queue, max_attempts=1)(self.run_job)

    # -- policy and cascade ----------------------------------------------------------------------------

    def policy_name(self, tenant_id: str) -> str:
        return self.settings.tenant_policies.get(tenant_id, self.moderation.policy)

    def policy(self, tenant_id: str) -> Policy:
        return load_policy(self.policy_name(tenant_id))

    def cascade(self, tenant_id: str) -> Cascade:
        """The tenant's cascade: the shared detectors under the tenant's policy."""
        name = self.policy_name(tenant_id)
        with self._lock:
            if self._base is None:
                self._base = default_cascade(self.settings.tiers, self.moderation.policy)
            base = self._base
            if name not in self._cascades:
                policy = load_policy(name)
                self._cascades[name] = (
                    base
                    if policy.version_id == base.policy.version_id
                    else Cascade(
                        base.detectors, policy, base.normalize, uncertain=base.uncertain, max_tier=base.max_tier
                    )
                )
            return self._cascades[name]

    def severity(self, tenant_id: str, verdict: Verdict, surface: str | None) -> int:
        rules = self.policy(tenant_id).rules(surface)
        return max((rules[c].severity for c in verdict.flagged), default=1)

    # -- synchronous moderation ------------------------------------------------------------------------

    def moderate(
        self,
        texts: Sequence[str],
        tenant_id: str,
        surface: str = "default",
        *,
        idempotency_key: str | None = None,
        source_ref: str | None = None,
        reach: int = 1,
    ) -> tuple[dict[str, Any], bool]:
        """Moderate ``texts``; returns ``(response, replayed)``. ``replayed``: the key was seen with this body.

        Raises :class:`TextInputError` (nothing runs or is stored), :class:`IdempotencyConflict` (same key,
        different body)."""
        validate_texts(texts, max_texts=self.settings.max_batch_texts, max_text_bytes=self.settings.max_text_bytes)
        req_hash = None
        if idempotency_key:
            req_hash = request_sha256("moderate", texts=list(texts), surface=surface, reach=reach, ref=source_ref)
            stored = self._stored_response(tenant_id, idempotency_key, req_hash)
            if stored is not None:
                return stored, True
        verdicts = self.cascade(tenant_id).moderate(list(texts), surface)
        try:
            with self._conn() as conn, conn.transaction():
                results = self._record(conn, tenant_id, texts, verdicts, surface, reach, source_ref, idempotency_key)
                response = {"policy_version": verdicts[0].policy_version, "surface": surface, "results": results}
                if idempotency_key and not self._claim_key(conn, tenant_id, idempotency_key, "moderate", req_hash,
                                                           response):  # fmt: skip
                    raise _Replay
        except _Replay:
            stored = self._stored_response(tenant_id, idempotency_key, req_hash)  # type: ignore[arg-type]
            assert stored is not None  # the row that made our insert a no-op is committed
            return stored, True
        return response, False

    def _record(
        self,
        conn: psycopg.Connection,
        tenant_id: str,
        texts: Sequence[str],
        verdicts: Sequence[Verdict],
        surface: str,
        reach: int,
        source_ref: str | None,
        idempotency_key: str | None,
        job_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Write one decision per text (and a review item where the policy sends it); return the results."""
        results = []
        for text, verdict in zip(texts, verdicts, strict=True):
            out = self._record_one(
                conn, tenant_id, verdict, review_text=text, sha256=text_sha256(text), size=len(text.encode("utf-8")),
                surface=surface, reach=reach, source_ref=source_ref, idempotency_key=idempotency_key, job_id=job_id,
            )  # fmt: skip
            results.append(out)
        return results

    def _record_one(
        self,
        conn: psycopg.Connection,
        tenant_id: str,
        verdict: Verdict,
        *,
        review_text: str,
        sha256: str,
        size: int,
        surface: str,
        reach: int,
        source_ref: str | None,
        idempotency_key: str | None,
        job_id: str | None = None,
        media: tuple[bytes, str] | None = None,
    ) -> dict[str, Any]:
        """Write one decision (content hash and size, never the content) and, where the policy's action is a
        review action, its review item with ``review_text``. ``media`` = (bytes, media type) of an image: stored
        in ``cm_media`` only when the item goes to review, because the reviewer must see it."""
        out = {"id": str(uuid.uuid4()), **verdict_out(verdict), "review_item_id": None}
        if verdict.action in self.settings.review_actions:
            if media is not None:
                conn.execute(
                    "INSERT INTO cm_media (tenant_id, sha256, media_type, data) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (tenant_id, sha256) DO NOTHING",
                    (tenant_id, sha256, media[1], media[0]),
                )
            out["review_item_id"] = self.review.enqueue(
                tenant_id, review_text, verdict, severity=self.severity(tenant_id, verdict, surface), reach=reach,
                source_ref=source_ref, media_sha256=sha256 if media is not None else None, conn=conn,
            )  # fmt: skip
        flagged = {c: v for c, v in out["categories"].items() if v["action"] != "allow"}
        conn.execute(
            "INSERT INTO cm_decisions (id, tenant_id, text_sha256, text_bytes, action, categories, policy_version, "
            "surface, source_ref, idempotency_key, job_id, review_item_id, tiers_run, timings_ms) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (out["id"], tenant_id, sha256, size, verdict.action, Jsonb(flagged), verdict.policy_version, surface,
             source_ref, idempotency_key, job_id, out["review_item_id"], verdict.tiers_run, Jsonb(out["timings_ms"])),
        )  # fmt: skip
        return out

    # -- images ----------------------------------------------------------------------------------------

    def moderate_image(
        self,
        data: bytes,
        filename: str | None,
        tenant_id: str,
        surface: str = "default",
        *,
        idempotency_key: str | None = None,
        source_ref: str | None = None,
        reach: int = 1,
    ) -> tuple[dict[str, Any], bool]:
        """Moderate one uploaded image (NSFW detector + OCR through the tenant's text cascade); returns
        ``(response, replayed)``.

        The decision row records the image's SHA-256 and size in ``text_sha256``/``text_bytes``, like a text.
        The image bytes themselves are stored (``cm_media``) **only** when the decision goes to human review: a
        reviewer has to see them; every other image leaves only its hash behind. The review item's text is what
        OCR read (or :data:`NO_TEXT_READ`). Raises :class:`ImageInputError` (bad input: nothing runs or is
        stored) and :class:`IdempotencyConflict` (same key, different image or fields)."""
        if len(data) > self.settings.max_image_bytes:  # the API checks while reading; direct callers too
            raise ImageInputError(
                "too_large", f"the file is {len(data):,} bytes; the limit is {self.settings.max_image_bytes:,} bytes"
            )
        image_sha = hashlib.sha256(data).hexdigest()
        req_hash = None
        if idempotency_key:
            req_hash = request_sha256("image", image=image_sha, surface=surface, reach=reach, ref=source_ref)
            stored = self._stored_response(tenant_id, idempotency_key, req_hash)
            if stored is not None:
                return stored, True
        verdict = run_image_moderation(
            data, self.cascade(tenant_id), surface, settings=self.moderation, filename=filename,
            limits=ImageLimits(max_bytes=self.settings.max_image_bytes),
        )  # fmt: skip
        try:
            with self._conn() as conn, conn.transaction():
                result = self._record_one(
                    conn, tenant_id, verdict, review_text=verdict.ocr_text.strip() or NO_TEXT_READ,
                    sha256=verdict.image_sha256, size=len(data), surface=surface, reach=reach, source_ref=source_ref,
                    idempotency_key=idempotency_key, media=(data, verdict.media_type),
                )  # fmt: skip
                response = {
                    "policy_version": verdict.policy_version, "surface": surface, "results": [result],
                    "ocr_text": verdict.ocr_text, "image_sha256": verdict.image_sha256, "width": verdict.width,
                    "height": verdict.height, "media_type": verdict.media_type, "warnings": list(verdict.warnings),
                }  # fmt: skip
                if idempotency_key and not self._claim_key(conn, tenant_id, idempotency_key, "moderate", req_hash,
                                                           response):  # fmt: skip
                    raise _Replay
        except _Replay:
            stored = self._stored_response(tenant_id, idempotency_key, req_hash)  # type: ignore[arg-type]
            assert stored is not None
            return stored, True
        return response, False

    def review_media(self, tenant_id: str, item_id: str) -> tuple[bytes, str]:
        """The image of a review item: ``(bytes, media type)``; :class:`MediaNotFound` when it has none."""
        item = self.review.get(tenant_id, _uuid(item_id, ItemNotFound))
        if not item.get("media_sha256"):
            raise MediaNotFound(f"review item {item_id} is a text, it has no media")
        with self._conn() as conn:
            row = conn.execute(
                "SELECT data, media_type FROM cm_media WHERE tenant_id = %s AND sha256 = %s",
                (tenant_id, item["media_sha256"]),
            ).fetchone()
        if row is None:
            raise MediaNotFound(f"the image of review item {item_id} is no longer stored")
        return bytes(row[0]), row[1]

    # -- idempotency -----------------------------------------------------------------------------------

    def _stored_response(self, tenant_id: str, key: str, req_hash: str) -> dict[str, Any] | None:
        with self._conn(dict_row) as conn:
            row = conn.execute(
                "SELECT request_sha256, response FROM cm_idempotency WHERE tenant_id = %s AND key = %s",
                (tenant_id, key),
            ).fetchone()
        if row is None:
            return None
        if row["request_sha256"] != req_hash:
            raise IdempotencyConflict(
                f"Idempotency-Key {key!r} was already used with a different request; use a new key for new content"
            )
        return row["response"]

    @staticmethod
    def _claim_key(
        conn: psycopg.Connection, tenant_id: str, key: str, kind: str, req_hash: str | None, response: dict
    ) -> bool:
        """Insert the key in the caller's transaction; False when a concurrent request committed it first."""
        row = conn.execute(
            "INSERT INTO cm_idempotency (tenant_id, key, kind, request_sha256, response) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (tenant_id, key) DO NOTHING RETURNING 1",
            (tenant_id, key, kind, req_hash, Jsonb(response)),
        ).fetchone()
        return row is not None

    # -- decisions and appeals -------------------------------------------------------------------------

    def get_decision(self, tenant_id: str, decision_id: str) -> dict[str, Any]:
        with self._conn(dict_row) as conn:
            row = conn.execute(
                f"SELECT {_DECISION_COLUMNS} FROM cm_decisions WHERE id = %s AND tenant_id = %s",
                (_uuid(decision_id, DecisionNotFound), tenant_id),
            ).fetchone()
        if row is None:
            raise DecisionNotFound(f"no decision {decision_id!r}")
        return row

    def list_decisions(self, tenant_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._conn(dict_row) as conn:
            return conn.execute(
                f"SELECT {_DECISION_COLUMNS} FROM cm_decisions WHERE tenant_id = %s ORDER BY created_at DESC LIMIT %s",
                (tenant_id, limit),
            ).fetchall()

    def appeal(
        self, tenant_id: str, user: str, decision_id: str, reason: str, text: str | None = None
    ) -> dict[str, Any]:
        """The author contests a decision; returns the review item now waiting for a (second) reviewer."""
        decision = self.get_decision(tenant_id, decision_id)
        if decision["action"] == "allow":
            raise AppealRefused("the text was allowed: there is nothing to appeal")
        if decision["review_item_id"]:
            return self.review.appeal(tenant_id, decision["review_item_id"], user, reason)
        if text is None:
            raise TextInputError(
                422, "text-required", "this decision was automated and texts are not stored: send the original "
                "`text` with the appeal (it is checked against the decision's SHA-256)",
            )  # fmt: skip
        if text_sha256(text) != decision["text_sha256"]:
            raise TextInputError(422, "text-mismatch", "`text` is not the text this decision was made on")
        severity = max((self.policy(tenant_id).rules(decision["surface"])[c].severity for c in decision["categories"]),
                       default=1)  # fmt: skip
        with self._conn(dict_row) as conn, conn.transaction():
            locked = conn.execute(
                "SELECT review_item_id::text FROM cm_decisions WHERE id = %s FOR UPDATE", (decision_id,)
            ).fetchone()
            if locked and locked["review_item_id"]:  # a concurrent appeal of the same decision won
                raise ReviewConflict("this decision was already appealed", status="appealed")
            item_id = self.review.enqueue_appeal(
                tenant_id, text, decision, severity=severity, user=user, reason=reason, conn=conn
            )
            conn.execute("UPDATE cm_decisions SET review_item_id = %s WHERE id = %s", (item_id, decision_id))
        return self.review.get(tenant_id, item_id)

    # -- asynchronous jobs -----------------------------------------------------------------------------

    def submit_job(
        self,
        texts: Sequence[str],
        tenant_id: str,
        user: str,
        *,
        webhook_url: str | None = None,
        surface: str = "default",
        reach: int = 1,
        source_ref: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Validate, store and queue a batch; returns ``(job, replayed)``. The callback URL is checked against
        the allow-list first (:class:`webhooks.WebhookUrlError`): a refused job stores nothing."""
        validate_texts(texts, max_texts=self.settings.max_job_texts, max_text_bytes=self.settings.max_text_bytes)
        if webhook_url is not None:
            webhook_url = webhooks.check_webhook_url(webhook_url, self.settings.webhook_allowlist)
        req_hash = None
        if idempotency_key:
            req_hash = request_sha256(
                "job", texts=list(texts), surface=surface, reach=reach, ref=source_ref, webhook=webhook_url
            )
            stored = self._stored_response(tenant_id, idempotency_key, req_hash)
            if stored is not None:
                return self.get_job(tenant_id, stored["job_id"]), True
        job_id = str(uuid.uuid4())
        try:
            with self._conn() as conn, conn.transaction():
                conn.execute(
                    "INSERT INTO cm_jobs (id, tenant_id, created_by, surface, reach, source_ref, texts, total, "
                    "webhook_url, webhook_status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (job_id, tenant_id, user, surface, reach, source_ref, Jsonb(list(texts)), len(texts), webhook_url,
                     "pending" if webhook_url else "none"),
                )  # fmt: skip
                if idempotency_key and not self._claim_key(
                    conn, tenant_id, idempotency_key, "job", req_hash, {"job_id": job_id}
                ):
                    raise _Replay
        except _Replay:
            stored = self._stored_response(tenant_id, idempotency_key, req_hash)  # type: ignore[arg-type]
            return self.get_job(tenant_id, stored["job_id"]), True  # type: ignore[index]
        try:
            queue_job_id = self.queue.enqueue(JOB_TASK, job_id=job_id)
        except Exception as exc:  # stored but not queued: failed, and a retry queues it
            self._update_job(job_id, status="failed", error=f"could not queue: {exc}"[:2000], finished=True)
            raise
        self._update_job(job_id, queue_job_id=queue_job_id)
        return self.get_job(tenant_id, job_id), False

    def run_job(self, job_id: str, progress: Progress | None = None) -> dict[str, Any]:
        """The job: moderate in batches (progress per batch), store decisions and results, deliver the callback."""
        with self._conn(dict_row) as conn:
            job = conn.execute(
                "SELECT id::text, tenant_id, surface, reach, source_ref, texts, results IS NOT NULL AS has_results, "
                "webhook_url, webhook_status FROM cm_jobs WHERE id = %s",
                (job_id,),
            ).fetchone()
        if job is None:
            raise JobNotFound(job_id)
        self._update_job(job_id, status="running", error=None)
        try:
            if not job["has_results"]:
                self._moderate_job(job, progress)
            if job["webhook_url"] and job["webhook_status"] != "delivered":
                self._deliver(job_id, job["webhook_url"])
        except Exception as exc:
            self._update_job(job_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000], finished=True)
            raise
        self._update_job(job_id, status="succeeded", finished=True)
        return {"job_id": job_id}

    def _moderate_job(self, job: dict[str, Any], progress: Progress | None) -> None:
        texts: list[str] = job["texts"]
        tenant, surface = job["tenant_id"], job["surface"]
        cascade = self.cascade(tenant)
        size = self.settings.job_batch_size
        verdicts: list[Verdict] = []
        for start in range(0, len(texts), size):
            verdicts.extend(cascade.moderate(texts[start : start + size], surface))
            self._update_job(job["id"], done=len(verdicts))
            if progress is not None:
                progress.update(len(verdicts), len(texts), "moderating")
        with self._conn() as conn, conn.transaction():
            results = self._record(
                conn, tenant, texts, verdicts, surface, job["reach"], job["source_ref"], None, job_id=job["id"]
            )
            conn.execute(
                "UPDATE cm_jobs SET results = %s, policy_version = %s, texts = NULL, updated_at = now() WHERE id = %s",
                (Jsonb(results), verdicts[0].policy_version, job["id"]),
            )

    def webhook_body(self, job_id: str) -> bytes:
        """The callback body (deterministic, so every attempt signs the same bytes)."""
        with self._conn(dict_row) as conn:
            job = conn.execute(
                "SELECT id::text, tenant_id, surface, policy_version, results, created_at FROM cm_jobs WHERE id = %s",
                (job_id,),
            ).fetchone()
        payload = {
            "type": WEBHOOK_EVENT, "job_id": job["id"], "tenant_id": job["tenant_id"], "status": "succeeded",
            "surface": job["surface"], "policy_version": job["policy_version"], "results": job["results"],
        }  # fmt: skip
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")

    def _deliver(self, job_id: str, url: str) -> None:
        def record(attempt: webhooks.Attempt) -> None:
            with self._conn() as conn:
                conn.execute(
                    "INSERT INTO cm_webhook_deliveries (job_id, attempt, url, status_code, error, duration_ms) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (job_id, attempt.attempt, url, attempt.status_code, attempt.error, attempt.duration_ms),
                )

        s = self.settings
        delivered = webhooks.deliver(
            url, self.webhook_body(job_id), secret=s.webhook_secret.get_secret_value(), event=WEBHOOK_EVENT,
            delivery_id=job_id, timeout_s=s.webhook_timeout_s, max_attempts=s.webhook_max_attempts,
            backoff_s=s.webhook_backoff_s, record=record,
        )  # fmt: skip
        self._update_job(job_id, webhook_status="delivered" if delivered else "failed")
        if not delivered:
            raise WebhookDeliveryFailed(
                f"callback to {url} failed after {s.webhook_max_attempts} attempt(s); results are kept, "
                "POST /jobs/{id}/retry re-delivers"
            )

    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        with self._conn(dict_row) as conn:
            job = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM cm_jobs WHERE id = %s AND tenant_id = %s",
                (_uuid(job_id, JobNotFound), tenant_id),
            ).fetchone()
            if job is None:
                raise JobNotFound(f"no job {job_id!r}")
            job["deliveries"] = conn.execute(
                "SELECT attempt, status_code, error, duration_ms, created_at FROM cm_webhook_deliveries "
                "WHERE job_id = %s ORDER BY id",
                (job_id,),
            ).fetchall()
        return job

    def list_jobs(self, tenant_id: str, limit: int = 20) -> list[dict[str, Any]]:
        with self._conn(dict_row) as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM cm_jobs WHERE tenant_id = %s ORDER BY created_at DESC LIMIT %s",
                (tenant_id, limit),
            ).fetchall()
        return [{**r, "results": None, "deliveries": []} for r in rows]

    def retry_job(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        """Re-run a failed job: moderation resumes only if it had not finished, a failed callback is re-sent."""
        job = self.get_job(tenant_id, job_id)
        if job["status"] != "failed":
            raise JobStateError(f"job is {job['status']}; only failed jobs can be retried")
        with self._conn() as conn:
            updated = conn.execute(
                "UPDATE cm_jobs SET status = 'queued', error = NULL, finished_at = NULL, updated_at = now(), "
                "webhook_status = CASE WHEN webhook_url IS NULL THEN 'none' ELSE 'pending' END "
                "WHERE id = %s AND status = 'failed' RETURNING 1",
                (job_id,),
            ).fetchone()
        if updated is None:
            raise JobStateError("the job changed meanwhile; reload it")
        if job["queue_job_id"] is None:  # it never reached the queue
            self._update_job(job_id, queue_job_id=self.queue.enqueue(JOB_TASK, job_id=job_id))
        else:
            self.queue.retry(job["queue_job_id"])
        return self.get_job(tenant_id, job_id)

    def _update_job(self, job_id: str, *, finished: bool = False, **fields: Any) -> None:
        sets = "".join(f", {k} = %({k})s" for k in fields)
        done = ", finished_at = now()" if finished else ""
        with self._conn() as conn:
            conn.execute(
                f"UPDATE cm_jobs SET updated_at = now(){sets}{done} WHERE id = %(id)s", {"id": job_id, **fields}
            )

    # -- workers ---------------------------------------------------------------------------------------

    def start_inline_worker(self) -> None:
        """With ``inline_worker`` a daemon thread runs the queue in this process (single-machine setups)."""
        if self.settings.inline_worker:
            self.queue.serve_in_thread(self.settings.job_queue, "cm-inline")

    def run_worker(self, name: str) -> list[int]:
        return self.queue.serve(self.settings.job_queue, name)

    def drain(self) -> None:
        """Run queued jobs to completion in this thread (tests, scripts, the demo loader)."""
        self.queue.drain(self.settings.job_queue)

    def _conn(self, row_factory: Any = tuple_row) -> AbstractContextManager[psycopg.Connection]:
        """A connection from the shared pool: one transaction per block, committed when it ends."""
        return connection(self.url, row_factory)


def _uuid(value: str, missing: type[LookupError]) -> str:
    """Ids are UUIDs; anything else is simply not found (never a 500 from a cast)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise missing(f"no such id {value!r}") from None
