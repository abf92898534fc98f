"""The knowledge base and FAQ answers on a real embedded PostgreSQL + pgvector with the real MiniLM embedder:
articles generated from the settings and the products table, idempotent ingestion, hybrid search, citations,
"I don't know" below the relevance threshold, τ-bench's wiki.md as the policy article."""

from __future__ import annotations

from datetime import date

import pytest

from projects.support_agent import faq
from projects.support_agent.knowledge import KnowledgeBase, policy_articles, product_articles
from projects.support_agent.retailer import load_retailer
from projects.support_agent.settings import SupportSettings
from shared.db import connection

TENANT = "acme"


@pytest.fixture(scope="module")
def embedder():
    from shared.serving.factory import get_embedder

    return get_embedder()


@pytest.fixture
def shop_url(database_url: str) -> str:
    load_retailer(database_url, seed=0, n_customers=5, today=date(2025, 6, 1))
    return database_url


def test_policy_articles_quote_the_enforced_settings() -> None:
    text = " ".join(a.text for a in policy_articles(SupportSettings(return_window_days=14, kb_refund_business_days=9)))
    assert "within 14 days of delivery" in text and "30 days" not in text
    assert "9 business days" in text


def test_product_articles_come_from_the_products_table(shop_url: str) -> None:
    articles = {a.title: a for a in product_articles(shop_url)}
    with connection(shop_url) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sa_products")}
        pid, price, options = conn.execute(
            "SELECT product_id, price, options FROM sa_variants WHERE available ORDER BY item_id LIMIT 1"
        ).fetchone()
        name = conn.execute("SELECT name FROM sa_products WHERE id = %s", (pid,)).fetchone()[0]
    assert set(articles) == names
    assert f"${float(price):.2f}" in articles[name].text
    assert all(str(v) in articles[name].text for v in options.values())


def test_ingestion_is_idempotent_and_prunes_removed_articles(shop_url: str, embedder) -> None:
    settings = SupportSettings(kb_collection="kb_idem")
    kb = KnowledgeBase(shop_url, embedder=embedder, settings=settings)
    first = kb.ingest(TENANT)
    assert first["inserted"] == len(kb.articles()) and first["deleted"] == 0
    again = kb.ingest(TENANT)
    assert again == {"unchanged": len(kb.articles()), "deleted": 0}
    assert kb.ensure(TENANT) in ({"cached": True}, again)  # once per process
    assert kb.ensure(TENANT) == {"cached": True}
    # a changed setting re-embeds only the articles that quote it
    changed = KnowledgeBase(
        shop_url, embedder=embedder, settings=SupportSettings(kb_collection="kb_idem", return_window_days=14)
    )
    report = changed.ingest(TENANT)
    assert report["replaced"] == 2 and report["unchanged"] == len(kb.articles()) - 2  # returns + exchanges
    # τ-bench's wiki replaces the generated policy articles
    wiki = KnowledgeBase(
        shop_url,
        embedder=embedder,
        settings=settings,
        policy_markdown="# Retail policy\n\n## Returns\nReturns are allowed for delivered orders.\n",
    )
    report = wiki.ingest(TENANT)
    assert report["inserted"] == 1 and report["deleted"] == len(policy_articles(settings))


QUESTIONS = [
    ("How many days do I have to return something?", "[Returns policy § Return window]", "30 days"),
    ("How long does a refund to my credit card take?", "[Refunds policy § How long refunds take]", "7 business"),
    ("What payment methods do you accept?", "[Payment methods § Accepted payment methods]", "PayPal"),
    ("Can I cancel an order after it has shipped?", "[Cancellations policy §", "pending"),
    ("Can I change the shipping address of my order?", "[Shipping policy § Changing the shipping address]", "pending"),
    ("How long does standard shipping take?", "[Shipping policy § Shipping time]", "3 to 7 business days"),
    ("What sizes does the T-Shirt come in?", "[T-Shirt §", "size"),
]


def test_questions_are_answered_from_the_right_passage_and_others_are_not(shop_url: str, embedder) -> None:
    """One database and one ingestion for all questions (ingestion embeds ~50 articles)."""
    kb = KnowledgeBase(shop_url, embedder=embedder, settings=SupportSettings(kb_collection="kb_q"))
    for question, citation, needle in QUESTIONS:
        got = faq.answer(kb, question, TENANT, min_relevance=kb.settings.faq_min_relevance)
        assert got.answered, (question, got.as_event())
        assert got.citations[0].startswith(citation), (question, got.as_event())
        assert needle in got.text, (question, got.text)
        assert got.relevance == max(h.relevance for h in got.hits)
    unanswerable = ("Do you ship internationally?", "What is the capital of Australia?", "what are your opening hours")
    for question in unanswerable:
        got = faq.answer(kb, question, TENANT, min_relevance=kb.settings.faq_min_relevance)
        assert not got.answered and got.text == "" and got.hits, got.as_event()


def test_tenants_do_not_see_each_others_articles(shop_url: str, embedder) -> None:
    settings = SupportSettings(kb_collection="kb_t")
    KnowledgeBase(
        shop_url,
        embedder=embedder,
        settings=settings,
        policy_markdown="# Wiki\n\n## Returns\nReturns within 90 days at the harbour shop.\n",
    ).ingest("other")
    kb = KnowledgeBase(shop_url, embedder=embedder, settings=settings)
    hits = kb.search("returns within how many days", TENANT, k=10)
    assert hits and all("harbour" not in h.text for h in hits)


def test_extract_keeps_the_best_sentences_in_order() -> None:
    passage = "## S\nOne about cats. Two about refunds to cards. Three about dogs. Four about refund days. Five."
    assert faq.extract("refund cards days", passage, max_sentences=2) == (
        "Two about refunds to cards. Four about refund days."
    )
