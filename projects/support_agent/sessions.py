"""Persistent conversation state of the support agent and its human handoff queue, in PostgreSQL.

Users complain about state that lives only in memory: here every message, the slot-filling state of the current
flow, each turn's trace and every handoff are rows (``session_schema.py``), so a restarted process (a new
:class:`SessionStore` on the same database) resumes any conversation mid-flow. No LLM and no tools here: only
storage and the concurrency rules.

Why each rule:
- **Gap-free, ordered messages.** ``append`` bumps ``sa_sessions.last_seq`` and inserts the message in one
  transaction; the session row lock serialises appends of one session (never of two), and a rolled-back append
  gives its number back. ``expected_seq`` lets a caller insist on the number it expects (nothing was said since).
- **One turn at a time per session.** :meth:`SessionStore.turn` holds a PostgreSQL advisory lock keyed by the
  session id for the whole turn (on a connection of its own, so other processes serialise too); a second turn
  waits up to ``turn_lock_timeout_s`` and then gets :class:`SessionBusy`. Other sessions are unaffected.
- **Optimistic state.** ``state``/``status`` changes are ``UPDATE ... WHERE version = %s``; a stale writer gets
  :class:`VersionConflict` instead of overwriting (e.g. a human claimed the conversation mid-turn).
- **Handoffs never lose messages.** The human's replies and the system notes of each transition are messages
  of the same session (same ``seq``), so the bot sees them in ``history`` after ``hand_back``. A claim race has
  one winner (conditional ``UPDATE`` on ``status = 'queued'``); the loser gets :class:`HandoffConflict` naming
  who won. Transitions lock the session row first, then the handoff, so they cannot deadlock each other.
- **PII stays out of logs.** ``content_masked`` (Presidio via ``shared.guardrails.detectors``) is the only text
  logs/traces may use; stored turn traces are masked the same way.
- **Bad input stores nothing.** Empty and oversized messages are refused before any write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from projects.support_agent.session_schema import HANDOFF_REASONS, ROLES, ensure_session_schema
from projects.support_agent.settings import SupportSettings, get_support_settings
from shared.db import connection
from shared.observability.tracing import span

Role = Literal["user", "assistant", "tool", "human_agent", "system"]
Status = Literal["active", "waiting_human", "with_human", "closed"]
HandoffReason = Literal[
    "explicit_request", "repeated_failure", "negative_sentiment", "policy_exception", "low_confidence"
]
HandoffStatus = Literal["queued", "claimed", "returned", "closed"]

_UNCHANGED: Any = object()


# --------------------------------------------------------------------------- errors


class SessionError(Exception):
    """Base of every error this module raises on purpose."""


class SessionNotFound(SessionError, LookupError):
    """No such session (or it belongs to another tenant: the caller is not told which)."""


class HandoffNotFound(SessionError, LookupError):
    pass


class InvalidMessage(SessionError, ValueError):
    """The message was refused before anything was stored."""


class EmptyMessage(InvalidMessage):
    pass


class MessageTooLong(InvalidMessage):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"message has {length} characters; the limit is {limit}")
        self.length = length
        self.limit = limit


class TooManyMessages(SessionError):
    """The session's turn budget (per minute) or message cap is spent; ``retry_after_s`` is None for the cap."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SessionBusy(SessionError):
    """Another turn of this session held it past the timeout (``reason='locked'``), or this process has
    ``max_concurrent_turns`` turns in flight (``reason='capacity'``)."""

    def __init__(self, session_id: str, *, reason: Literal["locked", "capacity"], waited_s: float) -> None:
        super().__init__(f"session {session_id} is busy ({reason}; waited {waited_s:.1f} s)")
        self.session_id = session_id
        self.reason = reason
        self.waited_s = waited_s


class VersionConflict(SessionError):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"session changed: expected version {expected}, it is {actual}")
        self.expected = expected
        self.actual = actual


class SeqConflict(SessionError):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected this message to be #{expected}; the next free number is {actual}")
        self.expected = expected
        self.actual = actual


class SessionClosed(SessionError):
    pass


class InvalidTransition(SessionError):
    """The action does not apply to the session's status (e.g. the bot speaking while a human has it)."""

    def __init__(self, message: str, *, status: str | None = None, holder: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.holder = holder


class NotAssigned(InvalidTransition):
    """A human agent acted on a conversation that is not (or no longer) assigned to them."""


class HandoffConflict(SessionError):
    """The handoff is no longer queued (another agent claimed it first): ``holder`` and ``status`` say how."""

    def __init__(self, message: str, *, holder: str | None, status: str, version: int) -> None:
        super().__init__(message)
        self.holder = holder
        self.status = status
        self.version = version


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Session:
    id: str
    tenant_id: str
    customer_id: str | None
    channel: str
    status: Status
    assigned_agent: str | None
    state: dict[str, Any]
    version: int
    last_seq: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Session:
        return cls(
            id=str(r["id"]), tenant_id=r["tenant_id"], customer_id=r["customer_id"], channel=r["channel"],
            status=r["status"], assigned_agent=r["assigned_agent"], state=r["state"], version=r["version"],
            last_seq=r["last_seq"], created_at=r["created_at"], updated_at=r["updated_at"],
        )  # fmt: skip


@dataclass(frozen=True)
class Message:
    session_id: str
    seq: int
    role: Role
    author: str | None
    content: str
    content_masked: str
    tool_name: str | None
    tool_args: Any
    tool_result: Any
    created_at: datetime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Message:
        return cls(**{**r, "session_id": str(r["session_id"])})


@dataclass(frozen=True)
class Handoff:
    id: str
    session_id: str
    tenant_id: str
    reason: HandoffReason
    summary: str
    status: HandoffStatus
    claimed_by: str | None
    note: str | None
    version: int
    created_at: datetime
    claimed_at: datetime | None
    returned_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Handoff:
        return cls(**{**r, "id": str(r["id"]), "session_id": str(r["session_id"])})


@dataclass(frozen=True)
class TurnTrace:
    id: int
    session_id: str
    user_seq: int | None
    intent: str | None
    confidence: float | None
    tool_calls: list[dict[str, Any]]
    policy_decisions: list[dict[str, Any]]
    latency_ms: dict[str, float]
    model_id: str | None
    created_at: datetime = field(compare=False)

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> TurnTrace:
        return cls(**{**r, "session_id": str(r["session_id"])})


# --------------------------------------------------------------------------- PII masking


def mask_pii(text: str) -> str:
    """``text`` with Presidio's PII findings replaced by ``<ENTITY>`` (the model loads once per process)."""
    from shared.guardrails.detectors import detect_pii, redact

    return redact(text, detect_pii(text)) if text.strip() else text


def mask_json(value: Any, mask: Callable[[str], str]) -> Any:
    """Mask every string leaf of a JSON value (tool arguments and results carry e-mails, names, addresses)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: mask_json(v, mask) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(v, mask) for v in value]
    return value


def _no_mask(text: str) -> str:
    return text


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise SessionNotFound(f"no session {value!r}") from None


def _lock_key(session_id: str) -> int:
    """A signed 64-bit advisory-lock key from the session's UUID (both halves folded in)."""
    b = uuid.UUID(session_id).bytes
    return int.from_bytes(b[:8], "big", signed=True) ^ int.from_bytes(b[8:], "big", signed=True)


# --------------------------------------------------------------------------- the store


class SessionStore:
    """Sessions, messages, turn traces and handoffs of the support agent (one instance per process is enough;
    any number of instances and processes may share a database)."""

    def __init__(
        self, url: str, settings: SupportSettings | None = None, *, masker: Callable[[str], str] | None = None
    ) -> None:
        self.url = url
        self.settings = settings or get_support_settings()
        self.mask = masker or (mask_pii if self.settings.mask_pii else _no_mask)
        ensure_session_schema(url)
        # Turn locks live on connections of their own: a turn holds one for its whole duration, and must never
        # starve the shared pool the store's short queries use.
        self._lock_pool = ConnectionPool(
            url, min_size=0, max_size=self.settings.max_concurrent_turns, kwargs={"autocommit": True},
            open=True, name="sa-turn-locks",
        )  # fmt: skip

    def shutdown(self) -> None:
        """Release the turn-lock connections (``close`` closes a *conversation*)."""
        self._lock_pool.close()

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        with connection(self.url) as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            yield cur

    # -- sessions --------------------------------------------------------------------------------------

    def create_session(
        self,
        tenant_id: str,
        channel: str = "web",
        *,
        customer_id: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> Session:
        with self._tx() as cur:
            row = cur.execute(
                "INSERT INTO sa_sessions (id, tenant_id, customer_id, channel, state) VALUES (%s, %s, %s, %s, %s) "
                "RETURNING *",
                (str(uuid.uuid4()), tenant_id, customer_id, channel, Jsonb(state or {})),
            ).fetchone()
        return Session.from_row(row)

    def get_session(self, session_id: str, tenant_id: str | None = None) -> Session:
        """The session; with ``tenant_id``, another tenant's session is reported as not found."""
        sid = _uuid(session_id)
        with self._tx() as cur:
            row = cur.execute("SELECT * FROM sa_sessions WHERE id = %s", (sid,)).fetchone()
        if row is None or (tenant_id is not None and row["tenant_id"] != tenant_id):
            raise SessionNotFound(f"no session {session_id!r}")
        return Session.from_row(row)

    def list_sessions(self, tenant_id: str, status: Status | None = None, limit: int = 50) -> list[Session]:
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT * FROM sa_sessions WHERE tenant_id = %s AND (%s::text IS NULL OR status = %s) "
                "ORDER BY updated_at DESC LIMIT %s",
                (tenant_id, status, status, limit),
            ).fetchall()
        return [Session.from_row(r) for r in rows]

    def update_state(
        self, session_id: str, state: dict[str, Any], expected_version: int, *, customer_id: Any = _UNCHANGED
    ) -> Session:
        """Replace the flow state (and optionally the verified ``customer_id``) if nobody changed the session
        since ``expected_version``; else :class:`VersionConflict`."""
        sid = _uuid(session_id)
        sets = "state = %(state)s" + (", customer_id = %(customer)s" if customer_id is not _UNCHANGED else "")
        with self._tx() as cur:
            row = cur.execute(
                f"UPDATE sa_sessions SET {sets}, version = version + 1, updated_at = now() "
                "WHERE id = %(id)s AND version = %(v)s AND status <> 'closed' RETURNING *",
                {"state": Jsonb(state), "customer": customer_id, "id": sid, "v": expected_version},
            ).fetchone()
            if row is None:
                cur_row = self._lock_session(cur, sid)
                if cur_row["status"] == "closed":
                    raise SessionClosed(f"session {sid} is closed")
                raise VersionConflict(expected_version, cur_row["version"])
        return Session.from_row(row)

    @staticmethod
    def _lock_session(cur: psycopg.Cursor[dict[str, Any]], sid: str) -> dict[str, Any]:
        row = cur.execute("SELECT * FROM sa_sessions WHERE id = %s FOR UPDATE", (sid,)).fetchone()
        if row is None:
            raise SessionNotFound(f"no session {sid!r}")
        return row

    # -- turns -----------------------------------------------------------------------------------------

    @contextmanager
    def turn(self, session_id: str, *, timeout_s: float | None = None) -> Iterator[Session]:
        """Serialise bot turns of one session: yields the session as it is once the turn owns it.

        Raises :class:`SessionBusy` after ``timeout_s`` (default ``turn_lock_timeout_s``) of waiting for another
        turn, :class:`TooManyMessages` when the session's per-minute turn budget is spent, :class:`SessionClosed`
        on a closed session. The lock is released when the block exits, also on error."""
        sid = _uuid(session_id)
        timeout = self.settings.turn_lock_timeout_s if timeout_s is None else timeout_s
        key = _lock_key(sid)
        try:
            conn = self._lock_pool.getconn(timeout=timeout)
        except PoolTimeout:
            raise SessionBusy(sid, reason="capacity", waited_s=timeout) from None
        try:
            with span("support.turn_lock", session_id=sid):
                conn.execute(f"SET lock_timeout = '{max(1, int(timeout * 1000))}ms'")
                try:
                    conn.execute("SELECT pg_advisory_lock(%s)", (key,))
                except psycopg.errors.LockNotAvailable:
                    raise SessionBusy(sid, reason="locked", waited_s=timeout) from None
            try:
                yield self._start_turn(conn, sid)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        finally:
            self._lock_pool.putconn(conn)  # a broken connection is discarded, and the server drops its lock

    def _start_turn(self, conn: psycopg.Connection, sid: str) -> Session:
        """Count the turn in the session's one-minute window (a refused turn counts too: a flood stays refused
        until the window ends) and return the fresh session."""
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                """UPDATE sa_sessions SET
                     turns_in_window = CASE WHEN turn_window_start > now() - interval '1 minute'
                                            THEN turns_in_window + 1 ELSE 1 END,
                     turn_window_start = CASE WHEN turn_window_start > now() - interval '1 minute'
                                              THEN turn_window_start ELSE now() END
                   WHERE id = %s
                   RETURNING *, extract(epoch FROM turn_window_start + interval '1 minute' - now()) AS retry_after""",
                (sid,),
            ).fetchone()
        if row is None:
            raise SessionNotFound(f"no session {sid!r}")
        if row["status"] == "closed":
            raise SessionClosed(f"session {sid} is closed")
        if row["turns_in_window"] > self.settings.max_turns_per_minute:
            raise TooManyMessages(
                f"more than {self.settings.max_turns_per_minute} turns in a minute on this session",
                retry_after_s=max(0.0, float(row["retry_after"])),
            )
        return Session.from_row(row)

    # -- messages --------------------------------------------------------------------------------------

    def validate(self, role: str, content: str, tool_name: str | None = None) -> None:
        """Refuse a message before anything happens (:meth:`append` does it too, but callers that take the turn
        lock first call this before waiting: an empty message must not queue behind a busy session)."""
        if role not in ROLES:
            raise InvalidMessage(f"unknown role {role!r}")
        if not isinstance(content, str):
            raise InvalidMessage("content must be text")
        if not content.strip() and not (role == "tool" and tool_name):
            raise EmptyMessage("empty message")
        if len(content) > self.settings.max_message_chars:
            raise MessageTooLong(len(content), self.settings.max_message_chars)

    def append(
        self,
        session_id: str,
        role: Role,
        content: str,
        *,
        author: str | None = None,
        tool_name: str | None = None,
        tool_args: Any = None,
        tool_result: Any = None,
        expected_seq: int | None = None,
    ) -> Message:
        """Append a message; returns it with its ``seq`` (1, 2, 3 … per session, no gaps).

        ``expected_seq``: the number this message must get (the caller has seen every message before it); if
        something was appended meanwhile, :class:`SeqConflict` and nothing is stored. Refused before any write:
        empty or oversized content (:class:`InvalidMessage`). Also refused: any message on a closed session
        (:class:`SessionClosed`), the bot (``assistant``/``tool``) while a human has the conversation and a
        ``human_agent`` message from anyone but the assigned agent (:class:`InvalidTransition`/:class:`NotAssigned`),
        more than ``max_messages_per_session`` (:class:`TooManyMessages`)."""
        sid = _uuid(session_id)
        self.validate(role, content, tool_name)
        masked = self.mask(content)
        with self._tx() as cur:
            args = (author, tool_name, tool_args, tool_result, expected_seq)
            return self._append(cur, sid, role, content, masked, *args)

    def _append(
        self,
        cur: psycopg.Cursor[dict[str, Any]],
        sid: str,
        role: str,
        content: str,
        masked: str,
        author: str | None = None,
        tool_name: str | None = None,
        tool_args: Any = None,
        tool_result: Any = None,
        expected_seq: int | None = None,
    ) -> Message:
        session = self._lock_session(cur, sid)
        status = session["status"]
        if status == "closed":
            raise SessionClosed(f"session {sid} is closed")
        if role in ("assistant", "tool") and status == "with_human":
            raise InvalidTransition(
                "a human agent has this conversation", status=status, holder=session["assigned_agent"]
            )
        if role == "human_agent" and (status != "with_human" or session["assigned_agent"] != author):
            raise NotAssigned(
                f"the conversation is {status}" + (f", assigned to {session['assigned_agent']}" if session[
                    "assigned_agent"] else ""),
                status=status, holder=session["assigned_agent"],
            )  # fmt: skip
        seq = session["last_seq"] + 1
        if expected_seq is not None and expected_seq != seq:
            raise SeqConflict(expected_seq, seq)
        if seq > self.settings.max_messages_per_session:
            raise TooManyMessages(f"the session holds {self.settings.max_messages_per_session} messages already")
        cur.execute("UPDATE sa_sessions SET last_seq = %s, updated_at = now() WHERE id = %s", (seq, sid))
        row = cur.execute(
            "INSERT INTO sa_messages (session_id, seq, role, author, content, content_masked, tool_name, tool_args, "
            "tool_result) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
            (sid, seq, role, author, content, masked, tool_name,
             None if tool_args is None else Jsonb(tool_args), None if tool_result is None else Jsonb(tool_result)),
        ).fetchone()  # fmt: skip
        return Message.from_row(row)

    def history(self, session_id: str, limit: int | None = None, *, after_seq: int = 0) -> list[Message]:
        """Messages in ``seq`` order: all after ``after_seq`` (a console polls with the last seq it has), or the
        last ``limit`` of them (what the model's context window gets)."""
        sid = _uuid(session_id)
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT * FROM (SELECT * FROM sa_messages WHERE session_id = %s AND seq > %s "
                "ORDER BY seq DESC LIMIT %s) m ORDER BY seq",
                (sid, after_seq, limit),
            ).fetchall()
        return [Message.from_row(r) for r in rows]

    # -- turn traces -----------------------------------------------------------------------------------

    def record_trace(
        self,
        session_id: str,
        *,
        user_seq: int | None = None,
        intent: str | None = None,
        confidence: float | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        policy_decisions: list[dict[str, Any]] | None = None,
        latency_ms: dict[str, float] | None = None,
        model_id: str | None = None,
    ) -> int:
        """Store one turn's trace (tool arguments/results and policy decisions PII-masked); returns its id."""
        sid = _uuid(session_id)
        calls = mask_json(tool_calls or [], self.mask)
        decisions = mask_json(policy_decisions or [], self.mask)
        with self._tx() as cur:
            row = cur.execute(
                "INSERT INTO sa_turn_traces (session_id, user_seq, intent, confidence, tool_calls, policy_decisions, "
                "latency_ms, model_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (sid, user_seq, intent, confidence, Jsonb(calls), Jsonb(decisions), Jsonb(latency_ms or {}), model_id),
            ).fetchone()
        return row["id"]

    def traces(self, session_id: str, limit: int | None = None) -> list[TurnTrace]:
        sid = _uuid(session_id)
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT * FROM (SELECT * FROM sa_turn_traces WHERE session_id = %s ORDER BY id DESC LIMIT %s) t "
                "ORDER BY id",
                (sid, limit),
            ).fetchall()
        return [TurnTrace.from_row(r) for r in rows]

    # -- handoff ---------------------------------------------------------------------------------------

    def hand_off(self, session_id: str, reason: HandoffReason, summary: str) -> Handoff:
        """Queue the conversation for a human, atomically: status ``waiting_human``, a queued handoff with the
        summary, and a system message. A session already waiting for or with a human keeps its open handoff
        (returned as is: a repeated request never queues it twice)."""
        sid = _uuid(session_id)
        if reason not in HANDOFF_REASONS:
            raise ValueError(f"unknown handoff reason {reason!r}")
        text = f"Conversation handed to a human agent ({reason.replace('_', ' ')})."
        masked = self.mask(text)
        with self._tx() as cur:
            session = self._lock_session(cur, sid)
            if session["status"] == "closed":
                raise SessionClosed(f"session {sid} is closed")
            if session["status"] in ("waiting_human", "with_human"):
                return Handoff.from_row(self._open_handoff(cur, sid))
            cur.execute(
                "UPDATE sa_sessions SET status = 'waiting_human', version = version + 1, updated_at = now() "
                "WHERE id = %s",
                (sid,),
            )
            row = cur.execute(
                "INSERT INTO sa_handoffs (id, session_id, tenant_id, reason, summary) VALUES (%s, %s, %s, %s, %s) "
                "RETURNING *",
                (str(uuid.uuid4()), sid, session["tenant_id"], reason, summary),
            ).fetchone()
            self._append(cur, sid, "system", text, masked)
        return Handoff.from_row(row)

    @staticmethod
    def _open_handoff(cur: psycopg.Cursor[dict[str, Any]], sid: str) -> dict[str, Any]:
        row = cur.execute(
            "SELECT * FROM sa_handoffs WHERE session_id = %s AND status IN ('queued', 'claimed') FOR UPDATE", (sid,)
        ).fetchone()
        if row is None:  # only if rows were edited by hand: status and handoff disagree
            raise HandoffNotFound(f"session {sid} has no open handoff")
        return row

    def get_handoff(self, handoff_id: str) -> Handoff:
        with self._tx() as cur:
            row = cur.execute("SELECT * FROM sa_handoffs WHERE id = %s", (self._handoff_uuid(handoff_id),)).fetchone()
        if row is None:
            raise HandoffNotFound(f"no handoff {handoff_id!r}")
        return Handoff.from_row(row)

    @staticmethod
    def _handoff_uuid(handoff_id: str) -> str:
        try:
            return str(uuid.UUID(str(handoff_id)))
        except ValueError:
            raise HandoffNotFound(f"no handoff {handoff_id!r}") from None

    def queue(self, tenant_id: str, status: HandoffStatus = "queued", limit: int = 50) -> list[Handoff]:
        """The tenant's handoffs in a status, oldest first (the human queue is first come, first served)."""
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT * FROM sa_handoffs WHERE tenant_id = %s AND status = %s ORDER BY created_at, id LIMIT %s",
                (tenant_id, status, limit),
            ).fetchall()
        return [Handoff.from_row(r) for r in rows]

    def handoffs(self, session_id: str) -> list[Handoff]:
        sid = _uuid(session_id)
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT * FROM sa_handoffs WHERE session_id = %s ORDER BY created_at, id", (sid,)
            ).fetchall()
        return [Handoff.from_row(r) for r in rows]

    def claim(self, handoff_id: str, agent: str, *, expected_version: int | None = None) -> Handoff:
        """A human agent takes a queued handoff: the session becomes ``with_human``, assigned to ``agent``.

        Of two agents claiming at once exactly one wins; the other gets :class:`HandoffConflict` with the
        winner in ``holder``. With ``expected_version`` the claim also fails if the handoff changed since."""
        hid = self._handoff_uuid(handoff_id)
        with self._tx() as cur:
            first = cur.execute("SELECT session_id FROM sa_handoffs WHERE id = %s", (hid,)).fetchone()
            if first is None:
                raise HandoffNotFound(f"no handoff {handoff_id!r}")
            sid = str(first["session_id"])
            self._lock_session(cur, sid)  # session row first, like every transition: no lock-order deadlock
            row = cur.execute(
                "UPDATE sa_handoffs SET status = 'claimed', claimed_by = %s, claimed_at = now(), "
                "version = version + 1, updated_at = now() "
                "WHERE id = %s AND status = 'queued' AND (%s::int IS NULL OR version = %s) RETURNING *",
                (agent, hid, expected_version, expected_version),
            ).fetchone()
            if row is None:
                now = cur.execute("SELECT * FROM sa_handoffs WHERE id = %s", (hid,)).fetchone()
                raise HandoffConflict(
                    f"handoff is {now['status']}" + (f" by {now['claimed_by']}" if now["claimed_by"] else ""),
                    holder=now["claimed_by"], status=now["status"], version=now["version"],
                )  # fmt: skip
            cur.execute(
                "UPDATE sa_sessions SET status = 'with_human', assigned_agent = %s, version = version + 1, "
                "updated_at = now() WHERE id = %s",
                (agent, sid),
            )
            text = f"Human agent {agent} joined the conversation."
            self._append(cur, sid, "system", text, self.mask(text))
        return Handoff.from_row(row)

    def human_reply(self, session_id: str, agent: str, text: str) -> Message:
        """The assigned human agent says something (:class:`NotAssigned` for anyone else)."""
        return self.append(session_id, "human_agent", text, author=agent)

    def hand_back(self, session_id: str, agent: str, note: str | None = None) -> Handoff:
        """The assigned agent returns the conversation to the bot (status ``active``); the handoff is
        ``returned`` with the note, and a system message tells the bot (the human's replies are in history)."""
        sid = _uuid(session_id)
        text = f"Human agent {agent} handed the conversation back to the assistant."
        text += f" Note: {note}" if note else ""
        if len(text) > self.settings.max_message_chars:
            raise MessageTooLong(len(text), self.settings.max_message_chars)
        masked = self.mask(text)
        with self._tx() as cur:
            session = self._lock_session(cur, sid)
            if session["status"] != "with_human" or session["assigned_agent"] != agent:
                raise NotAssigned(
                    f"the conversation is {session['status']}, not assigned to {agent}",
                    status=session["status"], holder=session["assigned_agent"],
                )  # fmt: skip
            handoff = self._open_handoff(cur, sid)
            row = cur.execute(
                "UPDATE sa_handoffs SET status = 'returned', note = %s, returned_at = now(), version = version + 1, "
                "updated_at = now() WHERE id = %s RETURNING *",
                (note, handoff["id"]),
            ).fetchone()
            cur.execute(
                "UPDATE sa_sessions SET status = 'active', assigned_agent = NULL, version = version + 1, "
                "updated_at = now() WHERE id = %s",
                (sid,),
            )
            self._append(cur, sid, "system", text, masked)
        return Handoff.from_row(row)

    def close(self, session_id: str, actor: str, reason: str | None = None) -> Session:
        """Close the conversation (from any status; closing a closed one returns it unchanged): an open handoff
        is closed with it, and a system message records who closed it and why."""
        sid = _uuid(session_id)
        text = f"Conversation closed by {actor}." + (f" Reason: {reason}" if reason else "")
        if len(text) > self.settings.max_message_chars:
            raise MessageTooLong(len(text), self.settings.max_message_chars)
        masked = self.mask(text)
        with self._tx() as cur:
            session = self._lock_session(cur, sid)
            if session["status"] == "closed":
                return Session.from_row(session)
            cur.execute(
                "UPDATE sa_handoffs SET status = 'closed', closed_at = now(), version = version + 1, "
                "updated_at = now() WHERE session_id = %s AND status IN ('queued', 'claimed')",
                (sid,),
            )
            self._append(cur, sid, "system", text, masked)
            row = cur.execute(
                "UPDATE sa_sessions SET status = 'closed', version = version + 1, updated_at = now() "
                "WHERE id = %s RETURNING *",
                (sid,),
            ).fetchone()
        return Session.from_row(row)
