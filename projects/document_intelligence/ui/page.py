"""Document intelligence page of the portal: upload with per-page progress, documents with their fields and
boxes, a review queue where a person corrects and approves, Q&A with page/box citations, training-data export.

Talks to the API over HTTP only (``PORTAL__API_URL`` + ``/docintel``) as the user in the sidebar (in production
the identity headers come from the gateway, not a form).
"""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import streamlit as st
from PIL import Image, ImageDraw

from projects.document_intelligence.demo import TENANT as DEMO_TENANT
from projects.document_intelligence.doc_types import DOC_TYPES
from projects.platform.portal.client import Api
from projects.platform.portal.client import problem_text as problem

api = Api.from_settings()
BASE = api.base_url + "/docintel"
POLL_S = 1.0
WAIT_S = 600.0
LOW = 0.7  # fields under this confidence are highlighted (the API's review threshold decides the queue)

st.title("Document intelligence")
with st.sidebar:
    user = st.text_input("User", value="reviewer", key="di_user")
    tenant = st.text_input("Tenant", value=DEMO_TENANT, key="di_tenant")
    view = st.radio("View", ["Documents", "Review queue", "Upload", "Export"], key="di_view")


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**api.headers, "X-User-Id": user, "X-Tenant-Id": tenant}
    return httpx.request(method, BASE + path, headers=headers, timeout=300, **kwargs)


try:
    listing = call("GET", "/documents")
except httpx.HTTPError as exc:
    st.error(f"API unreachable at {api.base_url}: {exc}")
    st.stop()
if listing.status_code != 200:
    st.error(problem(listing))
    st.stop()
documents = listing.json()


def field_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    fields = (doc.get("extraction") or {}).get("fields", {})
    return [
        {
            "field": name,
            "value": f.get("value"),
            "confidence": round(float(f.get("confidence") or 0), 2),
            "method": f.get("method"),
            "page": (f.get("source") or {}).get("page"),
            "issues": "; ".join(f.get("issues") or []),
        }
        for name, f in fields.items()
    ]


def page_with_boxes(doc_id: str, page: dict[str, Any], boxes: list[tuple[tuple, str]]) -> Image.Image | None:
    """The rendered page with ``boxes`` ((x0,y0,x1,y1) in page units, colour) drawn on it."""
    resp = call("GET", f"/documents/{doc_id}/pages/{page['number']}/image", params={"dpi": 100})
    if resp.status_code != 200:
        st.error(problem(resp))
        return None
    image = Image.open(io.BytesIO(resp.content)).convert("RGB")
    scale = image.width / page["width"]
    draw = ImageDraw.Draw(image)
    for (x0, y0, x1, y1), colour in boxes:
        draw.rectangle([x0 * scale - 2, y0 * scale - 2, x1 * scale + 2, y1 * scale + 2], outline=colour, width=3)
    return image


def field_boxes(doc: dict[str, Any], page_number: int) -> list[tuple[tuple, str]]:
    out = []
    for f in ((doc.get("extraction") or {}).get("fields") or {}).values():
        src = f.get("source") or {}
        if src.get("page") == page_number and src.get("bbox"):
            out.append((tuple(src["bbox"]), "red" if float(f.get("confidence") or 0) < LOW else "green"))
    return out


def show_progress(doc_id: str) -> dict[str, Any] | None:
    """Poll until the job leaves queued/processing, with a per-page progress bar."""
    bar = st.progress(0.0, text="queued")
    deadline = time.monotonic() + WAIT_S
    while True:
        resp = call("GET", f"/documents/{doc_id}")
        if resp.status_code != 200:
            st.error(problem(resp))
            return None
        doc = resp.json()
        stage = doc["stage"] or doc["status"]
        bar.progress(
            min(1.0, doc["pages_done"] / max(1, doc["n_pages"])),
            text=f"{doc['filename']}: page {doc['pages_done']} of {doc['n_pages']} · {stage}",
        )
        if doc["status"] not in ("queued", "processing") or time.monotonic() > deadline:
            return doc
        time.sleep(POLL_S)


if view == "Upload":
    st.subheader("Upload a document")
    st.caption("PDF (digital or scanned, multi-page), PNG, JPEG or TIFF. Digital pages use their text layer, "
               "scanned pages go through OCR — decided per page.")  # fmt: skip
    uploaded = st.file_uploader("Document", type=["pdf", "png", "jpg", "jpeg", "tif", "tiff"])
    known = st.selectbox("Type", ["detect", *DOC_TYPES])
    if uploaded is not None and st.button("Process"):
        data = {} if known == "detect" else {"doc_type": known}
        resp = call("POST", "/documents", files={"file": (uploaded.name, uploaded.getvalue())}, data=data)
        if resp.status_code != 202:
            st.error(problem(resp))
        else:
            st.session_state["di_job_doc"] = resp.json()["id"]
    if st.session_state.get("di_job_doc"):
        doc = show_progress(st.session_state["di_job_doc"])
        if doc is not None:
            if doc["status"] == "failed":
                st.error(f"failed: {doc['error']}")
            else:
                st.success(f"{doc['status']}: {doc['doc_type']} ({(doc['doc_type_confidence'] or 0):.2f})")
                st.dataframe(field_rows(doc), hide_index=True)

elif view == "Export":
    st.subheader("Training data")
    st.caption("Approved documents with reviewed field values, their source boxes and the page lines (JSONL).")
    resp = call("GET", "/training-data")
    if resp.status_code != 200:
        st.error(problem(resp))
    else:
        n = len([ln for ln in resp.text.splitlines() if ln.strip()])
        st.metric("Approved documents", n)
        st.download_button("Download JSONL", resp.content, file_name="docint-training.jsonl")

else:
    queue_view = view == "Review queue"
    pool = [d for d in documents if d["status"] == "needs_review"] if queue_view else documents
    st.subheader("Review queue" if queue_view else "Documents")
    if not pool:
        st.info("Nothing waiting for review." if queue_view else "No documents yet: upload one.")
        st.stop()
    st.dataframe(
        [{k: d[k] for k in ("filename", "status", "doc_type", "n_pages", "pages_done")} for d in pool],
        hide_index=True,
    )
    labels = {f"{d['filename']} · {d['status']} · {d['id'][:8]}": d["id"] for d in pool}
    choice = st.selectbox("Document", list(labels), key="di_doc")
    doc_id = labels[choice]
    resp = call("GET", f"/documents/{doc_id}")
    if resp.status_code != 200:
        st.error(problem(resp))
        st.stop()
    doc = resp.json()
    if doc["status"] in ("queued", "processing"):
        doc = show_progress(doc_id) or doc
    if doc["status"] == "failed":
        st.error(f"failed: {doc['error']}")
        if st.button("Retry"):
            r = call("POST", f"/documents/{doc_id}/retry")
            st.success("queued again") if r.status_code == 202 else st.error(problem(r))
        st.stop()
    if doc["status"] in ("queued", "processing"):
        st.stop()
    content = call("GET", f"/documents/{doc_id}/content").json()
    c1, c2, c3 = st.columns(3)
    c1.metric("Type", doc["doc_type"] or "-", f"{(doc['doc_type_confidence'] or 0):.2f} {doc['doc_type_method']}")
    c2.metric("Pages", doc["n_pages"])
    c3.metric("Status", doc["status"])
    for reason in doc["review_reasons"]:
        st.warning(reason)
    for issue in (doc.get("extraction") or {}).get("issues", []):  # validation issues not already a review reason
        message = issue.get("message") if isinstance(issue, dict) else str(issue)
        if not any(message in reason for reason in doc["review_reasons"]):
            st.warning(message)

    pages = content["pages"]
    number = st.number_input("Page", min_value=1, max_value=max(1, len(pages)), value=1, key="di_page")
    page = pages[number - 1] if pages else None
    left, right = st.columns([3, 2])
    with left:
        if page is not None:
            image = page_with_boxes(doc_id, page, field_boxes(doc, number))
            if image is not None:
                st.image(image, caption=f"page {number} ({page['source']}); red = low confidence", width="stretch")
    with right:
        rows = field_rows(doc)
        if queue_view or st.toggle("Edit fields", key="di_edit"):
            with st.form("review"):
                corrected: dict[str, str | None] = {}
                for row in rows:
                    label = f"{row['field']} ({row['confidence']:.2f})"
                    value = st.text_input(label, value=row["value"] or "", key=f"di_f_{doc_id}_{row['field']}")
                    if value != (row["value"] or ""):
                        corrected[row["field"]] = value or None
                approve = st.checkbox("Approve", value=True)
                if st.form_submit_button("Save review"):
                    r = call("POST", f"/documents/{doc_id}/review", json={"corrections": corrected, "approve": approve})
                    if r.status_code == 200:
                        st.success(f"saved: {len(corrected)} correction(s), status {r.json()['status']}")
                    else:
                        st.error(problem(r))
        else:
            st.dataframe(rows, hide_index=True)
        items = (doc.get("extraction") or {}).get("line_items") or []
        if items:
            st.caption("Line items")
            st.dataframe(items, hide_index=True)

    tab_qa, tab_md, tab_tables = st.tabs(["Ask", "Markdown", "Tables"])
    with tab_qa:
        question = st.text_input("Question about this document", key="di_question")
        if question and st.button("Ask"):
            with st.spinner("reading the document…"):
                r = call("POST", f"/documents/{doc_id}/ask", json={"question": question})
            if r.status_code != 200:
                st.error(problem(r))
            else:
                answer = r.json()
                st.markdown(answer["answer"])
                for c in answer["citations"]:
                    st.caption(f"[{c['n']}] page {c['page']}: {c['text']}")
                if answer["citations"]:
                    cited = answer["citations"][0]
                    cited_page = pages[cited["page"] - 1]
                    image = page_with_boxes(doc_id, cited_page, [(tuple(cited["bbox"]), "blue")])
                    if image is not None:
                        st.image(image, caption=f"cited box on page {cited['page']}", width="stretch")
    with tab_md:
        md = call("GET", f"/documents/{doc_id}/content", params={"format": "markdown"})
        st.code(md.text[:20000], language="markdown")
    with tab_tables:
        tables = call("GET", f"/documents/{doc_id}/tables").json()
        if not tables:
            st.caption("No tables found.")
        for t in tables:
            st.markdown(f"**Page {t['page']}** · {t['n_rows']}×{t['n_cols']}")
            st.markdown(t["markdown"])
            st.download_button("CSV", t["csv"], file_name=f"{t['block_id']}.csv", key=f"csv_{t['block_id']}")
