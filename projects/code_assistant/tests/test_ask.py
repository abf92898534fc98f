"""Repository Q&A: symbol lookups from the index (no model), retrieval + generation with citations."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from projects.code_assistant.ask import Asker, symbol_lookup
from projects.code_assistant.indexer import RepoIndexer
from projects.code_assistant.search import CodeHit, CodeSearch
from shared.serving.types import ChatRequest, ChatResult
from shared.testing.doubles import RecordingChat

INVOICE = '''"""Invoices."""
from decimal import ROUND_HALF_UP, Decimal


def round_cents(amount: Decimal) -> Decimal:
    """Round half-up to whole cents (what the tax office expects)."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class Invoice:
    def __init__(self, lines):
        self.lines = lines

    def total(self) -> Decimal:
        """Sum of line amounts, rounded once at the end."""
        return round_cents(sum(line.amount for line in self.lines))
'''
REPORT = """from shop.invoice import Invoice, round_cents


def monthly_report(invoices):
    return [round_cents(i.total()) for i in invoices]
"""


class NoModel(RecordingChat):
    """Fails the test on any model call: lookups must be answered from the index alone."""

    def chat(self, request: ChatRequest) -> ChatResult:
        raise AssertionError("the model was called")

    def stream(self, request: ChatRequest):
        raise AssertionError("the model was called")


@pytest.fixture
def indexed(store, tmp_path: Path) -> str:
    root = tmp_path / "shop"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "invoice.py").write_text(INVOICE)
    (root / "shop" / "report.py").write_text(REPORT)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    store.create_repo("shop", str(root), kind="folder")
    RepoIndexer(store).index("shop")
    return "shop"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Where is round_cents defined?", ("definition", "round_cents")),
        ("where is `Invoice` defined", ("definition", "Invoice")),
        ("Where is Invoice.total used?", ("usages", "Invoice.total")),
        ("who calls round_cents?", ("usages", "round_cents")),
        ("What calls `monthly_report`", ("usages", "monthly_report")),
        ("How are totals rounded?", None),
        ("Where is the config loaded and why?", None),
    ],
)
def test_symbol_lookup_recognises_pure_lookups_only(question, expected):
    assert symbol_lookup(question) == expected


def test_definition_and_usage_lookups_come_from_the_index_without_a_model(store, indexed):
    model = NoModel()
    asker = Asker(model, CodeSearch(store))
    answer = asker.ask(indexed, "Where is round_cents defined?")
    assert answer.mode == "symbol"
    assert [c.location for c in answer.citations] == ["shop/invoice.py:5-7"]
    assert "def round_cents(amount: Decimal) -> Decimal:" in answer.text
    used = asker.ask(indexed, "who calls round_cents?")
    assert {c.path for c in used.citations} == {"shop/invoice.py", "shop/report.py"}
    assert "Defined at shop/invoice.py:5-7" in used.text


def test_citations_map_to_shown_snippets_and_invented_numbers_are_dropped(store, indexed):
    model = RecordingChat("Totals are rounded half-up by round_cents [1], called from total [2] and [9].")
    answer = Asker(model, CodeSearch(store)).ask(indexed, "How are invoice totals rounded?")
    assert answer.mode == "search"
    assert [c.n for c in answer.citations] == [1, 2]  # [9] was never shown
    assert all(not c.inferred for c in answer.citations)
    shown = model.calls[0].messages[-1].content
    assert "[1] shop/invoice.py:" in shown and "Question: How are invoice totals rounded?" in shown


def test_an_answer_without_numbers_gets_inferred_citations(store, indexed):
    model = RecordingChat("The monthly_report function builds one rounded total per invoice.")
    answer = Asker(model, CodeSearch(store)).ask(indexed, "What does the monthly report contain?")
    assert answer.citations and all(c.inferred for c in answer.citations)
    assert any(c.symbol == "monthly_report" for c in answer.citations)


def test_streaming_yields_sources_then_deltas_then_the_answer(store, indexed):
    model = RecordingChat("round_cents rounds [1].")
    events = list(Asker(model, CodeSearch(store)).stream(indexed, "how does rounding work"))
    assert events[0].kind == "sources" and events[0].sources
    assert events[-1].kind == "done" and events[-1].answer.citations[0].n == 1
    assert "".join(e.delta for e in events if e.kind == "delta") == "round_cents rounds [1]."


def test_a_huge_best_hit_is_cut_to_the_budget(store, indexed):
    from projects.code_assistant.settings import CodeSettings

    asker = Asker(NoModel(), CodeSearch(store), CodeSettings(ask_context_tokens=100))
    big = CodeHit("a.py", 1, 400, "\n".join(f"x{i} = {i}" for i in range(400)), None, 1.0, "module")
    asker.search = type("S", (), {"search": lambda self, *a, **k: [big]})()
    [hit] = asker.sources("shop", "q")
    assert hit.end_line < 400 and len(hit.text.split("\n")) == hit.end_line


def test_the_real_model_answers_from_the_snippets_with_a_citation(store, indexed):
    from shared.serving import get_chat_model

    answer = Asker(get_chat_model(), CodeSearch(store)).ask(indexed, "How does the invoice total get rounded?")
    assert answer.citations
    assert any(c.path == "shop/invoice.py" for c in answer.citations)
    assert "round" in answer.text.lower()
