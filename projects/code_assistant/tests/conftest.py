"""Shared fixtures: the packaged embedder (loaded once), a code index store on a fresh database, and a builder of
hand-made parsed files (the store's unit is storage and search, not parsing)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from projects.code_assistant.types import CodeChunk, ParsedFile, Reference, SourceFile, Symbol

FileItem = tuple[SourceFile, str, ParsedFile]


def build_file(
    path: str,
    text: str,
    defs: Sequence[tuple[str, str, int, int]] = (),
    refs: Sequence[tuple[str, int, str]] = (),
    *,
    language: str = "python",
    mtime_ns: int = 1,
) -> FileItem:
    """A file as the walker and parser would hand it over. ``defs``: (qualname, kind, start, end); each becomes a
    symbol (signature = its first line) and a chunk of exactly those lines. ``refs``: (name, line, kind)."""
    lines = text.split("\n")
    symbols, chunks = [], []
    for qualname, kind, start, end in defs:
        parent = qualname.rsplit(".", 1)[0] if "." in qualname else None
        signature = lines[start - 1].strip()
        name = qualname.rsplit(".", 1)[-1]
        symbols.append(Symbol(name, qualname, kind, path, start, end, signature, None, parent))  # type: ignore[arg-type]
        chunks.append(
            CodeChunk(path, start, end, "\n".join(lines[start - 1 : end]), kind, language, qualname, signature)  # type: ignore[arg-type]
        )
    if not defs and text:
        chunks.append(CodeChunk(path, 1, len(lines), text, "lines", language))  # type: ignore[arg-type]
    references = [Reference(name, path, line, kind) for name, line, kind in refs]  # type: ignore[arg-type]
    src = SourceFile(path, Path("/nonexistent") / path, len(text.encode()), mtime_ns, language)  # type: ignore[arg-type]
    parsed = ParsedFile(path, language, symbols, references, chunks)  # type: ignore[arg-type]
    return src, hashlib.sha256(text.encode()).hexdigest(), parsed


@pytest.fixture(scope="module")
def embedder():
    from shared.serving import get_embedder

    return get_embedder()


@pytest.fixture
def store(database_url: str, embedder):
    from projects.code_assistant.store import CodeIndexStore

    return CodeIndexStore(database_url, embedder)


@pytest.fixture
def make_file() -> Callable[..., FileItem]:
    return build_file


# -- the service and its HTTP surface ------------------------------------------------------------------------
PREFIX = "/code"

SHOP_FILES = {
    "shop/__init__.py": '"""A tiny shop."""\n',
    "shop/money.py": (
        '"""Money helpers."""\nfrom decimal import ROUND_HALF_UP, Decimal\n\n\n'
        "def round_cents(amount: Decimal) -> Decimal:\n"
        '    """Round half-up to whole cents."""\n'
        '    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)\n'
    ),
    "shop/cart.py": (
        "from shop.money import round_cents\n\n\n"
        "class Cart:\n"
        "    def __init__(self):\n        self.items = []\n\n"
        "    def total(self):\n"
        '        """Sum of price times quantity, rounded to cents."""\n'
        "        return round_cents(sum(i.price * i.qty for i in self.items))\n"
    ),
    "web/app.js": (
        "import { total } from './cart.js';\nexport function render(cart) {\n  return `Total: ${total(cart)}`;\n}\n"
    ),
}


# A chat answer that fixes the demo repository's ``bulk-threshold`` bug (Aider's SEARCH/REPLACE format).
FIX_ANSWER = """The threshold is inclusive.

invoicing/discounts.py
<<<<<<< SEARCH
        if quantity > threshold:
=======
        if quantity >= threshold:
>>>>>>> REPLACE
"""


def write_shop(root: Path) -> Path:
    for rel, text in SHOP_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    """The allowed root repositories are registered from (CODE__REPO_ROOTS)."""
    root = tmp_path / "repos"
    root.mkdir()
    return root


@pytest.fixture
def code_settings(repo_root: Path):
    from projects.code_assistant.settings import CodeSettings

    return CodeSettings(
        repo_roots=[str(repo_root)], inline_worker=False, max_question_chars=500, review_max_diff_chars=50_000
    )


@pytest.fixture
def service(database_url: str, embedder, code_settings):
    from projects.code_assistant.service import CodeAssistantService
    from shared.testing.doubles import RecordingChat

    svc = CodeAssistantService(database_url, RecordingChat("Rounded by round_cents [1]."), embedder, code_settings)
    yield svc
    svc.queue.close()


@pytest.fixture
def client(database_url: str, service, code_settings):
    from fastapi.testclient import TestClient

    from projects.code_assistant.api import create_router
    from shared.api.app import create_app
    from shared.api.context import ServiceContext

    ctx = ServiceContext(database_url=database_url)
    app = create_app("ca-test", routers=[(PREFIX, create_router(ctx, code_settings, service=service))])
    with TestClient(app) as c:
        yield c
