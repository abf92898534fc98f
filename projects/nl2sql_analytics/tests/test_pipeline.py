"""Pipeline orchestration on a real SQLite database with a scripted chat double (the model is the only fake).

What is asserted is the control flow the issue asks for: write intents refused before any model call,
validation and execution errors fed back with bounded retries, policy denials final, timeouts reported,
assumptions surfaced, row-level security applied to whatever the model writes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projects.nl2sql_analytics.connections import Connection, SchemaInfo
from projects.nl2sql_analytics.models import Example, LinkedSchema
from projects.nl2sql_analytics.pipeline import Nl2SqlPipeline, QuestionError
from projects.nl2sql_analytics.policies import PolicySet
from projects.nl2sql_analytics.settings import Nl2SqlSettings
from shared.serving.base import ChatModel
from shared.serving.types import ChatRequest, ChatResult, StreamChunk, Usage

from .conftest import ALLOWED_ORDER_IDS, REGION


class ScriptedChat(ChatModel):
    backend = "test"
    model = "scripted"

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.calls: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls.append(request)
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return ChatResult(text=text, model=self.model, backend=self.backend, usage=Usage(total_tokens=1))

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        yield StreamChunk(delta=self.chat(request).text, finish_reason="stop")


class AllTables:
    """Links every table (the real linker is tested in test_linking.py)."""

    def link(self, name: str, question: str, schema: SchemaInfo, layer=None) -> LinkedSchema:
        if "weather" in question:
            return LinkedSchema()
        prompt = "\n".join(f"CREATE TABLE {t.name} ({', '.join(c.name for c in t.columns)});" for t in schema.tables)
        return LinkedSchema(tables=schema.table_names(), prompt=prompt)


class FixedExamples:
    def similar(self, connection: str, question: str, k: int) -> list[Example]:
        return [Example(question="How many regions are there?", sql="SELECT COUNT(*) FROM regions", score=0.9)]


POLICIES = PolicySet(
    governed_tables=["orders", "customers", "payments"],
    users={"manager": {"orders": f"region_id = {REGION}", "customers": f"region_id = {REGION}"}},
)


def make(db: Connection, chat: ScriptedChat, **overrides) -> Nl2SqlPipeline:
    settings = Nl2SqlSettings(**({"statement_timeout_ms": 700, "max_retries": 2} | overrides))
    return Nl2SqlPipeline(
        chat, AllTables(), connections=lambda name: db, policies=lambda _n: POLICIES, examples=FixedExamples(),
        settings=settings,
    )  # fmt: skip


def fenced(sql: str) -> str:
    return f"Here you go:\n```sql\n{sql}\n```"


def test_a_good_answer_has_rows_chart_and_an_insight(sqlite_db: Connection) -> None:
    chat = ScriptedChat(fenced("SELECT r.name, COUNT(*) AS n FROM regions r GROUP BY 1"), "There are 3 regions.")
    answer = make(sqlite_db, chat).ask("How many rows per region name?", "shop")
    assert answer.status == "ok" and sorted(answer.rows) == [["East", 1], ["North", 1], ["South", 1]]
    assert answer.chart is not None and answer.chart.kind in {"bar", "pie"}
    assert answer.insight is not None and answer.insight.text
    assert "How many regions are there?" in chat.calls[0].messages[1].content  # the few-shot example was used
    assert set(answer.timings_ms) >= {"linking", "generation", "validation", "execution", "insight"}


def test_a_policy_denial_is_final_not_retried(sqlite_db: Connection) -> None:
    chat = ScriptedChat(fenced("SELECT SUM(amount) FROM orders"))
    answer = make(sqlite_db, chat).ask("Total order amount", "shop", user="intern")
    assert answer.status == "refused" and answer.error.code == "POLICY_DENIED" and answer.rows == []
    assert len(chat.calls) == 1


def test_a_validation_error_is_fed_back_and_the_retry_succeeds(sqlite_db: Connection) -> None:
    chat = ScriptedChat(fenced("SELECT customer_name FROM customers"), fenced("SELECT name FROM customers"))
    answer = make(sqlite_db, chat).ask("List customer names", "shop", user="manager", insight=False)
    assert answer.status == "ok" and len(answer.rows) == 3
    assert [a.error.code if a.error else None for a in answer.attempts] == ["UNKNOWN_COLUMN", None]
    feedback = chat.calls[1].messages[-1].content
    assert "UNKNOWN_COLUMN" in feedback and "customer_name" in feedback


def test_retries_are_bounded_and_the_last_error_is_reported(sqlite_db: Connection) -> None:
    chat = ScriptedChat(fenced("SELECT nope FROM nowhere"))
    answer = make(sqlite_db, chat, max_retries=1).ask("Something impossible", "shop", insight=False)
    assert answer.status == "failed" and answer.error.code == "UNKNOWN_TABLE"
    assert len(chat.calls) == 2 and len(answer.attempts) == 2 and answer.rows == []


def test_an_execution_error_is_fed_back_too(sqlite_db: Connection) -> None:
    chat = ScriptedChat(fenced("SELECT abs(1, 2) FROM regions"), fenced("SELECT abs(-1) FROM regions"))
    answer = make(sqlite_db, chat).ask("Absolute value per region", "shop", insight=False)
    assert [a.error.code if a.error else None for a in answer.attempts][-1] is None
    assert answer.status == "ok" and answer.rows == [[1], [1], [1]]


@pytest.mark.parametrize(
    "question",
    ["Delete all orders", "drop table orders", "Please update the customers set region to 1",
     "can you remove customer 3?"],
)  # fmt: skip
def test_write_intents_are_refused_before_any_model_call(sqlite_db: Connection, question: str) -> None:
    chat = ScriptedChat(fenced("DELETE FROM orders"))
    answer = make(sqlite_db, chat).ask(question, "shop")
    assert answer.status == "refused" and answer.error.code == "WRITE_REFUSED" and chat.calls == []


def test_a_write_the_model_writes_anyway_never_runs(sqlite_db: Connection) -> None:
    """An innocent question, a malicious reply (prompt injection in data, or a confused model)."""
    chat = ScriptedChat(fenced("DELETE FROM orders"), fenced("SELECT 1; DROP TABLE orders"))
    answer = make(sqlite_db, chat, max_retries=1).ask("How many orders were there?", "shop", insight=False)
    assert answer.attempts[0].error.code == "NOT_READ_ONLY"
    # only the reply's first statement is ever taken: the appended DROP is not even validated, let alone run
    assert answer.attempts[1].sql == "SELECT 1" and answer.rows == [[1]]
    again = make(sqlite_db, ScriptedChat(fenced("SELECT COUNT(*) FROM orders"))).ask(
        "How many orders?", "shop", user="manager", insight=False
    )
    assert again.rows == [[len(ALLOWED_ORDER_IDS)]]  # still all there, and RLS applied


def test_injection_text_in_the_question_changes_nothing(sqlite_db: Connection) -> None:
    chat = ScriptedChat(fenced("SELECT id FROM orders WHERE note = 'x' OR 1=1"))
    answer = make(sqlite_db, chat).ask(
        "Show orders with note x' OR 1=1; DROP TABLE orders; --", "shop", user="manager", insight=False
    )
    assert answer.status == "ok" and {r[0] for r in answer.rows} == ALLOWED_ORDER_IDS  # RLS holds even on OR 1=1
    assert "region_id = 3" in answer.executed_sql.replace('"', "")


def test_unmatched_questions_ask_for_clarification_and_assumptions_are_shown(sqlite_db: Connection) -> None:
    chat = ScriptedChat(fenced("SELECT 1"))
    answer = make(sqlite_db, chat).ask("What's the weather like?", "shop")
    assert answer.status == "clarify" and "regions" in answer.clarification and chat.calls == []

    chat = ScriptedChat(
        "```sql\n-- assumption: 'top' means by total amount\nSELECT customer_id, SUM(amount) FROM orders "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 3\n```"
    )
    answer = make(sqlite_db, chat).ask("Top customers", "shop", user="manager", insight=False)
    assert answer.status == "ok" and answer.assumptions[0] == "'top' means by total amount"
    assert "'Top' was read as: ranked by SUM(amount) (highest first)" in answer.assumptions
    assert len(answer.rows) == 3


def test_a_slow_cartesian_join_times_out_with_a_clear_message(sqlite_db: Connection) -> None:
    slow = "SELECT COUNT(*) FROM " + ", ".join(f"orders o{i}" for i in range(8))  # 10^8 rows for the manager
    answer = make(sqlite_db, ScriptedChat(fenced(slow))).ask("Count everything", "shop", user="manager")
    assert answer.status == "failed" and answer.error.code == "TIMEOUT" and "700 ms" in answer.error.message


def test_big_results_are_cut_at_the_row_limit_and_say_so(sqlite_db: Connection) -> None:
    many = "SELECT a.id, b.id FROM regions a, regions b, regions c"
    answer = make(sqlite_db, ScriptedChat(fenced(many)), row_limit=5).ask("All combos", "shop", insight=False)
    assert answer.status == "ok" and len(answer.rows) == 5 and answer.truncated
    assert any("first 5 rows" in a for a in answer.assumptions)


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_empty_and_oversized_questions_are_refused(sqlite_db: Connection, question: str) -> None:
    with pytest.raises(QuestionError):
        make(sqlite_db, ScriptedChat("x")).ask(question, "shop")


def test_unicode_questions_work(sqlite_db: Connection) -> None:
    chat = ScriptedChat(fenced("SELECT name FROM regions WHERE name = 'Ñorth'"))
    answer = make(sqlite_db, chat).ask("Régions nommées « Ñorth » 🌍 ?", "shop", insight=False)
    assert answer.status == "ok" and answer.rows == [] and "Ñorth" in chat.calls[0].messages[1].content


def test_an_ambiguous_join_column_is_qualified_without_a_model_call(sqlite_db: Connection) -> None:
    ambiguous = (
        "SELECT region_id, COUNT(*) AS n FROM orders JOIN customers ON customers.id = orders.customer_id "
        "GROUP BY region_id"
    )
    chat = ScriptedChat(fenced(ambiguous))
    answer = make(sqlite_db, chat).ask("Orders per region", "shop", user="manager", insight=False)
    assert answer.status == "ok" and len(chat.calls) == 1 and answer.attempts[0].error is None
    assert "orders.region_id" in answer.sql and answer.rows == [[REGION, len(ALLOWED_ORDER_IDS)]]


def test_a_vague_question_states_how_it_was_read(sqlite_db: Connection) -> None:
    chat = ScriptedChat(
        fenced("SELECT customer_id, SUM(amount) AS total FROM orders GROUP BY 1 ORDER BY total DESC LIMIT 2")
    )
    answer = make(sqlite_db, chat).ask("Who are our best customers?", "shop", user="manager", insight=False)
    assert answer.status == "ok" and len(answer.rows) == 2
    assert answer.assumptions[:2] == [
        "'best' was read as: ranked by total (highest first)",
        "Only the first 2 rows of that ranking are shown.",
    ]
    plain = make(sqlite_db, ScriptedChat(fenced("SELECT COUNT(*) FROM orders"))).ask(
        "How many orders?", "shop", user="manager", insight=False
    )
    assert plain.assumptions == []
