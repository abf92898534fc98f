"""The code-assistant page, headless with AppTest, against the real API on a socket (real service, router,
tree-sitter, embedder and embedded PostgreSQL; a recording chat model, since what is under test is the page):
registering a repository (a refused path shown as the problem), indexing with progress and re-indexing, the
chat with citations to cited code, browsing symbols, the map and files, completion, a fix followed to its diff,
and the API being down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from projects.code_assistant.api import create_router
from projects.code_assistant.tests.conftest import FIX_ANSWER, PREFIX, write_shop
from shared.api.app import create_app
from shared.api.context import ServiceContext
from shared.testing.portal import api_for_portal, background_worker, run_page_with_api_down

PAGE = Path(__file__).resolve().parents[1] / "ui" / "page.py"


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str, service, code_settings) -> Iterator[str]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("ca-ui-test", routers=[(PREFIX, create_router(ctx, code_settings, service=service))])
    with api_for_portal(app, monkeypatch) as url:
        yield url


@contextmanager
def worker(service) -> Iterator[None]:
    """Work the job queue in the background while the page polls (the API's inline worker is off in tests)."""
    with background_worker(service.drain):
        yield


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def cited(at: AppTest) -> list:
    return [e for e in at.expander if e.label.startswith("[")]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def test_page_shows_error_when_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page_with_api_down(PAGE, monkeypatch)
    assert not at.exception and "API unreachable" in at.error[0].value


def test_register_index_reindex_and_browse(live_api: str, service, repo_root: Path, tmp_path: Path) -> None:
    at = ok(AppTest.from_file(str(PAGE), default_timeout=120).run())
    assert "Register a repository" in at.info[0].value and not at.tabs

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    at.text_input(key="ca_add_where").set_value(str(outside))
    ok(at.button(key="ca_add_go").click().run())
    assert "403 Forbidden [path-not-allowed]" in at.error[0].value  # the problem, as the API worded it
    assert service.list_repos() == []

    shop = write_shop(repo_root / "shop")
    at.text_input(key="ca_add_where").set_value(str(shop))
    with worker(service):
        ok(at.button(key="ca_add_go").click().run())  # registers, polls the index job to the end, reruns
    assert at.selectbox(key="ca_repo").value == "shop" and "ca_job" not in at.session_state
    shown = texts(at)
    assert "**4** files" in shown and "4 indexed, 0 unchanged" in shown and "skipped:" in shown
    assert [t.label for t in at.tabs] == ["Ask", "Browse", "Complete", "Fix", "Document & Review"]

    money = shop / "shop" / "money.py"
    money.write_text(money.read_text() + "\n\ndef zero():\n    return 0\n")
    with worker(service):
        ok(at.button(key="ca_reindex").click().run())
    assert "1 indexed, 3 unchanged" in texts(at)  # incremental: only the changed file

    at.text_input(key="ca_symbol").set_value("round_cents")
    ok(at.run())
    defined, used = (frame.value.to_dict("records") for frame in at.dataframe)
    assert defined[0]["location"] == "shop/money.py:5-7" and defined[0]["match"] == "exact"
    assert [r["path"] for r in used] == ["shop/cart.py"]
    ok(at.radio(key="ca_browse").set_value("Repo map").run())
    assert any("shop/money.py" in c.value and "round_cents" in c.value for c in at.code)
    ok(at.radio(key="ca_browse").set_value("Files").run())
    files = at.dataframe[0].value.to_dict("records")
    assert sorted(f["path"] for f in files) == ["shop/__init__.py", "shop/cart.py", "shop/money.py", "web/app.js"]


def test_ask_with_citations_and_complete(live_api: str, service, repo_root: Path) -> None:
    service.add_repo(path=str(write_shop(repo_root / "shop")))
    service.drain()
    at = ok(AppTest.from_file(str(PAGE), default_timeout=120).run())

    ok(at.chat_input(key="ca_question").set_value("Where is round_cents defined?").run())
    assert "answered from the symbol index" in texts(at)  # no model call for a lookup
    assert service.chat.calls == []
    [citation] = cited(at)
    assert citation.label.startswith("[1] shop/money.py:5-7")
    assert "5  def round_cents(amount: Decimal) -> Decimal:" in citation.code[0].value  # real line numbers

    ok(at.chat_input(key="ca_question").set_value("How is the cart total rounded?").run())
    assert "Rounded by round_cents [1]." in texts(at) and len(service.chat.calls) == 1
    assert len(at.chat_message) == 4  # both turns kept in the session
    assert len(cited(at)) >= 2 and all(e.code[0].value.strip() for e in cited(at))

    ok(at.chat_input(key="ca_question").set_value("why " * 200).run())
    assert "413" in at.error[0].value and "question-too-long" in at.error[0].value

    at.text_input(key="ca_cpath").set_value("shop/lines.py")
    at.text_area(key="ca_before").set_value(
        "from shop.money import round_cents\n\ndef line_total(price, qty):\n    return "
    )
    at.text_area(key="ca_after").set_value("\n")
    ok(at.button(key="ca_complete").click().run())
    completion = at.session_state["ca_completion_shop"]
    assert completion["choices"][0]["text"] and any(completion["choices"][0]["text"] in c.value for c in at.code)
    context = at.dataframe[0].value.to_dict("records")
    assert {"path": "shop/money.py", "reason": "import"}.items() <= context[0].items()
    assert "<|fim_prefix|>" in service.chat.calls[-1].prompt

    at.text_input(key="ca_cpath").set_value("../../etc/passwd")
    ok(at.button(key="ca_complete").click().run())
    assert any("400" in e.value and "path-outside-repo" in e.value for e in at.error)


REVIEWED = '''diff --git a/shop/money.py b/shop/money.py
--- a/shop/money.py
+++ b/shop/money.py
@@ -5,3 +5,4 @@ def round_cents(amount: Decimal) -> Decimal:
 def round_cents(amount: Decimal) -> Decimal:
     """Round half-up to whole cents."""
+    print(amount)
     return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
'''


def test_document_and_review(live_api: str, service, repo_root: Path) -> None:
    service.add_repo(path=str(write_shop(repo_root / "shop")))
    service.drain()
    at = ok(AppTest.from_file(str(PAGE), default_timeout=120).run())

    service.chat.replies = ["Total of the cart's items, rounded to cents."]
    at.text_input(key="ca_doc_path").set_value("shop/cart.py")
    at.text_input(key="ca_doc_target").set_value("Cart.total")
    ok(at.button(key="ca_doc_go").click().run())
    diff = next(c.value for c in at.code if c.language == "diff")
    assert (
        diff.startswith("--- a/shop/cart.py") and '+        """Total of the cart\'s items, rounded to cents."""' in diff
    )
    assert "replaces the existing docstring" in texts(at)  # Cart.total had one
    assert "Sum of price times quantity" in (repo_root / "shop" / "shop" / "cart.py").read_text()  # not written

    at.text_input(key="ca_readme_path").set_value("shop")
    ok(at.button(key="ca_readme_go").click().run())
    section = next(c.value for c in at.code if c.language == "markdown")
    assert section.startswith("## `shop`") and "def round_cents(amount: Decimal) -> Decimal:" in section

    bug = {"line": 8, "severity": "error", "category": "bug", "message": "rounds half-up: refunds need half-even"}
    service.chat.replies = [json.dumps({"comments": [bug]})]
    at.text_area(key="ca_review_diff").set_value(REVIEWED)
    ok(at.button(key="ca_review_go").click().run())
    comments = at.dataframe[0].value.to_dict("records")
    by_source = {(c["source"], c["line"], c["category"]) for c in comments}
    assert ("model", 8, "bug") in by_source and ("rule", 7, "style") in by_source  # the print( is a rule hit
    assert any("refunds need half-even" in c.value for c in at.code if c.language == "markdown")

    at.text_area(key="ca_review_diff").set_value("not a diff at all")
    ok(at.button(key="ca_review_go").click().run())
    assert any("422" in e.value and "invalid-diff" in e.value for e in at.error)


def test_fix_is_followed_to_a_diff_and_the_repo_is_untouched(live_api: str, service, repo_root: Path) -> None:
    from projects.code_assistant.demo_repo import generate_demo_repo

    root = generate_demo_repo(repo_root / "invoicing", bugs=["bulk-threshold"]).root
    service.add_repo(path=str(root))
    service.drain()
    before = (root / "invoicing" / "discounts.py").read_text()
    service.settings.debug_strategies = ["chat"]  # the scripted answer is a chat edit
    service.chat.replies = [FIX_ANSWER]
    at = ok(AppTest.from_file(str(PAGE), default_timeout=180).run())

    at.text_input(key="ca_fix_cmd").set_value("pytest 'unterminated")
    ok(at.button(key="ca_fix_go").click().run())
    assert any("422" in e.value and "invalid-test-command" in e.value for e in at.error)
    assert service.list_fixes("invoicing") == [] and not at.session_state["ca_fixes"]

    at.text_input(key="ca_fix_cmd").set_value("")
    at.text_input(key="ca_fix_desc").set_value("the bulk discount starts one unit late")
    with worker(service):
        ok(at.button(key="ca_fix_go").click().run())  # queues the job, polls it to the end, reruns
    diff = next(c.value for c in at.code if c.language == "diff")
    assert "+        if quantity >= threshold:" in diff and "-        if quantity > threshold:" in diff
    assert ":green-badge[:material/bug_report: fixed]" in texts(at) and "fixed in attempt 1" in texts(at)
    assert "Tests before: failing (23 passed, 6 failed) · after: passing (29 passed, 0 failed)" in texts(at)
    assert "was not modified" in at.info[0].value
    assert at.get("download_button")  # the patch, to download and `git apply`
    assert any(e.label.startswith("Attempt 1 · tests passing") for e in at.expander)
    assert (root / "invoicing" / "discounts.py").read_text() == before  # a diff, never an edit
