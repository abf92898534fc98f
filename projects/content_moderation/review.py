"""The human review queue in PostgreSQL: prioritised items, claims, decisions, escalations, appeals, audit log.

Why each rule:
- **Priority = severity × reach × age.** ``severity`` (1–4) comes from the policy's worst flagged category,
  ``reach`` is how many people the content can reach (a DM: 1, a public post: its audience), and age grows the
  priority linearly per SLA period, so old low-severity items still surface. It is computed at read time, so it is
  never stale.
- **One reviewer wins.** Every state change is an ``UPDATE ... WHERE version = %s``: two reviewers deciding the
  same item concurrently both read version v, one update matches, the other gets :class:`ReviewConflict` naming
  who decided it.
- **Appeals get a second reviewer.** An appealed item goes back to the queue; the reviewer of the original
  decision cannot decide the appeal.
- **Everything is audited.** Each action writes a ``cm_review_actions`` row (actor, action, from → to status,
  note) in the same transaction as the change.
- **Decisions are data.** ``labelled_data`` exports final decisions as (text, categories, label) rows for
  calibration and the k-NN example set.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from shared.db import apply_statements, connection

_LOCK_KEY = 0x434D5F5245564945  # "CM_REVIE"
Status = Literal["pending", "claimed", "escalated", "decided", "appealed"]
Decision = Literal["allow", "remove"]
SYSTEM_REVIEWER = "system:cascade"
OPEN_STATUSES = ("pending", "appealed", "escalated")

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS cm_review_items (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        source_ref text,
        text text NOT NULL,
        surface text,
        policy_version text NOT NULL,
        action text NOT NULL,
        categories jsonb NOT NULL,
        severity int NOT NULL CHECK (severity BETWEEN 1 AND 4),
        reach int NOT NULL DEFAULT 1 CHECK (reach >= 1),
        status text NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'claimed', 'escalated', 'decided', 'appealed')),
        claimed_by text,
        claimed_at timestamptz,
        decision text CHECK (decision IN ('allow', 'remove')),
        decided_by text,
        first_decided_by text,
        decided_at timestamptz,
        appeal_reason text,
        version int NOT NULL DEFAULT 1,
        sla_due_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS cm_review_open ON cm_review_items (tenant_id, status, created_at)",
    """CREATE TABLE IF NOT EXISTS cm_review_actions (
        id bigserial PRIMARY KEY,
        item_id uuid NOT NULL REFERENCES cm_review_items(id) ON DELETE CASCADE,
        actor text NOT NULL,
        action text NOT NULL,
        from_status text,
        to_status text NOT NULL,
        note text,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS cm_review_actions_item ON cm_review_actions (item_id, id)",
    # an image item: its bytes are in the service's cm_media (tenant_id, sha256); its text is what OCR read
    "ALTER TABLE cm_review_items ADD COLUMN IF NOT EXISTS media_sha256 text",
)

# severity × reach (log-damped: a post seen by 10,000 is not 10,000× a DM) × age in SLA periods
_PRIORITY = (
    "severity * ln(2 + reach) * (1 + extract(epoch FROM now() - created_at) / extract(epoch FROM %(sla)s::interval))"
)


class ReviewError(Exception):
    pass


class ItemNotFound(ReviewError, LookupError):
    pass


class ReviewConflict(ReviewError):
    """The item changed under the caller (another reviewer acted first), or the action does not apply.

    ``holder`` is the reviewer who has (claimed) or decided the item, ``status`` its status now: the API puts
    both in the 409 problem so the loser of a race is told who won.
    """

    def __init__(self, message: str, *, holder: str | None = None, status: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder
        self.status = status


class ReviewQueue:
    def __init__(self, url: str, *, sla: timedelta = timedelta(hours=24)) -> None:
        self.url = url
        self.sla = sla
        apply_statements(url, STATEMENTS, _LOCK_KEY)

    def _conn(self) -> AbstractContextManager[psycopg.Connection]:
        """A pooled connection (shared.db): a review action no longer pays a connect of its own."""
        return connection(self.url, dict_row)

    # -- intake ----------------------------------------------------------------------------------------

    def enqueue(
        self,
        tenant_id: str,
        text: str,
        verdict: Any,
        *,
        severity: int,
        reach: int = 1,
        source_ref: str | None = None,
        media_sha256: str | None = None,
        conn: psycopg.Connection | None = None,
    ) -> str:
        """Queue a text the cascade sent to review (or a user reported); returns the item id.

        With ``conn`` the item is written in the caller's transaction (the service stores a decision and its
        review item atomically), else in its own. ``media_sha256`` marks an image item (``text`` is then what
        OCR read from it); the caller stores the bytes."""
        categories = {
            c: v.as_dict() for c, v in verdict.categories.items() if v.action != "allow"
        }  # the reviewer sees what fired and where, not only a score
        fields = {
            "tenant_id": tenant_id, "source_ref": source_ref, "text": text, "surface": verdict.surface,
            "policy_version": verdict.policy_version, "action": verdict.action, "categories": Jsonb(categories),
            "severity": severity, "reach": max(1, reach), "media_sha256": media_sha256,
        }  # fmt: skip
        return self._insert(conn, fields, ("system", "enqueue", "pending", None))

    def enqueue_appeal(
        self,
        tenant_id: str,
        text: str,
        decision: dict[str, Any],
        *,
        severity: int,
        user: str,
        reason: str,
        reach: int = 1,
        conn: psycopg.Connection | None = None,
    ) -> str:
        """An automated decision (never reviewed) is appealed: it enters the queue as ``appealed``.

        ``decision`` is the stored decision (surface, policy_version, action, categories). The cascade counts as
        the first decider, so any human reviewer may take the appeal."""
        fields = {
            "tenant_id": tenant_id, "source_ref": decision.get("source_ref"), "text": text,
            "surface": decision.get("surface"), "policy_version": decision["policy_version"],
            "action": decision["action"], "categories": Jsonb(decision["categories"]), "severity": severity,
            "reach": max(1, reach), "status": "appealed", "appeal_reason": reason,
            "decision": "remove" if decision["action"] == "block" else "allow",
            "decided_by": SYSTEM_REVIEWER, "first_decided_by": SYSTEM_REVIEWER,
        }  # fmt: skip
        return self._insert(conn, fields, (user, "appeal", "appealed", reason))

    def _insert(self, conn: psycopg.Connection | None, fields: dict[str, Any], audit: tuple) -> str:
        item_id = str(uuid.uuid4())
        cols = ", ".join(fields)
        vals = ", ".join(f"%({k})s" for k in fields)
        actor, action, to, note = audit

        def write(c: psycopg.Connection) -> None:
            c.execute(
                f"INSERT INTO cm_review_items (id, {cols}, sla_due_at) VALUES (%(id)s, {vals}, now() + %(sla)s)",
                {"id": item_id, "sla": self.sla, **fields},
            )
            self._audit(c, item_id, actor, action, None, to, note)

        if conn is not None:
            write(conn)
        else:
            with self._conn() as own, own.transaction():
                write(own)
        return item_id

    # -- the queue -------------------------------------------------------------------------------------

    def next_items(self, tenant_id: str, limit: int = 20, *, escalated: bool = False) -> list[dict[str, Any]]:
        """Open items by priority (pending and appealed; or escalated ones, for senior reviewers)."""
        statuses = ["escalated"] if escalated else ["pending", "appealed"]
        with self._conn() as conn:
            return conn.execute(
                f"SELECT *, {_PRIORITY} AS priority, now() > sla_due_at AS overdue FROM cm_review_items "
                "WHERE tenant_id = %(t)s AND status = ANY(%(s)s) ORDER BY priority DESC, created_at LIMIT %(n)s",
                {"sla": self.sla, "t": tenant_id, "s": statuses, "n": limit},
            ).fetchall()

    def get(self, tenant_id: str, item_id: str) -> dict[str, Any]:
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT *, {_PRIORITY} AS priority, now() > sla_due_at AS overdue FROM cm_review_items "
                "WHERE id = %(id)s AND tenant_id = %(t)s",
                {"sla": self.sla, "id": item_id, "t": tenant_id},
            ).fetchone()
        if row is None:
            raise ItemNotFound(f"no review item {item_id!r}")
        return row

    def history(self, tenant_id: str, item_id: str) -> list[dict[str, Any]]:
        self.get(tenant_id, item_id)
        with self._conn() as conn:
            return conn.execute(
                "SELECT actor, action, from_status, to_status, note, created_at FROM cm_review_actions "
                "WHERE item_id = %s ORDER BY id",
                (item_id,),
            ).fetchall()

    # -- reviewer actions ------------------------------------------------------------------------------

    def claim(self, tenant_id: str, item_id: str, reviewer: str) -> dict[str, Any]:
        item = self.get(tenant_id, item_id)
        self._check_claimable(item, reviewer)
        return self._transition(item, reviewer, "claim", "claimed", claimed_by=reviewer)

    @staticmethod
    def _check_claimable(item: dict[str, Any], reviewer: str) -> None:
        if item["status"] not in OPEN_STATUSES:
            who = item["claimed_by"] or (item["decided_by"] if item["status"] == "decided" else None)
            raise ReviewConflict(
                f"item is {item['status']}" + (f" by {who}" if who else ""), holder=who, status=item["status"]
            )
        if item["status"] == "appealed" and reviewer == item["first_decided_by"]:
            raise ReviewConflict(
                "an appeal needs a second reviewer: you decided this item first", status=item["status"]
            )

    def decide(
        self,
        tenant_id: str,
        item_id: str,
        reviewer: str,
        decision: Decision,
        note: str | None = None,
        *,
        claim: bool = False,
    ) -> dict:
        """Decide a claimed item; with ``claim`` an open item is claimed and decided in one step (one version
        bump, so of two reviewers deciding at once exactly one wins)."""
        item = self.get(tenant_id, item_id)
        if claim and item["status"] in OPEN_STATUSES:
            self._check_claimable(item, reviewer)
        elif item["status"] != "claimed" or item["claimed_by"] != reviewer:
            who = item["decided_by"] if item["status"] == "decided" else item["claimed_by"]
            raise ReviewConflict(
                f"item is {item['status']}" + (f" by {who}" if who else "") + "; claim it first",
                holder=who,
                status=item["status"],
            )
        claimed = {} if item["status"] == "claimed" else {"claimed_by": reviewer}
        return self._transition(
            item, reviewer, f"decide:{decision}", "decided", note=note, decision=decision, decided_by=reviewer,
            first_decided_by=item["first_decided_by"] or reviewer, **claimed,
        )  # fmt: skip

    def escalate(self, tenant_id: str, item_id: str, reviewer: str, note: str) -> dict[str, Any]:
        item = self.get(tenant_id, item_id)
        if item["status"] != "claimed" or item["claimed_by"] != reviewer:
            raise ReviewConflict(f"item is {item['status']}; claim it first")
        return self._transition(item, reviewer, "escalate", "escalated", note=note, claimed_by=None)

    def release(self, tenant_id: str, item_id: str, reviewer: str) -> dict[str, Any]:
        item = self.get(tenant_id, item_id)
        if item["status"] != "claimed" or item["claimed_by"] != reviewer:
            raise ReviewConflict(f"item is {item['status']}; only its claimant can release it")
        back = "appealed" if item["appeal_reason"] and item["decision"] else "pending"
        return self._transition(item, reviewer, "release", back, claimed_by=None)

    def note(self, tenant_id: str, item_id: str, reviewer: str, text: str) -> None:
        item = self.get(tenant_id, item_id)
        with self._conn() as conn, conn.transaction():
            self._audit(conn, item_id, reviewer, "note", item["status"], item["status"], text)

    def appeal(self, tenant_id: str, item_id: str, user: str, reason: str) -> dict[str, Any]:
        """The author contests a decision: the item returns to the queue for a different reviewer."""
        item = self.get(tenant_id, item_id)
        if item["status"] != "decided":
            raise ReviewConflict(f"only decided items can be appealed; this one is {item['status']}")
        if item["appeal_reason"]:
            raise ReviewConflict("this decision was already appealed")
        return self._transition(item, user, "appeal", "appealed", note=reason, appeal_reason=reason, claimed_by=None)

    def labelled_data(self, tenant_id: str) -> list[dict[str, Any]]:
        """Final decisions as training/calibration rows: the text, the queued categories with their scores, and
        the label (remove → 1)."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT text, categories, decision, policy_version, decided_by, decided_at FROM cm_review_items "
                "WHERE tenant_id = %s AND status = 'decided' ORDER BY decided_at",
                (tenant_id,),
            ).fetchall()
        return [
            {
                **r,
                "label": int(r["decision"] == "remove"),
                "categories": sorted(r["categories"]),
                "scores": {c: v["score"] for c, v in r["categories"].items()},
            }
            for r in rows
        ]

    # -- internals -------------------------------------------------------------------------------------

    def _transition(
        self, item: dict[str, Any], actor: str, action: str, to: str, note: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        sets = ", ".join(f"{k} = %({k})s" for k in fields)
        extra = ", claimed_at = now()" if fields.get("claimed_by") else ""
        extra += ", decided_at = now()" if "decision" in fields else ""
        with self._conn() as conn, conn.transaction():
            updated = conn.execute(
                f"UPDATE cm_review_items SET status = %(to)s, version = version + 1, updated_at = now()"
                f"{', ' + sets if sets else ''}{extra} WHERE id = %(id)s AND version = %(version)s RETURNING version",
                {"to": to, "id": item["id"], "version": item["version"], **fields},
            ).fetchone()
            if updated is None:
                current = conn.execute(
                    "SELECT status, claimed_by, decided_by FROM cm_review_items WHERE id = %s", (item["id"],)
                ).fetchone()
                now = (current or {}).get("status")
                who = (current or {}).get("decided_by") if now == "decided" else (current or {}).get("claimed_by")
                raise ReviewConflict(
                    f"someone acted first: the item is now {now}" + (f" by {who}" if who else ""),
                    holder=who,
                    status=now,
                )
            self._audit(conn, str(item["id"]), actor, action, item["status"], to, note)
        return self.get(item["tenant_id"], str(item["id"]))

    @staticmethod
    def _audit(
        conn: psycopg.Connection, item_id: str, actor: str, action: str, frm: str | None, to: str, note: str | None
    ) -> None:
        conn.execute(
            "INSERT INTO cm_review_actions (item_id, actor, action, from_status, to_status, note) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (item_id, actor, action, frm, to, note),
        )
