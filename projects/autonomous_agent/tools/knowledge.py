"""``knowledge_search``: hybrid search (dense + full text) over a ``shared/retrieval`` collection.

The agent reads whatever was indexed into the collection (``AGENT__KNOWLEDGE_COLLECTION``, e.g. by the enterprise
RAG ingestion or ``Indexer`` directly); results are scoped to the run's tenant through the store's ACL filters,
so one tenant's run never sees another's documents. Each passage comes back with its chunk id, so the final
answer can cite it as evidence.
"""

from __future__ import annotations

from typing import Any

from psycopg.errors import UndefinedTable

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.types import Permission, ToolContext, ToolResult
from shared.retrieval import CollectionNotFoundError, PgVectorStore, Principal, Searcher, SearchRequest
from shared.serving.base import Embedder

_PASSAGE_CHARS = 800


class KnowledgeSearchTool:
    name = "knowledge_search"
    permission: Permission = "read"

    def __init__(
        self,
        store: PgVectorStore | None = None,
        embedder: Embedder | None = None,
        *,
        collection: str | None = None,
        settings: AgentSettings | None = None,
    ) -> None:
        self.settings = settings or get_agent_settings()
        self._store = store
        self._embedder = embedder
        self.collection = collection or self.settings.knowledge_collection
        k = self.settings.knowledge_top_k
        self.description = (
            f"Search the knowledge base ('{self.collection}') and return the most relevant passages with their "
            "ids; cite the ids as evidence."
        )
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "description": "what to look for, in words"},
                "k": {"type": "integer", "minimum": 1, "maximum": 20, "description": f"passages (default {k})"},
            },
            "required": ["query"],
            "additionalProperties": False,
        }

    @property
    def store(self) -> PgVectorStore:
        if self._store is None:  # lazily: building the registry must not start the database
            self._store = PgVectorStore()
        return self._store

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:  # lazily: the model loads on the first search, not at import
            from shared.serving import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        k = int(arguments.get("k") or self.settings.knowledge_top_k)
        request = SearchRequest(
            collection=self.collection,
            query=arguments["query"],
            principal=Principal(user_id=f"agent:{ctx.run_id}", tenant_id=ctx.tenant),
            mode="hybrid",
            lexical="any",
            k=k,
            candidates=max(20, 4 * k),
        )
        try:
            results = Searcher(self.store, self.embedder).search(request)
        except (CollectionNotFoundError, UndefinedTable):
            return ToolResult(
                ok=False, error=f"the knowledge base '{self.collection}' does not exist (nothing indexed)"
            )
        if not results:
            return ToolResult(ok=True, output="no passages matched", data={"passages": []})
        passages = []
        blocks = []
        for r in results:
            text = r.text if len(r.text) <= _PASSAGE_CHARS else r.text[:_PASSAGE_CHARS] + "…"
            title = r.metadata.get("title") or r.section or r.source_uri
            passages.append(
                {"id": r.chunk_id, "document_id": r.document_id, "source": r.source_uri, "title": title,
                 "score": round(r.score, 4), "text": text}
            )  # fmt: skip
            blocks.append(f"[{r.chunk_id}] {title} ({r.source_uri})\n{text}")
        return ToolResult(ok=True, output="\n\n".join(blocks), data={"passages": passages})
