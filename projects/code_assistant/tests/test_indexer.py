"""Index runs on real repositories in tmp_path: the real walker, tree-sitter, embedder and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from projects.code_assistant.indexer import RepoIndexer, RepoRootMissing, git_changed_paths
from projects.code_assistant.search import CodeSearch

AUTH = '''"""Accounts."""
import hashlib


def hash_password(password: str, salt: bytes) -> str:
    """Derive a storable hash of a password with PBKDF2."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000).hex()


class UserStore:
    def register(self, name: str, password: str) -> None:
        self.users[name] = hash_password(password, b"salt")
'''
CART = """from shop.auth import hash_password


def total(items):
    return sum(i.price * i.qty for i in items)
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "shop-repo"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "auth.py").write_text(AUTH)
    (root / "shop" / "cart.py").write_text(CART)
    (root / "shop" / "legacy.py").write_bytes("# caf\xe9 prices\ndef price():\n    return 1\n".encode("cp1252"))
    (root / "notes.txt").write_text("Release notes\n" * 5)
    (root / "Cargo.rs").write_text('fn main() { println!("hi"); }\n')  # no grammar: line chunks
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0binary")
    (root / "empty.py").write_text("")
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("secret.py\n")
    (root / "secret.py").write_text("TOKEN = 'x'\n")
    (root / "loop").symlink_to(root, target_is_directory=True)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


@pytest.fixture
def indexer(store) -> RepoIndexer:
    return RepoIndexer(store)


def test_first_run_indexes_code_and_skips_the_rest(store, indexer, repo):
    store.create_repo("shop", str(repo), kind="git")
    events = []
    stats = indexer.index("shop", progress=lambda done, total, msg: events.append((done, total, msg)))
    info = store.require_repo("shop")
    assert info.status == "ready" and info.head_commit and len(info.head_commit) == 40
    states = store.file_states("shop")
    assert set(states) == {"shop/auth.py", "shop/cart.py", "shop/legacy.py", "notes.txt", "Cargo.rs", ".gitignore"}
    assert stats.indexed == len(states) and stats.failed == 0
    assert stats.skipped.get("binary") == 1 and stats.skipped.get("empty") == 1
    assert stats.skipped.get("ignored", 0) + stats.skipped.get("vendored", 0) >= 2  # secret.py, build/
    assert events and events[-1][0] == stats.seen
    search = CodeSearch(store)
    [definition] = search.find_definitions("shop", "hash_password")
    assert definition.path == "shop/auth.py" and definition.start_line == 5
    users = search.find_references("shop", "hash_password")
    assert {g.path for g in users} == {"shop/auth.py", "shop/cart.py"}
    assert search.find_definitions("shop", "price")[0].path == "shop/legacy.py"  # cp1252 source indexed
    hits = search.search("shop", "how are passwords hashed before they are stored", k=3)
    assert hits[0].path == "shop/auth.py"


def test_second_run_touches_only_what_changed(store, indexer, repo, embedder, monkeypatch):
    store.create_repo("shop", str(repo), kind="git")
    indexer.index("shop")
    (repo / "shop" / "cart.py").write_text(CART + "\n\ndef count(items):\n    return len(items)\n")
    (repo / "notes.txt").unlink()
    os.utime(repo / "shop" / "auth.py")  # new mtime, same bytes: re-hashed, not re-embedded
    embedded: list[int] = []
    real_embed = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda texts: embedded.append(len(texts)) or real_embed(texts))
    stats = indexer.index("shop")
    assert stats.indexed == 1 and stats.deleted == 1
    assert "notes.txt" not in store.file_states("shop")
    assert 1 <= sum(embedded) <= 4  # only cart.py's chunks were embedded
    assert CodeSearch(store).find_definitions("shop", "count")[0].path == "shop/cart.py"
    assert indexer.index("shop").indexed == 0  # nothing changed since


def test_git_names_a_change_that_kept_its_mtime_and_size(store, indexer, repo):
    store.create_repo("shop", str(repo), kind="git")
    indexer.index("shop")
    cart = repo / "shop" / "cart.py"
    st = cart.stat()
    cart.write_text(CART.replace("i.qty", "i.qtx"))  # same size
    os.utime(cart, ns=(st.st_atime_ns, st.st_mtime_ns))  # an mtime-preserving tool (rsync -t, some checkouts)
    assert "shop/cart.py" in git_changed_paths(repo, None)
    assert indexer.index("shop").indexed == 1
    assert "i.qtx" in CodeSearch(store).search("shop", "total of items price quantity", k=1)[0].text


def test_a_missing_root_fails_the_run_and_a_retry_recovers(store, indexer, repo, tmp_path):
    store.create_repo("shop", str(repo), kind="git")
    moved = tmp_path / "moved"
    repo.rename(moved)
    with pytest.raises(RepoRootMissing):
        indexer.index("shop")
    info = store.require_repo("shop")
    assert info.status == "failed" and "not a directory" in (info.error or "")
    assert store.last_run("shop").status == "failed"
    moved.rename(repo)
    indexer.index("shop")
    assert store.require_repo("shop").status == "ready"
