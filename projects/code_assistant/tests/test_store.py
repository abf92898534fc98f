"""The code index store on the real embedded PostgreSQL with the packaged embedder: counts, replacement, deletion,
no-op rewrites, failures in the middle of a batch, repository isolation and concurrent writers."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import numpy as np
import psycopg
import pytest

from projects.code_assistant.store import (
    CodeIndexStore,
    RepoConflictError,
    RunStats,
    collection_name,
)
from projects.code_assistant.tests.conftest import FileItem, build_file
from shared.serving.base import Embedder
from shared.testing.concurrency import concurrently

AUTH_V1 = '''import hashlib


def hash_password(password: str, salt: bytes) -> str:
    """Derive a salted PBKDF2 hash of a user's password for storage."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000).hex()


def verify_password(password: str, salt: bytes, expected: str) -> bool:
    return hash_password(password, salt) == expected
'''
AUTH_V2 = """import hashlib


def hash_password(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1).hex()


def rotate_salt() -> bytes:
    return secrets.token_bytes(16)
"""
REPO_PY = '''class Repository:
    """Persists items in a SQLite table."""

    def save(self, item):
        self.db.execute("INSERT INTO items VALUES (?)", (item,))

    def load(self, key):
        return self.db.execute("SELECT * FROM items WHERE id = ?", (key,)).fetchone()
'''


def auth_v1() -> FileItem:
    return build_file(
        "auth.py",
        AUTH_V1,
        [("hash_password", "function", 4, 6), ("verify_password", "function", 9, 10)],
        [("hashlib", 1, "import"), ("hash_password", 10, "call")],
    )


def auth_v2() -> FileItem:
    return build_file(
        "auth.py",
        AUTH_V2,
        [("hash_password", "function", 4, 5), ("rotate_salt", "function", 8, 9)],
        [("hashlib", 1, "import")],
        mtime_ns=2,
    )


def repo_py() -> FileItem:
    return build_file(
        "pkg/repository.py",
        REPO_PY,
        [("Repository", "class", 1, 8), ("Repository.save", "method", 4, 5), ("Repository.load", "method", 7, 8)],
    )


def readme() -> FileItem:
    return build_file("README.md", "# Demo\n\nA demo repository.\n", language="text")


class CountingEmbedder(Embedder):
    """The real embedder, counted (and optionally failing on a text): proves what a write embeds."""

    def __init__(self, inner: Embedder, fail_on: str | None = None) -> None:
        self.inner, self.fail_on = inner, fail_on
        self.backend, self.model, self.dim = inner.backend, inner.model, inner.dim
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_on is not None and any(self.fail_on in t for t in texts):
            raise RuntimeError("embedding server went away")
        self.calls.append(len(texts))
        return self.inner.embed(texts)


def rows(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def symbols_of(url: str, repo: str, path: str) -> list[str]:
    return [
        r[0] for r in rows(url, "SELECT qualname FROM ca_symbols WHERE repo_id=%s AND path=%s ORDER BY 1", repo, path)
    ]


def chunk_texts(url: str, repo: str, path: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            url,
            "SELECT text FROM chunks WHERE collection=%s AND source_uri=%s ORDER BY ordinal",
            collection_name(repo),
            path,
        )
    ]


@pytest.fixture
def repo(store: CodeIndexStore) -> str:
    return store.create_repo("Demo App", "/src/demo").id


def test_write_files_records_states_counts_and_chunks(store: CodeIndexStore, repo: str, database_url: str) -> None:
    assert repo == "demo-app"
    report = store.write_files(repo, [auth_v1(), repo_py(), readme()])
    assert sorted(report.written) == ["README.md", "auth.py", "pkg/repository.py"]
    assert (report.chunks, report.symbols, report.failed) == (6, 5, {})
    states = store.file_states(repo)
    assert states["auth.py"] == (auth_v1()[1], 1, len(AUTH_V1.encode()))
    assert store.counts(repo) == {"files": 3, "symbols": 5, "chunks": 6, "pending": 0}
    assert store.vectors.counts(collection_name(repo), None) == {"documents": 3, "chunks": 6}
    meta = rows(database_url, "SELECT metadata FROM chunks WHERE source_uri='pkg/repository.py' ORDER BY ordinal")
    assert meta[1][0] | {} == {
        "path": "pkg/repository.py", "start_line": 4, "end_line": 5, "kind": "method", "symbol": "Repository.save",
        "signature": "def save(self, item):", "language": "python",
    }  # fmt: skip
    store.set_status(repo, "ready", head_commit="abc123")
    info = store.require_repo(repo)
    assert (info.status, info.n_files, info.n_symbols, info.n_chunks, info.head_commit) == ("ready", 3, 5, 6, "abc123")
    assert info.indexed_at is not None


def test_rewriting_an_unchanged_file_is_a_no_op(store: CodeIndexStore, repo: str, database_url: str) -> None:
    counting = CountingEmbedder(store.embedder)
    store.embedder = counting
    store.write_files(repo, [auth_v1(), repo_py()])
    assert sum(counting.calls) == 5
    ids_before = rows(database_url, "SELECT id, content_hash FROM chunks ORDER BY id")
    report = store.write_files(repo, [auth_v1(), repo_py()])
    assert sorted(report.unchanged) == ["auth.py", "pkg/repository.py"] and report.written == []
    assert sum(counting.calls) == 5  # nothing re-embedded
    assert rows(database_url, "SELECT id, content_hash FROM chunks ORDER BY id") == ids_before
    # same content, new mtime (a checkout touched it): only the row's mtime moves
    src, sha, parsed = auth_v1()
    touched = (type(src)(src.path, src.abs_path, src.size, 99, src.language), sha, parsed)
    report = store.write_files(repo, [touched])
    assert report.touched == ["auth.py"] and sum(counting.calls) == 5
    assert store.file_states(repo)["auth.py"].mtime_ns == 99


def test_replacing_a_file_removes_its_stale_symbols_references_and_chunks(
    store: CodeIndexStore, repo: str, database_url: str
) -> None:
    store.write_files(repo, [auth_v1(), repo_py()])
    report = store.write_files(repo, [auth_v2()])
    assert report.written == ["auth.py"]
    assert symbols_of(database_url, repo, "auth.py") == ["hash_password", "rotate_salt"]
    assert rows(database_url, "SELECT name FROM ca_references WHERE path='auth.py'") == [("hashlib",)]
    texts = chunk_texts(database_url, repo, "auth.py")
    assert len(texts) == 2 and "scrypt" in texts[0] and not any("verify_password" in t for t in texts)
    assert store.file_states(repo)["auth.py"].sha256 == auth_v2()[1]
    assert store.counts(repo) == {"files": 2, "symbols": 5, "chunks": 5, "pending": 0}
    # a file that parses to nothing keeps its row but loses its chunks
    empty = build_file("auth.py", "")
    store.write_files(repo, [empty])
    assert chunk_texts(database_url, repo, "auth.py") == [] and symbols_of(database_url, repo, "auth.py") == []
    assert store.counts(repo)["files"] == 2


def test_delete_files_removes_everything_of_those_files(store: CodeIndexStore, repo: str, database_url: str) -> None:
    store.write_files(repo, [auth_v1(), repo_py(), readme()])
    assert store.delete_files(repo, ["auth.py", "README.md", "not/indexed.py"]) == 2
    assert set(store.file_states(repo)) == {"pkg/repository.py"}
    assert store.counts(repo) == {"files": 1, "symbols": 3, "chunks": 3, "pending": 0}
    assert rows(database_url, "SELECT count(*) FROM ca_references WHERE path='auth.py'") == [(0,)]
    assert store.vectors.counts(collection_name(repo), None) == {"documents": 1, "chunks": 3}
    assert store.delete_files(repo, []) == 0


def test_an_invalid_file_mid_batch_leaves_the_others_written_and_itself_unchanged(
    store: CodeIndexStore, repo: str, database_url: str
) -> None:
    store.write_files(repo, [auth_v1()])
    bad_update = auth_v2()
    bad_update[2].chunks[1].end_line = 0  # end before start: a constraint the tables would refuse
    bad_new = build_file("bad_new.py", "x = 1\n", [("x", "constant", 1, 1)])
    bad_new[2].symbols[0].start_line = 0
    report = store.write_files(repo, [repo_py(), bad_update, bad_new, readme()])
    assert sorted(report.written) == ["README.md", "pkg/repository.py"]
    assert set(report.failed) == {"auth.py", "bad_new.py"}
    states = store.file_states(repo)
    assert "bad_new.py" not in states  # absent
    assert states["auth.py"].sha256 == auth_v1()[1]  # unchanged: the old version is still the indexed one
    assert symbols_of(database_url, repo, "auth.py") == ["hash_password", "verify_password"]
    assert "pbkdf2_hmac" in chunk_texts(database_url, repo, "auth.py")[0]


def test_a_database_failure_mid_file_marks_it_for_rewrite_and_the_batch_goes_on(
    store: CodeIndexStore, repo: str, database_url: str
) -> None:
    store.write_files(repo, [auth_v1()])
    # an identifier too large for a btree index row: PostgreSQL itself refuses the symbol, after the file's
    # chunks were replaced (step 2), so the row stays "in progress" and the next run writes the file again
    huge = auth_v2()
    huge[2].symbols[1].name = secrets.token_hex(4000)
    report = store.write_files(repo, [huge, repo_py()])
    assert report.written == ["pkg/repository.py"] and "ProgramLimitExceeded" in report.failed["auth.py"]
    state = store.file_states(repo)["auth.py"]
    assert state.sha256 is None
    assert symbols_of(database_url, repo, "auth.py") == ["hash_password", "verify_password"]  # txn rolled back
    assert store.counts(repo) == {"files": 1, "symbols": 3, "chunks": 3, "pending": 1}
    report = store.write_files(repo, [auth_v2()])  # the next run: the hash no longer matches, so it is redone
    assert report.written == ["auth.py"] and store.counts(repo)["pending"] == 0
    assert symbols_of(database_url, repo, "auth.py") == ["hash_password", "rotate_salt"]


def test_an_embedder_failure_writes_nothing(store: CodeIndexStore, repo: str, database_url: str) -> None:
    store.write_files(repo, [auth_v1()])
    before = rows(database_url, "SELECT id, content_hash FROM chunks ORDER BY id")
    store.embedder = CountingEmbedder(store.embedder, fail_on="Repository")
    with pytest.raises(RuntimeError, match="went away"):
        store.write_files(repo, [auth_v2(), repo_py()])
    assert store.file_states(repo) == {"auth.py": (auth_v1()[1], 1, len(AUTH_V1.encode()))}
    assert rows(database_url, "SELECT id, content_hash FROM chunks ORDER BY id") == before


def test_repositories_are_isolated_and_delete_repo_cleans_up(store: CodeIndexStore, database_url: str) -> None:
    a = store.create_repo("alpha", "/src/alpha").id
    b = store.create_repo("beta", "/src/beta", "git").id
    store.write_files(a, [auth_v1(), repo_py()])
    store.write_files(b, [auth_v2()])
    assert set(store.file_states(a)) == {"auth.py", "pkg/repository.py"}
    assert store.file_states(b)["auth.py"].sha256 == auth_v2()[1]
    assert symbols_of(database_url, a, "auth.py") == ["hash_password", "verify_password"]
    run = store.start_run(a)
    assert store.delete_repo(a) is True
    assert store.get_repo(a) is None and [r.id for r in store.list_repos()] == [b]
    for table in ("ca_files", "ca_symbols", "ca_references", "ca_index_runs"):
        assert rows(database_url, f"SELECT count(*) FROM {table} WHERE repo_id=%s", a) == [(0,)], table
    assert rows(database_url, "SELECT count(*) FROM documents WHERE collection=%s", collection_name(a)) == [(0,)]
    assert collection_name(a) not in {c.name for c in store.vectors.list_collections()}
    assert store.counts(b) == {"files": 1, "symbols": 2, "chunks": 2, "pending": 0}
    assert store.delete_repo(a) is False
    with pytest.raises(ValueError, match="no index run"):
        store.finish_run(run, "succeeded", RunStats())


def test_create_repo_is_idempotent_for_the_same_root_and_refuses_another(store: CodeIndexStore) -> None:
    first = store.create_repo("My Repo!", "/src/mine", settings={"include": ["src/"]})
    assert (first.id, first.status, first.settings) == ("my-repo", "empty", {"include": ["src/"]})
    assert store.create_repo("My Repo!", "/src/mine").created_at == first.created_at
    with pytest.raises(RepoConflictError):
        store.create_repo("my repo", "/elsewhere")
    with pytest.raises(ValueError):
        store.create_repo("x", "/x", repo_id="../etc")


def test_index_runs_are_recorded(store: CodeIndexStore, repo: str) -> None:
    assert store.last_run(repo) is None
    run = store.start_run(repo)
    assert store.last_run(repo).status == "running"  # type: ignore[union-attr]
    store.write_files(repo, [auth_v1()])
    stats = RunStats(seen=3, indexed=1, unchanged=1, failed=0, chunks=2, skipped={"binary": 1})
    store.finish_run(run, "succeeded", stats)
    last = store.last_run(repo)
    assert last is not None and (last.status, last.files_seen, last.files_indexed, last.skipped) == (
        "succeeded", 3, 1, {"binary": 1},
    )  # fmt: skip
    assert last.duration_s is not None and last.duration_s >= 0 and last.finished_at is not None
    assert store.require_repo(repo).n_chunks == 2


def test_concurrent_writers_on_one_repository_end_consistent(store: CodeIndexStore, repo: str, database_url) -> None:
    """Two runs racing over overlapping files: whichever wins each file, its row, symbols and chunks agree."""
    versions = {
        "v1": [auth_v1(), repo_py(), build_file("a.py", "def a():\n    return 1\n", [("a", "function", 1, 2)])],
        "v2": [
            auth_v2(),
            build_file("pkg/repository.py", "class Repository:\n    pass\n", [("Repository", "class", 1, 2)]),
            build_file("b.py", "def b():\n    return 2\n", [("b", "function", 1, 2)]),
        ],
    }
    reports = concurrently(
        lambda: store.write_files(repo, versions["v1"]), lambda: store.write_files(repo, versions["v2"])
    )
    assert all(not r.failed for r in reports)
    by_sha = {sha: (parsed, path) for items in versions.values() for (_, sha, parsed), path in
              ((i, i[0].path) for i in items)}  # fmt: skip
    states = store.file_states(repo)
    assert set(states) == {"auth.py", "pkg/repository.py", "a.py", "b.py"}
    for path, state in states.items():
        parsed, expected_path = by_sha[state.sha256]
        assert expected_path == path
        assert symbols_of(database_url, repo, path) == sorted(s.qualname for s in parsed.symbols)
        assert chunk_texts(database_url, repo, path) == [c.text for c in parsed.chunks]
    assert store.counts(repo)["pending"] == 0
