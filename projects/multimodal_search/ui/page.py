"""Multimodal search page of the portal: search by words or by an image, a result grid with scores, filters in
the sidebar, a detail view with metadata and "more like this"; a library view to upload or import a folder with
progress, and to re-index after a model change.

Talks to the API over HTTP only (``PORTAL__API_URL`` + ``/search``) as the user in the sidebar (in production
the identity headers come from the gateway, not a form).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

import httpx
import streamlit as st

from projects.multimodal_search.demo import TENANT as DEMO_TENANT
from projects.platform.portal.client import Api
from projects.platform.portal.client import problem_text as problem

api = Api.from_settings()
BASE = api.base_url + "/search"
POLL_S = 1.0
WAIT_S = 900.0
COLUMNS = 4

st.title("Multimodal search")
with st.sidebar:
    user = st.text_input("User", value="demo-user", key="mms_user")
    tenant = st.text_input("Tenant", value=DEMO_TENANT, key="mms_tenant")
    view = st.radio("View", ["Search", "Library"], key="mms_view", horizontal=True)


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**api.headers, "X-User-Id": user, "X-Tenant-Id": tenant}
    return httpx.request(method, BASE + path, headers=headers, timeout=300, **kwargs)


try:
    stats_resp = call("GET", "/stats")
except httpx.HTTPError as exc:
    st.error(f"API unreachable at {api.base_url}: {exc}")
    st.stop()
if stats_resp.status_code != 200:
    st.error(problem(stats_resp))
    st.stop()
stats = stats_resp.json()


@st.cache_data(ttl=600, show_spinner=False)
def thumbnail(image_id: str, tenant_id: str, user_id: str) -> bytes | None:
    resp = httpx.get(
        f"{BASE}/images/{image_id}/thumbnail",
        headers={**api.headers, "X-User-Id": user_id, "X-Tenant-Id": tenant_id},
        timeout=30,
    )
    return resp.content if resp.status_code == 200 else None


def wait_for_import(job: dict[str, Any]) -> dict[str, Any]:
    """Poll an import, showing its progress, until it finishes (or WAIT_S passes)."""
    bar = st.progress(0.0, text="queued")
    deadline = time.monotonic() + WAIT_S
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(POLL_S)
        resp = call("GET", f"/imports/{job['id']}")
        if resp.status_code != 200:
            st.error(problem(resp))
            break
        job = resp.json()
        total = max(job["total"], 1)
        bar.progress(min(job["done"] / total, 1.0), text=f"{job['status']}: {job['done']}/{job['total']} indexed")
    bar.progress(1.0 if job["status"] == "done" else 0.0, text=job["status"])
    return job


def show_import(job: dict[str, Any]) -> None:
    line = (
        f"**{job['kind']}** {job.get('path') or job['source']}: {job['status']} — {job['done']}/{job['total']} "
        f"indexed, {job['added']} new, {job['duplicates']} already in the library, {job['failed']} failed"
    )
    st.markdown(line)
    if job["status"] in ("queued", "running"):
        st.progress(min(job["done"] / max(job["total"], 1), 1.0))
    if job.get("error"):
        st.error(job["error"])
    if job["skipped"]:
        st.warning(f"{len(job['skipped'])} file(s) skipped")
        st.dataframe([{k: s[k] for k in ("file", "code", "message")} for s in job["skipped"]], hide_index=True)


# -- library ---------------------------------------------------------------------------------------------

if view == "Library":
    cols = st.columns(4)
    cols[0].metric("Images", stats["images"])
    cols[1].metric("Indexed", stats["by_status"].get("indexed", 0))
    cols[2].metric("Near-duplicates", stats["near_duplicates"])
    cols[3].metric("Stale (other model)", stats["stale"])
    st.caption(f"Image model: `{stats['model']}` · text space `{stats['text_space']}`")
    if stats["stale"] and st.button("Re-index with the current model", key="mms_reindex"):
        resp = call("POST", "/reindex")
        if resp.status_code == 200 and resp.json()["job"]:
            show_import(wait_for_import(resp.json()["job"]))
        elif resp.status_code != 200:
            st.error(problem(resp))

    st.subheader("Add images")
    uploads = st.file_uploader(
        "Upload images", type=["jpg", "jpeg", "png", "webp", "gif", "tif", "tiff"], accept_multiple_files=True,
        key="mms_uploads",
    )  # fmt: skip
    caption = st.text_input("Caption for these images (optional)", key="mms_caption")
    tags = st.text_input("Tags, comma-separated (optional)", key="mms_tags")
    if uploads and st.button("Upload", key="mms_upload_btn"):
        files = [("files", (f.name, f.getvalue(), f.type or "application/octet-stream")) for f in uploads]
        data = {"caption": caption or "", "tags": tags or "", "source": "upload"}
        resp = call("POST", "/images", files=files, data={k: v for k, v in data.items() if v})
        if resp.status_code == 202:
            show_import(wait_for_import(resp.json()))
        else:
            st.error(problem(resp))
    with st.form("mms_folder"):
        folder = st.text_input("Import a folder on the server (inside MMSEARCH__IMPORT_ROOTS)", key="mms_folder_path")
        if st.form_submit_button("Import folder") and folder:
            resp = call("POST", "/imports", json={"path": folder})
            if resp.status_code == 202:
                show_import(wait_for_import(resp.json()))
            else:
                st.error(problem(resp))

    st.subheader("Recent imports")
    imports = call("GET", "/imports").json()
    if not imports:
        st.info("No imports yet.")
    for job in imports[:10]:
        show_import(job)
        if job["status"] == "failed" and st.button("Retry", key=f"mms_retry_{job['id']}"):
            resp = call("POST", f"/imports/{job['id']}/retry")
            if resp.status_code == 202:
                show_import(wait_for_import(resp.json()))
            else:
                st.error(problem(resp))
    st.stop()

# -- search ----------------------------------------------------------------------------------------------

with st.sidebar:
    st.header("Filters")
    sources = st.multiselect("Album / source", stats["sources"], key="mms_f_sources")
    tag_filter = st.multiselect("Tags (any)", stats["tags"], key="mms_f_tags")
    orientation = st.selectbox("Orientation", ["any", "landscape", "portrait", "square"], key="mms_f_orient")
    camera = st.selectbox("Camera", ["any", *stats["cameras"]], key="mms_f_camera")
    use_dates = st.checkbox("Date range", key="mms_f_use_dates")
    dates: tuple = ()
    if use_dates:
        lo = datetime.fromisoformat(stats["taken_from"]).date() if stats.get("taken_from") else date(2000, 1, 1)
        hi = datetime.fromisoformat(stats["taken_to"]).date() if stats.get("taken_to") else date.today()
        dates = st.date_input("Taken between", value=(lo, hi), key="mms_f_dates")
    min_width = st.number_input("Min width (px)", min_value=0, value=0, step=100, key="mms_f_width")
    has_text = st.checkbox("Only images with text in them", key="mms_f_text")
    st.header("Ranking")
    min_similarity = st.slider("Similarity cutoff", 0.0, 1.0, 0.0, 0.05, key="mms_cutoff")
    mmr = st.checkbox("Diversify (MMR)", key="mms_mmr")
    collapse = st.checkbox("Collapse near-duplicates", value=True, key="mms_collapse")
    page_size = st.select_slider("Results per page", [8, 12, 24, 48], value=12, key="mms_page_size")


def filters() -> dict[str, Any]:
    f: dict[str, Any] = {}
    if sources:
        f["sources"] = sources
    if tag_filter:
        f["tags"] = tag_filter
    if orientation != "any":
        f["orientation"] = orientation
    if camera != "any":
        f["camera"] = camera
    if use_dates and isinstance(dates, tuple | list) and len(dates) == 2:
        f["date_from"] = datetime.combine(dates[0], dtime.min, UTC).isoformat()
        f["date_to"] = datetime.combine(dates[1], dtime.max, UTC).isoformat()
    if min_width:
        f["min_width"] = int(min_width)
    if has_text:
        f["has_text"] = True
    return f


state = st.session_state
state.setdefault("mms_page", 1)
state.setdefault("mms_similar_to", None)
state.setdefault("mms_selected", None)

left, right = st.columns([3, 1])
query = left.text_input(
    "Search your images", placeholder="e.g. sunset over the sea, a red sign, café menu", key="mms_q"
)
mode = right.selectbox("Mode", ["hybrid", "vector", "text"], key="mms_mode", help="hybrid = vectors + full text, RRF")
query_image = st.file_uploader("…or search with an image", type=["jpg", "jpeg", "png", "webp", "gif"], key="mms_qimg")

signature = json.dumps([query, mode, bool(query_image), filters(), min_similarity, mmr, collapse, page_size])
if state.get("mms_signature") != signature:
    state["mms_signature"] = signature
    state["mms_page"] = 1
options = {
    "filters": filters(),
    "min_similarity": min_similarity or None,
    "mmr": mmr,
    "collapse_duplicates": collapse,
    "page": state["mms_page"],
    "page_size": page_size,
}

resp = None
title = ""
if state["mms_similar_to"]:
    title = "More like this"
    resp = call("POST", f"/images/{state['mms_similar_to']}/similar", json=options)
    if st.button("Back to search", key="mms_back"):
        state["mms_similar_to"] = None
        st.rerun()
elif query_image is not None:
    title = f"Images like {query_image.name}"
    resp = call(
        "POST", "/query/image", files={"file": (query_image.name, query_image.getvalue())},
        data={"options": json.dumps(options)},
    )  # fmt: skip
elif query.strip():
    title = f"Results for “{query.strip()}”"
    resp = call("POST", "/query", json={"query": query, "mode": mode, **options})

if resp is None:
    st.info(f"{stats['images']} images in the library. Type a query, or upload an image to find similar ones.")
    recent = call("GET", "/images", params={"limit": page_size, "status": "indexed"})
    hits = [{"image": i, "score": None, "similarity": None} for i in recent.json()] if recent.status_code == 200 else []
    page: dict[str, Any] = {"hits": hits, "has_more": False}
elif resp.status_code != 200:
    st.error(problem(resp))
    st.stop()
else:
    page = resp.json()
    st.subheader(title)
    st.caption(
        f"{len(page['hits'])} results on page {page['page']} · {page['took_ms']:.0f} ms · space `{page['space']}`"
    )
    if not page["hits"]:
        st.warning("No results: loosen the filters or lower the similarity cutoff.")

for row_start in range(0, len(page["hits"]), COLUMNS):
    cols = st.columns(COLUMNS)
    for col, hit in zip(cols, page["hits"][row_start : row_start + COLUMNS], strict=False):
        image = hit["image"]
        with col:
            data = thumbnail(image["id"], tenant, user)
            if data:
                st.image(data, width="stretch")
            label = image.get("caption") or image["filename"]
            scores = []
            if hit.get("similarity") is not None:
                scores.append(f"sim {hit['similarity']:.2f}")
            if hit.get("score") is not None and hit.get("similarity") != hit.get("score"):
                scores.append(f"score {hit['score']:.3f}")
            if hit.get("duplicates"):
                scores.append(f"+{hit['duplicates']} near-dup")
            st.caption(f"{label[:60]}  \n{' · '.join(scores)}")
            if st.button("Details", key=f"mms_detail_{image['id']}"):
                state["mms_selected"] = image["id"]

if resp is not None and resp.status_code == 200:
    prev_col, _, next_col = st.columns([1, 4, 1])
    if state["mms_page"] > 1 and prev_col.button("← Previous", key="mms_prev"):
        state["mms_page"] -= 1
        st.rerun()
    if page["has_more"] and next_col.button("Next →", key="mms_next"):
        state["mms_page"] += 1
        st.rerun()

if state["mms_selected"]:
    detail = call("GET", f"/images/{state['mms_selected']}")
    if detail.status_code == 200:
        image = detail.json()
        st.divider()
        st.subheader(image.get("caption") or image["filename"])
        pic, meta = st.columns([2, 1])
        original = call("GET", f"/images/{image['id']}/original")
        if original.status_code == 200 and image["media_type"] != "image/tiff":
            pic.image(original.content, width="stretch")
        else:
            pic.image(thumbnail(image["id"], tenant, user) or b"", width="stretch")
        facts = {
            "file": image["filename"],
            "album": image["source"],
            "size": f"{image['width']}×{image['height']} ({image['orientation']}), {image['size_bytes'] // 1024} KB",
            "type": image["media_type"],
            "taken": image.get("taken_at") or "—",
            "camera": " ".join(p for p in (image.get("camera_make"), image.get("camera_model")) if p) or "—",
            "GPS": f"{image['gps_lat']:.4f}, {image['gps_lon']:.4f}" if image.get("gps_lat") is not None else "—",
            "tags": ", ".join(image["tags"]) or "—",
            "colours": ", ".join(image["colours"]) or "—",
            "status": image["status"] + (" (stale: re-index)" if image.get("stale") else ""),
        }
        meta.dataframe([{"": k, "value": str(v)} for k, v in facts.items()], hide_index=True, width="stretch")
        if image["labels"]:
            meta.markdown("**Looks like:** " + ", ".join(f"{n} ({p:.0%})" for n, p in image["labels"][:5]))
        if image.get("ocr_text"):
            meta.markdown("**Text in the image:** " + image["ocr_text"][:300])
        if image.get("duplicate_of"):
            meta.info(f"Near-duplicate of image {image['duplicate_of']}")
        for warning in image.get("warnings") or []:
            meta.caption(f"⚠ {warning}")
        similar = call("POST", f"/images/{image['id']}/similar", json={"page_size": COLUMNS})
        if similar.status_code == 200 and similar.json()["hits"]:
            st.markdown("**Similar images**")
            for col, hit in zip(st.columns(COLUMNS), similar.json()["hits"], strict=False):
                data = thumbnail(hit["image"]["id"], tenant, user)
                if data:
                    col.image(data, width="stretch")
                col.caption(
                    f"{(hit['image'].get('caption') or hit['image']['filename'])[:40]} · sim {hit['similarity']:.2f}"
                )
        if meta.button("More like this", key="mms_more"):
            state["mms_similar_to"] = image["id"]
            state["mms_selected"] = None
            st.rerun()
