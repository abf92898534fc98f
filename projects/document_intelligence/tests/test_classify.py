"""Document type classifier: real embedder for accuracy; a scripted ChatModel for the LLM fallback's orchestration."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from projects.document_intelligence.classify import DocumentClassifier, ocr_noise
from projects.document_intelligence.classify_eval import holdout_accuracy
from projects.document_intelligence.doc_types import DOC_TYPES
from projects.document_intelligence.model import Block, Document, Line, Page
from projects.document_intelligence.settings import DocIntSettings
from projects.document_intelligence.synthetic import generate_corpus
from shared.serving.base import ChatModel, Embedder, ServingError
from shared.serving.embeddings import LocalEmbedder
from shared.serving.types import ChatRequest, ChatResult, StreamChunk

SROIE_RECEIPT = """BOOK TA .K (TAMAN DAYA) SDN BHD
789417-W
NO.5: 55,57 & 59, JALAN SAGU 18,
TAMAN DAYA,
81100 JOHOR BAHRU,
JOHOR.
DOCUMENT NO : TD01167104
DATE: 25/12/2018 8:13:39 PM
CASHIER: MANIS
CASH BILL
CODE/DESC PRICE DISC AMOUNT
QTY RM RM
9556939040116 KF MODELLING CLAY KIDDY FISH
1 PC * 9.000 0.00 9.00
TOTAL:
ROUR DING ADJUSTMENT: 0.00
ROUND D TOTAL (RM): 9.00
CASH 10.00
CHANGE 1.00
GOODS SOLD ARE NOT RETURNABLE OR EXCHANGEABLE
THANK YOU PLEASE COME AGAIN !"""

HAND_WRITTEN = {
    "receipt": SROIE_RECEIPT,
    "invoice": "ACME Widgets Ltd\nInvoice number: 2023-0042\nInvoice date: 3 March 2023\nBill to: Contoso GmbH, "
    "Berlin\nDescription Qty Price Amount\nWidget A 10 5.00 50.00\nSubtotal 50.00 VAT 19% 9.50 Total due EUR 59.50\n"
    "Payment within 30 days",
    "letter": "Dear Ms. Patel,\nThank you for your application for the position of data analyst. We were impressed "
    "by your experience and would like to invite you to an interview next Tuesday at 10 am.\nKind regards,\n"
    "John Miller\nHR Manager",
    "contract": "EMPLOYMENT CONTRACT\nThis contract is made between Foo Ltd (the Employer) and Jane Roe (the "
    "Employee) on 1 April 2022.\n1. Position. The Employee is employed as Engineer.\n2. Salary. 50,000 per year.\n"
    "3. Notice period. Either party may terminate with one month notice.\nSigned by both parties.",
    "id_card": "UNITED KINGDOM\nDRIVING LICENCE\n1. SMITH\n2. JOHN\n3. 01.02.1980 UNITED KINGDOM\n"
    "4a. 05.06.2015 4b. 04.06.2025\n5. SMITH802010J99AB",
}
NOVEL = (
    "Chapter One\nThe rain had not stopped for three days when Eleanor finally opened the old wooden chest in the "
    "attic. Inside, wrapped in faded silk, lay a bundle of photographs and a brass key she had never seen before."
)


class ScriptedChat(ChatModel):
    """Replies with the scripted texts in order (the last repeats); records every request."""

    backend = "test"
    model = "scripted"

    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(text=reply, model=self.model, backend=self.backend)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        raise NotImplementedError


class KeywordEmbedder(Embedder):
    """A transparent stand-in for orchestration tests: one dimension per type keyword, plus a 'nothing' axis."""

    backend = "test"
    model = "keywords"
    WORDS = ("invoice", "receipt", "form", "dear", "agreement", "licence", "notes")
    dim = len(WORDS) + 1

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            low = t.lower()
            out[i, : len(self.WORDS)] = [low.count(w) for w in self.WORDS]
            out[i, -1] = 0.5
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def settings() -> DocIntSettings:
    return DocIntSettings(classify_train_per_type=20, classify_train_seed=1)


def test_held_out_generated_documents_are_classified_with_high_accuracy(embedder, settings):
    clf = DocumentClassifier(embedder, ScriptedChat('{"doc_type": "other", "confidence": 0.5}'), settings)
    docs = generate_corpus(8, seed=99)  # a seed the index never saw
    clean = holdout_accuracy(clf, docs)
    noisy = holdout_accuracy(clf, docs, noise=0.04, seed=1)
    assert clean["accuracy"] >= 0.9, clean
    assert noisy["accuracy"] >= 0.85, noisy


def test_hand_written_texts_are_classified_by_knn_without_the_llm(embedder, settings):
    chat = ScriptedChat('{"doc_type": "other", "confidence": 0.1}')
    clf = DocumentClassifier(embedder, chat, settings)
    for expected, text in HAND_WRITTEN.items():
        result = clf.classify_text(text)
        assert result.doc_type == expected, (expected, result)
    receipt = clf.classify_text(SROIE_RECEIPT)
    assert receipt.method == "knn" and receipt.confidence >= settings.classify_min_confidence
    assert receipt.scores["receipt"] == max(receipt.scores.values()) and abs(sum(receipt.scores.values()) - 1) < 1e-3
    assert set(receipt.scores) == set(DOC_TYPES)


def test_text_unlike_any_type_goes_to_the_llm_which_may_say_other(embedder, settings):
    chat = ScriptedChat('{"doc_type": "other", "confidence": 0.8}')
    clf = DocumentClassifier(embedder, chat, settings)
    knn = clf.knn(NOVEL)
    assert knn.confidence < settings.classify_min_confidence
    result = clf.classify_text(NOVEL)
    assert (result.doc_type, result.method, result.confidence) == ("other", "llm", 0.8)
    assert len(chat.calls) == 1
    prompt = chat.calls[0].all_messages()
    assert "Eleanor" in prompt[-1].content and "receipt" in prompt[0].content
    assert chat.calls[0].response_schema is not None  # structured output, constrained where the backend can
    assert result.scores == knn.scores


def test_classify_document_uses_the_first_pages(embedder, settings):
    def page(n: int, text: str) -> Page:
        lines = [Line(text=t, bbox=(0, i * 10, 100, i * 10 + 9)) for i, t in enumerate(text.splitlines())]
        return Page(number=n, width=200, height=300, source="ocr", blocks=[Block(id=f"p{n}-b0", kind="text",
                    bbox=(0, 0, 100, 300), order=0, lines=lines)])  # fmt: skip

    doc = Document(id="d", n_pages=2, pages=[page(1, SROIE_RECEIPT), page(2, NOVEL)])
    chat = ScriptedChat('{"doc_type": "letter", "confidence": 0.9}')
    clf = DocumentClassifier(embedder, chat, settings)
    result = clf.classify(doc)
    assert result.doc_type == "receipt" and result.method == "knn" and not chat.calls

    seen: list[str] = []
    clf.classify_text = lambda text: seen.append(text)  # type: ignore[method-assign]
    DocumentClassifier.classify(clf, doc)
    assert seen[0].startswith("BOOK TA .K") and "Eleanor" in seen[0]  # page 1 was short: page 2 joins in
    clf.settings = settings.model_copy(update={"classify_max_chars": 200})
    DocumentClassifier.classify(clf, doc)
    assert len(seen[1]) == 200 and "Eleanor" not in seen[1]  # enough text on page 1: page 2 is never read

    empty = DocumentClassifier(embedder, chat, settings).classify(Document(id="e"))
    assert (empty.doc_type, empty.confidence, empty.method) == ("other", 0.0, "knn") and not chat.calls


# -- orchestration of the fallback (transparent fake embedder) ------------------------------------------------


def keyword_classifier(chat: ChatModel, **overrides) -> DocumentClassifier:
    s = DocIntSettings(classify_train_per_type=7, classify_train_seed=2, classify_k=5, **overrides)
    return DocumentClassifier(KeywordEmbedder(), chat, s)


def test_confident_vote_never_calls_the_llm():
    chat = ScriptedChat(AssertionError("must not be called"))
    result = keyword_classifier(chat).classify_text("INVOICE invoice invoice number 42")
    assert (result.doc_type, result.method) == ("invoice", "knn") and result.confidence > 0.55
    assert not chat.calls


def test_invalid_llm_answer_is_retried_with_the_validation_error():
    chat = ScriptedChat('{"doc_type": "spreadsheet", "confidence": 0.9}', '{"doc_type": "form", "confidence": 0.7}')
    result = keyword_classifier(chat).classify_text("zzz qqq")  # no keyword: every neighbour equally far
    assert (result.doc_type, result.method, result.confidence) == ("form", "llm", 0.7)
    assert len(chat.calls) == 2
    assert "did not validate" in chat.calls[1].messages[-1].content


def test_llm_that_never_answers_validly_or_fails_leaves_the_knn_vote():
    for chat in (ScriptedChat("I think it is a poem."), ScriptedChat(ServingError("backend down"))):
        result = keyword_classifier(chat).classify_text("zzz qqq")
        assert result.method == "knn" and result.confidence < 0.55 and result.doc_type in DOC_TYPES
        assert chat.calls


def test_fallback_switched_off_keeps_the_unsure_vote():
    chat = ScriptedChat('{"doc_type": "form", "confidence": 0.7}')
    result = keyword_classifier(chat, classify_llm_fallback=False).classify_text("zzz qqq")
    assert result.method == "knn" and not chat.calls


def test_ocr_noise_is_deterministic_and_changes_text():
    import random

    text = generate_corpus(1, seed=5, types=("invoice",))[0].text
    a, b = ocr_noise(text, random.Random(1), 0.05), ocr_noise(text, random.Random(1), 0.05)
    assert a == b and a != text
