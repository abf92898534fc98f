"""Long-term episodic memory: what worked for similar goals, in pgvector through ``shared/retrieval``.

After a run succeeds, one short document is stored per run: the goal, the tools that produced the answer, and the
answer's first lines. A new run recalls the closest few (dense search, tenant-scoped) and shows them to the
planner: "last time a goal like this was solved with sql_query then python". Failed runs are not remembered as
recipes (a bad trajectory recalled as advice is worse than none).

Retention: at most ``AGENT__MEMORY_MAX_PER_TENANT`` memories per tenant (the oldest go first) and none older than
``AGENT__MEMORY_TTL_DAYS``: memory stays a cache of recent experience, not an ever-growing log.
"""

from __future__ import annotations

import logging

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from shared.retrieval import PgVectorStore, Principal, Searcher, SearchRequest
from shared.retrieval.models import Chunk, Document
from shared.serving.base import Embedder

log = logging.getLogger(__name__)


class EpisodicMemory:
    def __init__(self, store: PgVectorStore, embedder: Embedder, settings: AgentSettings | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings or get_agent_settings()
        self.collection = self.settings.memory_collection
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            self.store.create_collection(
                self.collection, embedding_model=self.embedder.model, embedding_dim=self.embedder.dim
            )
            self._ready = True

    def remember(self, *, run_id: str, tenant: str, goal: str, tools_used: list[str], answer: str) -> None:
        self._ensure()
        recipe = " → ".join(dict.fromkeys(tools_used)) or "no tools (answered directly)"
        text = f"Goal: {goal.strip()}\nWhat worked: {recipe}\nAnswer: {answer.strip()[:300]}"
        doc = Document(
            collection=self.collection, source_uri=f"run:{run_id}", text=text, tenant_id=tenant,
            metadata={"run_id": run_id, "tools": tools_used}, title=goal[:120],
        )  # fmt: skip
        chunk = Chunk(document_id=doc.id, ordinal=0, text=text)
        self.store.upsert_document(doc, [chunk], self.embedder.embed([text]))
        self.prune(tenant)

    def recall(self, tenant: str, goal: str, k: int | None = None) -> list[str]:
        """Up to ``k`` memories closer than ``AGENT__MEMORY_MIN_SCORE`` to ``goal``, best first."""
        k = k or self.settings.memory_recall_k
        try:
            self._ensure()
            request = SearchRequest(
                collection=self.collection, query=goal, mode="dense", k=k, candidates=max(10, 4 * k),
                principal=Principal(user_id="agent", tenant_id=tenant),
            )  # fmt: skip
            results = Searcher(self.store, self.embedder).search(request)
        except Exception as exc:  # memory is advice: a failure must not fail the run
            log.warning("episodic memory recall failed: %s", exc)
            return []

        def similarity(r) -> float:
            return r.dense_score if r.dense_score is not None else r.score

        return [r.text for r in results if similarity(r) >= self.settings.memory_min_score][:k]

    def prune(self, tenant: str) -> int:
        """Apply retention for ``tenant``; returns how many memories were dropped."""
        with self.store.connect() as conn:
            rows = conn.execute(
                "SELECT id FROM documents WHERE collection = %s AND tenant_id = %s AND ("
                "created_at < now() - make_interval(days => %s) OR id NOT IN ("
                "SELECT id FROM documents WHERE collection = %s AND tenant_id = %s "
                "ORDER BY created_at DESC LIMIT %s))",
                (self.collection, tenant, self.settings.memory_ttl_days, self.collection, tenant,
                 self.settings.memory_max_per_tenant),
            ).fetchall()  # fmt: skip
        for (doc_id,) in rows:
            self.store.delete_document(self.collection, doc_id)
        return len(rows)

    def count(self, tenant: str) -> int:
        with self.store.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM documents WHERE collection = %s AND tenant_id = %s", (self.collection, tenant)
            ).fetchone()
        return int(row[0])
