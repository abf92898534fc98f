"""HTTP surface of the autonomous agent (mounted under ``/agent``; standalone: ``python -m
projects.autonomous_agent.app``).

Runs are tenant-scoped (``X-Tenant-Id``): a run, its events and its approvals are visible only to its tenant;
another tenant's run id is a 404, not a 403 (existence is not leaked). ``GET /runs/{id}/events`` with
``stream=true`` (or ``Accept: text/event-stream``) follows the run live: it sends what is stored, then polls
for new events until the run finishes or waits for a human.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status

from projects.autonomous_agent.models import ApprovalOut, DecisionIn, EventOut, RunIn, RunOut, ToolOut
from projects.autonomous_agent.service import AgentService, InputError
from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.store import ApprovalNotFound, ApprovalRow, RunNotFound, RunRow, StateConflict
from projects.autonomous_agent.types import TERMINAL
from shared.api.context import ServiceContext, lazy_service
from shared.api.identity import principal_dep
from shared.api.problems import coded_problem, problem_responses
from shared.api.sse import sse_response
from shared.retrieval.models import Principal

SSE_MEDIA_TYPE = "text/event-stream"
RunId = Annotated[str, Path(pattern=r"^run_[0-9a-f]{12}$")]
ApprovalId = Annotated[str, Path(pattern=r"^apr_[0-9a-f]{12}$")]
POLL_S = 0.5
STREAM_LIMIT_S = 600.0


@contextmanager
def service_problems() -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        raise coded_problem(exc.status, exc.code, str(exc)) from None
    except RunNotFound as exc:
        raise coded_problem(404, "run-not-found", str(exc)) from None
    except ApprovalNotFound as exc:
        raise coded_problem(404, "approval-not-found", str(exc)) from None
    except StateConflict as exc:
        raise coded_problem(409, "state-conflict", str(exc)) from None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def approval_out(a: ApprovalRow) -> dict[str, Any]:
    return {**a.__dict__, "created_at": _iso(a.created_at), "decided_at": _iso(a.decided_at)}


def run_out(svc: AgentService, row: RunRow, *, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id, "goal": row.goal, "agent": row.agent, "parent_id": row.parent_id, "status": row.status,
        "tools": row.tools, "budget": row.budget.model_dump(), "usage": row.usage.model_dump(), "steps": row.steps,
        "final_answer": row.final_answer, "error": row.error, "job_id": row.job_id,
        "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
    }  # fmt: skip
    if detail:
        state = svc.store.load_checkpoint(row.id)
        if state is not None:
            out["plan"] = [p.model_dump() for p in state.plan]
            out["loop_recoveries"], out["replans"] = state.loop_recoveries, state.replans
        pending = [a for a in svc.store.approvals(row.id) if a.status == "pending"]
        out["pending_approval"] = approval_out(pending[0]) if pending else None
    return out


def event_out(e: dict[str, Any]) -> dict[str, Any]:
    return {**e, "created_at": _iso(e["created_at"])}


def create_router(
    ctx: ServiceContext, settings: AgentSettings | None = None, service: AgentService | None = None
) -> APIRouter:
    """Build the router; the service (schema, tools, inline worker) starts on the first request."""
    settings = settings or get_agent_settings()

    def build() -> AgentService:
        svc = AgentService(ctx.db_url(), ctx.chat_model(), ctx.embedder(), settings)
        svc.start_inline_worker()
        return svc

    get_service = lazy_service(build, service)
    router = APIRouter(tags=["autonomous-agent"])
    router.get_agent_service = get_service  # type: ignore[attr-defined]

    @router.get("/tools", response_model=list[ToolOut], summary="The tools runs may use, with permissions")
    def tools() -> list[dict[str, Any]]:
        svc = get_service()
        return [
            {"name": t.name, "description": t.description, "parameters": t.parameters,
             "permission": svc.registry.permission(t.name),
             "needs_approval": svc.registry.permission(t.name) in settings.approval_required}
            for t in svc.registry.specs()
        ]  # fmt: skip

    @router.post(
        "/runs",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RunOut,
        responses=problem_responses(400, 413, 422),
        summary="Start a run: the goal is queued and worked by the agent loop",
        description="Empty goal: 422 `empty-goal`; over AGENT__MAX_GOAL_CHARS: 413 `goal-too-long`; an unknown "
        "tool: 422 `unknown-tools`; a budget above the server's caps: 422 `invalid-budget`. Nothing is stored "
        "for a refused request.",
    )
    def start_run(body: RunIn, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            svc = get_service()
            budget = body.budget.model_dump() if body.budget else None
            row = svc.start_run(body.goal, tenant=user.tenant_id, tools=body.tools, budget=budget, agent=body.agent)
            return run_out(svc, row, detail=False)

    @router.get("/runs", response_model=list[RunOut], summary="Past and current runs of the caller's tenant")
    def list_runs(
        user: Annotated[Principal, principal_dep], limit: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> list[dict[str, Any]]:
        svc = get_service()
        return [run_out(svc, r, detail=False) for r in svc.list_runs(user.tenant_id, limit)]

    @router.get("/runs/{run_id}", response_model=RunOut, responses=problem_responses(404, 422))
    def get_run(run_id: RunId, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            svc = get_service()
            return run_out(svc, svc.get_run(run_id, user.tenant_id))

    @router.get("/runs/{run_id}/children", response_model=list[RunOut], responses=problem_responses(404, 422),
                summary="Worker runs a supervisor delegated to")  # fmt: skip
    def children(run_id: RunId, user: Annotated[Principal, principal_dep]) -> list[dict[str, Any]]:
        with service_problems():
            svc = get_service()
            return [run_out(svc, r) for r in svc.children(run_id, user.tenant_id)]

    @router.get(
        "/runs/{run_id}/events",
        response_model=list[EventOut],
        responses={**problem_responses(404, 422), 200: {"content": {SSE_MEDIA_TYPE: {}},
                                                        "description": "JSON, or SSE (event, then end)"}},
        summary="The run's trace: plan, thoughts, actions, observations, verifications, approvals, the answer",
    )  # fmt: skip
    def events(
        run_id: RunId,
        request: Request,
        user: Annotated[Principal, principal_dep],
        after: Annotated[int, Query(ge=0)] = 0,
        stream: bool = False,
    ) -> Any:
        with service_problems():
            svc = get_service()
            if stream or SSE_MEDIA_TYPE in request.headers.get("accept", ""):
                svc.get_run(run_id, user.tenant_id)
                return sse_response(_follow(svc, run_id, after))
            return [event_out(e) for e in svc.events(run_id, after, tenant=user.tenant_id)]

    @router.post("/runs/{run_id}/cancel", response_model=RunOut, responses=problem_responses(404, 409, 422),
                 summary="Stop a run at its next step")  # fmt: skip
    def cancel(run_id: RunId, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            svc = get_service()
            return run_out(svc, svc.cancel(run_id, user.tenant_id))

    @router.post("/runs/{run_id}/retry", response_model=RunOut, responses=problem_responses(404, 409, 422),
                 summary="Queue a failed run again; it resumes from its newest checkpoint")  # fmt: skip
    def retry(run_id: RunId, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            svc = get_service()
            return run_out(svc, svc.retry(run_id, user.tenant_id))

    @router.get("/approvals", response_model=list[ApprovalOut], summary="Calls waiting for a human")
    def approvals(user: Annotated[Principal, principal_dep]) -> list[dict[str, Any]]:
        return [approval_out(a) for a in get_service().approvals(user.tenant_id)]

    @router.post(
        "/approvals/{approval_id}",
        response_model=ApprovalOut,
        responses=problem_responses(404, 409, 422),
        summary="Approve or deny a pending call; the run continues either way",
        description="Decided once: a second decision is 409 `state-conflict` naming who decided.",
    )
    def decide(approval_id: ApprovalId, body: DecisionIn, user: Annotated[Principal, principal_dep]) -> dict:
        with service_problems():
            svc = get_service()
            decided = svc.decide(approval_id, body.approve, by=user.user_id, note=body.note, tenant=user.tenant_id)
            return approval_out(decided)

    return router


def _follow(svc: AgentService, run_id: str, after: int) -> Iterator[tuple[str, Any]]:
    """Stored events, then new ones as they come, until the run finishes or waits (or STREAM_LIMIT_S); the
    caller checked the run is the tenant's, so each poll is two small queries."""
    deadline = time.monotonic() + STREAM_LIMIT_S
    last = after
    while True:
        for e in svc.store.events(run_id, last):
            last = e["id"]
            yield "event", event_out(e)
        state = svc.store.run_status(run_id)
        if state in TERMINAL or state == "waiting_approval" or time.monotonic() > deadline:
            for e in svc.store.events(run_id, last):
                yield "event", event_out(e)
            yield "end", {"status": state}
            return
        time.sleep(POLL_S)
