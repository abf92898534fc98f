"""Content moderation page of the portal: the reviewer console (queue by priority with SLA timers, claim, decide,
escalate, release, notes, the audit log), a "try it" box that shows the verdict with its evidence highlighted,
appeals, and the threshold proposal learnt from reviewer decisions.

Talks to the API over HTTP only (``PORTAL__API_URL`` + ``/moderation``) as the reviewer in the sidebar; in
production the identity headers (user, tenant, groups) come from the gateway, not a form.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import httpx
import streamlit as st

from projects.content_moderation.demo import TENANT as DEMO_TENANT
from projects.platform.portal.client import Api
from projects.platform.portal.client import problem_text as problem

api = Api.from_settings()
BASE = api.base_url + "/moderation"
ACTION_ICON = {"allow": "🟢", "flag": "🟡", "review": "🟠", "block": "🔴"}

st.title("Content moderation")
with st.sidebar:
    user = st.text_input("Reviewer", value="rita", key="cm_user")
    tenant = st.text_input("Tenant", value=DEMO_TENANT, key="cm_tenant")
    view = st.radio("View", ["Review queue", "Try it", "Appeals", "Calibration"], key="cm_view")


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**api.headers, "X-User-Id": user, "X-Tenant-Id": tenant, "X-Groups": "moderators"}
    return httpx.request(method, BASE + path, headers=headers, timeout=120, **kwargs)


try:
    policy_resp = call("GET", "/policy")
except httpx.HTTPError as exc:
    st.error(f"API unreachable at {api.base_url}: {exc}")
    st.stop()
if policy_resp.status_code != 200:
    st.error(problem(policy_resp))
    st.stop()
policy = policy_resp.json()
st.caption(f"Policy `{policy['version_id']}` · cascade tiers: {policy['tiers']}")


def highlight(text: str, spans: list[dict[str, Any]]) -> str:
    """The text as HTML with every evidence span marked (spans are offsets into the original text)."""
    marks = sorted({(s["start"], s["end"], s.get("why", "")) for s in spans if 0 <= s["start"] < s["end"]})
    out, pos = [], 0
    for start, end, why in marks:
        if start < pos:  # overlapping spans: the first one wins
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f'<mark title="{html.escape(why)}">{html.escape(text[start:end])}</mark>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def evidence_of(categories: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for c in categories.values() if c.get("action", "allow") != "allow" for e in c.get("evidence", [])]


def category_rows(categories: dict[str, Any], only_flagged: bool = False) -> list[dict[str, Any]]:
    rows = [
        {
            "category": name,
            "score": round(c["score"], 3),
            "action": c["action"],
            "detectors": ", ".join(f"{d} {s:.2f}" for d, s in sorted(c.get("detectors", {}).items())),
            "why": "; ".join(e["why"] for e in c.get("evidence", []))[:200],
        }
        for name, c in categories.items()
        if not only_flagged or c["action"] != "allow"
    ]
    return sorted(rows, key=lambda r: -r["score"])


def age(ts: str) -> str:
    delta = datetime.now(UTC) - datetime.fromisoformat(ts)
    hours = delta.total_seconds() / 3600
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def review_view() -> None:
    queue_kind = st.segmented_control("Queue", ["Open", "Escalated"], default="Open", key="cm_queue_kind")
    resp = call("GET", "/review/queue", params={"escalated": queue_kind == "Escalated", "limit": 50})
    if resp.status_code != 200:
        st.error(problem(resp))
        return
    items = resp.json()
    overdue = sum(i["overdue"] for i in items)
    cols = st.columns(3)
    cols[0].metric("Open items", len(items))
    cols[1].metric("Overdue (SLA)", overdue)
    cols[2].metric("Appeals", sum(i["status"] == "appealed" for i in items))
    if not items:
        st.info("The queue is empty. Moderate something in “Try it”, or run `make demo` for the demo forum.")
    for item in items:
        flagged = ", ".join(f"{c} {v['score']:.2f}" for c, v in item["categories"].items())
        label = (
            f"{'⏰ ' if item['overdue'] else ''}{'↩️ appeal · ' if item['status'] == 'appealed' else ''}"
            f"priority {item['priority']:.1f} · {flagged} · reach {item['reach']} · {age(item['created_at'])} old"
        )
        cols = st.columns([5, 1])
        cols[0].markdown(f"**{label}**  \n{html.escape(item['text'][:160])}")
        if cols[1].button("Open", key=f"cm_open_{item['id']}"):
            st.session_state["cm_item"] = item["id"]
    if st.session_state.get("cm_item"):
        item_view(st.session_state["cm_item"])


def item_view(item_id: str) -> None:
    resp = call("GET", f"/review/items/{item_id}")
    if resp.status_code != 200:
        st.error(problem(resp))
        return
    item = resp.json()
    st.divider()
    st.subheader(f"Item {item_id[:8]} · {item['status']}")
    due = datetime.fromisoformat(item["sla_due_at"])
    left = (due - datetime.now(UTC)).total_seconds() / 3600
    sla = f"overdue by {-left:.1f} h" if left < 0 else f"due in {left:.1f} h"
    st.caption(
        f"SLA {sla} · severity {item['severity']} · reach {item['reach']} · surface {item['surface']} · "
        f"policy {item['policy_version']}" + (f" · claimed by {item['claimed_by']}" if item["claimed_by"] else "")
    )
    if item.get("appeal_reason"):
        st.warning(
            f"Appeal: “{item['appeal_reason']}” — first decided by {item['first_decided_by'] or 'the cascade'}; "
            "a different reviewer must decide it."
        )
    if item.get("media_sha256"):
        media = call("GET", f"/review/items/{item_id}/media")
        if media.status_code == 200:
            st.image(media.content, width=360)
    st.markdown(highlight(item["text"], evidence_of(item["categories"])), unsafe_allow_html=True)
    st.dataframe(category_rows(item["categories"]), hide_index=True, use_container_width=True)

    note = st.text_input("Note (required to escalate)", key=f"cm_note_{item_id}")
    cols = st.columns(6)
    actions = [
        ("Claim", "claim", None),
        ("Remove", "decide", {"decision": "remove", "note": note or None}),
        ("Allow", "decide", {"decision": "allow", "note": note or None}),
        ("Escalate", "escalate", {"note": note}),
        ("Release", "release", None),
        ("Add note", "note", {"text": note}),
    ]
    for col, (label, action, body) in zip(cols, actions, strict=True):
        if col.button(label, key=f"cm_{action}_{label}_{item_id}"):
            r = call("POST", f"/review/items/{item_id}/{action}", json=body)
            if r.status_code in (200, 204):
                st.success(f"{label}: done")
                if action == "decide":
                    st.session_state.pop("cm_item", None)
            else:
                st.error(problem(r))
    st.markdown("**Audit log**")
    st.dataframe(
        [
            {"when": h["created_at"][:19], "who": h["actor"], "action": h["action"], "status": h["to_status"],
             "note": h["note"] or ""}
            for h in item["history"]
        ],
        hide_index=True, use_container_width=True,
    )  # fmt: skip


def try_view() -> None:
    text = st.text_area("Text to moderate", key="cm_text", height=120, placeholder="Paste a post, a message, a prompt…")
    surface = st.selectbox("Surface", ["default", "llm_input", "llm_output"], key="cm_surface")
    if st.button("Moderate", key="cm_go", type="primary") and text:
        with st.spinner("Running the cascade (the first call loads the models)…"):
            resp = call("POST", "/moderate", json={"text": text, "surface": surface})
        if resp.status_code != 200:
            st.error(problem(resp))
            return
        result = resp.json()["results"][0]
        st.subheader(f"{ACTION_ICON[result['action']]} {result['action'].upper()}")
        if result["flagged"]:
            st.markdown(highlight(text, evidence_of(result["categories"])), unsafe_allow_html=True)
        timings = " · ".join(f"{k} {v:.1f} ms" for k, v in result["timings_ms"].items())
        st.caption(f"decision {result['id']} · tiers {result['tiers_run']} · {timings}")
        if result["review_item_id"]:
            st.info("Sent to the review queue.")
        st.dataframe(category_rows(result["categories"]), hide_index=True, use_container_width=True)


def appeals_view() -> None:
    st.markdown("An author contests a decision. It goes back to the queue for a reviewer other than the first one.")
    resp = call("GET", "/decisions", params={"limit": 30})
    if resp.status_code != 200:
        st.error(problem(resp))
        return
    decisions = [d for d in resp.json() if d["action"] != "allow"]
    if not decisions:
        st.info("No flagged decisions yet.")
        return
    st.dataframe(
        [
            {"decision": d["id"], "action": d["action"],
             "categories": ", ".join(d["categories"]), "source": d["source_ref"] or "", "when": d["created_at"][:19]}
            for d in decisions
        ],
        hide_index=True, use_container_width=True,
    )  # fmt: skip
    decision_id = st.selectbox("Decision to appeal", [d["id"] for d in decisions], key="cm_appeal_id")
    reason = st.text_input("The author's reason", key="cm_appeal_reason")
    original = st.text_area("Original text (automated decisions keep only a hash of it)", key="cm_appeal_text")
    if st.button("Submit appeal", key="cm_appeal_go") and reason:
        r = call("POST", "/appeals", json={"decision_id": decision_id, "reason": reason, "text": original or None})
        if r.status_code == 201:
            st.success(f"Appeal queued as review item {r.json()['id']}")
        else:
            st.error(problem(r))


def calibration_view() -> None:
    resp = call("GET", "/review/calibration")
    if resp.status_code != 200:
        st.error(problem(resp))
        return
    cal = resp.json()
    st.metric("Reviewer decisions", cal["labelled"])
    if cal["per_category"]:
        st.dataframe([{"category": c, "labelled items": n} for c, n in cal["per_category"].items()], hide_index=True)
    if not cal["changes"]:
        st.info(
            "No threshold change is supported yet: a change needs ≥ 20 labelled items and ≥ 95 % agreement "
            "(removal above a new block threshold, or allowance below a new review threshold)."
        )
        return
    for change in cal["changes"]:
        st.markdown(f"- {change['description']}")
    st.markdown("**Proposed next policy version** (review it, then commit it as a policy file):")
    st.code(cal["policy_yaml"], language="yaml")


{"Review queue": review_view, "Try it": try_view, "Appeals": appeals_view, "Calibration": calibration_view}[view]()
