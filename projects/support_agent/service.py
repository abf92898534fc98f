"""The support agent as a service: what the HTTP layer calls, tenant-scoped, returning plain dicts for the models.

Why it is shaped this way:
- **One agent per process.** :class:`SupportService` owns the database URL, the :class:`SessionStore` (its turn-lock
  pool), the :class:`Policy` and one :class:`SupportAgent` with the process-wide intent router and chat model;
  all conversation state lives in PostgreSQL, so any number of processes can serve the same sessions.
- **First use of an empty database.** The agent is useless without a retailer, so a database with no customers
  gets the project's deterministic generated retailer (``SUPPORT__API_SEED_RETAILER``, on by default; turn it
  off in front of a real shop's database). The load is serialised by an advisory lock, so two processes starting
  together load it once. Schema creation is idempotent, as in content moderation.
- **Tenants.** Sessions and handoffs belong to the caller's tenant; another tenant's id is "not found", never
  "forbidden" (which would confirm it exists).
- **Bad input stores nothing.** Empty and oversized messages are refused here, before the turn lock (so they
  neither wait behind a busy session nor spend its turn budget), and the store refuses them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from projects.support_agent.agent import SupportAgent, TurnResult
from projects.support_agent.policy import Policy
from projects.support_agent.retailer import load_retailer
from projects.support_agent.schema import ensure_schema
from projects.support_agent.sessions import (
    Handoff,
    HandoffNotFound,
    InvalidTransition,
    Message,
    NotAssigned,
    Session,
    SessionStore,
    TurnTrace,
)
from projects.support_agent.settings import SupportSettings, get_support_settings
from shared.serving.base import ChatModel
from shared.serving.types import ChatRequest, ChatResult, StreamChunk

log = logging.getLogger(__name__)

_SEED_LOCK = 0x53415F5345454421  # "SA_SEED!"
_ROLE_OUT = {"human_agent": "human"}


class LazyChat(ChatModel):
    """The process's chat model, loaded on its first use: many turns never call the model (templates, no
    extraction needed), so building the service must not wait for model weights."""

    def __init__(self, factory: Callable[[], ChatModel], model: str, backend: str) -> None:
        self._factory = factory
        self._model: ChatModel | None = None
        self.model = model
        self.backend = backend

    def _get(self) -> ChatModel:
        if self._model is None:
            self._model = self._factory()
        return self._model

    def chat(self, request: ChatRequest) -> ChatResult:
        return self._get().chat(request)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        return self._get().stream(request)


def mask_id(value: str | None) -> str | None:
    """A customer id shown in listings: enough to tell two apart, not enough to quote one back."""
    if not value:
        return None
    return value[:2] + "***" + value[-2:] if len(value) > 6 else "***"


class SupportService:
    def __init__(
        self,
        url: str,
        settings: SupportSettings | None = None,
        *,
        chat: ChatModel | None = None,
        router: Any = None,
        store: SessionStore | None = None,
    ) -> None:
        self.url = url
        self.settings = settings or get_support_settings()
        ensure_schema(url)
        if self.settings.api_seed_retailer:
            self.seed_if_empty()
        self.store = store or SessionStore(url, self.settings)
        self.policy = Policy(url, self.settings)
        self.agent = SupportAgent(
            url, chat=chat, router=router, store=self.store, policy=self.policy, settings=self.settings
        )

    def shutdown(self) -> None:
        self.store.shutdown()

    def seed_if_empty(self) -> bool:
        """Load the generated retailer when the database has no customer; True when it did."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_SEED_LOCK,))
            try:
                if conn.execute("SELECT EXISTS (SELECT 1 FROM sa_customers)").fetchone()[0]:
                    return False
                s = self.settings
                # today's date (UTC, like the demo scripts picked from it): deliveries fall inside the return window
                counts = load_retailer(self.url, seed=s.api_demo_seed, n_customers=s.api_demo_customers)
                log.info("support agent: empty database, loaded the generated retailer %s", counts)
                return True
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_SEED_LOCK,))

    # -- sessions --------------------------------------------------------------------------------------

    def create_session(self, tenant_id: str, channel: str) -> dict[str, Any]:
        sid = self.agent.start(tenant_id, channel)
        return self.get_session(tenant_id, sid)

    def get_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        session = self.store.get_session(session_id, tenant_id)
        open_handoff = next(
            (h.id for h in reversed(self.store.handoffs(session.id)) if h.status in ("queued", "claimed")), None
        )
        return _session_out(session, open_handoff)

    def list_sessions(self, tenant_id: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        sessions = self.store.list_sessions(tenant_id, status, limit)  # type: ignore[arg-type]
        return [_session_out(s, None) for s in sessions]

    def close_session(self, tenant_id: str, session_id: str, actor: str, reason: str | None) -> dict[str, Any]:
        self.store.get_session(session_id, tenant_id)
        self.store.close(session_id, actor, reason)
        return self.get_session(tenant_id, session_id)

    def messages(
        self, tenant_id: str, session_id: str, *, after_seq: int = 0, tools: bool = False
    ) -> list[dict[str, Any]]:
        self.store.get_session(session_id, tenant_id)
        history = self.store.history(session_id, after_seq=after_seq)
        return [_message_out(m) for m in history if tools or m.role != "tool"]

    def traces(self, tenant_id: str, session_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        self.store.get_session(session_id, tenant_id)
        return [_trace_out(t) for t in self.store.traces(session_id, limit)]

    def send(self, tenant_id: str, session_id: str, text: str) -> TurnResult:
        """One customer turn (see :meth:`SupportAgent.respond` for what it may raise)."""
        self.store.validate("user", text)
        self.store.get_session(session_id, tenant_id)
        return self.agent.respond(session_id, text)

    # -- the human queue -------------------------------------------------------------------------------

    def queue(self, tenant_id: str, status: str, limit: int) -> list[dict[str, Any]]:
        return [_handoff_out(h) for h in self.store.queue(tenant_id, status, limit)]  # type: ignore[arg-type]

    def handoff(self, tenant_id: str, handoff_id: str) -> Handoff:
        h = self.store.get_handoff(handoff_id)
        if h.tenant_id != tenant_id:
            raise HandoffNotFound(f"no handoff {handoff_id!r}")
        return h

    def get_handoff(self, tenant_id: str, handoff_id: str) -> dict[str, Any]:
        return _handoff_out(self.handoff(tenant_id, handoff_id))

    def claim(self, tenant_id: str, handoff_id: str, agent: str) -> dict[str, Any]:
        self.handoff(tenant_id, handoff_id)
        return _handoff_out(self.store.claim(handoff_id, agent))

    def _held_by(self, tenant_id: str, handoff_id: str, agent: str) -> Handoff:
        h = self.handoff(tenant_id, handoff_id)
        if h.status != "claimed" or h.claimed_by != agent:
            who = f", claimed by {h.claimed_by}" if h.claimed_by else ""
            raise NotAssigned(f"the handoff is {h.status}{who}", status=h.status, holder=h.claimed_by)
        return h

    def human_reply(self, tenant_id: str, handoff_id: str, agent: str, text: str) -> dict[str, Any]:
        self.store.validate("human_agent", text)
        h = self._held_by(tenant_id, handoff_id, agent)
        return _message_out(self.store.human_reply(h.session_id, agent, text))

    def hand_back(self, tenant_id: str, handoff_id: str, agent: str, note: str | None) -> dict[str, Any]:
        h = self._held_by(tenant_id, handoff_id, agent)
        return _handoff_out(self.store.hand_back(h.session_id, agent, note))

    def close_handoff(self, tenant_id: str, handoff_id: str, agent: str, reason: str | None) -> dict[str, Any]:
        """Close the conversation from the queue: a queued handoff by anyone, a claimed one by its holder."""
        h = self.handoff(tenant_id, handoff_id)
        if h.status not in ("queued", "claimed"):
            raise InvalidTransition(f"the handoff is already {h.status}", status=h.status, holder=h.claimed_by)
        if h.status == "claimed" and h.claimed_by != agent:
            raise NotAssigned(f"the handoff is claimed by {h.claimed_by}", status=h.status, holder=h.claimed_by)
        self.store.close(h.session_id, agent, reason)
        return _handoff_out(self.store.get_handoff(h.id))


# -- records → response dicts ---------------------------------------------------------------------------------


def _session_out(s: Session, open_handoff: str | None) -> dict[str, Any]:
    state = s.state or {}
    auth = (state.get("policy") or {}).get("auth") or {}
    pending = (state.get("policy") or {}).get("pending")
    flow = state.get("flow")
    customer = s.customer_id or auth.get("customer_id")
    return {
        "session_id": s.id, "status": s.status, "channel": s.channel, "version": s.version,
        "assigned_agent": s.assigned_agent, "last_seq": s.last_seq, "open_handoff_id": open_handoff,
        "customer": {"verified": customer is not None, "id_masked": mask_id(customer), "method": auth.get("method")},
        "flow": {
            "intent": flow["intent"], "awaiting": flow.get("awaiting"), "done": bool(flow.get("done")),
            "slots": sorted(k for k, v in (flow.get("slots") or {}).items() if v),
        } if flow else None,
        "pending_action": {k: pending[k] for k in ("tool", "summary", "created_at")} if pending else None,
        "created_at": s.created_at, "updated_at": s.updated_at,
    }  # fmt: skip


def _message_out(m: Message) -> dict[str, Any]:
    out = {"seq": m.seq, "role": _ROLE_OUT.get(m.role, m.role), "author": m.author, "text": m.content}
    out["created_at"] = m.created_at
    if m.role == "tool":
        out.update(tool_name=m.tool_name, tool_args=m.tool_args, tool_result=m.tool_result)
    return out


def _trace_out(t: TurnTrace) -> dict[str, Any]:
    return {
        "id": t.id, "user_seq": t.user_seq, "intent": t.intent, "confidence": t.confidence,
        "tool_calls": t.tool_calls, "policy_decisions": t.policy_decisions, "latency_ms": t.latency_ms,
        "model_id": t.model_id, "created_at": t.created_at,
    }  # fmt: skip


def _handoff_out(h: Handoff) -> dict[str, Any]:
    age = (datetime.now(UTC) - h.created_at).total_seconds()
    return {
        "handoff_id": h.id, "session_id": h.session_id, "reason": h.reason, "summary": h.summary,
        "status": h.status, "claimed_by": h.claimed_by, "note": h.note, "version": h.version,
        "age_s": round(max(0.0, age), 1), "created_at": h.created_at, "claimed_at": h.claimed_at,
        "returned_at": h.returned_at, "closed_at": h.closed_at,
    }  # fmt: skip
