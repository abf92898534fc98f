"""Autonomous-agent page of the portal: **start a goal** (which tools, one agent or a supervisor with workers, an
optional step budget) and watch the run live — its plan with each step's success criterion, then every thought,
action, observation, verification, loop recovery and re-plan as it happens; **approve or deny** a dangerous call
the run is waiting on; **browse past runs** with their trace, final answer, evidence and worker runs; cancel a
running run or retry a failed one.

Talks to the API over HTTP only (``PORTAL__API_URL`` + ``/agent``) as the user and tenant named in the sidebar; in
production the identity headers come from the gateway. Following a run is polling ``GET /runs/{id}/events?after=``
every POLL_S (bounded by POLL_LIMIT_S per page run), drawing each new event as it arrives; the page reruns when
the run finishes or stops to wait for a human, so the answer or the approval buttons appear.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import streamlit as st

from projects.autonomous_agent.demo import DEMO_GOALS, TENANT
from projects.autonomous_agent.types import TERMINAL
from projects.platform.portal.client import Api
from projects.platform.portal.client import problem_text as problem

api = Api.from_settings()
BASE = api.base_url + "/agent"
POLL_S = 1.0
POLL_LIMIT_S = 300.0  # one page run follows a run this long, then offers to look again
STATUS_COLOR = {"queued": "gray", "running": "blue", "waiting_approval": "orange", "succeeded": "green",
                "failed": "red", "budget_exhausted": "orange", "cancelled": "gray"}  # fmt: skip
STATUS_ICON = {"queued": ":material/schedule:", "running": ":material/progress_activity:",
               "waiting_approval": ":material/front_hand:", "succeeded": ":material/check_circle:",
               "failed": ":material/error:", "budget_exhausted": ":material/hourglass_bottom:",
               "cancelled": ":material/block:"}  # fmt: skip
AGENTS = {"agent": "One agent with the chosen tools", "supervisor": "A supervisor that delegates to worker agents"}
VIEWS = ("New goal", "Runs", "Approvals")

st.title("Autonomous agent")
with st.sidebar:
    user = st.text_input("You", value="operator", key="ag_user")
    tenant = st.text_input("Tenant", value=TENANT, key="ag_tenant")
    view = st.radio("View", VIEWS, key="ag_view")


def call(method: str, path: str, timeout: float = 60, **kwargs: Any) -> httpx.Response:
    headers = {**api.headers, "X-User-Id": user, "X-Tenant-Id": tenant}
    return httpx.request(method, BASE + path, headers=headers, timeout=timeout, **kwargs)


def ok(resp: httpx.Response) -> bool:
    if resp.status_code >= 400:
        st.error(problem(resp), icon=":material/error:")
        return False
    return True


def fetch(path: str, **params: Any) -> Any:
    """GET a JSON body, or None with the problem shown."""
    resp = call("GET", path, params=params or None)
    return resp.json() if ok(resp) else None


def when(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M") if iso else ""


def status_label(status: str) -> str:
    return status.replace("_", " ")


def answer_only(final_answer: str | None) -> str:
    """The answer without the evidence trail the API appends to a succeeded run's (shown as a list instead)."""
    return (final_answer or "").partition("\n\nEvidence:\n")[0]


def settled(run: dict[str, Any]) -> bool:
    """Nothing will change without a human: finished, or waiting on an undecided approval (a decided one is
    about to be picked up by a worker, so keep following)."""
    return run["status"] in TERMINAL or (run["status"] == "waiting_approval" and bool(run.get("pending_approval")))


def all_events(run_id: str, after: int = 0) -> list[dict[str, Any]] | None:
    """Every event after ``after`` (the API pages at 500)."""
    out: list[dict[str, Any]] = []
    while True:
        page = fetch(f"/runs/{run_id}/events", after=after)
        if page is None:
            return None
        out += page
        if len(page) < 500:
            return out
        after = page[-1]["id"]


# -- rendering --------------------------------------------------------------------------------------------------
def plan_lines(steps: list[dict[str, Any]], finished: bool) -> str:
    """✓ done, ✗ failed, → the step being worked on, ○ not reached; each with its success criterion."""
    current = None if finished else next((i for i, s in enumerate(steps) if s["status"] in ("pending", "active")), None)
    lines = []
    for i, s in enumerate(steps):
        mark = {"done": "✓", "failed": "✗", "skipped": "–"}.get(s["status"], "→" if i == current else "○")
        tries = f" · {s['attempts']} attempt{'s' if s['attempts'] != 1 else ''}" if s.get("attempts") else ""
        lines.append(f"{mark} **{i + 1}. {s['description']}**  \n  done when: _{s['success_criterion']}_{tries}")
    return "\n\n".join(lines) or "_no plan yet_"


def arguments_block(arguments: dict[str, Any]) -> None:
    st.code(json.dumps(arguments, indent=2, ensure_ascii=False, default=str), language="json", wrap_lines=True)


def show_event(e: dict[str, Any]) -> None:
    """One trace event, worded for someone who is not an engineer."""
    d, kind, step = e["data"], e["kind"], f"step {e['step'] + 1}"
    if kind == "plan":
        st.markdown(f":material/checklist: **Plan** ({len(d['steps'])} steps)\n\n" + plan_lines(d["steps"], True))
    elif kind == "replan":
        st.markdown(f":material/alt_route: **Re-planned** · {step}: {d.get('why', '')}\n\n"
                    + plan_lines(d.get("steps", []), True))  # fmt: skip
    elif kind == "memory":
        items = "\n".join(f"- {m}" for m in d.get("memories", []))
        st.markdown(f":material/history: **Recalled from similar past goals**\n{items}")
    elif kind == "thought":
        st.markdown(f":material/psychology: **Thought** · {step}\n\n{d.get('text', '')}")
    elif kind == "action":
        st.markdown(f":material/build: **Action** · {step} · calls `{d['tool']}`")
        if d.get("thought"):
            st.caption(d["thought"])
        arguments_block(d.get("arguments", {}))
    elif kind == "observation":
        result = "result" if d.get("ok") else "error"
        took = f", {d['duration_s']:.2f} s" if d.get("duration_s") is not None else ""
        st.markdown(f":material/visibility: **Observation** · {step} · `{d.get('tool')}` {result}{took}")
        st.code(d.get("text", ""), language=None, wrap_lines=True)
    elif kind == "verification":
        verdict = ":green[criterion met]" if d.get("satisfied") else ":red[criterion not met]"
        st.markdown(f":material/fact_check: **Check** · {step} · {verdict}: {d.get('evidence') or ''}")
    elif kind == "loop":
        st.warning(f"Loop detected at {step}: `{d.get('tool')}` repeated with the same result; the agent was told to "
                   f"change course (recovery {d.get('recoveries')}).", icon=":material/autorenew:")  # fmt: skip
    elif kind == "repair":
        st.warning(f"{step}: the model's tool call could not be read; it was asked again.", icon=":material/healing:")
    elif kind == "approval_requested":
        st.markdown(f":material/front_hand: **Approval requested** · {step} · `{d.get('tool')}` needs "
                    f"**{d.get('permission')}** permission")  # fmt: skip
        arguments_block(d.get("arguments", {}))
    elif kind == "approved":
        st.success(f"Approved by {d.get('by')}: the call ran.", icon=":material/thumb_up:")
    elif kind == "denied":
        note = f": {d['note']}" if d.get("note") else ""
        st.error(f"Denied by {d.get('by')}{note}", icon=":material/thumb_down:")
    elif kind == "resumed":
        st.caption(f":material/restart_alt: Resumed from its checkpoint at {step}")
    elif kind == "cancelled":
        st.caption(":material/block: Cancelled")
    elif kind == "error":
        st.error(d.get("text", "error"), icon=":material/error:")
    elif kind == "final":
        st.markdown(f":material/flag: **Finished: {status_label(d.get('status', ''))}**"
                    + (f" ({d['reason']})" if d.get("reason") else ""))  # fmt: skip
    else:  # note and anything newer than this page
        st.caption(f"{kind}: {d.get('text') if isinstance(d, dict) and 'text' in d else json.dumps(d)[:300]}")


def run_caption(run: dict[str, Any]) -> str:
    usage, budget = run["usage"], run["budget"]
    return (f"`{run['id']}` · {AGENTS.get(run['agent'], run['agent'])} · started {when(run['created_at'])} · "
            f"{usage.get('steps', 0)}/{budget.get('max_steps')} steps · {usage.get('tokens', 0):,} tokens · "
            f"tools: {', '.join(run['tools']) or 'none'}")  # fmt: skip


def progress_text(run: dict[str, Any], events: list[dict[str, Any]]) -> tuple[float, str]:
    step = max((e["step"] for e in events), default=-1) + 1
    limit = max(int(run["budget"].get("max_steps") or 1), 1)
    done = sum(s["status"] == "done" for s in run.get("plan", []))
    plan = f" · plan {done}/{len(run['plan'])} done" if run.get("plan") else ""
    return min(step / limit, 1.0), f"{status_label(run['status'])} · step {step} of at most {limit}{plan}"


def approval_card(a: dict[str, Any], goal: str | None = None) -> None:
    """What the agent wants to do and why it needs a human, with Approve / Deny and an optional note."""
    with st.container(border=True):
        st.markdown(f":material/front_hand: **Waiting for your approval** · run `{a['run_id']}` · step {a['step'] + 1}")
        if goal:
            st.caption(f"Goal: {goal}")
        st.markdown(f"The agent wants to call **`{a['tool']}`**, which needs **{a['permission']}** permission "
                    f"({a['reason']}). Arguments:")  # fmt: skip
        arguments_block(a["arguments"])
        note = st.text_input("Note (optional: the agent reads it if you deny)", key=f"ag_note_{a['id']}")
        left, right = st.columns(2)
        approve = left.button("Approve", key=f"ag_approve_{a['id']}", type="primary", icon=":material/thumb_up:")
        deny = right.button("Deny", key=f"ag_deny_{a['id']}", icon=":material/thumb_down:")
    if approve or deny:
        resp = call("POST", f"/approvals/{a['id']}", json={"approve": bool(approve), "note": note.strip() or None})
        if ok(resp):
            st.session_state["ag_focus"] = a["run_id"]  # follow the run as it carries the decision out
            st.rerun()


def show_children(run_id: str) -> None:
    children = fetch(f"/runs/{run_id}/children")
    if not children:
        return
    st.markdown("#### Worker runs")
    rows = [{"worker": c["agent"], "goal": c["goal"], "status": status_label(c["status"]), "steps": c["steps"],
             "tokens": c["usage"].get("tokens", 0), "answer": answer_only(c["final_answer"])[:200]}
            for c in children]  # fmt: skip
    st.dataframe(rows, hide_index=True, width="stretch")
    for c in children:
        label = f"{c['agent']}: {c['goal'][:80]} · {status_label(c['status'])}"
        with st.expander(label, icon=":material/account_tree:"):
            for e in all_events(c["id"]) or []:
                show_event(e)


def show_run(run_id: str, *, approval: bool = True) -> Callable[[], None] | None:
    """The run's card, plan, approval (unless shown elsewhere on the page), answer, workers and trace; returns the
    follower to call last when the run is still moving (following blocks the rest of the page)."""
    run = fetch(f"/runs/{run_id}")
    events = all_events(run_id)
    if run is None or events is None:
        return None
    st.subheader(run["goal"] if len(run["goal"]) <= 120 else run["goal"][:117] + "…")
    st.badge(status_label(run["status"]), color=STATUS_COLOR.get(run["status"], "gray"),
             icon=STATUS_ICON.get(run["status"]))  # fmt: skip
    st.caption(run_caption(run))
    progress_slot = st.empty()
    cancel = run["status"] not in TERMINAL and st.button(
        "Cancel run", key=f"ag_cancel_{run_id}", icon=":material/cancel:"
    )
    if cancel and ok(call("POST", f"/runs/{run_id}/cancel")):
        st.rerun()
    if run["status"] == "failed":
        if run.get("error"):
            st.error(run["error"], icon=":material/error:")
        retry = st.button("Retry from the last checkpoint", key=f"ag_retry_{run_id}", icon=":material/replay:")
        if retry and ok(call("POST", f"/runs/{run_id}/retry")):
            st.rerun()
    if approval and run.get("pending_approval"):
        approval_card(run["pending_approval"])
    if run["status"] in TERMINAL and run.get("final_answer"):
        st.markdown("#### Answer")
        box = st.success if run["status"] == "succeeded" else st.warning
        box(answer_only(run["final_answer"]), icon=":material/flag:")
        evidence = next((e["data"].get("evidence") for e in reversed(events) if e["kind"] == "final"), None)
        if evidence:
            st.markdown("**Evidence**\n" + "\n".join(f"- {line}" for line in evidence))
    st.markdown("#### Plan")
    plan_slot = st.empty()
    plan_slot.markdown(plan_lines(run.get("plan", []), run["status"] in TERMINAL))
    if run["agent"] == "supervisor":
        show_children(run_id)
    st.markdown("#### Trace")
    trace = st.container()
    with trace:
        for e in events:
            show_event(e)
        if not events:
            st.caption("Nothing yet: the run is queued for a worker.")
    if settled(run):
        return None

    def follow() -> None:
        follow_run(run, events, progress_slot, plan_slot, trace)

    return follow


def follow_run(run: dict[str, Any], events: list[dict[str, Any]], progress_slot: Any, plan_slot: Any,
               trace: Any) -> None:  # fmt: skip
    """Poll the run and its new events every POLL_S, drawing each event as it comes; rerun once it settles."""
    deadline = time.monotonic() + POLL_LIMIT_S
    last = events[-1]["id"] if events else 0
    fraction, text = progress_text(run, events)
    bar = progress_slot.progress(fraction, text=text)
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        new = all_events(run["id"], last)
        latest = fetch(f"/runs/{run['id']}")
        if new is None or latest is None:
            return
        with trace:
            for e in new:
                show_event(e)
        events = events + new
        last = events[-1]["id"] if events else 0
        run = latest
        plan_slot.markdown(plan_lines(run.get("plan", []), run["status"] in TERMINAL))
        fraction, text = progress_text(run, events)
        bar.progress(fraction, text=text)
        if settled(run):
            st.rerun()  # draw the answer, or the approval buttons
    with progress_slot.container():
        st.info("Still running: press Refresh to keep watching.", icon=":material/schedule:")
        st.button("Refresh", key="ag_refresh", icon=":material/refresh:")


# -- views ------------------------------------------------------------------------------------------------------
def fill_example(tool_names: list[str]) -> None:
    """Put the picked example's goal, tools and agent into the form (before its widgets are drawn)."""
    picked = st.session_state.get("ag_example")
    if picked is None:
        return
    example = DEMO_GOALS[picked]
    st.session_state["ag_goal"] = example.goal
    st.session_state["ag_tools"] = [t for t in (example.tools or tool_names) if t in tool_names]
    st.session_state["ag_agent"] = example.agent


def new_goal_view(tools: list[dict[str, Any]]) -> Callable[[], None] | None:
    by_name = {t["name"]: t for t in tools if t["name"] != "delegate"}
    st.selectbox("Start from an example (optional)", range(len(DEMO_GOALS)), index=None, key="ag_example",
                 on_change=fill_example, args=(list(by_name),), format_func=lambda i: DEMO_GOALS[i].goal,
                 placeholder="pick one to fill in the form")  # fmt: skip
    with st.form("ag_new", border=False):
        goal = st.text_area("Goal", key="ag_goal", height=110,
                            placeholder="What should the agent achieve? e.g. Which region had the most incidents "
                            "in May 2026? Write a short report to report.md.")  # fmt: skip

        def tool_label(name: str) -> str:
            t = by_name[name]
            return f"{name} (asks you first)" if t["needs_approval"] else name

        chosen = st.multiselect(
            "Tools it may use",
            list(by_name),
            default=list(by_name),
            key="ag_tools",
            format_func=tool_label,
            help="Tools marked 'asks you first' pause the run until you approve the call.",
        )
        agent = st.radio("Who works on it", list(AGENTS), key="ag_agent", format_func=AGENTS.get, horizontal=True)
        steps = st.number_input(
            "Step budget (optional)",
            min_value=1,
            max_value=200,
            value=None,
            step=1,
            key="ag_steps",
            help="At most this many actions; empty: the server's default.",
        )
        go = st.form_submit_button("Start", type="primary", icon=":material/play_arrow:", key="ag_start")
    if go:
        body: dict[str, Any] = {"goal": goal, "agent": agent, "tools": list(chosen)}
        if agent == "supervisor" and any(t["name"] == "delegate" for t in tools):
            body["tools"].append("delegate")
        if steps:
            body["budget"] = {"max_steps": int(steps)}
        resp = call("POST", "/runs", json=body)
        if ok(resp):
            st.session_state["ag_current"] = resp.json()["id"]
    current = st.session_state.get("ag_current")
    if not current:
        return None
    st.divider()
    return show_run(current)


def runs_view() -> Callable[[], None] | None:
    runs = fetch("/runs", limit=100)
    if runs is None:
        return None
    if not runs:
        st.info("No runs yet: start one under **New goal**.")
        return None
    rows = [{"goal": r["goal"], "status": status_label(r["status"]), "agent": r["agent"], "steps": r["steps"],
             "tokens": r["usage"].get("tokens", 0), "created": when(r["created_at"])} for r in runs]  # fmt: skip
    st.dataframe(rows, hide_index=True, width="stretch")
    by_id = {r["id"]: r for r in runs}
    if st.session_state.get("ag_open") not in by_id:
        st.session_state.pop("ag_open", None)
    picked = st.selectbox("Open a run", list(by_id), key="ag_open",
                          format_func=lambda i: f"{when(by_id[i]['created_at'])} · {status_label(by_id[i]['status'])}"
                          f" · {by_id[i]['goal'][:80]}")  # fmt: skip
    st.divider()
    return show_run(picked)


def approvals_view(pending: list[dict[str, Any]]) -> Callable[[], None] | None:
    """``pending``: what the sidebar fetched for its count on this same render."""
    if not pending:
        st.info("Nothing is waiting for your approval.", icon=":material/done_all:")
    for a in pending:
        run = fetch(f"/runs/{a['run_id']}")
        approval_card(a, run["goal"] if run else None)
    focus = st.session_state.get("ag_focus")
    if not focus:
        return None
    st.divider()
    return show_run(focus, approval=focus not in {a["run_id"] for a in pending})


# -- the page ---------------------------------------------------------------------------------------------------
try:
    tools_resp = call("GET", "/tools", timeout=30)
except httpx.HTTPError as exc:
    st.error(f"API unreachable at {api.base_url}: {exc}")
    st.stop()
if not ok(tools_resp):
    st.stop()
waiting = fetch("/approvals") or []
if waiting:
    st.sidebar.warning(f"{len(waiting)} call{'s' if len(waiting) != 1 else ''} waiting for approval",
                       icon=":material/front_hand:")  # fmt: skip
if view == "New goal":
    follower = new_goal_view(tools_resp.json())
elif view == "Runs":
    follower = runs_view()
else:
    follower = approvals_view(waiting)
if follower is not None:
    follower()
