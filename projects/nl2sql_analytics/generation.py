"""The LLM step: prompt from the linked schema + few-shot examples, SQL out, validation errors fed back.

The prompt is in the shape small code models were tuned on (defog's SQLCoder / Qwen2.5-Coder text-to-SQL
format: task, instructions, schema as ``CREATE TABLE`` text, then the answer), and the reply is parsed
leniently (fenced block, ``[SQL]`` marker or the first ``SELECT``/``WITH``) because a 0.5B model does not
follow output formats reliably. Assumptions are ``-- assumption:`` comments the model may write; they
are lifted out and shown to the user (the issue's "state the assumption" for ambiguous questions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from projects.nl2sql_analytics.evaluation.dataset import split_statements
from projects.nl2sql_analytics.models import Attempt, Example
from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest, Usage

DIALECT_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

SYSTEM_PROMPT = (
    "You are an expert data analyst who writes {dialect} queries. Reply with exactly one read-only SELECT "
    "statement in a ```sql code block and nothing else. Use only the tables and columns of the schema given. "
    "If the question is ambiguous, choose the most common business reading and state it in a first line "
    "`-- assumption: ...` inside the code block."
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
    parts = [f"### Task\nGenerate a {name} query to answer this question: {question}"]
    if instructions.strip():
        parts.append(f"### Instructions\n{instructions.strip()}")
    parts.append(f"### Database schema\n{schema_prompt.strip()}")
    if examples:
        shots = "\n\n".join(f"Question: {e.question}\n```sql\n{e.sql.strip()}\n```" for e in examples)
        parts.append(f"### Verified examples on this database\n{shots}")
    parts.append(f"### Answer\nThe {name} query that answers: {question}")
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
