"""Code search on a small hand-made repository, indexed by the real store into the embedded PostgreSQL with the
packaged embedder: symbol lookups, references, hybrid retrieval with identifier boosting, filters, snippets."""

from __future__ import annotations

import pytest

from projects.code_assistant.search import CodeSearch, identifiers
from projects.code_assistant.store import CodeIndexStore, RepoNotFoundError
from projects.code_assistant.tests.conftest import build_file

AUTH = '''import hashlib


def hash_password(password: str, salt: bytes) -> str:
    """Derive a salted PBKDF2 hash of a user's password for storage."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000).hex()


def verify_password(password: str, salt: bytes, expected: str) -> bool:
    return hash_password(password, salt) == expected
'''
REPOSITORY = '''class Repository:
    """Persists items in a SQLite table."""

    def save(self, item):
        self.db.execute("INSERT INTO items VALUES (?)", (item,))

    def load(self, key):
        return self.db.execute("SELECT * FROM items WHERE id = ?", (key,)).fetchone()
'''
HTTP = """import time
from urllib.request import urlopen


def fetch_with_retry(url, attempts=3):
    for i in range(attempts):
        try:
            return urlopen(url, timeout=10).read()
        except OSError:
            time.sleep(2 ** i)
    raise RuntimeError(f"giving up on {url}")
"""
CACHE = """from collections import OrderedDict


class LRUCache:
    def __init__(self, capacity):
        self.capacity = capacity
        self.items = OrderedDict()

    def put(self, key, value):
        self.items[key] = value
        self.items.move_to_end(key)
        if len(self.items) > self.capacity:
            self.items.popitem(last=False)
"""
API = """from auth import hash_password


def register_user(db, name, password, salt):
    db.insert(name, hash_password(password, salt))
    return hash_password
"""
LOGIN_JS = """export function renderLoginForm(root) {
  const form = document.createElement("form");
  form.innerHTML = '<input name="user"><input type="password" name="password">';
  root.appendChild(form);
}
"""


def demo_files():
    return [
        build_file(
            "auth.py",
            AUTH,
            [("hash_password", "function", 4, 6), ("verify_password", "function", 9, 10)],
            [("hashlib", 1, "import"), ("hash_password", 10, "call")],
        ),
        build_file(
            "pkg/repository.py",
            REPOSITORY,
            [("Repository", "class", 1, 2), ("Repository.save", "method", 4, 5), ("Repository.load", "method", 7, 8)],
        ),
        build_file("net/http_client.py", HTTP, [("fetch_with_retry", "function", 5, 11)], [("urlopen", 8, "call")]),
        build_file(
            "cache.py",
            CACHE,
            [("LRUCache", "class", 4, 4), ("LRUCache.__init__", "method", 5, 7), ("LRUCache.put", "method", 9, 13)],
        ),
        build_file(
            "api.py",
            API,
            [("register_user", "function", 4, 6)],
            [("hash_password", 1, "import"), ("hash_password", 5, "call"), ("hash_password", 6, "name")],
        ),
        build_file("web/login.js", LOGIN_JS, [("renderLoginForm", "function", 1, 5)], language="javascript"),
        build_file("README.md", "# Demo\n\nA small web service with users and a cache.\n", language="text"),
    ]


@pytest.fixture
def indexed(store: CodeIndexStore) -> tuple[CodeSearch, str]:
    repo = store.create_repo("demo", "/src/demo").id
    report = store.write_files(repo, demo_files())
    assert not report.failed
    return CodeSearch(store), repo


def test_find_definitions_exact_qualified_case_insensitive_then_fuzzy(indexed) -> None:
    search, repo = indexed
    [d] = search.find_definitions(repo, "save")
    assert (d.location, d.qualname, d.match, d.signature) == (
        "pkg/repository.py:4-5", "Repository.save", "exact", "def save(self, item):",
    )  # fmt: skip
    assert [d.match for d in search.find_definitions(repo, "Repository.load")] == ["exact"]
    [d] = search.find_definitions(repo, "repository.Repository.load")  # module-qualified
    assert (d.qualname, d.match) == ("Repository.load", "qualified")
    [d] = search.find_definitions(repo, "auth.hash_password()")
    assert (d.location, d.match) == ("auth.py:4-6", "qualified")
    # no such module: only a fuzzy "did you mean"
    assert {d.match for d in search.find_definitions(repo, "billing.hash_password")} == {"fuzzy"}
    [d] = search.find_definitions(repo, "lrucache")
    assert (d.qualname, d.match) == ("LRUCache", "case")
    fuzzy = search.find_definitions(repo, "hash_pasword")
    assert fuzzy[0].qualname == "hash_password" and fuzzy[0].match == "fuzzy"
    assert [d.qualname for d in search.find_definitions(repo, "Repository", kind="class")] == ["Repository"]
    assert search.find_definitions(repo, "Repository", kind="function") == []
    assert search.find_definitions(repo, "  ") == []


def test_find_references_grouped_by_file(indexed) -> None:
    search, repo = indexed
    groups = search.find_references(repo, "hash_password")
    assert [(g.path, g.lines) for g in groups] == [("api.py", (1, 5, 6)), ("auth.py", (10,))]
    assert groups[0].kinds == ("call", "import", "name")
    assert [g.path for g in search.find_references(repo, "auth.hash_password", limit=1)] == ["api.py"]
    assert search.find_references(repo, "nothing_uses_this") == []


def test_a_natural_language_question_finds_the_right_function(indexed) -> None:
    search, repo = indexed
    hits = search.search(repo, "where do we hash passwords")
    assert (hits[0].path, hits[0].symbol, hits[0].start_line, hits[0].end_line) == ("auth.py", "hash_password", 4, 6)
    assert not hits[0].boosted and "pbkdf2_hmac" in hits[0].text
    hits = search.search(repo, "retry a failing HTTP request with exponential backoff", k=3)
    assert hits[0].symbol == "fetch_with_retry" and hits[0].location == "net/http_client.py:5-11"
    hits = search.search(repo, "evict the least recently used entry when the cache is full", k=3)
    assert hits[0].path == "cache.py" and "LRUCache.put" in {h.symbol for h in hits[:2]}
    assert len(search.search(repo, "password", k=2)) == 2
    assert search.search(repo, "   ") == []


def test_a_named_identifier_puts_its_definition_first(indexed) -> None:
    search, repo = indexed
    hits = search.search(repo, "what does `load` return?", k=4)
    assert (hits[0].symbol, hits[0].boosted, hits[0].kind) == ("Repository.load", True, "method")
    assert hits[0].score >= max(h.score for h in hits[1:])
    assert len({(h.path, h.start_line) for h in hits}) == len(hits)  # merged without duplicates
    hits = search.search(repo, "who calls register_user and what does it store", k=3)
    assert hits[0].symbol == "register_user" and hits[0].boosted
    # a plain word that happens to be a method name is not an identifier
    assert not any(h.boosted for h in search.search(repo, "how do we save things", k=4))


def test_filters_by_language_and_by_folder_or_file(indexed) -> None:
    search, repo = indexed
    hits = search.search(repo, "login form with a password field", language="javascript")
    assert hits and {h.path for h in hits} == {"web/login.js"} and hits[0].language == "javascript"
    hits = search.search(repo, "password", paths=["pkg/", "./api.py"])
    assert hits and {h.path for h in hits} <= {"pkg/repository.py", "api.py"}
    assert search.search(repo, "password", paths=["../../etc/passwd"]) == []
    assert search.search(repo, "password", paths=["pk"]) == []  # a prefix of a folder name is not the folder
    # an identifier's definition outside the filter is not merged in
    assert all(h.path == "web/login.js" for h in search.search(repo, "`hash_password`", paths=["web"]))


def test_get_snippet_reads_stored_chunks_never_files(indexed) -> None:
    search, repo = indexed
    snippet = search.get_snippet(repo, "auth.py", 4, 5)
    assert snippet is not None and (snippet.start_line, snippet.end_line) == (4, 5)
    assert snippet.text == AUTH.split("\n")[3] + "\n" + AUTH.split("\n")[4]
    span = search.get_snippet(repo, "auth.py", 5, 10)  # across two chunks; lines 7-8 are covered by none
    assert span is not None and span.text.split("\n") == [*AUTH.split("\n")[4:6], "", "", *AUTH.split("\n")[8:10]]
    assert search.get_snippet(repo, "../../etc/passwd", 1, 10) is None
    assert search.get_snippet(repo, "auth.py", 200, 300) is None


def test_symbols_and_references_stream_for_the_repo_map(indexed) -> None:
    search, repo = indexed
    symbols = list(search.symbols_for_map(repo, batch=2))
    assert len(symbols) == 11
    assert [(s.path, s.qualname) for s in symbols[:3]] == [
        ("api.py", "register_user"), ("auth.py", "hash_password"), ("auth.py", "verify_password"),
    ]  # fmt: skip
    assert symbols[1].signature.startswith("def hash_password(") and symbols[5].parent == "LRUCache"
    refs = list(search.references_for_map(repo, batch=2))
    assert [(r.path, r.line, r.name) for r in refs][:3] == [
        ("api.py", 1, "hash_password"), ("api.py", 5, "hash_password"), ("api.py", 6, "hash_password"),
    ]  # fmt: skip
    assert len(refs) == 6


def test_search_is_scoped_to_one_repository(indexed, store: CodeIndexStore) -> None:
    search, repo = indexed
    other = store.create_repo("other", "/src/other").id
    store.write_files(other, [build_file("billing.py", "def charge(card, amount):\n    return card.debit(amount)\n",
                                         [("charge", "function", 1, 2)])])  # fmt: skip
    assert {h.path for h in search.search(other, "where do we hash passwords")} == {"billing.py"}
    assert search.find_definitions(other, "hash_password") == []
    assert search.find_references(other, "hash_password") == []
    assert search.search(repo, "charge a card")[0].path != "billing.py"
    with pytest.raises(RepoNotFoundError):
        search.search("missing", "anything")


def test_identifiers_are_recognised_by_shape() -> None:
    assert identifiers("where is `save` used and what calls hash_password()?") == ["save", "hash_password"]
    assert identifiers("How does LRUCache evict, and is Repository.save atomic?") == ["LRUCache", "Repository.save"]
    assert identifiers("Where do we run the tests") == []
    assert identifiers("is the Repository thread-safe") == ["Repository"]


def test_words_split_identifiers_and_prose_alike() -> None:
    from projects.code_assistant.search import words

    assert words("hash_password") == words("where do we hash passwords") - {"where", "do", "we"} == {"hash", "password"}
    assert words("LRUCache.put") == {"lru", "cache", "put"}
    assert words("parseHTTPResponse2") == {"parse", "http", "response", "2"} - {"2"}
