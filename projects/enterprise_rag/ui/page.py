"""Enterprise RAG page of the portal: chat with clickable citations, uploads with job progress, collection admin.

Talks to the API over HTTP only (``PORTAL__API_URL`` + ``/rag``), as the signed-in user given in the sidebar
(in production these headers come from the identity gateway, not from a form).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import streamlit as st

from projects.enterprise_rag.demo import TENANT as DEMO_TENANT
from projects.platform.portal.client import Api
from projects.platform.portal.client import problem_text as problem

api = Api.from_settings()
BASE = api.base_url + "/rag"
JOB_POLL_S = 1.0
JOB_WAIT_S = 120.0

st.title("Enterprise RAG")
with st.sidebar:
    user = st.text_input("User", value="alice", key="rag_user")
    tenant = st.text_input("Tenant", value=DEMO_TENANT, key="rag_tenant")  # the demo data's tenant
    groups = st.text_input("Groups (comma separated)", value="", key="rag_groups")
    view = st.radio("View", ["Chat", "Upload", "Collections"], key="rag_view")


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**api.headers, "X-User-Id": user, "X-Tenant-Id": tenant, "X-Groups": groups}
    return httpx.request(method, BASE + path, headers=headers, timeout=300, **kwargs)


try:
    listing = call("GET", "/collections")
except httpx.HTTPError as exc:
    st.error(f"API unreachable at {api.base_url}: {exc}")
    st.stop()
if listing.status_code != 200:
    st.error(problem(listing))
    st.stop()
collections = listing.json()
names = [c["name"] for c in collections]


def show_job(job_id: int) -> None:
    """Poll the job until it finishes (or JOB_WAIT_S passes), with a progress bar and per-file status."""
    bar = st.progress(0.0, text=f"job {job_id}: queued")
    deadline = time.monotonic() + JOB_WAIT_S
    while True:
        resp = call("GET", f"/jobs/{job_id}")
        if resp.status_code != 200:
            st.error(problem(resp))
            return
        job = resp.json()
        total = job["total"] or max(1, len(job["files"]))
        bar.progress(min(1.0, job["done"] / total), text=f"job {job_id}: {job['status']} {job['message'] or ''}")
        if job["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            break
        time.sleep(JOB_POLL_S)
    st.dataframe(
        [
            {"file": f["source_uri"], "status": f["status"], "chunks": f["chunks"], "error": f["error"]}
            for f in job["files"]
        ],
        hide_index=True,
    )


if view == "Collections":
    st.subheader("Collections")
    st.dataframe(
        [{k: c[k] for k in ("name", "description", "allowed_groups", "documents", "chunks")} for c in collections],
        hide_index=True,
    )
    with st.form("create"):
        name = st.text_input("Name (lowercase, digits, - and _)")
        description = st.text_input("Description")
        allowed = st.text_input("Default groups", value="public")
        if st.form_submit_button("Create collection"):
            body = {"name": name, "description": description, "allowed_groups": allowed.split(",")}
            resp = call("POST", "/collections", json=body)
            if resp.status_code == 201:
                st.success(f"created {name}")
            else:
                st.error(problem(resp))

elif view == "Upload":
    st.subheader("Upload documents")
    if not names:
        st.info("Create a collection first.")
    else:
        target = st.selectbox("Collection", names, key="rag_upload_collection")
        files = st.file_uploader(
            "PDF, DOCX, HTML, Markdown or text",
            accept_multiple_files=True,
            type=["pdf", "docx", "html", "htm", "md", "txt"],
        )
        if files and st.button("Upload"):
            resp = call(
                "POST", f"/collections/{target}/documents", files=[("files", (f.name, f.getvalue())) for f in files]
            )
            if resp.status_code == 202:
                body = resp.json()
                for rejected in body["rejected"]:
                    st.warning(f"{rejected['filename']}: {rejected['detail']}")
                st.session_state["rag_job"] = body["job_id"]
            else:
                st.error(problem(resp))
    if st.session_state.get("rag_job"):
        show_job(int(st.session_state["rag_job"]))

else:
    st.subheader("Ask your documents")
    if not names:
        st.info("Create a collection and upload documents first.")
        st.stop()
    target = st.selectbox("Collection", names, key="rag_chat_collection")
    messages: list[dict[str, Any]] = st.session_state.setdefault("rag_messages", [])
    for m in messages:
        with st.chat_message(m["role"]):
            st.markdown(m["content"])
            for c in m.get("citations", []):
                where = ", ".join(
                    x for x in (f"page {c['page']}" if c.get("page") else "", c.get("section") or "") if x
                )
                with st.expander(f"[{c['n']}] {c.get('title') or c['source_uri']}" + (f" — {where}" if where else "")):
                    st.markdown(f"> {c['quote']}")
                    st.caption(f"{c['source_uri']} · chunk {c['chunk_id']}")
    question = st.chat_input("Ask a question")
    if question:
        body = {"collection": target, "question": question, "conversation_id": st.session_state.get("rag_conversation")}
        with st.spinner("Searching and answering..."):
            resp = call("POST", "/chat", json=body)
        if resp.status_code != 200:
            st.error(problem(resp))
        else:
            out = resp.json()
            st.session_state["rag_conversation"] = out["conversation_id"]
            messages.append({"role": "user", "content": question})
            messages.append({"role": "assistant", "content": out["answer"], "citations": out["citations"]})
            st.rerun()
