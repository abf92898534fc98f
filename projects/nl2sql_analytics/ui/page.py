"""NL-to-SQL analytics page of the portal: ask in plain language, check and edit the SQL, chart, dashboard.

Talks to the API over HTTP only (``PORTAL__API_URL`` + ``/analytics``) as the user named in the sidebar (in
production the identity gateway sets ``X-User-Id``, not a form). Questions stream stage by stage
(``/ask/stream``), because a local model takes several seconds and a silent page looks broken.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import streamlit as st

from projects.platform.portal.client import Api
from projects.platform.portal.client import problem_text as problem

api = Api.from_settings()
BASE = api.base_url + "/analytics"
STAGE_LABELS = {
    "linking": "Finding the relevant tables and columns",
    "linked": "Relevant schema found",
    "generation": "Writing SQL",
    "validation": "Checking the SQL (read-only, known columns, your row permissions)",
    "retry": "Fixing the SQL after an error",
    "execution": "Running the query",
    "insight": "Summarising the result",
}

st.title("NL-to-SQL analytics")
with st.sidebar:
    user = st.text_input("User", value="analyst", key="nl_user", help="try 'dana': North America manager")


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, BASE + path, headers={**api.headers, "X-User-Id": user}, timeout=300, **kwargs)


def sse(resp: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event, data = "message", ""
    for line in resp.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif not line and data:
            yield event, json.loads(data)
            event, data = "message", ""


try:
    listing = call("GET", "/connections")
except httpx.HTTPError as exc:
    st.error(f"API unreachable at {api.base_url}: {exc}")
    st.stop()
if listing.status_code != 200:
    st.error(problem(listing))
    st.stop()
names = [c["name"] for c in listing.json()]
with st.sidebar:
    connection = st.selectbox("Database", names, key="nl_connection") if names else None
    view = st.radio("View", ["Ask", "Dashboard", "Semantic layer", "Connections"], key="nl_view")


def show_result(answer: dict[str, Any], key: str, *, height: int | None = None) -> None:
    """Table and chart of an Answer (the chart is the Vega-Lite spec the API chose and rendered)."""
    chart = answer.get("chart") or {}
    if chart.get("vega_lite"):
        st.vega_lite_chart(chart["vega_lite"], width="stretch")
    if answer.get("columns"):
        frame = pd.DataFrame(answer["rows"], columns=answer["columns"])
        st.dataframe(frame, hide_index=True, key=f"{key}_table", **({"height": height} if height else {}))
        if answer.get("truncated"):
            st.caption(f"Showing the first {len(answer['rows'])} rows (row limit); export CSV for more.")


def ask_streaming(question: str) -> dict[str, Any] | None:
    """POST /ask/stream, showing each stage as it starts; returns the final Answer (or None on error)."""
    answer = None
    with st.status("Working on your question...", expanded=True) as progress:
        with httpx.stream(
            "POST", BASE + "/ask/stream", json={"connection": connection, "question": question},
            headers={**api.headers, "X-User-Id": user}, timeout=300,
        ) as resp:  # fmt: skip
            if resp.status_code != 200:
                resp.read()
                progress.update(label="Refused", state="error")
                st.error(problem(resp))
                return None
            for event, data in sse(resp):
                if event == "stage":
                    st.write(STAGE_LABELS.get(data["stage"], data["stage"].capitalize()) + "...")
                elif event == "answer":
                    answer = data
                elif event == "error":
                    st.error(data.get("detail", "the question failed"))
        done = answer is not None and answer["status"] == "ok"
        progress.update(label="Done" if done else "Finished without a result", state="complete" if done else "error")
    return answer


def ask_view() -> None:
    question = st.text_area("Ask a question about the data", key="nl_question", placeholder="Revenue per region?")
    if st.button("Ask", type="primary", key="nl_ask") and connection:
        st.session_state["nl_answer"] = ask_streaming(question)
        st.session_state["nl_sql"] = (st.session_state["nl_answer"] or {}).get("sql") or ""
        st.session_state.pop("nl_csv", None)
    answer = st.session_state.get("nl_answer")
    if not answer:
        return
    if answer.get("clarification"):
        st.info(answer["clarification"])
    if answer.get("error"):
        err = answer["error"]
        st.error(f"{err['code']}: {err['message']}" + (f" — {err['suggestion']}" if err.get("suggestion") else ""))
    for assumption in answer.get("assumptions", []):
        st.caption(f"Assumption: {assumption}")
    if answer.get("insight"):
        st.markdown(answer["insight"]["text"])
    show_result(answer, "nl_answer")

    sql = st.text_area("SQL (edit and re-run)", key="nl_sql")
    run, tile, example = st.columns(3)
    if run.button("Run edited SQL", key="nl_run"):
        resp = call("POST", "/sql", json={"connection": connection, "sql": sql, "question": answer["question"]})
        if resp.status_code == 200:
            st.session_state["nl_answer"] = resp.json()
            st.session_state.pop("nl_csv", None)
            st.rerun()
        st.error(problem(resp))
    title = tile.text_input("Tile title", value=answer.get("question", "")[:80], key="nl_tile_title")
    if tile.button("Save as tile", key="nl_save_tile"):
        body = {"connection": connection, "title": title, "sql": sql, "question": answer.get("question", "")}
        resp = call("POST", "/tiles", json=body)
        st.success(f"Saved tile '{title}'") if resp.status_code == 201 else st.error(problem(resp))
    if example.button("This SQL is correct: save as example", key="nl_save_example"):
        resp = call("POST", "/examples", json={"connection": connection, "question": answer["question"], "sql": sql})
        st.success("Saved: similar questions will use it") if resp.status_code == 201 else st.error(problem(resp))

    if st.button("Prepare CSV export", key="nl_prepare_csv"):
        resp = call("POST", "/export.csv", json={"connection": connection, "sql": sql})
        if resp.status_code == 200:
            st.session_state["nl_csv"] = resp.content
        else:
            st.error(problem(resp))
    if st.session_state.get("nl_csv"):
        st.download_button("Download CSV", st.session_state["nl_csv"], "export.csv", "text/csv", key="nl_download")

    with st.expander(f"How this answer was made ({len(answer.get('attempts', []))} attempt(s))"):
        for i, attempt in enumerate(answer.get("attempts", []), 1):
            st.code(attempt["sql"], language="sql")
            if attempt.get("error"):
                st.caption(f"Attempt {i}: {attempt['error']['code']}: {attempt['error']['message']}")
        if answer.get("executed_sql"):
            st.caption("What ran (your row permissions and the row limit applied):")
            st.code(answer["executed_sql"], language="sql")
        if answer.get("linked"):
            st.caption("Tables used: " + ", ".join(answer["linked"].get("tables", [])))
        if answer.get("timings_ms"):
            st.caption(" · ".join(f"{k} {v:.0f} ms" for k, v in answer["timings_ms"].items()))


def dashboard_view() -> None:
    resp = call("GET", "/tiles")
    if resp.status_code != 200:
        st.error(problem(resp))
        return
    tiles = resp.json()
    if not tiles:
        st.info("No tiles yet: ask a question and press 'Save as tile'.")
        return
    results: dict[int, Any] = st.session_state.setdefault("nl_tiles", {})
    if st.button("Refresh all", key="nl_refresh_all"):
        results.clear()
    columns = st.columns(2)
    for i, tile in enumerate(tiles):
        with columns[i % 2].container(border=True):
            st.subheader(tile["title"])
            if tile["id"] not in results:
                refreshed = call("POST", f"/tiles/{tile['id']}/refresh")
                results[tile["id"]] = refreshed.json() if refreshed.status_code == 200 else problem(refreshed)
            result = results[tile["id"]]
            if isinstance(result, str):
                st.error(result)
            else:
                show_result(result["answer"], f"nl_tile_{tile['id']}", height=200)
                st.caption(f"{tile['connection']} · refreshed {result['tile']['refreshed_at'][:19]}")
            if st.button("Delete", key=f"nl_delete_{tile['id']}"):
                call("DELETE", f"/tiles/{tile['id']}")
                results.pop(tile["id"], None)
                st.rerun()


def semantic_view() -> None:
    if not connection:
        st.info("Register a database first.")
        return
    resp = call("GET", f"/connections/{connection}/semantic")
    if resp.status_code != 200:
        st.error(problem(resp))
        return
    layer = resp.json()
    st.caption(
        {"edited": "Saved from this editor.", "shipped": "The layer shipped with the project.",
         "draft": "A draft generated from the schema: describe tables, add synonyms and metrics, then save."}[
            layer["source"]]
    )  # fmt: skip
    text = st.text_area("Semantic layer (YAML)", value=layer["yaml"], height=500, key=f"nl_yaml_{connection}")
    if st.button("Validate and save", key="nl_save_yaml"):
        saved = call("PUT", f"/connections/{connection}/semantic", json={"yaml": text})
        if saved.status_code == 200:
            st.success("Saved: the next questions use it.")
        else:
            st.error(problem(saved))
            for p in saved.json().get("errors") or []:
                st.write(f"- `{p.get('where', '')}`: {p.get('message', p.get('msg', ''))}")


def connections_view() -> None:
    st.dataframe(
        [{k: c[k] for k in ("name", "dialect", "target", "description", "created_by")} for c in listing.json()],
        hide_index=True,
    )
    with st.form("nl_register"):
        name = st.text_input("Name (lowercase, digits, - and _)")
        target = st.text_input("SQLite file path or postgresql:// URL")
        description = st.text_input("Description")
        if st.form_submit_button("Register"):
            resp = call("POST", "/connections", json={"name": name, "target": target, "description": description})
            st.success(f"Registered {name}") if resp.status_code == 201 else st.error(problem(resp))
    if connection:
        schema = call("GET", f"/connections/{connection}/schema")
        if schema.status_code != 200:
            st.error(problem(schema))
            return
        tables = schema.json()["tables"]
        st.subheader(f"Schema of {connection}")
        for table in tables:
            with st.expander(f"{table['name']} ({len(table['columns'])} columns)"):
                st.dataframe(
                    [{"column": c["name"], "type": c["type"], "key": "PK" if c["primary_key"] else "",
                      "samples": ", ".join(c["samples"])} for c in table["columns"]],
                    hide_index=True,
                )  # fmt: skip
                for fk in table["foreign_keys"]:
                    st.caption(f"{fk['column']} → {fk['ref_table']}.{fk['ref_column']}")


if view == "Ask":
    if not connection:
        st.info("Register a database in 'Connections' (or run `make demo`).")
    else:
        ask_view()
elif view == "Dashboard":
    dashboard_view()
elif view == "Semantic layer":
    semantic_view()
else:
    connections_view()
