import math
import sqlite3
from itertools import combinations

import psycopg
import pytest

from shared.eval import metrics as m
from shared.serving.base import ChatModel
from shared.serving.types import ChatRequest, ChatResult


def test_retrieval_metrics_match_hand_computed_values() -> None:
    retrieved = ["d3", "d1", "d7", "d2", "d9"]
    relevant = {"d1", "d2", "d5"}
    assert m.recall_at_k(retrieved, relevant, 2) == pytest.approx(1 / 3)
    assert m.recall_at_k(retrieved, relevant, 5) == pytest.approx(2 / 3)
    assert m.precision_at_k(retrieved, relevant, 5) == pytest.approx(2 / 5)
    assert m.precision_at_k(retrieved[:2], relevant, 4) == pytest.approx(1 / 4)  # denominator stays k
    assert m.reciprocal_rank(retrieved, relevant) == pytest.approx(1 / 2)
    assert m.reciprocal_rank(retrieved, relevant, k=1) == 0.0
    assert m.mean_reciprocal_rank([(retrieved, relevant), (["d5"], relevant), (["x"], relevant)]) == pytest.approx(0.5)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m.ndcg_at_k(retrieved, relevant, 5) == pytest.approx(dcg / idcg)
    assert m.recall_at_k(retrieved, set(), 5) == 0.0


def test_graded_ndcg_agrees_with_scikit_learn() -> None:
    from sklearn.metrics import ndcg_score

    grades = {"a": 3, "b": 2, "c": 0, "d": 1}
    retrieved = ["c", "b", "d", "a"]
    system_scores = [4, 3, 2, 1]  # rank order of retrieved
    expected = ndcg_score([[grades[d] for d in retrieved]], [system_scores], k=3)
    assert m.ndcg_at_k(retrieved, grades, 3) == pytest.approx(expected)
    assert m.ndcg_at_k(["a", "b", "d"], grades, 3) == pytest.approx(1.0)


def test_classification_report_auprc_and_confusion_matrix() -> None:
    y_true = ["spam", "spam", "ham", "ham", "ham", "other"]
    y_pred = ["spam", "ham", "ham", "ham", "spam", "ham"]
    rep = m.classification_report(y_true, y_pred)
    assert rep["per_class"]["spam"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert rep["per_class"]["ham"]["precision"] == pytest.approx(2 / 4)
    assert rep["per_class"]["ham"]["recall"] == pytest.approx(2 / 3)
    assert rep["per_class"]["other"]["f1"] == 0.0
    assert rep["macro_recall"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert rep["accuracy"] == pytest.approx(3 / 6)
    cm = m.confusion_matrix(y_true, y_pred, labels=["ham", "spam", "other"])
    assert cm["matrix"] == [[2, 1, 0], [1, 1, 0], [1, 0, 0]]
    assert m.auprc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert m.auprc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        m.auprc([0, 0], [0.1, 0.2])


def test_text_metrics_use_squad_normalisation_and_rouge() -> None:
    assert m.normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert m.exact_match("the Eiffel Tower.", ["Eiffel Tower", "tour Eiffel"]) == 1.0
    assert m.exact_match("Eiffel", "Eiffel Tower") == 0.0
    assert m.token_f1("in the year 1889", "1889") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert m.token_f1("", "") == 1.0 and m.token_f1("x", "") == 0.0
    assert m.rouge_l("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    partial = m.rouge_l("the cat was on a mat", "the cat sat on the mat")
    assert 0.3 < partial < 1.0
    assert m.rouge_l("quarterly revenue", "the cat sat") == 0.0


def test_pass_at_k_equals_exhaustive_definition() -> None:
    n, c = 7, 3
    for k in (1, 2, 3, 5):
        samples = [True] * c + [False] * (n - c)
        subsets = list(combinations(range(n), k))
        brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
        assert m.pass_at_k(n, c, k) == pytest.approx(brute)
    assert m.pass_at_k(10, 0, 5) == 0.0
    assert m.pass_at_k(10, 8, 5) == 1.0
    with pytest.raises(ValueError):
        m.pass_at_k(3, 1, 4)


CONTEXT = (
    "The Aurora X2 laptop comes with a 3-year limited warranty. "
    "Its battery lasts about 11 hours of typical use. Orders ship from Rotterdam."
)


def test_groundedness_with_real_embedder_flags_unsupported_claims() -> None:
    from shared.serving.embeddings import LocalEmbedder

    emb = LocalEmbedder()
    faithful = "The Aurora X2 is covered by a three-year limited warranty. The battery lasts roughly 11 hours."
    res = m.groundedness(faithful, CONTEXT, emb)
    assert res.score == 1.0, res.claims
    mixed = "The battery lasts about 11 hours. The laptop is waterproof to 50 metres and ships with a stylus."
    res = m.groundedness(mixed, [CONTEXT], emb)
    assert res.score == pytest.approx(0.5)
    assert res.unsupported == ["The laptop is waterproof to 50 metres and ships with a stylus."]
    wrong_number = m.groundedness("Its battery lasts about 15 hours of typical use.", CONTEXT, emb)
    assert wrong_number.score == 0.0 and wrong_number.claims[0].missing_numbers == ["15"]
    assert m.groundedness("", CONTEXT, emb).score == 1.0
    assert m.groundedness("Anything at all.", "", emb).score == 0.0


def test_groundedness_lexical_only_without_embedder() -> None:
    res = m.groundedness("Orders ship from Rotterdam. Support is open on Sundays.", CONTEXT)
    assert [c.supported for c in res.claims] == [True, False]
    assert res.as_scores()["unsupported"] == ["Support is open on Sundays."]


class ScriptedJudge(ChatModel):
    """Test double: replays canned replies and records the requests it saw."""

    backend, model = "test", "scripted"

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.requests: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        return ChatResult(text=self.replies.pop(0), model=self.model, backend=self.backend)

    def stream(self, request):  # pragma: no cover - not used by the judge
        raise NotImplementedError


def test_llm_judge_scores_structured_verdict_and_sees_context() -> None:
    verdict = (
        '{"claims": [{"claim": "3-year warranty", "supported": true, "evidence": "3-year limited warranty"},'
        ' {"claim": "waterproof", "supported": false}]}'
    )
    judge = ScriptedJudge([verdict])
    res = m.judge_groundedness("It has a 3-year warranty and is waterproof.", CONTEXT, judge)
    assert res.score == pytest.approx(0.5)
    assert res.unsupported == ["waterproof"]
    prompt = judge.requests[0].messages[-1].content
    assert "Rotterdam" in prompt and "waterproof" in prompt
    assert judge.requests[0].temperature == 0.0


def test_llm_judge_gives_up_after_bounded_retries() -> None:
    judge = ScriptedJudge(["not json"] * 10)
    with pytest.raises(Exception):  # noqa: B017 - ValueError here, the serving layer's error once merged
        m.judge_groundedness("x", CONTEXT, judge, max_retries=1)
    assert len(judge.requests) <= 3


SCHEMA = [
    "CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT, dept TEXT, salary NUMERIC)",
    "INSERT INTO emp VALUES (1, 'Ann', 'eng', 100.5), (2, 'Bob', 'eng', 90), (3, 'Cid', 'ops', 70)",
]


def _check_sql_match(conn) -> None:
    gold = "SELECT name FROM emp WHERE dept = 'eng'"
    assert m.sql_execution_match(conn, gold, "SELECT name FROM emp WHERE salary > 80 ORDER BY name DESC").match
    assert not m.sql_execution_match(conn, gold, "SELECT name FROM emp").match
    ordered = "SELECT name FROM emp ORDER BY salary DESC"
    res = m.sql_execution_match(conn, ordered, "SELECT name FROM emp ORDER BY salary ASC")
    assert res.ordered and not res.match
    assert m.sql_execution_match(conn, "SELECT SUM(salary) FROM emp", "SELECT 260.5").match
    assert m.sql_execution_match(conn, "SELECT count(*) FROM (SELECT * FROM emp ORDER BY id) t", "SELECT 3").match
    bad = m.sql_execution_match(conn, gold, "SELECT nme FROM emp")
    assert not bad.match and "nme" in bad.error
    # the connection stays usable after a failed prediction, and a destructive prediction is rolled back
    m.sql_execution_match(conn, gold, "DELETE FROM emp")
    assert m.sql_execution_match(conn, "SELECT count(*) FROM emp", "SELECT 3").match


def test_sql_execution_match_on_sqlite() -> None:
    conn = sqlite3.connect(":memory:")
    for stmt in SCHEMA:
        conn.execute(stmt)
    conn.commit()
    _check_sql_match(conn)


@pytest.mark.db
def test_sql_execution_match_on_postgres(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        for stmt in SCHEMA:
            conn.execute(stmt)
        conn.commit()
        _check_sql_match(conn)
