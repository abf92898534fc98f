"""The LLM step: prompt from the linked schema + few-shot examples, SQL out, validation errors fed back.

The prompt is short and plain (schema as ``CREATE TABLE`` text from the linker, verified examples, the
question, instructions), the form the small local model followed best on the dev set, and the reply is parsed
leniently (fenced block, ``[SQL]`` marker or the first ``SELECT``/``WITH``) because a 0.5B model does not
follow output formats reliably. ``-- assumption:`` comments the model writes are lifted out and shown to
the user, next to the assumptions the pipeline states itself (metric definitions used, row limits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot.tokens import Tokenizer, TokenType

from projects.nl2sql_analytics.models import Attempt, Example
from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest, Usage

DIALECT_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

# Plain, short instructions: measured on the dev set, the 0.5B model followed a sectioned "### Task" prompt
# with an extra "state your assumption" rule worse than this (4/12 vs 5/12 on the first geography items).
SYSTEM_PROMPT = (
    "You are an expert {dialect} analyst. Write one {dialect} SELECT query that answers the user's question "
    "using only the tables and columns in the schema. Reply with the SQL only, in a ```sql code block."
)
# Analytics defaults a dashboard user expects; stated so the model does not have to guess them.
DEFAULT_RULES = (
    "When the question asks for a value per group (by/each/per), return the group column(s) and the value, "
    "ordered by the value from highest to lowest unless the question asks for another order."
)

_FENCE = re.compile(r"```(?:sql|sqlite|postgresql|postgres)?\s*\n?(.*?)(?:```|$)", re.S | re.I)
# a CTE must look like one ("WITH name AS (") so that prose such as "With this query: SELECT ..." is skipped
_START = re.compile(
    r"\bWITH\s+(?:RECURSIVE\s+)?[\w\"`]+\s*(?:\([^)]*\)\s*)?AS\s*(?:NOT\s+)?(?:MATERIALIZED\s*)?\(|\bSELECT\b",
    re.IGNORECASE,
)
_ASSUMPTION = re.compile(r"^\s*--\s*assumption\s*:\s*(.+?)\s*$", re.I | re.M)


@dataclass
class Generated:
    sql: str
    assumptions: list[str] = field(default_factory=list)
    raw: str = ""
    usage: Usage | None = None


def split_statements(sql: str, dialect: str = "sqlite") -> list[str]:
    """The non-empty statements of ``sql`` in order, each stripped and without its terminating ``;``.

    A text the tokenizer cannot read (an unterminated quote) is returned whole: the database will report
    the real error when it runs, which is more useful than a tokenizer message.
    """
    try:
        tokens = Tokenizer(dialect=dialect).tokenize(sql)
    except Exception:  # sqlglot raises TokenError; any failure means "not splittable", not "no gold"
        return [sql.strip().rstrip(";").strip()] if sql.strip().rstrip(";").strip() else []
    statements, start = [], 0
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            statements.append(sql[start : tok.start])
            start = tok.end + 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if s.strip()]


def extract_sql(reply: str) -> str:
    """The first statement in a model reply: a fenced block, else from the first SELECT/WITH; assumption
    comments dropped. ``;`` inside string literals does not end it (sqlglot's tokenizer splits); an empty
    string means the reply held no query."""
    text = reply.strip()
    fenced = _FENCE.search(text)
    if fenced and fenced.group(1).strip():
        text = fenced.group(1)
    text = text.split("[/SQL]")[0].replace("[SQL]", "")
    code = "\n".join(line for line in text.splitlines() if not _ASSUMPTION.match(line))
    match = _START.search(code)
    if not match:  # a fenced non-SELECT (DELETE ...) is returned as is, so validation names what it is
        statements = split_statements(code) if fenced else []
        return statements[0] if statements else ""
    statements = split_statements(code[match.start() :])
    return statements[0] if statements else ""


def extract_assumptions(reply: str) -> list[str]:
    return [m.group(1) for m in _ASSUMPTION.finditer(reply)]


def build_messages(
    question: str,
    schema_prompt: str,
    dialect: str,
    *,
    instructions: str = "",
    examples: list[Example] | None = None,
    attempts: list[Attempt] | None = None,
) -> list[ChatMessage]:
    """System rules, then the task with schema and examples; each failed attempt becomes a feedback turn."""
    name = DIALECT_NAMES.get(dialect, dialect)
    parts = [f"Database schema:\n{schema_prompt.strip()}"]
    if examples:
        shots = "\n\n".join(f"Question: {e.question}\n```sql\n{e.sql.strip()}\n```" for e in examples)
        parts.append(f"Verified examples on this database:\n{shots}")
    parts.append(f"Question: {question}")
    rules = " ".join(r for r in (instructions.strip(), DEFAULT_RULES) if r)
    parts.append(f"Instructions: {rules}")
    messages = [
        ChatMessage(role="system", content=SYSTEM_PROMPT.format(dialect=name)),
        ChatMessage(role="user", content="\n\n".join(parts)),
    ]
    for attempt in attempts or []:
        if attempt.error is None:
            continue
        messages.append(ChatMessage(role="assistant", content=f"```sql\n{attempt.sql}\n```"))
        hint = f" Hint: {attempt.error.suggestion}" if attempt.error.suggestion else ""
        messages.append(
            ChatMessage(
                role="user",
                content=f"That query failed: {attempt.error.code}: {attempt.error.message}{hint}\n"
                "Write a corrected query in a ```sql code block.",
            )
        )
    return messages


def generate_sql(chat: ChatModel, messages: list[ChatMessage], *, max_tokens: int = 384) -> Generated:
    result = chat.chat(ChatRequest(messages=messages, max_tokens=max_tokens, temperature=0.0))
    return Generated(
        sql=extract_sql(result.text), assumptions=extract_assumptions(result.text), raw=result.text, usage=result.usage
    )
