"""HTTP layer of the support agent (mounted by the platform under ``/support``; standalone via ``app.py``).

Routes translate HTTP to :class:`SupportService` calls and the session store's exceptions to RFC 7807 problems in
one place (:func:`service_problems`). The caller comes from the shared identity headers (``X-User-Id``,
``X-Tenant-Id``, ``X-Groups``): sessions and handoffs are tenant-scoped, and with ``SUPPORT__HUMAN_AGENT_GROUP``
set the handoff routes need that group. API keys, the per-caller rate limit, body size and content type come from
the API kit around the router.

Streaming: ``POST /sessions/{id}/messages`` with ``Accept: text/event-stream`` (or ``?stream=true``) runs the turn
first — the agent decides, calls tools and checks policy before it says anything — so every error is still a
plain problem response; then the turn's events (``trace``), the reply in chunks (``delta``) and the final result
(``done``) are sent.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import StreamingResponse

from projects.support_agent.agent import TurnResult
from projects.support_agent.models import (
    AgentIn,
    CloseIn,
    HandBackIn,
    HandoffCloseIn,
    HandoffOut,
    HandoffStatus,
    HumanReplyIn,
    MessageIn,
    MessageOut,
    SessionIn,
    SessionOut,
    SessionStatus,
    TraceOut,
    TurnOut,
)
from projects.support_agent.service import LazyChat, SupportService
from projects.support_agent.sessions import (
    EmptyMessage,
    HandoffConflict,
    HandoffNotFound,
    InvalidMessage,
    InvalidTransition,
    MessageTooLong,
    NotAssigned,
    SeqConflict,
    SessionBusy,
    SessionClosed,
    SessionNotFound,
    TooManyMessages,
    VersionConflict,
)
from projects.support_agent.settings import SupportSettings, get_support_settings
from shared.api.context import ServiceContext, lazy_service
from shared.api.identity import principal_dep
from shared.api.problems import PROBLEM_TYPE_BASE, ProblemError, problem_responses
from shared.api.sse import sse_response
from shared.retrieval.models import Principal

_TITLES = {
    403: "Forbidden", 404: "Not Found", 409: "Conflict", 413: "Payload Too Large", 422: "Unprocessable Content",
    429: "Too Many Requests", 503: "Service Unavailable",
}  # fmt: skip
SessionId = Annotated[uuid.UUID, Path(description="a session id (UUID); anything else is 422")]
HandoffId = Annotated[uuid.UUID, Path(description="a handoff id (UUID); anything else is 422")]
SSE_MEDIA_TYPE = "text/event-stream"
STREAM_RESPONSE: dict[str, Any] = {
    "description": "the turn; as server-sent events when asked for: `trace` (each event of the turn), `delta` "
    "({text}: the reply in chunks), `done` (the TurnOut fields)",
    "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}},
}


def _problem(status_: int, code: str, detail: str, headers: dict[str, str] | None = None, **error: Any) -> ProblemError:
    return ProblemError(
        status_, _TITLES[status_], detail, type_=PROBLEM_TYPE_BASE + code, errors=[{"code": code, **error}],
        headers=headers,
    )  # fmt: skip


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


@contextmanager
def service_problems() -> Iterator[None]:
    """The store's and service's exceptions as RFC 7807 problems: one mapping for every route.

    Each problem ``type`` is stable (``.../problems/<code>``); the 409s name what is in the way (``holder``,
    ``status``) so a console can say "already claimed by Maria" instead of "conflict"."""
    try:
        yield
    except (SessionNotFound, HandoffNotFound) as exc:
        raise _problem(404, "not-found", str(exc)) from None
    except MessageTooLong as exc:
        raise _problem(413, "message-too-long", str(exc), length=exc.length, limit=exc.limit) from None
    except EmptyMessage as exc:
        raise _problem(422, "empty-message", f"{exc}: say something") from None
    except InvalidMessage as exc:
        raise _problem(422, "invalid-message", str(exc)) from None
    except TooManyMessages as exc:
        if exc.retry_after_s is None:  # the per-session message cap: waiting does not help
            raise _problem(409, "session-full", f"{exc}; start a new session") from None
        raise _problem(429, "too-many-messages", str(exc), _retry_after(exc.retry_after_s)) from None
    except SessionBusy as exc:
        if exc.reason == "capacity":
            raise _problem(503, "server-busy", str(exc), _retry_after(exc.waited_s)) from None
        detail = f"{exc}: another message of this session is still being answered; send this one after it"
        raise _problem(409, "session-busy", detail, _retry_after(1)) from None
    except SessionClosed as exc:
        raise _problem(409, "session-closed", str(exc)) from None
    except HandoffConflict as exc:
        raise _problem(409, "handoff-conflict", str(exc), holder=exc.holder, status=exc.status) from None
    except NotAssigned as exc:
        raise _problem(409, "not-assigned", str(exc), holder=exc.holder, status=exc.status) from None
    except InvalidTransition as exc:
        raise _problem(409, "invalid-transition", str(exc), holder=exc.holder, status=exc.status) from None
    except (VersionConflict, SeqConflict) as exc:
        raise _problem(409, "conversation-changed", f"{exc}; reload the session") from None


def _turn_out(result: TurnResult) -> dict[str, Any]:
    return {"reply": result.reply, "status": result.status, "handoff_id": result.handoff_id, "events": result.events}


def _chunks(text: str, size: int) -> Iterator[str]:
    """The reply in pieces of about ``size`` characters, cut after whitespace: joined, they are the reply."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            space = text.find(" ", end)
            end = len(text) if space == -1 else space + 1
        yield text[start:end]
        start = end


def _stream(result: TurnResult, chunk_chars: int) -> StreamingResponse:
    def events() -> Iterator[tuple[str, Any]]:
        for event in result.events:
            yield "trace", event
        for piece in _chunks(result.reply, chunk_chars):
            yield "delta", {"text": piece}
        yield "done", _turn_out(result)

    return sse_response(events())


def _wants_stream(request: Request, stream: bool) -> bool:
    return stream or SSE_MEDIA_TYPE in request.headers.get("accept", "")


def create_router(
    ctx: ServiceContext,
    settings: SupportSettings | None = None,
    service: SupportService | None = None,
) -> APIRouter:
    """Build the router; the service (schema, demo retailer on an empty database, router, agent) starts on the
    first request."""
    settings = settings or get_support_settings()

    def build() -> SupportService:
        chat = LazyChat(ctx.chat_model, ctx.served_chat_model_name(), ctx.settings.serving.backend)
        return SupportService(ctx.db_url(), settings, chat=chat)

    get_service = lazy_service(build, service)
    router = APIRouter(tags=["support-agent"])
    router.get_support_service = get_service  # type: ignore[attr-defined]

    def human_agent(user: Principal, named: str | None) -> str:
        group = settings.human_agent_group
        if group and group not in user.groups:
            raise _problem(403, "not-a-human-agent", f"handoff actions need the {group!r} group (X-Groups)")
        return named or user.user_id

    # -- sessions --------------------------------------------------------------------------------------

    @router.post(
        "/sessions",
        status_code=status.HTTP_201_CREATED,
        response_model=SessionOut,
        responses=problem_responses(401, 422),
        summary="Open a conversation",
    )
    def create_session(user: Annotated[Principal, principal_dep], body: SessionIn | None = None) -> dict[str, Any]:
        with service_problems():
            return get_service().create_session(user.tenant_id, (body or SessionIn()).channel)

    @router.get(
        "/sessions",
        response_model=list[SessionOut],
        responses=problem_responses(401, 422),
        summary="The tenant's conversations, most recently active first",
    )
    def list_sessions(
        user: Annotated[Principal, principal_dep],
        status_: Annotated[SessionStatus | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[dict[str, Any]]:
        with service_problems():
            return get_service().list_sessions(user.tenant_id, status_, limit)

    @router.get(
        "/sessions/{session_id}",
        response_model=SessionOut,
        responses=problem_responses(401, 404, 422),
        summary="A conversation: status, version, verified customer (masked), flow and the action awaiting a yes",
    )
    def get_session(session_id: SessionId, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().get_session(user.tenant_id, str(session_id))

    @router.post(
        "/sessions/{session_id}/close",
        response_model=SessionOut,
        responses=problem_responses(401, 404, 422),
        summary="End the conversation (the customer leaves); an open handoff is closed with it",
        description="Idempotent: closing a closed session returns it unchanged. A human agent closes from the "
        "queue instead (POST /handoffs/{id}/close).",
    )
    def close_session(
        session_id: SessionId, user: Annotated[Principal, principal_dep], body: CloseIn | None = None
    ) -> dict[str, Any]:
        with service_problems():
            reason = (body or CloseIn()).reason
            return get_service().close_session(user.tenant_id, str(session_id), user.user_id, reason)

    @router.get(
        "/sessions/{session_id}/messages",
        response_model=list[MessageOut],
        response_model_exclude_none=True,
        responses=problem_responses(401, 404, 422),
        summary="The conversation in order (user, assistant, human, system; tool calls with ?tools=true)",
    )
    def messages(
        session_id: SessionId,
        user: Annotated[Principal, principal_dep],
        after_seq: Annotated[int, Query(ge=0, description="only messages after this seq (polling)")] = 0,
        tools: Annotated[bool, Query(description="include the tool calls as role `tool`")] = False,
    ) -> list[dict[str, Any]]:
        with service_problems():
            return get_service().messages(user.tenant_id, str(session_id), after_seq=after_seq, tools=tools)

    @router.get(
        "/sessions/{session_id}/traces",
        response_model=list[TraceOut],
        responses=problem_responses(401, 404, 422),
        summary="Every bot turn: intent, confidence, tool calls with arguments and results, policy decisions, latency",
    )
    def traces(
        session_id: SessionId,
        user: Annotated[Principal, principal_dep],
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    ) -> list[dict[str, Any]]:
        with service_problems():
            return get_service().traces(user.tenant_id, str(session_id), limit)

    @router.post(
        "/sessions/{session_id}/messages",
        response_model=TurnOut,
        responses={200: STREAM_RESPONSE, **problem_responses(400, 401, 404, 409, 413, 422, 429, 503)},
        summary="Say something: one bot turn (or, while a human has the conversation, the message is stored for them)",
        description="The agent verifies, fills slots, proposes writes and executes one only on an explicit yes. "
        "Refused, storing nothing: an unknown session (404 `not-found`), a malformed id (422), an empty or "
        "whitespace message (422 `empty-message`), a message over SUPPORT__MAX_MESSAGE_CHARS (413 "
        "`message-too-long`), a body that is not UTF-8 JSON (400 `malformed-json`), a closed session (409 "
        "`session-closed`), more than SUPPORT__MAX_TURNS_PER_MINUTE turns a minute on one session (429 "
        "`too-many-messages` with Retry-After), a message while another of the same session is being answered "
        "(it waits SUPPORT__TURN_LOCK_TIMEOUT_S, then 409 `session-busy` with Retry-After; 503 `server-busy` when "
        "the process has SUPPORT__MAX_CONCURRENT_TURNS turns in flight). While the session is `waiting_human` or "
        "`with_human` the message is stored and the reply is empty. `Accept: text/event-stream` or `?stream=true` "
        "streams the result after the turn ran.",
    )
    def send_message(
        session_id: SessionId,
        body: MessageIn,
        user: Annotated[Principal, principal_dep],
        request: Request,
        stream: Annotated[bool, Query(description="answer as server-sent events")] = False,
    ) -> Any:
        with service_problems():
            result = get_service().send(user.tenant_id, str(session_id), body.text)
        if _wants_stream(request, stream):
            return _stream(result, settings.stream_chunk_chars)
        return _turn_out(result)

    # -- the human queue -------------------------------------------------------------------------------

    @router.get(
        "/handoffs",
        response_model=list[HandoffOut],
        responses=problem_responses(401, 403, 422),
        summary="The human queue: handoffs in a status (oldest first) with the generated summary and their age",
    )
    def handoffs(
        user: Annotated[Principal, principal_dep],
        status_: Annotated[HandoffStatus, Query(alias="status")] = "queued",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[dict[str, Any]]:
        human_agent(user, None)
        with service_problems():
            return get_service().queue(user.tenant_id, status_, limit)

    @router.get(
        "/handoffs/{handoff_id}",
        response_model=HandoffOut,
        responses=problem_responses(401, 403, 404, 422),
        summary="One handoff",
    )
    def get_handoff(handoff_id: HandoffId, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        human_agent(user, None)
        with service_problems():
            return get_service().get_handoff(user.tenant_id, str(handoff_id))

    @router.post(
        "/handoffs/{handoff_id}/claim",
        response_model=HandoffOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Take a queued conversation (of two agents claiming at once, one wins; the other gets 409 "
        "`handoff-conflict` naming the holder)",
    )
    def claim(
        handoff_id: HandoffId, user: Annotated[Principal, principal_dep], body: AgentIn | None = None
    ) -> dict[str, Any]:
        agent = human_agent(user, (body or AgentIn()).agent)
        with service_problems():
            return get_service().claim(user.tenant_id, str(handoff_id), agent)

    @router.post(
        "/handoffs/{handoff_id}/reply",
        status_code=status.HTTP_201_CREATED,
        response_model=MessageOut,
        response_model_exclude_none=True,
        responses=problem_responses(401, 403, 404, 409, 413, 422),
        summary="The agent who claimed the conversation writes to the customer (role `human` in the history)",
        description="409 `not-assigned` for anyone but the holder, or when the handoff is not claimed; empty "
        "(422 `empty-message`) and oversized (413 `message-too-long`) texts store nothing.",
    )
    def reply(handoff_id: HandoffId, body: HumanReplyIn, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        agent = human_agent(user, body.agent)
        with service_problems():
            return get_service().human_reply(user.tenant_id, str(handoff_id), agent, body.text)

    @router.post(
        "/handoffs/{handoff_id}/hand-back",
        response_model=HandoffOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Return the conversation to the bot (the session is `active` again; the human's replies stay in it)",
    )
    def hand_back(
        handoff_id: HandoffId, user: Annotated[Principal, principal_dep], body: HandBackIn | None = None
    ) -> dict[str, Any]:
        body = body or HandBackIn()
        agent = human_agent(user, body.agent)
        with service_problems():
            return get_service().hand_back(user.tenant_id, str(handoff_id), agent, body.note)

    @router.post(
        "/handoffs/{handoff_id}/close",
        response_model=HandoffOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Close the conversation from the queue: a queued handoff by any agent, a claimed one by its holder",
        description="The session is closed with it (no further messages: 409 `session-closed`). A handoff that "
        "was returned or closed already is 409 `invalid-transition`.",
    )
    def close_handoff(
        handoff_id: HandoffId, user: Annotated[Principal, principal_dep], body: HandoffCloseIn | None = None
    ) -> dict[str, Any]:
        body = body or HandoffCloseIn()
        agent = human_agent(user, body.agent)
        with service_problems():
            return get_service().close_handoff(user.tenant_id, str(handoff_id), agent, body.reason)

    return router
