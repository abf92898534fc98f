"""The full pipeline as an eval system (``evaluation.protocol.Generator``): one instance per eval run.

Each dev database becomes a connection on first sight; its metadata JSON (column descriptions) becomes a
semantic layer, so linking and the prompt see it exactly as they would a user's hand-written layer. There are
no verified examples for the dev databases, so few-shot is off; everything else is the production path.
"""

from __future__ import annotations

from pathlib import Path

from projects.nl2sql_analytics.connections import Connection, SchemaInfo
from projects.nl2sql_analytics.evaluation.dataset import DbMetadata, EvalItem
from projects.nl2sql_analytics.evaluation.protocol import Generated
from projects.nl2sql_analytics.pipeline import Linker, Nl2SqlPipeline
from projects.nl2sql_analytics.semantic import SemanticLayer, bootstrap


def semantic_from_metadata(schema: SchemaInfo, metadata: DbMetadata | None) -> SemanticLayer | None:
    """Column descriptions of the eval metadata as a bootstrapped semantic layer."""
    if not metadata:
        return None
    tables = {t.name: {c.name: c.type for c in t.columns} for t in schema.tables}
    layer = bootstrap(tables, [], connection="eval", dialect=schema.dialect)
    described = {(t.lower(), c.name.lower()): c.description for t, cols in metadata.items() for c in cols}
    for table_name, table in layer.tables.items():
        for column_name, column in table.columns.items():
            text = described.get((table_name.lower(), column_name.lower()))
            if text:
                column.description = text
    return layer


class PipelineSystem:
    """``system(item, db_path, metadata) -> Generated``: the real local model, the real linker on the
    embedded database (unless a ``linker`` is given)."""

    name = "pipeline"

    def __init__(self, linker: Linker | None = None) -> None:
        from shared.serving.factory import get_chat_model

        if linker is None:
            from projects.nl2sql_analytics.linking import SchemaLinker
            from shared.db import database_url
            from shared.serving.factory import get_embedder

            linker = SchemaLinker(database_url(), get_embedder())
        self.connections: dict[str, Connection] = {}
        self.layers: dict[str, SemanticLayer | None] = {}
        self.pipeline = Nl2SqlPipeline(
            get_chat_model(), linker, connections=self.connections.__getitem__, semantic=self.layers.get
        )

    def __call__(self, item: EvalItem, db_path: Path, metadata: DbMetadata | None) -> Generated:
        name = item.db_name
        if name not in self.connections:
            self.connections[name] = Connection(name=name, target=str(db_path))
            self.layers[name] = semantic_from_metadata(self.pipeline.schema(self.connections[name]), metadata)
        answer = self.pipeline.ask(item.question, name, insight=False, instructions=item.instructions or "")
        detail = {
            "status": answer.status,
            "attempts": [a.model_dump() for a in answer.attempts],
            "linked_tables": answer.linked.tables if answer.linked else [],
        }
        sql = answer.sql or (answer.attempts[-1].sql if answer.attempts else None)
        error = None if answer.status == "ok" else (answer.error.code if answer.error else answer.status)
        return Generated(sql=sql, error=error, stages_ms=answer.timings_ms, detail=detail)
