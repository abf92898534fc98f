"""Code-assistant page of the portal: pick (or register) a repository and watch it index, then **Ask** about it
with clickable ``path:line`` citations, **Browse** its symbols, map and files, **Complete** code at a cursor,
**Fix** a failing test (the proposed patch in a diff viewer, tested on a sandboxed copy), **Document** a symbol
and **Review** a diff.

Talks to the API over HTTP only (``PORTAL__API_URL`` + ``/code``). Long work (indexing, the debug loop) is a job:
the page polls it with a progress bar, bounded, and keeps the job id in the session so a rerun picks it up again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import streamlit as st

from projects.platform.portal.client import Api
from projects.platform.portal.client import problem_text as problem

api = Api.from_settings()
BASE = api.base_url + "/code"
POLL_S = 0.5
POLL_LIMIT_S = 300.0  # one page run waits this long for a job, then says it is still running
MAX_CITED_LINES = 80
STATUS_COLOR = {"ready": "green", "indexing": "blue", "empty": "gray", "failed": "red"}
FIX_COLOR = {"fixed": "green", "no_failure": "blue", "not_fixed": "orange", "error": "red", "failed": "red"}
LANGUAGE = {"py": "python", "js": "javascript", "jsx": "javascript", "ts": "typescript", "tsx": "tsx", "go": "go",
            "java": "java", "md": "markdown", "json": "json", "yaml": "yaml", "yml": "yaml"}  # fmt: skip


def call(method: str, path: str, timeout: float = 300, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, BASE + path, headers=api.headers, timeout=timeout, **kwargs)


def ok(resp: httpx.Response, expected: tuple[int, ...] = (200, 202)) -> bool:
    if resp.status_code not in expected:
        st.error(problem(resp), icon=":material/error:")
        return False
    return True


def language_of(path: str) -> str | None:
    return LANGUAGE.get(path.rsplit(".", 1)[-1].lower()) if "." in path else None


def numbered(text: str, start: int) -> str:
    """Lines prefixed with their real line numbers (``st.code(line_numbers=True)`` always counts from 1)."""
    lines = text.split("\n")
    width = len(str(start + len(lines) - 1))
    return "\n".join(f"{n:>{width}}  {line}" for n, line in enumerate(lines, start))


def table(rows: list[dict[str, Any]], empty: str = "Nothing found.") -> None:
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.info(empty)


def remembered(key: str, clicked: bool, request: Callable[[], httpx.Response]) -> dict[str, Any] | None:
    """The last good answer to a button's request, kept in the session: any other widget reruns the page."""
    if clicked:
        with st.spinner("Working on it (the local model takes a few seconds)…"):
            resp = request()
        st.session_state[key] = resp.json() if ok(resp, (200,)) else None
    return st.session_state.get(key)


# -- long work: poll with a progress bar ------------------------------------------------------------------------
def poll(slot: Any, fetch: Callable[[], tuple[float, str, dict[str, Any]] | None], finished: Callable) -> bool | None:
    """Redraw a progress bar in ``slot`` from ``fetch`` every POLL_S: True once ``finished``, False when out of
    time (the work goes on; a later run polls again), None when it cannot be read (the error is shown)."""
    deadline = time.monotonic() + POLL_LIMIT_S
    with slot:
        bar = st.progress(0.0, text="queued")
        while (state := fetch()) is not None:
            fraction, text, body = state
            bar.progress(min(max(fraction, 0.0), 1.0), text=text)
            if finished(body):
                return True
            if time.monotonic() > deadline:
                st.info("Still running: come back to this page to see it finish.", icon=":material/schedule:")
                return False
            time.sleep(POLL_S)
    return None


def job_state(job_id: int) -> tuple[float, str, dict[str, Any]] | None:
    resp = call("GET", f"/jobs/{job_id}", timeout=30)
    if not ok(resp, (200,)):
        return None
    job = resp.json()
    counts = f" · {job['done']}/{job['total']}" if job["total"] else ""
    fraction = job["done"] / job["total"] if job["total"] else 0.0
    return fraction, f"{job['status']}{counts} · {job['message'] or ''}".rstrip(" ·"), job


def follow_index_job(slot: Any) -> None:
    job_id = st.session_state["ca_job"]
    outcome = poll(slot, lambda: job_state(job_id), lambda job: job["status"] in ("succeeded", "failed", "cancelled"))
    if outcome is not False:
        st.session_state.pop("ca_job")
    if outcome:
        st.rerun()  # the repository's counts and status changed


# -- sidebar: repositories --------------------------------------------------------------------------------------
def show_repo(repo: dict[str, Any]) -> None:
    st.badge(repo["status"], color=STATUS_COLOR.get(repo["status"], "gray"), icon=":material/folder_data:")
    st.markdown(f"**{repo['files']}** files · **{repo['symbols']}** symbols · **{repo['chunks']}** chunks")
    commit = f" · {repo['head_commit'][:10]}" if repo["head_commit"] else ""
    st.caption(f"{repo['kind']} · `{repo['root_path']}`{commit}")
    run = repo.get("last_run")
    if run:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(run["skipped"].items())) or "none"
        took = f" in {run['duration_s']:.1f} s" if run["duration_s"] is not None else ""
        st.caption(
            f"Last run {run['status']}{took}: {run['files_indexed']} indexed, {run['files_unchanged']} unchanged, "
            f"{run['files_deleted']} deleted, {run['files_failed']} failed · skipped: {skipped}"
        )
    if repo["error"]:
        st.error(repo["error"])


def add_repo_form() -> None:
    with st.form("ca_add", clear_on_submit=False, border=False):
        source = st.radio("Source", ["Server path", "Git URL"], horizontal=True, key="ca_add_source")
        where = st.text_input("Path or URL", key="ca_add_where", placeholder="/srv/repos/my-service")
        name = st.text_input("Name (optional)", key="ca_add_name")
        if not st.form_submit_button("Add and index", icon=":material/add:", key="ca_add_go") or not where.strip():
            return
    body = {"name": name.strip() or None, "path" if source == "Server path" else "git_url": where.strip()}
    resp = call("POST", "/repos", json=body, timeout=600)
    if ok(resp, (202,)):
        repo = resp.json()
        st.session_state["ca_select"] = repo["id"]
        st.session_state["ca_job"] = repo["job_id"]
        st.rerun()


def sidebar(repos: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, Any]:
    """The repository picker and card, the add form; returns the picked repo and the slot for job progress."""
    with st.sidebar:
        st.header("Repository")
        picked = None
        if repos:
            if "ca_select" in st.session_state:  # a repository just added: select it (before the widget exists)
                st.session_state["ca_repo"] = st.session_state.pop("ca_select")
            by_id = {r["id"]: r for r in repos}
            repo_id = st.selectbox("Repository", list(by_id), key="ca_repo", format_func=lambda i: by_id[i]["name"])
            picked = by_id[repo_id]
            show_repo(picked)
            if st.button(
                "Re-index", key="ca_reindex", icon=":material/refresh:", disabled="ca_job" in st.session_state
            ):
                resp = call("POST", f"/repos/{repo_id}/index", json={}, timeout=30)
                if ok(resp, (202,)):
                    st.session_state["ca_job"] = resp.json()["id"]
        slot = st.container()
        with st.expander("Add repository", expanded=not repos, icon=":material/add_box:"):
            add_repo_form()
    return picked, slot


# -- Ask --------------------------------------------------------------------------------------------------------
def ask_events(repo_id: str, question: str) -> Iterator[tuple[str, Any]]:
    """The SSE answer as (event, data): sources, delta…, done; a refused question as ("problem", text)."""
    with httpx.stream(
        "POST", f"{BASE}/repos/{repo_id}/ask", json={"question": question, "stream": True}, headers=api.headers,
        timeout=300,
    ) as resp:  # fmt: skip
        if resp.status_code != 200:
            resp.read()
            yield "problem", problem(resp)
            return
        event = "message"
        for line in resp.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                yield event, json.loads(line[6:])


def cited_code(repo_id: str, c: dict[str, Any]) -> str:
    end = min(c["end_line"], c["start_line"] + MAX_CITED_LINES - 1)
    params = {"path": c["path"], "start": c["start_line"], "end": end}
    resp = call("GET", f"/repos/{repo_id}/snippet", params=params, timeout=30)
    return numbered(resp.json()["text"], c["start_line"]) if resp.status_code == 200 else problem(resp)


def show_answer(turn: dict[str, Any]) -> None:
    if turn.get("error"):
        st.error(turn["error"], icon=":material/error:")
        return
    if turn["mode"] == "symbol":
        st.badge("answered from the symbol index", icon=":material/account_tree:", color="green")
    st.markdown(turn["answer"])
    for c in turn["citations"]:
        label = f"[{c['n']}] {c['location']}" + (f" · {c['symbol']}" if c["symbol"] else "")
        with st.expander(label, icon=":material/code:"):
            if c["inferred"]:
                st.caption("Inferred citation: the answer names this code without citing it as [n].")
            st.code(c["code"], language=language_of(c["path"]))
    st.caption(f"{turn['latency_s']:.1f} s")


def ask_tab(repo: dict[str, Any]) -> None:
    history = st.session_state.setdefault("ca_chat", {}).setdefault(repo["id"], [])
    for turn in history:
        with st.chat_message("user", avatar=":material/person:"):
            st.markdown(turn["question"])
        with st.chat_message("assistant", avatar=":material/smart_toy:"):
            show_answer(turn)
    question = st.chat_input("Ask about the code: where is X defined? how does Y work?", key="ca_question")
    if not question:
        return
    with st.chat_message("user", avatar=":material/person:"):
        st.markdown(question)
    with st.chat_message("assistant", avatar=":material/smart_toy:"):
        turn: dict[str, Any] = {"question": question}
        slot = st.empty()

        def deltas() -> Iterator[str]:
            for kind, data in ask_events(repo["id"], question):
                if kind == "delta":
                    yield data["text"]
                elif kind == "done":
                    turn.update(data)
                elif kind in ("problem", "error"):
                    turn["error"] = data if isinstance(data, str) else data.get("detail", str(data))

        with st.spinner("Searching the index…"):
            slot.write_stream(deltas())
        slot.empty()
        turn.setdefault("error", None if "answer" in turn else "The answer stream ended without an answer.")
        for c in turn.get("citations", []):
            c["code"] = cited_code(repo["id"], c)
        show_answer(turn)
    history.append(turn)


# -- Browse -----------------------------------------------------------------------------------------------------
def browse_tab(repo: dict[str, Any]) -> None:
    rid = repo["id"]
    what = st.radio("Show", ["Symbols", "Repo map", "Files"], horizontal=True, key="ca_browse")
    if what == "Symbols":
        name = st.text_input("Symbol name", key="ca_symbol", placeholder="round_cents, Cart.total, …")
        if not name.strip():
            return
        defs = call("GET", f"/repos/{rid}/definitions", params={"name": name.strip()})
        if ok(defs, (200,)):
            st.markdown("**Defined at**")
            rows = [{k: d[k] for k in ("location", "kind", "qualname", "signature", "match")} for d in defs.json()]
            table(rows, "No definition found.")
        refs = call("GET", f"/repos/{rid}/references", params={"name": name.strip()})
        if ok(refs, (200,)):
            st.markdown("**Used in**")
            rows = [{"path": g["path"], "lines": ", ".join(map(str, g["lines"])), "kinds": ", ".join(g["kinds"])}
                    for g in refs.json()]  # fmt: skip
            table(rows, "No use found.")
    elif what == "Repo map":
        resp = call("GET", f"/repos/{rid}/map", params={"max_tokens": 2048})
        if ok(resp, (200,)):
            st.code(resp.json()["map"] or "(empty)", language=None)
    else:
        prefix = st.text_input("Folder or file prefix", key="ca_prefix")
        resp = call("GET", f"/repos/{rid}/files", params={"prefix": prefix.strip(), "limit": 2000})
        if ok(resp, (200,)):
            table(resp.json())


# -- Complete ---------------------------------------------------------------------------------------------------
def complete_tab(repo: dict[str, Any]) -> None:
    path = st.text_input("File being edited (for cross-file context)", key="ca_cpath", placeholder="pkg/module.py")
    before = st.text_area("Code before the cursor", key="ca_before", height=180)
    after = st.text_area("Code after the cursor", key="ca_after", height=100)
    clicked = st.button("Complete", key="ca_complete", icon=":material/auto_fix_high:", type="primary") and before
    body = {"prompt": before, "suffix": after, "repo_id": repo["id"], "path": path.strip() or None}
    out = remembered(f"ca_completion_{repo['id']}", clicked, lambda: call("POST", "/v1/completions", json=body))
    if not out:
        return
    text = out["choices"][0]["text"]
    st.markdown(f"**Completion** ({out['mode']}, {out['usage'].get('completion_tokens', '?')} tokens)")
    st.code(text or "(nothing)", language=language_of(path) or "python")
    with st.expander("In place", icon=":material/text_select_end:"):
        st.code(before + text + after, language=language_of(path) or "python")
    st.markdown("**Context from the index shown to the model**")
    rows = [{"path": c["path"], "reason": c["reason"], "lines": f"{c['start_line']}-{c['end_line']}"}
            for c in out["context"]]  # fmt: skip
    table(rows, "No cross-file context: give the file's path, or the index has nothing related.")


# -- Fix --------------------------------------------------------------------------------------------------------
def fix_state(fix_id: str) -> tuple[float, str, dict[str, Any]] | None:
    resp = call("GET", f"/fixes/{fix_id}", timeout=30)
    if not ok(resp, (200,)):
        return None
    fix = resp.json()
    last = fix["events"][-1] if fix["events"] else {"kind": fix["status"], "data": fix["message"] or ""}
    done = fix["status"] not in ("queued", "running")
    return 1.0 if done else len(fix["attempts"]) / (len(fix["attempts"]) + 1), event_line(last), fix


def event_line(event: dict[str, Any]) -> str:
    data = event["data"] if isinstance(event["data"], str) else json.dumps(event["data"], default=str)
    return f"{event['kind']}: {data[:200]}"


def tests_state(tests: dict[str, Any] | None) -> str:
    """'failing' for a run that ended with failed tests; the sandbox's word (timeout, memory, …) for one it cut."""
    if not tests:
        return "not run"
    return {"ok": "passing", "error": "failing"}.get(tests["status"], tests["status"].replace("_", " "))


def tests_line(label: str, tests: dict[str, Any] | None) -> str:
    if not tests:
        return f"{label}: —"
    return f"{label}: {tests_state(tests)} ({tests['passed']} passed, {tests['failed']} failed)"


def show_fix(fix: dict[str, Any], repo_id: str) -> None:
    st.badge(fix["status"].replace("_", " "), color=FIX_COLOR.get(fix["status"], "gray"), icon=":material/bug_report:")
    if fix["message"]:
        st.markdown(fix["message"])
    st.caption(tests_line("Tests before", fix["tests_before"]) + " · " + tests_line("after", fix["tests_after"]))
    if fix["diff"]:
        st.info("Your repository was not modified: the patch was applied and tested on a sandboxed copy. "
                "Review it, then apply it with `git apply fix.patch`.", icon=":material/shield:")  # fmt: skip
        st.code(fix["diff"], language="diff")
        st.download_button("Download .patch", fix["diff"], file_name=f"{repo_id}-fix.patch", mime="text/x-diff",
                           icon=":material/download:", key="ca_fix_patch")  # fmt: skip
    with st.expander(f"Progress log ({len(fix['events'])} events)", icon=":material/list:"):
        st.code("\n".join(event_line(e) for e in fix["events"]) or "(none)", language=None)
    for a in fix["attempts"]:
        label = f"Attempt {a['number']} · tests {tests_state(a['tests'])} · {a['duration_s']:.1f} s"
        with st.expander(label, icon=":material/history:"):
            st.markdown(a["answer"])
            for err in a["apply_errors"]:
                st.warning(err)
            if a["diff"]:
                st.code(a["diff"], language="diff")
            if a["tests"]:
                st.code(a["tests"]["summary"], language=None)


def fix_tab(repo: dict[str, Any]) -> Callable[[], None] | None:
    """The fix form and result; returns the poller to run last (polling blocks the rest of the page)."""
    with st.form("ca_fix_form", border=False):
        command = st.text_input("Test command (optional)", key="ca_fix_cmd", placeholder="python -m pytest -x -q")
        failure = st.text_area("Failing test output or traceback (optional)", key="ca_fix_out", height=140)
        description = st.text_input("What is wrong (optional)", key="ca_fix_desc")
        go = st.form_submit_button("Find and fix", icon=":material/build:", type="primary", key="ca_fix_go")
    fixes = st.session_state.setdefault("ca_fixes", {})
    if go:
        body = {"test_command": command.strip() or None, "failure_output": failure.strip() or None,
                "description": description.strip() or None}  # fmt: skip
        resp = call("POST", f"/repos/{repo['id']}/fix", json=body, timeout=30)
        if ok(resp, (202,)):
            fixes[repo["id"]] = resp.json()["id"]
    fix_id = fixes.get(repo["id"])
    state = fix_state(fix_id) if fix_id else None
    if state is None:
        return None
    if state[2]["status"] not in ("queued", "running"):
        show_fix(state[2], repo["id"])
        return None
    slot = st.container()

    def follow() -> None:
        if poll(slot, lambda: fix_state(fix_id), lambda f: f["status"] not in ("queued", "running")):
            st.rerun()  # show the result

    return follow


# -- Document & Review ------------------------------------------------------------------------------------------
def document_and_review_tab(repo: dict[str, Any]) -> None:
    st.subheader("Docstring")
    c1, c2 = st.columns(2)
    path = c1.text_input("File", key="ca_doc_path", placeholder="pkg/module.py")
    target = c2.text_input("Function or class (empty: the module)", key="ca_doc_target")
    clicked = st.button("Write docstring", key="ca_doc_go", icon=":material/description:") and path.strip()
    body = {"repo_id": repo["id"], "path": path.strip(), "target": target.strip() or None}
    doc = remembered(f"ca_doc_{repo['id']}", clicked, lambda: call("POST", "/document", json=body))
    if doc:
        replaced = " · replaces the existing docstring" if doc["replaced"] else ""
        st.caption(f"`{doc['path']}` {doc['target'] or '(module)'} · {doc['style']} style{replaced}")
        st.code(doc["diff"], language="diff")
    st.subheader("README section for a package")
    package = st.text_input("Package folder", key="ca_readme_path", placeholder="pkg/subpackage")
    clicked = st.button("Write README section", key="ca_readme_go", icon=":material/article:") and package.strip()
    body = {"repo_id": repo["id"], "path": package.strip()}
    readme = remembered(f"ca_readme_{repo['id']}", clicked, lambda: call("POST", "/readme", json=body))
    if readme:
        st.code(readme["markdown"], language="markdown")
    st.subheader("Review a diff")
    diff = st.text_area("Unified diff (`git diff`)", key="ca_review_diff", height=200)
    clicked = st.button("Review", key="ca_review_go", icon=":material/rate_review:") and diff.strip()
    body = {"diff": diff, "repo_id": repo["id"]}
    review = remembered(f"ca_review_{repo['id']}", clicked, lambda: call("POST", "/review", json=body))
    if review:
        st.markdown(review["summary"])
        if review.get("skipped"):
            st.caption("Not sent to the model: " + "; ".join(review["skipped"]))
        cols = ("path", "line", "severity", "category", "message", "source")
        table([{k: c[k] for k in cols} for c in review["comments"]], "No comments.")
        with st.expander("As Markdown (for the pull request)", icon=":material/markdown:"):
            st.code(review["markdown"], language="markdown")


# -- the page ---------------------------------------------------------------------------------------------------
st.title("Code assistant")
try:
    repos_resp = call("GET", "/repos", timeout=30)
except httpx.HTTPError as exc:
    st.error(f"API unreachable at {api.base_url}: {exc}")
    st.stop()
if not ok(repos_resp, (200,)):
    st.stop()
repo, job_slot = sidebar(repos_resp.json())
fix_poller = None
if repo is None:
    st.info("Register a repository (a folder on the server or a git URL) in the sidebar to start.")
else:
    ask, browse, complete, fix, doc = st.tabs(["Ask", "Browse", "Complete", "Fix", "Document & Review"])
    with ask:
        ask_tab(repo)
    with browse:
        browse_tab(repo)
    with complete:
        complete_tab(repo)
    with fix:
        fix_poller = fix_tab(repo)
    with doc:
        document_and_review_tab(repo)
if "ca_job" in st.session_state:
    follow_index_job(job_slot)
if fix_poller is not None:
    fix_poller()
