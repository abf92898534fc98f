"""The HTTP surface on the real service (embedded PostgreSQL, real tree-sitter and embedder; a recording chat
model where only the HTTP shape is under test): happy paths and every bad input the issue lists."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import psycopg

from projects.code_assistant.tests.conftest import FIX_ANSWER, PREFIX, write_shop

H = {"X-User-Id": "dev", "X-Tenant-Id": "acme"}


def problem(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    if code:
        assert body["type"].endswith("/" + code) and body["errors"][0]["code"] == code, body
    return body


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def register(client, service, path: Path, name: str | None = None) -> dict[str, Any]:
    resp = client.post(f"{PREFIX}/repos", json={"path": str(path), "name": name}, headers=H)
    assert resp.status_code == 202, resp.text
    service.drain()
    return resp.json()


def test_register_index_and_read_back(client, service, repo_root):
    shop = write_shop(repo_root / "shop")
    created = register(client, service, shop)
    assert created["id"] == "shop" and created["job_id"] and created["kind"] == "folder"
    job = client.get(f"{PREFIX}/jobs/{created['job_id']}", headers=H).json()
    assert job["status"] == "succeeded" and job["done"] == job["total"] == 4
    repo = client.get(f"{PREFIX}/repos/shop", headers=H).json()
    assert repo["status"] == "ready" and repo["files"] == 4 and repo["last_run"]["files_indexed"] == 4
    files = client.get(f"{PREFIX}/repos/shop/files", params={"prefix": "shop"}, headers=H).json()
    assert [f["path"] for f in files] == ["shop/__init__.py", "shop/cart.py", "shop/money.py"]
    [d] = client.get(f"{PREFIX}/repos/shop/definitions", params={"name": "round_cents"}, headers=H).json()
    assert d["location"] == "shop/money.py:5-7" and d["match"] == "exact"
    refs = client.get(f"{PREFIX}/repos/shop/references", params={"name": "round_cents"}, headers=H).json()
    assert [r["path"] for r in refs] == ["shop/cart.py"]  # the definition itself is not a use
    snip = client.get(
        f"{PREFIX}/repos/shop/snippet", params={"path": "shop/money.py", "start": 5, "end": 5}, headers=H
    ).json()
    assert snip["text"] == "def round_cents(amount: Decimal) -> Decimal:"
    repo_map = client.get(f"{PREFIX}/repos/shop/map", headers=H).json()["map"]
    assert "shop/money.py" in repo_map and "round_cents" in repo_map
    assert [r["id"] for r in client.get(f"{PREFIX}/repos", headers=H).json()] == ["shop"]


def test_ask_answers_with_citations_as_json_and_as_sse(client, service, repo_root):
    register(client, service, write_shop(repo_root / "shop"))
    lookup = client.post(f"{PREFIX}/repos/shop/ask", json={"question": "Where is round_cents defined?"}, headers=H)
    assert lookup.status_code == 200 and lookup.json()["mode"] == "symbol"
    assert lookup.json()["citations"][0]["location"] == "shop/money.py:5-7"
    answer = client.post(f"{PREFIX}/repos/shop/ask", json={"question": "How is the cart total rounded?"}, headers=H)
    body = answer.json()
    assert body["mode"] == "search" and body["citations"][0]["n"] == 1 and body["sources"]
    with client.stream(
        "POST", f"{PREFIX}/repos/shop/ask", json={"question": "How is the total rounded?", "stream": True}, headers=H
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [line.split(": ", 1)[1] for line in resp.iter_lines() if line.startswith("event: ")]
    assert events[0] == "sources" and "delta" in events and events[-1] == "done"


def test_completion_endpoint_has_the_openai_shape_and_uses_the_index(client, service, repo_root):
    register(client, service, write_shop(repo_root / "shop"))
    body = {
        "prompt": "from shop.money import round_cents\n\ndef line_total(price, qty):\n    return ",
        "suffix": "\n",
        "repo_id": "shop",
        "path": "shop/lines.py",
    }
    resp = client.post(f"{PREFIX}/v1/completions", json=body, headers=H)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["object"] == "text_completion" and out["choices"][0]["text"] and out["mode"] == "line"
    assert any(c["path"] == "shop/money.py" and c["reason"] == "import" for c in out["context"])
    prompt = service.chat.calls[-1].prompt
    assert "<|file_sep|>shop/money.py" in prompt and "def round_cents(amount: Decimal) -> Decimal:" in prompt
    with client.stream("POST", f"{PREFIX}/v1/completions", json={**body, "stream": True}, headers=H) as s:
        lines = [line for line in s.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]" and len(lines) == 2


def test_bad_inputs_get_precise_problems_and_store_nothing(client, service, repo_root, tmp_path, database_url):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    problem(client.post(f"{PREFIX}/repos", json={"path": str(outside)}, headers=H), 403, "path-not-allowed")
    problem(client.post(f"{PREFIX}/repos", json={"path": str(repo_root / "../..")}, headers=H), 403)
    (repo_root / "file.txt").write_text("x")
    problem(client.post(f"{PREFIX}/repos", json={"path": str(repo_root / "file.txt")}, headers=H), 422)
    problem(client.post(f"{PREFIX}/repos", json={}, headers=H), 422, "path-or-git-url")
    both = {"path": str(repo_root), "git_url": "https://example.com/x.git"}
    problem(client.post(f"{PREFIX}/repos", json=both, headers=H), 422, "path-or-git-url")
    ext = {"git_url": "ext::sh -c touch% /tmp/pwned"}
    problem(client.post(f"{PREFIX}/repos", json=ext, headers=H), 422, "git-url-scheme")
    assert count(database_url, "ca_repos") == 0
    problem(client.get(f"{PREFIX}/repos/nope", headers=H), 404, "repo-not-found")
    problem(client.post(f"{PREFIX}/repos/nope/ask", json={"question": "hi"}, headers=H), 404, "repo-not-found")
    problem(client.get(f"{PREFIX}/jobs/999999", headers=H), 404)

    register(client, service, write_shop(repo_root / "shop"))
    for bad in ("../../etc/passwd", "/etc/passwd", "shop/../../../etc/passwd"):
        params = {"path": bad, "start": 1, "end": 5}
        problem(client.get(f"{PREFIX}/repos/shop/snippet", params=params, headers=H), 400, "path-outside-repo")
    escape = {"question": "what is this", "paths": ["../../etc"]}
    problem(client.post(f"{PREFIX}/repos/shop/ask", json=escape, headers=H), 400, "path-outside-repo")
    completion = {"prompt": "x = ", "repo_id": "shop", "path": "../../etc/passwd"}
    problem(client.post(f"{PREFIX}/v1/completions", json=completion, headers=H), 400, "path-outside-repo")
    params = {"path": "shop/money.py", "start": 9, "end": 3}
    problem(client.get(f"{PREFIX}/repos/shop/snippet", params=params, headers=H), 422, "invalid-line-range")
    problem(client.post(f"{PREFIX}/repos/shop/ask", json={"question": "  "}, headers=H), 422, "empty-question")
    long_question = {"question": "why " * 200}
    problem(client.post(f"{PREFIX}/repos/shop/ask", json=long_question, headers=H), 413, "question-too-long")
    huge = {"prompt": "x" * 200_001}
    problem(client.post(f"{PREFIX}/v1/completions", json=huge, headers=H), 413, "prompt-too-large")
    latin1 = b'{"question": "caf\xe9"}'
    raw = client.post(f"{PREFIX}/repos/shop/ask", content=latin1, headers={**H, "Content-Type": "application/json"})
    problem(raw, 400)
    other = repo_root / "other"
    other.mkdir()
    conflict = client.post(f"{PREFIX}/repos", json={"path": str(other), "name": "shop"}, headers=H)
    problem(conflict, 409, "repo-conflict")
    assert count(database_url, "ca_repos") == 1
    assert service.chat.calls == []  # nothing reached the model


def test_hostile_repository_contents_are_contained(client, service, repo_root):
    """A symlink loop, a 200 MB binary, non-UTF-8 source, a link out of the repo, an empty file and a language
    without a grammar: the run succeeds and says what it skipped."""
    root = write_shop(repo_root / "hostile")
    (root / "loop").symlink_to(root, target_is_directory=True)
    with (root / "dump.py").open("wb") as f:  # a source extension: only its size keeps it out
        f.truncate(200 << 20)  # sparse: 200 MB to stat, nothing written
    (root / "latin.py").write_bytes("# pr\xe9cis\ndef prix():\n    return 1\n".encode("latin-1"))
    (root / "passwd.py").symlink_to("/etc/passwd")
    (root / "empty.py").write_text("")
    (root / "main.zig").write_text('const std = @import("std");\npub fn main() void {}\n')
    created = register(client, service, root)
    repo = client.get(f"{PREFIX}/repos/{created['id']}", headers=H).json()
    assert repo["status"] == "ready", repo
    skipped = repo["last_run"]["skipped"]
    assert skipped.get("too_large") == 1 and skipped.get("empty") == 1 and skipped.get("symlink", 0) >= 2
    paths = {f["path"] for f in client.get(f"{PREFIX}/repos/hostile/files", headers=H).json()}
    assert "latin.py" in paths and "main.zig" in paths and "passwd.py" not in paths
    assert not any(p.startswith("loop/") for p in paths)


def test_reindex_is_incremental_and_deduplicated(client, service, repo_root):
    root = write_shop(repo_root / "shop")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    register(client, service, root)
    first = client.post(f"{PREFIX}/repos/shop/index", json={}, headers=H).json()
    second = client.post(f"{PREFIX}/repos/shop/index", json={}, headers=H).json()
    assert first["id"] == second["id"] and first["status"] in ("todo", "queued")
    money = root / "shop" / "money.py"
    money.write_text(money.read_text() + "\n\ndef zero():\n    return 0\n")
    os.utime(root / "shop" / "money.py")
    service.drain()
    repo = client.get(f"{PREFIX}/repos/shop", headers=H).json()
    assert repo["kind"] == "git" and repo["last_run"]["files_indexed"] == 1
    assert client.get(f"{PREFIX}/repos/shop/definitions", params={"name": "zero"}, headers=H).json()
    assert client.delete(f"{PREFIX}/repos/shop", headers=H).status_code == 204
    problem(client.get(f"{PREFIX}/repos/shop", headers=H), 404)


def test_git_url_is_cloned_into_the_first_root(client, service, repo_root, tmp_path):
    src = write_shop(tmp_path / "upstream")
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    resp = client.post(f"{PREFIX}/repos", json={"git_url": f"file://{src}", "name": "upstream"}, headers=H)
    assert resp.status_code == 202, resp.text
    service.drain()
    repo = client.get(f"{PREFIX}/repos/upstream", headers=H).json()
    assert repo["kind"] == "git" and repo["status"] == "ready" and repo["head_commit"]
    assert Path(repo["root_path"]).parent == repo_root.resolve()
    bad = client.post(f"{PREFIX}/repos", json={"git_url": f"file://{tmp_path}/missing", "name": "missing"}, headers=H)
    problem(bad, 422, "git-clone-failed")


def test_document_and_review_endpoints(client, service, repo_root):
    register(client, service, write_shop(repo_root / "shop"))
    service.chat.replies = ["Round an amount half-up to whole cents for invoices."]
    doc = client.post(
        f"{PREFIX}/document", json={"repo_id": "shop", "path": "shop/cart.py", "target": "Cart.__init__"}, headers=H
    )
    assert doc.status_code == 200, doc.text
    body = doc.json()
    assert body["target"] == "Cart.__init__" and body["diff"].startswith("--- a/shop/cart.py")
    assert '+        """Round an amount half-up to whole cents for invoices."""' in body["diff"]
    assert "Round an amount" not in (repo_root / "shop" / "shop" / "cart.py").read_text()  # never written
    unknown = {"repo_id": "shop", "path": "shop/cart.py", "target": "Nope"}
    problem(client.post(f"{PREFIX}/document", json=unknown, headers=H), 422, "cannot-document")
    problem(
        client.post(f"{PREFIX}/document", json={"repo_id": "shop", "path": "../x.py"}, headers=H),
        400,
        "path-outside-repo",
    )
    problem(client.post(f"{PREFIX}/document", json={"repo_id": "shop", "path": "nope.py"}, headers=H), 404)

    diff = (
        "--- a/shop/money.py\n+++ b/shop/money.py\n@@ -5,3 +5,4 @@\n"
        " def round_cents(amount: Decimal) -> Decimal:\n"
        '     """Round half-up to whole cents."""\n'
        "+    print(amount)\n"
        '     return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)\n'
    )
    service.chat.replies = ['{"comments": []}']
    review = client.post(f"{PREFIX}/review", json={"diff": diff, "repo_id": "shop"}, headers=H)
    assert review.status_code == 200, review.text
    comments = review.json()["comments"]
    assert any(c["line"] == 7 and c["source"] == "rule" for c in comments)  # the debug print
    assert any(c["category"] == "missing_test" for c in comments)
    assert review.json()["github"]["comments"]
    problem(client.post(f"{PREFIX}/review", json={"diff": "  "}, headers=H), 422, "empty-diff")
    problem(client.post(f"{PREFIX}/review", json={"diff": "not a diff at all"}, headers=H), 422, "invalid-diff")
    problem(client.post(f"{PREFIX}/review", json={"diff": "x" * 50_001}, headers=H), 413, "diff-too-large")


def test_fix_runs_as_a_job_and_returns_a_diff_without_touching_the_repo(client, service, repo_root, database_url):
    from projects.code_assistant.demo_repo import generate_demo_repo

    root = generate_demo_repo(repo_root / "invoicing", bugs=["bulk-threshold"]).root
    register(client, service, root)
    before = (root / "invoicing" / "discounts.py").read_text()
    service.settings.debug_strategies = ["chat"]  # the scripted answer below is a chat answer
    service.chat.replies = [FIX_ANSWER]
    started = client.post(f"{PREFIX}/repos/invoicing/fix", json={"description": "bulk discount starts late"}, headers=H)
    assert started.status_code == 202, started.text
    fix = started.json()
    assert fix["status"] == "queued" and fix["job_id"]
    service.drain()
    done = client.get(f"{PREFIX}/fixes/{fix['id']}", headers=H).json()
    assert done["status"] == "fixed", done["message"]
    assert "+        if quantity >= threshold:" in done["diff"]
    assert done["tests_before"]["failed"] >= 1 and done["tests_after"]["failed"] == 0
    assert any(e["kind"] == "done" for e in done["events"])
    assert (root / "invoicing" / "discounts.py").read_text() == before  # a diff, never an edit
    assert [f["id"] for f in client.get(f"{PREFIX}/repos/invoicing/fixes", headers=H).json()] == [fix["id"]]
    problem(client.post(f"{PREFIX}/fixes/{fix['id']}/retry", headers=H), 409, "fix-not-retriable")
    problem(client.get(f"{PREFIX}/fixes/nope", headers=H), 404, "fix-not-found")
    too_long = {"failure_output": "x" * 100_001}
    problem(client.post(f"{PREFIX}/repos/invoicing/fix", json=too_long, headers=H), 413, "failure-output-too-long")
    unquoted = {"test_command": "pytest 'unterminated"}
    problem(client.post(f"{PREFIX}/repos/invoicing/fix", json=unquoted, headers=H), 422, "invalid-test-command")
    assert count(database_url, "ca_fixes") == 1
