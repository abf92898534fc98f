"""Platform self-evaluation: dense retrieval with the real local embedder on a generated corpus.

It proves the eval stack end to end without external data — dataset, system, metrics, harness, report and
the regression gate against ``shared/eval/baselines/platform_retrieval.json`` — and guards the embedder:
a broken model, normalisation or similarity change shows up as a recall/nDCG regression.

The corpus is product-support facts (12 products x 6 topics). Every query paraphrases one fact and must
find it among 71 distractors that share either its product or its topic, so the task is not trivial.

    python -m shared.eval.selfeval --out var/eval/platform            # run and gate
    python -m shared.eval.selfeval --out var/eval/platform --update   # accept the result as the baseline
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

from shared.eval import gate
from shared.eval.harness import run_eval
from shared.eval.metrics import ndcg_at_k, recall_at_k, reciprocal_rank

BASELINE = Path(__file__).parent / "baselines" / "platform_retrieval.json"

PRODUCTS = [
    "Aurora X2 laptop", "Borealis smart thermostat", "Cobalt e-bike", "Delta noise-cancelling headphones",
    "Ember espresso machine", "Fjord standing desk", "Glacier water filter", "Helix robot vacuum",
    "Iris security camera", "Juniper air purifier", "Kestrel camera drone", "Lumen desk lamp",
]  # fmt: skip
CITIES = ["Rotterdam", "Leipzig", "Lyon", "Porto", "Gdansk", "Turin"]
# topic -> (document template, query template)
TOPICS = {
    "warranty": (
        "The {p} comes with a {n}-year limited warranty covering parts and labour.",
        "How long is the {p} covered if it breaks?",
    ),
    "battery": (
        "A full charge of the {p} lasts about {n} hours of typical use.",
        "What battery life can I expect from my {p}?",
    ),
    "returns": (
        "Unopened {p} units can be sent back within {n} days of delivery for a full refund.",
        "Can I return the {p} if I change my mind?",
    ),
    "shipping": (
        "Orders for the {p} leave our {city} warehouse within {n} business days.",
        "Where is the {p} dispatched from and how quickly?",
    ),
    "cleaning": (
        "To clean the {p}, wipe it with a dry microfibre cloth and never use liquid sprays.",
        "What is the right way to clean a {p}?",
    ),
    "reset": (
        "Holding the power button of the {p} for {n} seconds restores its factory settings.",
        "How do I wipe my {p} back to factory defaults?",
    ),
}


def build_dataset(seed: int = 0) -> tuple[dict[str, str], list[dict]]:
    """(doc_id -> text, query items); deterministic for a seed."""
    rng = random.Random(seed)
    docs: dict[str, str] = {}
    items: list[dict] = []
    for pi, product in enumerate(PRODUCTS):
        for topic, (doc_t, query_t) in TOPICS.items():
            doc_id = f"p{pi:02d}-{topic}"
            docs[doc_id] = doc_t.format(p=product, n=rng.randint(2, 30), city=rng.choice(CITIES))
            items.append({"id": f"q-{doc_id}", "query": query_t.format(p=product), "relevant": [doc_id]})
    return docs, items


def make_dense_retriever(docs: dict[str, str], k: int = 10):
    """A system for run_eval: exact cosine search over the local embedder's vectors."""
    from shared.serving.embeddings import LocalEmbedder

    embedder = LocalEmbedder()
    ids = list(docs)
    matrix = embedder.embed([docs[i] for i in ids])

    def system(item: dict) -> dict:
        scores = matrix @ embedder.embed_query(item["query"])
        top = np.argsort(-scores, kind="stable")[:k]
        return {"retrieved": [ids[i] for i in top], "scores": [round(float(scores[i]), 4) for i in top]}

    return system


SCORERS = {
    "recall@1": lambda item, out: recall_at_k(out["retrieved"], item["relevant"], 1),
    "recall@5": lambda item, out: recall_at_k(out["retrieved"], item["relevant"], 5),
    "mrr@10": lambda item, out: reciprocal_rank(out["retrieved"], item["relevant"], 10),
    "ndcg@10": lambda item, out: ndcg_at_k(out["retrieved"], item["relevant"], 10),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.eval.selfeval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("var/eval/platform_retrieval"))
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument("--update", action="store_true", help="write this run's summary as the new baseline")
    args = parser.parse_args(argv)

    docs, items = build_dataset()
    summary = run_eval(
        items, make_dense_retriever(docs), SCORERS, args.out, name="platform_retrieval", primary_metric="mrr@10"
    )
    print(f"platform self-eval: {summary['n_items']} queries, report at {args.out / 'report.md'}")
    gate_args = ["--summary", str(args.out / "summary.json"), "--baseline", str(args.baseline)]
    return gate.main([*gate_args, "--update"] if args.update else gate_args)


if __name__ == "__main__":
    sys.exit(main())
