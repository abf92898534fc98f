"""The store's knowledge base: policy articles and product facts, in pgvector through ``shared/retrieval``.

Why generated, not hand-written: the policy articles take every number from ``SupportSettings`` (the return
window the policy code enforces is the one the FAQ quotes), and the product articles are rendered from the
retailer's own ``sa_products``/``sa_variants`` tables, so the knowledge base can never contradict what the tools
and the policy do. For the τ-bench eval, :meth:`KnowledgeBase.ensure` takes a markdown file (``wiki.md``) that
replaces the generated policy articles.

Ingestion is idempotent and cheap: documents have stable ids (per tenant and article) and content hashes, so a
second :meth:`KnowledgeBase.ensure` re-embeds nothing (one hash lookup per article), articles that no longer
exist are deleted, and a process ingests each (database, tenant) once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projects.support_agent.settings import SupportSettings, get_support_settings
from shared.db import connection
from shared.retrieval import ChunkingConfig, Document, Indexer, PgVectorStore, Principal, Searcher, SearchRequest
from shared.retrieval.models import SearchResult
from shared.serving.base import Embedder

log = logging.getLogger(__name__)

KB_CHUNKING = ChunkingConfig(strategy="markdown", max_chars=700)


@dataclass(frozen=True)
class Article:
    """One knowledge-base article: ``slug`` is stable (it keys the document id), ``text`` is markdown whose
    ``##`` sections become the citable passages (no ``#`` title line: the title is document metadata, and a
    heading-only chunk would be a passage with nothing to quote)."""

    slug: str
    title: str
    text: str
    kind: str  # policy | product


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def policy_articles(settings: SupportSettings) -> list[Article]:
    """The store policies as the code enforces them (``policy.py``/``tools.py``), numbers from ``settings``."""
    window = _days(settings.return_window_days)
    ship_lo, ship_hi = settings.kb_shipping_days_min, settings.kb_shipping_days_max
    refund_days = settings.kb_refund_business_days
    articles = {
        "returns": (
            "Returns policy",
            {
                "Return window": f"Delivered items can be returned within {window} of delivery. After {window} "
                "the return window has closed and the items cannot be returned.",
                "How to return": "Only orders with the status delivered can be returned. Tell us the order id "
                "and which items to return; we list the return and ask you to confirm it before it is "
                "requested. You will receive an e-mail with instructions for sending the items back.",
                "Refund of a return": "The refund for returned items goes to the original payment method of "
                "the order or to one of your gift cards, nowhere else.",
            },
        ),
        "exchanges": (
            "Exchanges policy",
            {
                "What can be exchanged": f"Delivered items can be exchanged within {window} of delivery for "
                "another option of the same product (for example another size or colour). An item cannot be "
                "exchanged for a different product type.",
                "Price difference": "If the new option costs more or less, the price difference is charged to "
                "or refunded to a payment method you choose, which must be one of your own.",
            },
        ),
        "cancellations": (
            "Cancellations policy",
            {
                "Which orders can be cancelled": "Only pending orders can be cancelled. Once an order has been "
                "processed, shipped or delivered it can no longer be cancelled; a delivered order can be "
                "returned instead.",
                "Cancellation reason": "To cancel we ask for the reason: no longer needed, or ordered by mistake.",
                "Refund of a cancellation": "When a pending order is cancelled, the full amount paid is "
                "refunded to the payment method it was paid with.",
            },
        ),
        "refunds": (
            "Refunds policy",
            {
                "Where refunds go": "Refunds go to the original payment method of the order, or to one of "
                "your gift cards. We cannot refund to another person's card or account.",
                "How long refunds take": "A refund to a gift card is available immediately. A refund to a "
                f"credit card or PayPal takes up to {refund_days} business days to appear.",
                "Lost shipments": "If the carrier reports every shipment of a processed order as lost, the "
                "order can be refunded.",
            },
        ),
        "shipping": (
            "Shipping policy",
            {
                "Shipping time": "Standard shipping: orders are usually delivered within "
                f"{ship_lo} to {ship_hi} business days after they are processed. You can track each shipment "
                "with its tracking id.",
                "Changing the shipping address": "The shipping address of an order can be changed while the "
                "order is pending. Once it is processed, shipped or delivered the address cannot be changed.",
            },
        ),
        "payment": (
            "Payment methods",
            {
                "Accepted payment methods": "We accept credit cards, PayPal and gift cards.",
                "Gift cards": "A gift card can pay for an order only if its balance covers the amount.",
                "Changing the payment method": "The payment method of a pending order can be changed once, to "
                "another of your payment methods; the original payment is refunded.",
            },
        ),
        "account": (
            "Account and privacy",
            {
                "Identity verification": "Before we look at or change anything on your account we verify your "
                "identity with your e-mail address, or your first and last name and zip code.",
                "Changing your address": "You can ask us to change the default address on your account; other "
                "account changes are made by a human colleague.",
                "Privacy": "We only discuss an account with its verified owner and never reveal details of "
                "another customer's orders. Personal details are masked in our logs.",
            },
        ),
    }
    out = []
    for slug, (title, sections) in articles.items():
        body = "\n\n".join(f"## {name}\n{text}" for name, text in sections.items())
        out.append(Article(f"policy/{slug}", title, body + "\n", "policy"))
    return out


def _money(value: Any) -> str:
    return f"${float(value):.2f}"


def product_articles(url: str) -> list[Article]:
    """One article per product type, rendered from the products table (options, availability, prices)."""
    with connection(url) as conn:
        rows = conn.execute(
            "SELECT p.id, p.name, v.item_id, v.options, v.price, v.available FROM sa_products p "
            "JOIN sa_variants v ON v.product_id = p.id ORDER BY p.name, p.id, v.item_id"
        ).fetchall()
    products: dict[str, dict[str, Any]] = {}
    for pid, name, item_id, options, price, available in rows:
        entry = products.setdefault(pid, {"name": name, "variants": []})
        entry["variants"].append((item_id, options, price, available))
    out = []
    for pid, p in products.items():
        name, variants = p["name"], p["variants"]
        dims: dict[str, list[str]] = {}
        for _, options, _, _ in variants:
            for k, v in (options or {}).items():
                if str(v) not in dims.setdefault(k, []):
                    dims[k].append(str(v))
        in_stock = [v for v in variants if v[3]]
        available_dims: dict[str, list[str]] = {}
        for _, options, _, _ in in_stock:
            for k, v in (options or {}).items():
                if str(v) not in available_dims.setdefault(k, []):
                    available_dims[k].append(str(v))
        prices = [float(v[2]) for v in variants]

        def listing(d: dict[str, list[str]]) -> str:
            return "; ".join(f"{k}: {', '.join(sorted(vals))}" for k, vals in d.items()) or "none"

        def variant_text(v: tuple) -> str:
            return ", ".join(f"{k} {val}" for k, val in (v[1] or {}).items()) + f" ({_money(v[2])})"

        sections = {
            "Options": f"The {name} comes in {listing(dims)}. Prices range from {_money(min(prices))} to "
            f"{_money(max(prices))}.",
            "Availability": f"The {name} is available now in {listing(available_dims)}. In stock: "
            + "; ".join(variant_text(v) for v in in_stock)
            + ".",
        }
        out_of_stock = [v for v in variants if not v[3]]
        if out_of_stock:
            sections["Availability"] += " Out of stock: " + "; ".join(variant_text(v) for v in out_of_stock) + "."
        body = "\n\n".join(f"## {k}\n{v}" for k, v in sections.items())
        out.append(Article(f"product/{pid}", name, body + "\n", "product"))
    return out


def markdown_article(text: str, title: str = "Store policy", slug: str = "policy/store") -> Article:
    """A given markdown document (τ-bench's ``wiki.md``) as the policy article."""
    return Article(slug, title, text, "policy")


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with what a citation needs."""

    chunk_id: str
    document_id: str
    title: str
    section: str
    text: str
    score: float  # the fused (RRF) rank score
    relevance: float  # cosine similarity to the question: comparable across questions, so it is what we threshold

    @property
    def citation(self) -> str:
        return f"[{self.title} § {self.section}]" if self.section and self.section != self.title else f"[{self.title}]"

    def as_event(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "chunk_id": self.chunk_id,
            "citation": self.citation,
            "score": round(self.score, 4),
            "relevance": round(self.relevance, 4),
        }


_READY: set[tuple[str, str, str, str]] = set()
_READY_LOCK = threading.Lock()


class KnowledgeBase:
    """Ingests the articles of one retailer database into its collection and searches them per tenant."""

    def __init__(
        self,
        url: str,
        *,
        embedder: Embedder | None = None,
        settings: SupportSettings | None = None,
        policy_markdown: str | Path | None = None,
    ) -> None:
        self.url = url
        self.settings = settings or get_support_settings()
        self._embedder = embedder
        self.store = PgVectorStore(url)
        if isinstance(policy_markdown, Path):
            policy_markdown = policy_markdown.read_text(encoding="utf-8")
        self.policy_markdown = policy_markdown

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from shared.serving.factory import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    @property
    def collection(self) -> str:
        return self.settings.kb_collection

    def articles(self) -> list[Article]:
        policies = (
            [markdown_article(self.policy_markdown)]
            if self.policy_markdown is not None
            else policy_articles(self.settings)
        )
        return policies + product_articles(self.url)

    def documents(self, tenant_id: str) -> list[Document]:
        return [
            Document(
                collection=self.collection,
                source_uri=f"kb://{tenant_id}/{a.slug}",
                text=a.text,
                doc_type="md",
                title=a.title,
                metadata={"kind": a.kind, "slug": a.slug, "title": a.title},
                tenant_id=tenant_id,
            )
            for a in self.articles()
        ]

    def ensure(self, tenant_id: str) -> dict[str, Any]:
        """Make the tenant's knowledge base current once per process per (database, tenant, collection, policy
        source): searches call it, so after the first one it is a set lookup, not a catalogue read. A catalogue
        changed while the process runs needs :meth:`ingest`."""
        source = self.policy_markdown if self.policy_markdown is not None else self.settings.model_dump_json()
        key = (self.url, tenant_id, self.collection, hashlib.sha256(source.encode()).hexdigest())
        with _READY_LOCK:
            if key in _READY:
                return {"cached": True}
            report = self.ingest(tenant_id)
            _READY.add(key)
            return report

    def ingest(self, tenant_id: str) -> dict[str, Any]:
        """Upsert every article (hash-idempotent) and delete the tenant's articles that no longer exist."""
        from shared.retrieval import upgrade

        docs = self.documents(tenant_id)
        upgrade(self.url)
        self.store.create_collection(
            self.collection, embedding_model=self.embedder.model, embedding_dim=self.embedder.dim, chunking=KB_CHUNKING
        )
        results = Indexer(self.store, self.embedder).index_many(docs)
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            raise errors[0]
        keep = {d.id for d in docs}
        with connection(self.url) as conn:
            stale = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM documents WHERE collection = %s AND tenant_id = %s", (self.collection, tenant_id)
                )
                if r[0] not in keep
            ]
        for doc_id in stale:
            self.store.delete_document(self.collection, doc_id)
        statuses = [r.status for r in results if not isinstance(r, Exception)]
        report = {s: statuses.count(s) for s in sorted(set(statuses))} | {"deleted": len(stale)}
        log.info("knowledge base for tenant %s: %s", tenant_id, report)
        return report

    def search(self, question: str, tenant_id: str, k: int = 4) -> list[Hit]:
        """Hybrid search (dense + full text, RRF) over the tenant's articles (ingested on the first search of the
        process, see :meth:`ensure`)."""
        self.ensure(tenant_id)
        request = SearchRequest(
            collection=self.collection,
            query=question,
            principal=Principal(user_id="support-agent", tenant_id=tenant_id),
            mode="hybrid",
            lexical="any",
            k=k,
            candidates=20,
        )
        return [self._hit(r) for r in Searcher(self.store, self.embedder).search(request)]

    @staticmethod
    def _hit(r: SearchResult) -> Hit:
        path = (r.section or "").split(" > ")
        return Hit(
            chunk_id=r.chunk_id,
            document_id=r.document_id,
            title=str(r.metadata.get("title") or path[0] or "Knowledge base"),
            section=path[-1],
            text=r.text,
            score=r.score,
            relevance=float(r.dense_score or 0.0),
        )
