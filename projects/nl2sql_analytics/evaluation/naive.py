"""The naive baseline: the whole schema dumped into one prompt, the question, one call to the same LLM.

No schema linking, no few-shot examples, no validation, no retry: this is "prompting the model directly",
the thing users say NL-to-SQL tools are often worse than, so the pipeline's gain is measured against it.
The schema is every table's columns as CREATE TABLE text (types from SQLite, descriptions from the
metadata JSON as ``--`` comments when given), in the style of defog's sql-eval prompts.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from projects.nl2sql_analytics import generation
from projects.nl2sql_analytics.evaluation.dataset import DbMetadata, EvalItem
from projects.nl2sql_analytics.evaluation.execute import connect_readonly
from projects.nl2sql_analytics.evaluation.protocol import Generated
from projects.nl2sql_analytics.generation import extract_sql
from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest

SYSTEM_PROMPT = generation.SYSTEM_PROMPT.format(dialect="SQLite")  # the pipeline's own instruction, no extras


def schema_dump(db_path: str | Path, metadata: DbMetadata | None = None) -> str:
    """CREATE TABLE text for every table of the database, with metadata descriptions as column comments."""
    described = {
        (table.lower(), col.name.lower()): col.description
        for table, cols in (metadata or {}).items()
        for col in cols
        if col.description
    }
    conn = connect_readonly(db_path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        blocks = []
        for table in tables:
            cols = conn.execute(f'PRAGMA table_info("{table.replace(chr(34), chr(34) * 2)}")').fetchall()
            columns = [
                (
                    f"  {name} {type_ or 'TEXT'}{' PRIMARY KEY' if pk == 1 else ''}",
                    described.get((table.lower(), name.lower())),
                )
                for _cid, name, type_, _notnull, _default, pk in cols
            ]
            lines = [
                decl + ("," if i < len(columns) - 1 else "") + (f" -- {note}" if note else "")
                for i, (decl, note) in enumerate(columns)
            ]
            blocks.append(f"CREATE TABLE {table} (\n" + "\n".join(lines) + "\n);")
        return "\n\n".join(blocks)
    except sqlite3.Error as exc:
        raise RuntimeError(f"cannot read the schema of {db_path}: {exc}") from exc
    finally:
        conn.close()


def build_messages(schema: str, question: str, instructions: str = "") -> list[ChatMessage]:
    """The baseline's two messages; instructions from the dataset are passed verbatim, as defog does."""
    user = f"Database schema:\n{schema}\n\nQuestion: {question}"
    if instructions:
        user += f"\nInstructions: {instructions}"
    return [ChatMessage.system(SYSTEM_PROMPT), ChatMessage.user(user)]


class NaiveGenerator:
    """``Generator`` for the baseline: one greedy chat call per question, schema dumps cached per database."""

    name = "naive"

    def __init__(self, model: ChatModel, *, max_tokens: int = 256) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self._schemas: dict[tuple[str, bool], str] = {}

    def schema(self, db_path: Path, metadata: DbMetadata | None) -> str:
        key = (str(db_path), metadata is not None)  # one metadata file per database in a run
        if key not in self._schemas:
            self._schemas[key] = schema_dump(db_path, metadata)
        return self._schemas[key]

    def __call__(self, item: EvalItem, db_path: Path, metadata: DbMetadata | None) -> Generated:
        t0 = time.perf_counter()
        messages = build_messages(self.schema(db_path, metadata), item.question, item.instructions)
        t1 = time.perf_counter()
        result = self.model.chat(ChatRequest(messages=messages, temperature=0.0, max_tokens=self.max_tokens))
        t2 = time.perf_counter()
        sql = extract_sql(result.text)
        return Generated(
            sql=sql or None,
            error=None if sql else "no SQL in the model reply",
            stages_ms={"prompt": round((t1 - t0) * 1000, 2), "generation": round((t2 - t1) * 1000, 2)},
            detail={"reply": result.text, "prompt_tokens": result.usage.prompt_tokens},
        )
