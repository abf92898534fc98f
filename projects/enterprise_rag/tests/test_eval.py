"""The evaluation CLI end to end on a small generated corpus (real PostgreSQL, real embedder), plus its pure parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from projects.enterprise_rag import eval as rag_eval

TOPICS = {
    "volcano": "Basaltic lava flows from the volcano cooled into columns of dark rock along the coast.",
    "orchard": "The apple orchard was pruned in winter so the trees would bear larger fruit in autumn.",
    "violin": "A violin maker carves the spruce top and maple back before varnishing the instrument.",
    "glacier": "The glacier retreated two kilometres, leaving moraines and a meltwater lake behind.",
    "bakery": "The bakery proofs sourdough overnight and bakes the loaves in a wood-fired oven at dawn.",
    "satellite": "The weather satellite orbits the poles and images cloud cover every ninety minutes.",
    "beekeeping": "Beekeepers smoke the hive gently before lifting frames of honeycomb from the brood box.",
    "chess": "In the endgame the king becomes an active piece and pawns race towards promotion.",
    "tides": "Spring tides occur when the sun and moon align, raising the high-water mark on the shore.",
    "typography": "Serif typefaces carry small strokes at the ends of letters that guide the reader's eye.",
    "cheese": "Cheddar is milled, salted and pressed into moulds, then aged for months in a cool cellar.",
    "lighthouse": "The lighthouse lens focuses a single lamp into a beam seen thirty kilometres out at sea.",
}
QUESTIONS = {
    "volcano": "How did the lava from the volcano cool?",
    "orchard": "When are the apple trees in the orchard pruned?",
    "violin": "Which woods does a violin maker carve?",
    "glacier": "What did the retreating glacier leave behind?",
    "bakery": "How does the bakery bake its sourdough loaves?",
    "satellite": "How often does the weather satellite image the clouds?",
    "chess": "What happens to the king in a chess endgame?",
    "lighthouse": "How far out at sea is the lighthouse beam visible?",
}


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    corpus = []
    for topic, text in TOPICS.items():  # two passages per topic: a doc id maps to chunks, relevance to both
        corpus.append({"doc_id": f"{topic}-0", "title": topic, "text": text})
        corpus.append({"doc_id": f"{topic}-1", "title": topic, "text": f"More about {topic}. {text}"})
    questions = [
        {"id": topic, "question": q, "relevant_doc_ids": [f"{topic}-0", f"{topic}-1"], "answer": TOPICS[topic]}
        for topic, q in QUESTIONS.items()
    ]
    return _write_jsonl(tmp_path / "corpus.jsonl", corpus), _write_jsonl(tmp_path / "questions.jsonl", questions)


def test_cli_end_to_end_writes_summary_and_one_row_per_question(database_url, dataset, tmp_path):
    corpus, questions = dataset
    out = tmp_path / "out"
    rc = rag_eval.main(
        ["--corpus", str(corpus), "--questions", str(questions), "--out", str(out), "--database-url", database_url]
    )
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]

    assert summary["n"] == len(QUESTIONS) == len(rows)
    assert [r["id"] for r in rows] == list(QUESTIONS)
    assert summary["n_errors"] == 0
    for block in (summary, summary["baselines"]["bm25"], summary["baselines"]["dense"]):
        for key in ("recall@5", "recall@10", "mrr@10", "ndcg@10"):
            assert 0.0 <= block[key] <= 1.0
        assert block["retrieval_p50_ms"] <= block["retrieval_p95_ms"]
    # distinct topics: every retriever finds the right passages, the first hit is relevant
    assert summary["recall@10"] == 1.0
    assert summary["mrr@10"] == 1.0
    assert summary["baselines"]["dense"]["recall@10"] == 1.0
    assert summary["baselines"]["bm25"]["mrr@10"] == 1.0
    # the hybrid's lexical side alone (OR-of-terms query): natural questions still match their passages
    assert summary["diagnostics"]["fulltext"]["recall@10"] >= 0.75
    ingestion = summary["timing"]["ingestion"]
    assert ingestion["documents"] == 2 * len(TOPICS) and ingestion["chunks"] >= ingestion["documents"]
    # per-row: documents deduplicated, ranked, mapped back to the corpus doc_ids
    row = rows[0]
    docs = row["output"]["modes"]["hybrid"]["docs"]
    assert len(docs) == len(set(docs)) and set(docs[:2]) == {"volcano-0", "volcano-1"}
    assert set(row["output"]["modes"]) >= {"hybrid", "bm25", "dense"}


def test_doc_metrics_dedupe_chunks_to_documents_in_rank_order():
    ranked = rag_eval.dedupe_docs(["a", "a", "x", "b", "a", "y"])
    assert ranked == ["a", "x", "b", "y"]
    m = rag_eval.doc_metrics(ranked, ["b", "z"])
    assert m["recall@5"] == 0.5 and m["mrr@10"] == pytest.approx(1 / 3)
    assert 0 < m["ndcg@10"] < 1


def test_duplicate_doc_ids_are_rejected_unless_relevance_comes_from_answers(tmp_path):
    corpus = _write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"doc_id": "doc-0", "title": "", "text": "Bats  host many\ncoronaviruses."},
            {"doc_id": "doc-0", "title": "", "text": "Ferrets are a model for influenza."},
        ],
    )
    with pytest.raises(ValueError, match="repeat"):
        rag_eval.read_corpus(corpus)
    docs = rag_eval.read_corpus(corpus, fix_duplicates=True)
    assert [d["doc_id"] for d in docs] == ["doc-0@1", "doc-0@2"]
    questions = [
        {
            "id": "1",
            "question": "Who hosts?",
            "relevant_doc_ids": ["doc-0"],
            "answers": ["bats host many coronaviruses"],
        },
        {"id": "2", "question": "Model?", "relevant_doc_ids": ["doc-0"], "answers": ["a model for influenza"]},
        {"id": "3", "question": "None?", "relevant_doc_ids": ["doc-0"], "answers": ["not in any document"]},
    ]
    kept, stats = rag_eval.relevance_from_answers(docs, questions)
    # case-sensitive span match: question 1's lower-cased answer does not match, so it is dropped, not guessed
    assert [q["relevant_doc_ids"] for q in kept] == [["doc-0@2"]]
    assert stats == {"remapped": 1, "unchanged": 0, "dropped_no_match": 2, "multi_match": 0}


def test_generation_scores_from_an_answer_with_citations():
    """``--generate`` scoring against the RagPipeline interface (a stand-in pipeline: orchestration only)."""
    from types import SimpleNamespace

    from shared.retrieval.models import document_id

    coll = "c"
    passage = "Spring tides occur when the sun and moon align."
    answer = SimpleNamespace(
        text="Spring tides occur when the sun and moon align.",
        citations=[
            SimpleNamespace(n=1, chunk_id="x", document_id=document_id(coll, "tides-0")),
            SimpleNamespace(n=2, chunk_id="y", document_id=document_id(coll, "chess-0")),
        ],
        abstained=False,
        retrieved=[SimpleNamespace(text=passage)],
        usage=None,
    )
    pipeline = SimpleNamespace(answer=lambda question, principal, collection: answer)
    item = {"question": "When are spring tides?", "relevant_doc_ids": ["tides-0"], "answer": "when sun and moon align"}
    gen = rag_eval._generate(pipeline, None, item, coll, principal=None)
    assert gen["citation_precision"] == 0.5
    assert gen["groundedness"] == 1.0
    assert 0 < gen["answer_token_f1"] < 1
    assert gen["abstained"] is False
    assert rag_eval._gen_scores({"generation": gen})["citation_precision"] == 0.5

    abstain = SimpleNamespace(text="I don't know.", citations=[], abstained=True, retrieved=[], usage=None)
    gen = rag_eval._generate(SimpleNamespace(answer=lambda *a: abstain), None, item, coll, principal=None)
    assert gen["abstained"] is True and gen["answer_token_f1"] == 0.0
    assert gen["groundedness"] is None and gen["citation_precision"] is None
