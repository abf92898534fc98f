"""Enterprise RAG in the portal: chat with clickable citations, uploads with job progress, collection admin."""

from __future__ import annotations

import time

import streamlit as st

from projects.enterprise_rag.ui.client import DEMO_IDENTITIES, ApiError, RagClient

st.title("Enterprise RAG")
st.caption("Answers from your company's documents, with citations, and only from what you are allowed to read.")

with st.sidebar:
    who = st.selectbox("Signed in as", list(DEMO_IDENTITIES), key="rag_identity")
client = RagClient.from_settings(DEMO_IDENTITIES[who])

try:
    collections = client.collections()
except ApiError as exc:
    st.error(f"Cannot reach the Enterprise RAG API: {exc}")
    st.stop()

names = [c["name"] for c in collections]
chat_tab, upload_tab, admin_tab = st.tabs(["Chat", "Upload", "Collections"])

with chat_tab:
    if not names:
        st.info("No collection is visible to you yet. Create one under Collections, or run `make demo`.")
    else:
        collection = st.selectbox("Collection", names, key="rag_collection")
        state_key = f"rag_chat::{who}::{collection}"
        turns: list[dict] = st.session_state.setdefault(state_key, [])
        for i, turn in enumerate(turns):
            with st.chat_message("user"):
                st.markdown(turn["question"])
            with st.chat_message("assistant"):
                st.markdown(turn["answer"])
                for cite in turn.get("citations", []):
                    where = ", ".join(
                        part for part in (cite.get("title") or cite.get("source_uri"),
                                          f"page {cite['page']}" if cite.get("page") else "",
                                          cite.get("section") or "") if part
                    )  # fmt: skip
                    with st.expander(f"[{cite['n']}] {where}"):
                        st.markdown(f"> {cite.get('quote', '')}")
                        st.caption(f"source: {cite.get('source_uri')} · chunk {cite.get('chunk_id')}")
                if turn.get("message_id") is not None:
                    up, down, _ = st.columns([1, 1, 8])
                    if up.button("👍", key=f"up-{state_key}-{i}"):
                        client.feedback(turn["message_id"], "up")
                        st.toast("Thanks for the feedback")
                    if down.button("👎", key=f"down-{state_key}-{i}"):
                        client.feedback(turn["message_id"], "down")
                        st.toast("Thanks for the feedback")
        question = st.chat_input("Ask a question about the documents")
        if question:
            conversation_id = turns[-1]["conversation_id"] if turns else None
            with st.spinner("Searching the documents and writing an answer..."):
                try:
                    reply = client.chat(collection, question, conversation_id)
                except ApiError as exc:
                    st.error(str(exc))
                    reply = None
            if reply is not None:
                turns.append({"question": question, **reply})
                st.rerun()

with upload_tab:
    if not names:
        st.info("Create a collection first.")
    else:
        target = st.selectbox("Into collection", names, key="rag_upload_collection")
        groups = st.text_input("Who may read these files (groups, comma separated; empty = the collection default)")
        files = st.file_uploader(
            "Files (PDF, DOCX, HTML, Markdown, TXT)", type=["pdf", "docx", "html", "htm", "md", "txt"],
            accept_multiple_files=True,
        )  # fmt: skip
        if st.button("Upload and index", disabled=not files):
            try:
                out = client.upload(
                    target, [(f.name, f.getvalue()) for f in files],
                    [g.strip() for g in groups.split(",") if g.strip()] or None,
                )  # fmt: skip
            except ApiError as exc:
                st.error(str(exc))
            else:
                for rejected in out.get("rejected", []):
                    st.warning(f"{rejected['filename']}: {rejected['detail']}")
                bar = st.progress(0.0, text="queued")
                job: dict = {}
                for _ in range(600):
                    job = client.job(out["job_id"])
                    total = job.get("total") or max(1, len(out.get("accepted", [])))
                    bar.progress(min(1.0, job.get("done", 0) / total), text=job.get("message") or job["status"])
                    if job["status"] in ("succeeded", "failed", "cancelled"):
                        break
                    time.sleep(1)
                st.dataframe(job.get("files", []), use_container_width=True)
                if job.get("status") == "succeeded":
                    st.success("Indexed.")
                elif job.get("status") == "failed":
                    st.error(f"Job failed: {job.get('error')}")

with admin_tab:
    if collections:
        st.dataframe(
            [
                {k: c.get(k) for k in ("name", "description", "allowed_groups", "documents", "chunks")}
                for c in collections
            ],
            use_container_width=True,
        )
    with st.form("new_collection"):
        st.subheader("New collection")
        name = st.text_input("Name (lowercase letters, digits, '-' and '_')")
        description = st.text_input("Description")
        acl = st.text_input("Default readers (groups, comma separated)", value="public")
        if st.form_submit_button("Create"):
            try:
                client.create_collection(name, description, [g.strip() for g in acl.split(",") if g.strip()])
                st.success(f"Created {name}")
                st.rerun()
            except ApiError as exc:
                st.error(str(exc))
