"""Evaluation metrics as pure functions; each docstring names the definition it implements.

Retrieval, classification, text and code metrics live here. Groundedness (needs an embedder or a
judge model) and SQL execution match (needs a database connection) live in their own modules and
are re-exported at the bottom so projects import every metric from ``shared.eval.metrics``.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Collection, Hashable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

Relevance = Collection[Hashable] | Mapping[Hashable, float]


def _gains(relevant: Relevance) -> dict[Hashable, float]:
    """Binary relevance (a collection of ids) becomes gain 1.0; graded relevance is kept as given."""
    if isinstance(relevant, Mapping):
        return {k: float(v) for k, v in relevant.items() if float(v) > 0}
    return dict.fromkeys(relevant, 1.0)


def percentile(values: Sequence[float], q: float, digits: int = 2) -> float:
    """The ``q``-th percentile (numpy's linear interpolation), rounded for reports; 0.0 for no values."""
    return round(float(np.percentile(values, q)), digits) if len(values) else 0.0


# --------------------------------------------------------------------------- retrieval


def recall_at_k(retrieved: Sequence[Hashable], relevant: Relevance, k: int) -> float:
    """|relevant ∩ top-k| / |relevant| (Manning et al., IR book §8.3). No relevant items -> 0.0.

    Duplicate ids in ``retrieved`` are counted once.
    """
    rel = _gains(relevant)
    if not rel:
        return 0.0
    return len(set(retrieved[:k]) & rel.keys()) / len(rel)


def precision_at_k(retrieved: Sequence[Hashable], relevant: Relevance, k: int) -> float:
    """|relevant ∩ top-k| / k — the denominator is k even when fewer than k results came back (TREC convention)."""
    if k <= 0:
        raise ValueError("k must be positive")
    rel = _gains(relevant)
    return len(set(retrieved[:k]) & rel.keys()) / k


def reciprocal_rank(retrieved: Sequence[Hashable], relevant: Relevance, k: int | None = None) -> float:
    """1 / rank of the first relevant result within the top k (all results when k is None); 0.0 if none."""
    rel = _gains(relevant)
    for i, doc in enumerate(retrieved[:k] if k else retrieved, start=1):
        if doc in rel:
            return 1.0 / i
    return 0.0


def mean_reciprocal_rank(runs: Sequence[tuple[Sequence[Hashable], Relevance]], k: int | None = None) -> float:
    """MRR (Voorhees, TREC-8 QA): the mean of :func:`reciprocal_rank` over queries; 0.0 for no queries."""
    if not runs:
        return 0.0
    return float(np.mean([reciprocal_rank(r, rel, k) for r, rel in runs]))


def ndcg_at_k(retrieved: Sequence[Hashable], relevant: Relevance, k: int) -> float:
    """nDCG@k with linear gains (Järvelin & Kekäläinen 2002; the form scikit-learn's ``ndcg_score`` uses).

    DCG@k = Σ_{i=1..k} gain(doc_i) / log2(i + 1); the ideal DCG sorts every judged gain descending.
    ``relevant`` may be a set of ids (binary) or ``{id: grade}`` (graded). A repeated id earns gain once.
    """
    gains = _gains(relevant)
    if not gains:
        return 0.0
    seen: set[Hashable] = set()
    dcg = 0.0
    for i, doc in enumerate(retrieved[:k], start=1):
        if doc in gains and doc not in seen:
            dcg += gains[doc] / math.log2(i + 1)
            seen.add(doc)
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg


# --------------------------------------------------------------------------- classification


def classification_report(
    y_true: Sequence[Hashable], y_pred: Sequence[Hashable], labels: Sequence[Hashable] | None = None
) -> dict[str, Any]:
    """Per-class precision/recall/F1/support, their unweighted (macro) means, and accuracy.

    Definitions are scikit-learn's ``precision_recall_fscore_support`` with ``zero_division=0``: a class
    never predicted has precision 0, a class never present has recall 0. Labels default to the sorted
    union of true and predicted labels, so macro averages include spurious predicted classes.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred), key=str)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    per_class = {
        str(lbl): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, lbl in enumerate(labels)
    }
    return {
        "per_class": per_class,
        "macro_precision": float(np.mean(p)) if len(labels) else 0.0,
        "macro_recall": float(np.mean(r)) if len(labels) else 0.0,
        "macro_f1": float(np.mean(f)) if len(labels) else 0.0,
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
    }


def auprc(y_true: Sequence[Hashable], scores: Sequence[float], positive_label: Hashable = 1) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn ``average_precision_score``):
    AP = Σ_n (R_n − R_{n−1}) P_n, a step-wise integral without the optimistic linear interpolation.
    """
    from sklearn.metrics import average_precision_score

    y = [1 if t == positive_label else 0 for t in y_true]
    if not any(y):
        raise ValueError("AUPRC is undefined without positive examples")
    return float(average_precision_score(y, list(scores)))


def confusion_matrix(
    y_true: Sequence[Hashable], y_pred: Sequence[Hashable], labels: Sequence[Hashable] | None = None
) -> dict[str, Any]:
    """Counts with rows = true label and columns = predicted label (scikit-learn's convention)."""
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred), key=str)
    matrix = sk_confusion_matrix(y_true, y_pred, labels=labels)
    return {"labels": [str(x) for x in labels], "matrix": matrix.astype(int).tolist()}


# --------------------------------------------------------------------------- text

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower-case, drop punctuation and the articles a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _as_list(references: str | Sequence[str]) -> list[str]:
    return [references] if isinstance(references, str) else list(references)


def exact_match(prediction: str, references: str | Sequence[str]) -> float:
    """SQuAD exact match: 1.0 when the normalised prediction equals any normalised reference."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(ref) for ref in _as_list(references)))


def token_f1(prediction: str, references: str | Sequence[str]) -> float:
    """SQuAD token F1 over normalised bag-of-words overlap, maximised over references.

    Two empty answers score 1.0; one empty answer scores 0.0 (SQuAD 2.0 convention).
    """
    pred = normalize_answer(prediction).split()
    best = 0.0
    for ref in _as_list(references):
        gold = normalize_answer(ref).split()
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        common = sum((Counter(pred) & Counter(gold)).values())
        if common == 0:
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, references: str | Sequence[str]) -> float:
    """ROUGE-L F-measure (Lin 2004, longest common subsequence) from Google's ``rouge-score`` package
    with Porter stemming, maximised over references."""
    scorer = _rouge_scorer()
    return max((scorer.score(ref, prediction)["rougeL"].fmeasure for ref in _as_list(references)), default=0.0)


# --------------------------------------------------------------------------- code


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"):
    1 − C(n−c, k) / C(n, k) for n samples of which c pass, computed as a stable product.
    """
    if not 0 <= c <= n or k < 1:
        raise ValueError("need 0 <= c <= n and k >= 1")
    if k > n:
        raise ValueError("k cannot exceed the number of samples n")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


from shared.eval.groundedness import (  # noqa: E402  (re-exported so every metric has one import path)
    ClaimVerdict,
    GroundednessResult,
    groundedness,
    judge_groundedness,
    split_sentences,
)
from shared.eval.sql_match import SqlMatch, sql_execution_match  # noqa: E402

__all__ = [
    "ClaimVerdict",
    "GroundednessResult",
    "SqlMatch",
    "auprc",
    "classification_report",
    "confusion_matrix",
    "exact_match",
    "groundedness",
    "judge_groundedness",
    "mean_reciprocal_rank",
    "ndcg_at_k",
    "normalize_answer",
    "pass_at_k",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "rouge_l",
    "split_sentences",
    "sql_execution_match",
    "token_f1",
]
