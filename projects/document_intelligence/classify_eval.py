"""Hold-out accuracy of the document classifier on freshly generated documents (a seed it never trained on).

``python -m projects.document_intelligence.classify_eval [--n-per-type 40] [--seed 99] [--noise 0.04]``
prints JSON: accuracy on clean texts and on OCR-noised copies, the share of low-confidence answers
(those that would go to the LLM), the confusions, and milliseconds per document. The LLM fallback is
off here so the number measures the k-NN vote alone.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter

from projects.document_intelligence.classify import DocumentClassifier, ocr_noise
from projects.document_intelligence.settings import get_docint_settings
from projects.document_intelligence.synthetic import SyntheticDoc, generate_corpus


def holdout_accuracy(
    classifier: DocumentClassifier, docs: list[SyntheticDoc], noise: float = 0.0, seed: int = 0
) -> dict[str, object]:
    """Accuracy of ``classifier.knn`` on ``docs`` (texts OCR-noised at ``noise`` when > 0)."""
    rng = random.Random(f"holdout-noise:{seed}")
    threshold = classifier.settings.classify_min_confidence
    correct, unsure, confusions = 0, 0, Counter()
    start = time.perf_counter()
    texts = [ocr_noise(d.text, rng, noise) if noise else d.text for d in docs]
    for d, result in zip(docs, classifier.knn_many(texts), strict=True):
        correct += result.doc_type == d.doc_type
        unsure += result.confidence < threshold
        if result.doc_type != d.doc_type:
            confusions[f"{d.doc_type}({d.template})->{result.doc_type}"] += 1
    elapsed = time.perf_counter() - start
    return {
        "n": len(docs),
        "accuracy": round(correct / max(len(docs), 1), 4),
        "below_min_confidence": unsure,
        "confusions": dict(confusions.most_common()),
        "ms_per_doc": round(1000 * elapsed / max(len(docs), 1), 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-per-type", type=int, default=40)
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--noise", type=float, default=0.04, help="OCR confusion rate for the noisy pass")
    args = ap.parse_args(argv)
    settings = get_docint_settings()
    if args.seed == settings.classify_train_seed:
        ap.error("--seed must differ from the training seed (DOCINT__CLASSIFY_TRAIN_SEED)")
    classifier = DocumentClassifier(settings=settings)
    start = time.perf_counter()
    classifier.index()
    index_s = time.perf_counter() - start
    docs = generate_corpus(args.n_per_type, args.seed)
    report = {
        "train_per_type": settings.classify_train_per_type,
        "index_seconds": round(index_s, 2),
        "clean": holdout_accuracy(classifier, docs),
        "ocr_noise": holdout_accuracy(classifier, docs, args.noise, args.seed),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
