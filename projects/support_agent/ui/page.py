"""Customer-support page of the portal: the **agent console** for human colleagues (the handoff queue with the
bot's summary, pick up a conversation, its full history with tool calls, the per-turn traces, reply, hand back
to the bot or close) and a **customer chat** to talk to the bot as a customer would.

Talks to the API over HTTP only (``PORTAL__API_URL`` + ``/support``) as the agent named in the sidebar; in
production the identity headers come from the gateway, not a form.
"""

from __future__ import annotations

from typing import Any

import httpx
import streamlit as st

from projects.platform.portal.client import Api
from projects.platform.portal.client import problem_text as problem
from projects.support_agent.demo import TENANT as DEMO_TENANT

api = Api.from_settings()
BASE = api.base_url + "/support"
ROLE_AVATAR = {  # material icons: they render without an emoji font (headless browsers, kiosks)
    "user": ":material/person:",
    "assistant": ":material/smart_toy:",
    "human": ":material/support_agent:",
    "tool": ":material/build:",
    "system": ":material/info:",
}
REASON = {
    "explicit_request": "asked for a person",
    "repeated_failure": "repeated failure",
    "negative_sentiment": "negative sentiment",
    "policy_exception": "policy exception",
    "low_confidence": "not understood",
}

st.title("Customer support")
with st.sidebar:
    agent = st.text_input("You (support agent)", value="jo", key="sa_agent")
    tenant = st.text_input("Tenant", value=DEMO_TENANT, key="sa_tenant")
    view = st.radio("View", ["Handoff queue", "Conversations", "Customer chat"], key="sa_view")


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**api.headers, "X-User-Id": agent, "X-Tenant-Id": tenant}
    return httpx.request(method, BASE + path, headers=headers, timeout=300, **kwargs)


def ok(resp: httpx.Response) -> bool:
    if resp.status_code >= 400:
        st.error(problem(resp))
        return False
    return True


def age(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


try:
    queue_resp = call("GET", "/handoffs", params={"status": "queued"})
except httpx.HTTPError as exc:
    st.error(f"API unreachable at {api.base_url}: {exc}")
    st.stop()
if not ok(queue_resp):
    st.stop()
queued = queue_resp.json()


def show_history(session_id: str) -> None:
    resp = call("GET", f"/sessions/{session_id}/messages", params={"tools": "true"})
    if not ok(resp):
        return
    for m in resp.json():
        if m["role"] == "tool":
            with st.expander(f"Tool call: {m['tool_name']}", expanded=False, icon=":material/build:"):
                st.json({"arguments": m.get("tool_args"), "result": m.get("tool_result")})
            continue
        who = m.get("author") or m["role"]
        with st.chat_message(m["role"] if m["role"] in ("user", "assistant") else who, avatar=ROLE_AVATAR[m["role"]]):
            st.markdown(m["text"])


def show_traces(session_id: str) -> None:
    resp = call("GET", f"/sessions/{session_id}/traces")
    if not ok(resp):
        return
    rows = [
        {
            "turn": t["user_seq"],
            "intent": t["intent"],
            "confidence": None if t["confidence"] is None else round(t["confidence"], 2),
            "tools": ", ".join(f"{c.get('tool')}→{c.get('decision')}" for c in t["tool_calls"]),
            "policy": "; ".join(
                f"{d.get('tool')}: {d.get('decision')}{' (' + d['code'] + ')' if d.get('code') else ''}"
                for d in t["policy_decisions"]
            ),
            "ms": round(t["latency_ms"].get("total", 0.0)),
        }
        for t in resp.json()
    ]
    st.dataframe(rows, hide_index=True, use_container_width=True)


def show_session(session_id: str) -> None:
    resp = call("GET", f"/sessions/{session_id}")
    if not ok(resp):
        return
    s = resp.json()
    st.subheader(f"Conversation {session_id[:8]} · {s['status'].replace('_', ' ')}")
    customer = s["customer"]
    who = f"verified ({customer['method']}) {customer['id_masked']}" if customer["verified"] else "not verified"
    flow = s.get("flow") or {}
    st.caption(
        f"Channel {s['channel']} · customer {who} · flow {flow.get('intent', '—')}"
        + (f" (waiting for {flow['awaiting']})" if flow.get("awaiting") else "")
        + (f" · with {s['assigned_agent']}" if s.get("assigned_agent") else "")
    )
    if s.get("pending_action"):
        st.info(f"Waiting for the customer's yes: {s['pending_action']['summary']}")
    handoff_id = s.get("open_handoff_id")
    if handoff_id:
        h = call("GET", f"/handoffs/{handoff_id}").json()
        st.warning(f"Handed over: {REASON.get(h['reason'], h['reason'])} · {h['status']}")
        st.text(h["summary"])
    history, traces = st.tabs(["History", "Traces"])
    with history:
        show_history(session_id)
    with traces:
        show_traces(session_id)
    if not handoff_id:
        return
    h = call("GET", f"/handoffs/{handoff_id}").json()
    if h["status"] == "queued":
        if st.button("Pick up this conversation", key="sa_claim", type="primary"):
            act(f"/handoffs/{handoff_id}/claim", {"agent": agent})
        return
    if h["claimed_by"] != agent:
        st.info(f"{h['claimed_by']} is handling this conversation.")
        return
    text = st.text_area("Reply to the customer", key="sa_reply_text")
    col1, col2, col3 = st.columns(3)
    if col1.button("Send", key="sa_reply", type="primary") and text.strip():
        act(f"/handoffs/{handoff_id}/reply", {"agent": agent, "text": text})
    note = st.text_input("Note for the bot (on hand back)", key="sa_note")
    if col2.button("Hand back to the bot", key="sa_hand_back"):
        act(f"/handoffs/{handoff_id}/hand-back", {"agent": agent, "note": note or None})
    if col3.button("Close conversation", key="sa_close"):
        act(f"/handoffs/{handoff_id}/close", {"agent": agent, "reason": "resolved by agent"})


def act(path: str, body: dict[str, Any]) -> None:
    """A queue action; on success the page reruns to show the new state, on a problem it says why (a colleague
    who got there first is named in the 409)."""
    if ok(call("POST", path, json=body)):
        st.rerun()


if view == "Handoff queue":
    mine_resp = call("GET", "/handoffs", params={"status": "claimed"})
    mine = [h for h in mine_resp.json() if h["claimed_by"] == agent] if mine_resp.status_code == 200 else []
    c1, c2 = st.columns(2)
    c1.metric("Waiting for a person", len(queued))
    c2.metric("With you", len(mine))
    if not queued and not mine:
        st.info("The queue is empty: the bot is handling every conversation.")
    for h in mine + queued:
        label = f"{'yours' if h in mine else 'waiting ' + age(h['age_s'])} · {REASON.get(h['reason'], h['reason'])}"
        with st.container(border=True):
            st.markdown(f"**{label}** · conversation `{h['session_id'][:8]}`")
            st.text("\n".join(h["summary"].splitlines()[:3]))  # reason, request, customer: the rest when opened
            if st.button("Open", key=f"sa_open_{h['session_id']}"):
                st.session_state["sa_session"] = h["session_id"]
    if st.session_state.get("sa_session"):
        st.divider()
        show_session(st.session_state["sa_session"])

elif view == "Conversations":
    status = st.selectbox("Status", ["all", "active", "waiting_human", "with_human", "closed"], key="sa_status")
    resp = call("GET", "/sessions", params={} if status == "all" else {"status": status})
    if ok(resp):
        sessions = resp.json()
        if not sessions:
            st.info("No conversations yet.")
        options = {f"{s['session_id'][:8]} · {s['channel']} · {s['status']}": s["session_id"] for s in sessions}
        if options:
            picked = st.selectbox("Conversation", list(options), key="sa_pick")
            show_session(options[picked])

else:  # Customer chat: talk to the bot as a customer
    st.caption("Talk to the bot as a customer of the demo shop (try: 'I want to cancel an order').")
    if st.button("New conversation", key="sa_new") or "sa_chat" not in st.session_state:
        resp = call("POST", "/sessions", json={"channel": "console"})
        if ok(resp):
            st.session_state["sa_chat"] = resp.json()["session_id"]
    sid = st.session_state.get("sa_chat")
    if sid:
        message = st.text_input("Your message", key="sa_message")
        if st.button("Send", key="sa_send") and message.strip():
            with st.spinner("The agent is working on it…"):
                resp = call("POST", f"/sessions/{sid}/messages", json={"text": message})
            if ok(resp) and resp.json()["status"] == "waiting_human":
                st.warning("The conversation is with the human queue now.")
        show_history(sid)
