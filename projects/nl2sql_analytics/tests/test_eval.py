"""The NL-to-SQL evaluation: comparator semantics, dataset parsing, read-only execution, the naive baseline,
and the CLI end to end on a tiny self-made SQLite database (test doubles for the systems; one real-model run)."""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from projects.nl2sql_analytics import eval as nl_eval
from projects.nl2sql_analytics.evaluation.compare import (
    OrderSpec,
    normalise_value,
    order_spec,
    results_match,
    values_equal,
)
from projects.nl2sql_analytics.evaluation.dataset import (
    EvalItem,
    load_metadata,
    metadata_for,
    read_questions,
    split_statements,
)
from projects.nl2sql_analytics.evaluation.execute import run_query
from projects.nl2sql_analytics.evaluation.naive import NaiveGenerator, build_messages, schema_dump
from projects.nl2sql_analytics.evaluation.protocol import Generated
from projects.nl2sql_analytics.generation import extract_sql
from projects.nl2sql_analytics.settings import get_nl2sql_settings
from shared.serving.base import ChatModel
from shared.serving.types import ChatRequest, ChatResult, StreamChunk, Usage

ORDERED = OrderSpec(True, None)

# --------------------------------------------------------------------------- comparator


def test_column_names_are_ignored_and_row_order_too_without_order_by():
    gold = [("a", 1), ("b", 2)]
    assert results_match(gold, [("b", 2), ("a", 1)])
    assert results_match(gold, [(2, "b"), (1, "a")])  # columns swapped: matched by values, not position


def test_order_matters_only_when_gold_orders():
    gold = [("a", 1), ("b", 2)]
    assert not results_match(gold, [("b", 2), ("a", 1)], order=ORDERED)
    assert results_match(gold, [("a", 1), ("b", 2)], order=ORDERED)


def test_ties_on_the_order_keys_may_come_in_any_order():
    gold = [("x", 3), ("y", 3), ("z", 1)]  # ORDER BY the 2nd column: x and y tie
    keyed = OrderSpec(True, (1,))
    assert results_match(gold, [("y", 3), ("x", 3), ("z", 1)], order=keyed)
    assert not results_match(gold, [("z", 1), ("x", 3), ("y", 3)], order=keyed)  # keys out of order
    assert not results_match(gold, [("y", 3), ("x", 3), ("z", 1)], order=ORDERED)  # key unknown: exact sequence


def test_extra_columns_allowed_only_when_every_gold_column_is_present():
    gold = [("a", 1), ("b", 2)]
    assert results_match(gold, [(10, "a", 1, "extra"), (20, "b", 2, "extra")])
    assert not results_match(gold, [("a", 9), ("b", 8)])  # a gold column missing
    assert not results_match(gold, [("a",), ("b",)])  # fewer columns than gold


def test_extra_columns_must_keep_gold_rows_together():
    gold = [("a", 1), ("b", 2)]
    # each gold column's values exist in some generated column, but the rows pair them differently
    assert not results_match(gold, [("a", 2), ("b", 1)])
    assert not results_match(gold, [("a", 2, 0), ("b", 1, 0)])


def test_each_gold_column_needs_a_distinct_generated_column():
    gold = [(1, 1), (2, 2)]
    assert not results_match(gold, [(1,), (2,)], gold_width=2, gen_width=1)
    assert results_match(gold, [(1, "n", 1), (2, "n", 2)])


def test_duplicate_rows_are_ignored_by_default_and_count_in_bag_mode():
    assert results_match([("a",), ("b",)], [("a",), ("a",), ("b",)])  # defog: a missing DISTINCT is fine
    assert not results_match([("a",), ("b",)], [("a",), ("a",), ("b",)], distinct=False)
    assert not results_match([("a",), ("a",), ("b",)], [("a",), ("b",), ("b",)], distinct=False)
    assert results_match([("a",), ("a",), ("b",)], [("a",), ("b",), ("a",)], distinct=False)
    assert not results_match([("a",), ("b",)], [("a",), ("c",)])
    # duplicates appear only after dropping an extra column; ordered gold keeps first occurrences in order
    assert results_match([("a",), ("b",)], [("a", 1), ("a", 2), ("b", 3)], order=ORDERED)
    assert not results_match([("b",), ("a",)], [("a", 1), ("b", 2), ("b", 3)], order=ORDERED)


def test_float_tolerance_is_relative_and_ints_stay_exact():
    assert results_match([(1 / 3,)], [(0.33333333333,)])
    assert not results_match([(1 / 3,)], [(0.3333,)])
    assert results_match([(3,)], [(3.0,)])
    assert results_match([(2.5,)], [(2.5000000000001,)])
    assert not results_match([(0,)], [(0.5,)])  # integer division vs real division is a different answer
    assert not results_match([(123456789,)], [(123456790,)])
    assert values_equal(normalise_value(1e-12), normalise_value(0))


def test_values_normalise_strings_dates_bools_and_nulls():
    assert results_match([("42", "2024-01-05 00:00:00")], [(42, "2024-01-05")])
    assert results_match([(" text ", True)], [("text", 1)])
    assert results_match([(None, 1)], [(None, 1)])
    assert not results_match([(None,)], [(0,)])
    assert not results_match([("None",)], [(None,)])
    assert not results_match([("2024-01-05 10:00:00",)], [("2024-01-05",)])


def test_empty_results_match_when_gold_columns_fit():
    assert results_match([], [], gold_width=2, gen_width=3)
    assert not results_match([], [], gold_width=2, gen_width=1)
    assert not results_match([("a",)], [], gold_width=1, gen_width=1)


def test_order_spec_reads_the_outermost_query_only():
    assert order_spec("SELECT a FROM (SELECT a FROM t ORDER BY a) AS s") == OrderSpec(False, None)
    assert order_spec("SELECT a FROM t WHERE b = 'order by x'") == OrderSpec(False, None)
    assert order_spec("SELECT a, COUNT(*) AS n FROM t GROUP BY a ORDER BY n DESC NULLS FIRST") == OrderSpec(True, (1,))
    assert order_spec("SELECT t.a, b FROM t ORDER BY a, 2") == OrderSpec(True, (0, 1))
    assert order_spec("SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY COUNT(*)") == OrderSpec(True, (1,))
    assert order_spec("SELECT a FROM t ORDER BY b") == OrderSpec(True, None)  # key not in the output
    assert order_spec("SELECT * FROM t ORDER BY b") == OrderSpec(True, None)
    assert order_spec("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1") == OrderSpec(True, (0,))


# --------------------------------------------------------------------------- dataset


def test_split_statements_ignores_semicolons_in_literals_and_comments():
    sql = "SELECT 'a;b' AS x FROM t;\n-- note; not a split\nSELECT \"c;d\" FROM u WHERE v LIKE '%;%';;"
    assert split_statements(sql) == [
        "SELECT 'a;b' AS x FROM t",
        "-- note; not a split\nSELECT \"c;d\" FROM u WHERE v LIKE '%;%'",
    ]
    assert split_statements("SELECT 1") == ["SELECT 1"]
    assert split_statements("  ;  ") == []


def _write_csv(path: Path, rows: list[dict]) -> Path:
    cols = ["db_name", "db_type", "query_category", "query", "question", "instructions"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in cols})
    return path


def test_read_questions_splits_gold_and_keeps_instructions(tmp_path):
    path = _write_csv(
        tmp_path / "q.csv",
        [
            {
                "db_name": "shop",
                "db_type": "sqlite",
                "query_category": "table_join",
                "query": "SELECT name FROM store WHERE name = 'a;b';SELECT id FROM store WHERE name = 'a;b';",
                "question": "Which store is called a;b?",
                "instructions": "Match names exactly",
            },
            {"db_name": "shop", "query_category": "group_by", "query": "SELECT 1;", "question": " Count? "},
        ],
    )
    first, second = read_questions(path)
    assert first.id == "shop-1" and second.id == "shop-2"
    assert first.gold == (
        "SELECT name FROM store WHERE name = 'a;b'",
        "SELECT id FROM store WHERE name = 'a;b'",
    )
    assert first.instructions == "Match names exactly"
    assert second.gold == ("SELECT 1",) and second.question == "Count?" and second.db_type == "sqlite"


def test_read_questions_rejects_a_file_without_the_defog_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("db,sql\nx,SELECT 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        read_questions(bad)


# --------------------------------------------------------------------------- a tiny database


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """``sqlite/shop.sqlite`` (stores + sales), ``metadata/shop.json`` and ``questions.csv`` with 3 questions."""
    (tmp_path / "sqlite").mkdir()
    conn = sqlite3.connect(tmp_path / "sqlite" / "shop.sqlite")
    conn.executescript(
        """
        CREATE TABLE store (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
        CREATE TABLE sale (store_id INTEGER, amount REAL, day TEXT);
        INSERT INTO store VALUES (1, 'North', 'Oslo'), (2, 'South', 'Rome'), (3, 'East', 'Oslo');
        INSERT INTO sale VALUES (1, 10.5, '2024-01-01'), (1, 4.5, '2024-01-02'), (2, 7.0, '2024-01-01'),
                                (3, 20.0, '2024-01-03');
        """
    )
    conn.commit()
    conn.close()
    (tmp_path / "metadata").mkdir()
    meta = {
        "table_metadata": {
            "store": [
                {"column_name": "id", "data_type": "integer", "column_description": "store key"},
                {"column_name": "name", "data_type": "text", "column_description": "the store's display name"},
                {"column_name": "city", "data_type": "text", "column_description": "city of the store"},
            ],
            "sale": [{"column_name": "amount", "data_type": "real", "column_description": "sale value in EUR"}],
        }
    }
    (tmp_path / "metadata" / "shop.json").write_text(json.dumps(meta), encoding="utf-8")
    _write_csv(
        tmp_path / "questions.csv",
        [
            {
                "db_name": "shop",
                "query_category": "group_by",
                "query": "SELECT city, COUNT(*) AS n FROM store GROUP BY city;",
                "question": "How many stores are in each city?",
            },
            {
                "db_name": "shop",
                "query_category": "order_by",
                "query": "SELECT s.name, SUM(x.amount) AS total FROM store s JOIN sale x ON x.store_id = s.id "
                "GROUP BY s.name ORDER BY total DESC;"
                "SELECT s.id, SUM(x.amount) AS total FROM store s JOIN sale x ON x.store_id = s.id "
                "GROUP BY s.id ORDER BY total DESC;",
                "question": "Total sales per store, largest first?",
            },
            {
                "db_name": "shop",
                "query_category": "group_by",
                "query": "SELECT name FROM store WHERE city = 'Oslo';",
                "question": "Which stores are in Oslo?",
                "instructions": "Match cities exactly",
            },
        ],
    )
    return tmp_path


def test_load_metadata_keeps_descriptions(data_dir):
    meta = load_metadata(data_dir / "metadata" / "shop.json")
    assert [c.name for c in meta["store"]] == ["id", "name", "city"]
    assert meta["sale"][0].description == "sale value in EUR"
    assert metadata_for(data_dir / "metadata", "missing") is None
    assert metadata_for(None, "shop") is None


def test_execution_is_read_only_bounded_and_never_raises(data_dir):
    db = data_dir / "sqlite" / "shop.sqlite"
    assert not run_query(db, "DELETE FROM sale").ok
    assert not run_query(db, "INSERT INTO store VALUES (9, 'x', 'y')").ok
    assert run_query(db, "SELECT COUNT(*) FROM sale").rows == [(4,)]  # nothing was deleted
    assert "one statement" in (run_query(db, "SELECT 1; SELECT 2").error or "")
    assert "no such column" in (run_query(db, "SELECT nope FROM store").error or "")
    too_many = run_query(db, "SELECT * FROM sale", max_rows=3)
    assert too_many.error == "result exceeds 3 rows"
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
    assert (run_query(db, slow, timeout_s=0.2).error or "").startswith("timeout")


def test_several_gold_statements_any_one_counts(data_dir):
    db = data_dir / "sqlite" / "shop.sqlite"
    item = read_questions(data_dir / "questions.csv")[1]
    golds = nl_eval.GoldCache(5.0, 1000).usable(item, db)
    assert len(golds) == 2
    by_id = run_query(db, "SELECT store_id, SUM(amount) AS s FROM sale GROUP BY store_id ORDER BY s DESC")
    assert nl_eval.is_correct(by_id, golds) == 1  # the second gold (ids) matches, the first (names) does not
    by_name_with_extra = run_query(
        db,
        "SELECT s.id, s.name, SUM(amount) FROM sale JOIN store s ON s.id = store_id GROUP BY s.id ORDER BY 3 DESC",
    )
    assert nl_eval.is_correct(by_name_with_extra, golds) == 0
    unordered = run_query(db, "SELECT store_id, SUM(amount) FROM sale GROUP BY store_id ORDER BY store_id")
    assert nl_eval.is_correct(unordered, golds) is None  # right rows, wrong order for an ORDER BY gold


# --------------------------------------------------------------------------- naive baseline


class ScriptedChat(ChatModel):
    backend = "test"
    model = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        return ChatResult(text=self.reply, model=self.model, backend=self.backend, usage=Usage(prompt_tokens=5))

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        raise NotImplementedError


def test_extract_sql_from_fences_bare_text_and_chatter():
    assert extract_sql("Here:\n```sql\nSELECT a FROM t;\n```\nThis lists a.") == "SELECT a FROM t"
    assert extract_sql("```\nWITH x AS (SELECT 1) SELECT * FROM x\n```") == "WITH x AS (SELECT 1) SELECT * FROM x"
    assert extract_sql("The query is SELECT name FROM store; it returns names.") == "SELECT name FROM store"
    assert extract_sql("SELECT 1; SELECT 2;") == "SELECT 1"
    assert extract_sql("With this query: SELECT a FROM t") == "SELECT a FROM t"
    cte = "with recursive c(x) as (select 1) select x from c"
    assert extract_sql(f"Try: {cte}") == cte
    assert extract_sql("I cannot answer that.") == ""


def test_schema_dump_lists_every_table_with_descriptions(data_dir):
    db = data_dir / "sqlite" / "shop.sqlite"
    dump = schema_dump(db, load_metadata(data_dir / "metadata" / "shop.json"))
    assert "CREATE TABLE sale (" in dump and "CREATE TABLE store (" in dump
    assert "id INTEGER PRIMARY KEY, -- store key" in dump
    assert "city TEXT -- city of the store\n);" in dump  # last column: no trailing comma
    assert "day TEXT\n);" in dump
    assert "--" not in schema_dump(db, None)


def test_naive_generator_sends_schema_question_and_instructions_once(data_dir):
    db = data_dir / "sqlite" / "shop.sqlite"
    chat = ScriptedChat("```sql\nSELECT name FROM store WHERE city = 'Oslo'\n```")
    item = read_questions(data_dir / "questions.csv")[2]
    out = NaiveGenerator(chat, max_tokens=64)(item, db, None)
    assert out.sql == "SELECT name FROM store WHERE city = 'Oslo'" and out.error is None
    (request,) = chat.requests
    assert request.temperature == 0.0 and request.max_tokens == 64
    user = request.messages[-1].content
    assert "CREATE TABLE store" in user and item.question in user and "Instructions: Match cities exactly" in user
    assert set(out.stages_ms) == {"prompt", "generation"}
    assert NaiveGenerator(ScriptedChat("no idea"))(item, db, None).error == "no SQL in the model reply"
    assert build_messages("S", "Q")[1].content == "Database schema:\nS\n\nQuestion: Q"


# --------------------------------------------------------------------------- CLI end to end


class TableGenerator:
    """A system double: fixed SQL per question (or an exception), recording the questions it saw."""

    def __init__(self, answers: dict[str, str | Exception]) -> None:
        self.answers = answers
        self.seen: list[str] = []

    def __call__(self, item: EvalItem, db_path: Path, metadata) -> Generated:
        self.seen.append(item.question)
        answer = self.answers.get(item.question, "SELECT 1")
        if isinstance(answer, Exception):
            raise answer
        return Generated(sql=answer, stages_ms={"generation": 1.0})


PIPELINE_SQL = {
    "How many stores are in each city?": "SELECT COUNT(*) AS c, city AS where_ FROM store GROUP BY city",
    "Total sales per store, largest first?": "SELECT s.name, SUM(amount) AS t FROM sale JOIN store s "
    "ON s.id = store_id GROUP BY s.name ORDER BY t DESC",
    "Which stores are in Oslo?": "SELECT name FROM store WHERE city = 'Rome'",  # valid but wrong
}
NAIVE_SQL = {
    "How many stores are in each city?": "SELECT city, COUNT(*) FROM store GROUP BY city",
    "Total sales per store, largest first?": "SELECT name, total_sales FROM store",  # invented column
    "Which stores are in Oslo?": RuntimeError("model crashed"),
}


def _cli(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--questions",
        str(data_dir / "questions.csv"),
        "--db-dir",
        str(data_dir / "sqlite"),
        "--out",
        str(out),
        "--metadata-dir",
        str(data_dir / "metadata"),
        *extra,
    ]


def test_cli_end_to_end_writes_summary_and_rows_per_system(data_dir, tmp_path):
    pipeline, naive = TableGenerator(PIPELINE_SQL), TableGenerator(NAIVE_SQL)
    out = tmp_path / "out"
    rc = nl_eval.main(_cli(data_dir, out, "--require-beats-naive"), systems={"pipeline": pipeline, "naive": naive})
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    for block in (summary, summary["baselines"]["naive"]):
        assert set(nl_eval.METRIC_KEYS) <= set(block)
        assert block["n"] == 3
        assert 0 <= block["latency_p50_ms"] <= block["latency_p95_ms"]
    assert summary["execution_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["valid_sql_rate"] == 1.0
    assert summary["per_category"] == {"group_by": 0.5, "order_by": 1.0}
    naive_summary = summary["baselines"]["naive"]
    assert naive_summary["execution_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert naive_summary["valid_sql_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert naive_summary["per_category"] == {"group_by": 0.5, "order_by": 0.0}
    assert summary["pipeline_vs_naive"] == {
        "accuracy_ratio": 2.0,
        "accuracy_delta": pytest.approx(1 / 3, abs=1e-4),
        "wins": 1,  # shop-2; shop-1 both right, shop-3 both wrong
        "losses": 0,
        "ties": 2,
    }
    assert summary["systems"] == ["pipeline", "naive"] and summary["gold_errors"] == []
    assert summary["config"]["row_semantics"] == "set"

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["system"], r["id"]) for r in rows] == [
        (s, f"shop-{i}") for s in ("pipeline", "naive") for i in (1, 2, 3)
    ]
    for row in rows:
        assert {"id", "db", "category", "question", "sql", "correct", "valid", "error", "latency_ms"} <= set(row)
    crashed = rows[5]
    assert crashed["sql"] is None and not crashed["valid"] and crashed["error"] == "RuntimeError: model crashed"
    assert "no such column" in rows[4]["error"]
    assert rows[1]["matched_gold"] == 0 and rows[1]["stages_ms"] == {"generation": 1.0}
    # the warm-up asks a different question, so no item can be answered from a response cache
    assert pipeline.seen[0].startswith(nl_eval.WARMUP_PREFIX)
    assert pipeline.seen[1:] == [q for q in PIPELINE_SQL]


def test_cli_gate_fails_when_the_pipeline_does_not_beat_naive(data_dir, tmp_path):
    same = TableGenerator(NAIVE_SQL)
    rc = nl_eval.main(
        _cli(data_dir, tmp_path / "out", "--require-beats-naive", "--no-warmup"),
        systems={"pipeline": same, "naive": same},
    )
    assert rc == 1


def test_naive_only_run_leaves_pipeline_metrics_empty(data_dir, tmp_path):
    out = tmp_path / "out"
    rc = nl_eval.main(
        _cli(data_dir, out, "--systems", "naive", "--limit", "2"), systems={"naive": TableGenerator(NAIVE_SQL)}
    )
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["execution_accuracy"] is None and summary["systems"] == ["naive"]
    assert summary["baselines"]["naive"]["n"] == 2


def test_missing_pipeline_is_a_clear_error(monkeypatch, data_dir, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "projects.nl2sql_analytics.pipeline", None)  # import now fails
    rc = nl_eval.main(_cli(data_dir, tmp_path / "out", "--systems", "pipeline"))
    assert rc == 2
    assert "answer_for_eval" in capsys.readouterr().err


@pytest.fixture
def short_answers(monkeypatch) -> Iterator[None]:
    """A 64-token completion budget for the real-model test (a one-line query fits; keeps the test quick)."""
    monkeypatch.setenv("NL2SQL__NAIVE_MAX_TOKENS", "64")
    get_nl2sql_settings.cache_clear()
    yield
    get_nl2sql_settings.cache_clear()


def test_naive_baseline_with_the_real_local_model(data_dir, tmp_path, short_answers):
    """Structure only: the default local model answers one question through the naive baseline."""
    out = tmp_path / "out"
    rc = nl_eval.main(_cli(data_dir, out, "--systems", "naive", "--limit", "1", "--no-warmup"))
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    naive = summary["baselines"]["naive"]
    assert naive["n"] == 1 and naive["latency_p50_ms"] > 0
    (row,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert row["system"] == "naive" and row["id"] == "shop-1"
    assert isinstance(row["detail"]["reply"], str) and row["detail"]["reply"]
    assert (row["sql"] or "").upper().lstrip().startswith(("SELECT", "WITH")) or row["error"]
    assert row["correct"] is (row["matched_gold"] is not None)
