"""Tier 1: an embedding k-NN classifier over the project's labelled examples, calibrated per category.

Why k-NN rather than a trained head: the example set is small and hand-built, and a neighbour vote explains
itself — every flag carries the labelled example it resembles, which a reviewer can read and a policy owner
can fix by adding a counter-example (no retraining step).

Scoring, per category ``c`` and text ``q`` with neighbours ``i`` among the ``k`` most cosine-similar examples::

    raw_c(q) = sum_i w_i * y_ic / (sum_i w_i + w_0),   w_i = exp(sim_i / T),  w_0 = exp(S0 / T)

``w_0`` is a pseudo-neighbour "nothing like any example" at similarity ``S0``: a text far from every example
gets a low raw score instead of an arbitrary vote among distant neighbours. ``raw`` rises with similarity to
positives and falls with similarity to negatives; a Platt map (logistic regression on ``raw``, fitted on the
calibration split scored against the train split) turns it into a probability and keeps it monotone.

Texts longer than ``SENTENCE_SPLIT_OVER`` sentences are also scored sentence by sentence (MiniLM truncates at
256 word pieces and averages meaning away); each category keeps the max over the whole text and its sentences,
and the evidence span is the unit that scored it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.moderation.examples import Example, build_examples, examples_hash, split_examples
from shared.moderation.signals import CATEGORIES, Evidence, NormalizedText, Signal
from shared.observability.tracing import span
from shared.serving.base import Embedder

log = logging.getLogger(__name__)

K = 10
TEMPERATURE = 0.05
S0 = 0.35  # below this cosine a neighbour counts for less than "no neighbour at all"
SENTENCE_SPLIT_OVER = 3
MAX_UNITS = 64  # sentences per text, beyond which consecutive sentences are merged into windows
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


def as_normalized(text: str) -> NormalizedText:
    """Identity normalisation, for callers (scripts, tests) that run the detector without the normaliser."""
    return NormalizedText(text, text, tuple(range(len(text))))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences (stripped of surrounding whitespace), merged into at most MAX_UNITS windows."""
    spans: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e - s >= 3:
            spans.append((s, e))
    if len(spans) > MAX_UNITS:
        step = -(-len(spans) // MAX_UNITS)
        spans = [(spans[i][0], spans[min(i + step, len(spans)) - 1][1]) for i in range(0, len(spans), step)]
    return spans


@dataclass
class _Platt:
    a: float
    b: float

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * raw + self.b)))


class KnnDetector:
    """``detect`` returns one Signal per category for each non-empty text; evidence = the nearest positive."""

    name = "knn"
    tier = 1

    def __init__(
        self,
        embedder: Embedder | None = None,
        examples: list[Example] | None = None,
        k: int = K,
        cache_dir: Path | None = None,
    ) -> None:
        if embedder is None:
            from shared.serving import get_embedder

            embedder = get_embedder()
        if cache_dir is None:
            from shared.settings import get_settings

            cache_dir = get_settings().cache_dir
        self.embedder = embedder
        self.k = k
        examples = examples if examples is not None else build_examples()
        self.train, self.calibration = split_examples(examples)
        self.categories = [
            c
            for c in CATEGORIES
            if any(c in e.labels for e in self.train) and any(c in e.labels for e in self.calibration)
        ]
        self._labels = np.array(
            [[c in e.labels for c in self.categories] for e in self.train], dtype=np.float32
        )  # (n_train, C)
        self.cache_path = self._cache_path(Path(cache_dir), examples)
        self.train_emb, calib_emb = self._load_or_embed()
        self.platt = self._fit_calibration(calib_emb)

    # ------------------------------------------------------------------ index

    def _cache_path(self, cache_dir: Path, examples: list[Example]) -> Path:
        key = hashlib.sha256(
            f"{examples_hash(examples)}|{self.embedder.backend}|{self.embedder.model}|{self.embedder.dim}".encode()
        ).hexdigest()[:24]
        return cache_dir / "content_moderation" / f"knn_examples_{key}.npz"

    def _load_or_embed(self) -> tuple[np.ndarray, np.ndarray]:
        """Example embeddings from the cache file, or embedded now and written atomically for the next process."""
        n_train, n_cal = len(self.train), len(self.calibration)
        if self.cache_path.exists():
            try:
                with np.load(self.cache_path) as z:
                    train, cal = z["train"], z["calibration"]
                if train.shape == (n_train, self.embedder.dim) and cal.shape == (n_cal, self.embedder.dim):
                    return train, cal
                log.warning("kNN cache %s has the wrong shape; re-embedding", self.cache_path)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("cannot read kNN cache %s (%s); re-embedding", self.cache_path, exc)
        with span("moderation.knn.embed_examples", n=n_train + n_cal):
            emb = self.embedder.embed([e.text for e in self.train + self.calibration])
        train, cal = emb[:n_train], emb[n_train:]
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(self.cache_path.name + ".tmp.npz")
        np.savez(tmp, train=train, calibration=cal)
        tmp.replace(self.cache_path)
        return train, cal

    # ------------------------------------------------------------------ scoring

    def _neighbours(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices and cosine similarities of the k nearest train examples, most similar first."""
        sims = emb @ self.train_emb.T
        k = min(self.k, sims.shape[1])
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, idx, axis=1)
        order = np.argsort(-top, axis=1)
        return np.take_along_axis(idx, order, axis=1), np.take_along_axis(top, order, axis=1)

    def raw_from_neighbours(self, idx: np.ndarray, sims: np.ndarray) -> np.ndarray:
        """The similarity-weighted vote (n, C) in [0, 1) from neighbour indices and similarities."""
        w = np.exp((sims - 1.0) / TEMPERATURE)  # shifted by 1 for numerical range; cancels in the ratio
        w0 = np.exp((S0 - 1.0) / TEMPERATURE)
        votes = np.einsum("nk,nkc->nc", w, self._labels[idx])
        return votes / (w.sum(axis=1, keepdims=True) + w0)

    def raw_scores(self, texts: list[str]) -> np.ndarray:
        """Uncalibrated vote per category, shape (len(texts), len(self.categories))."""
        return self.raw_from_neighbours(*self._neighbours(self.embedder.embed(texts)))

    def calibrate(self, category: str, raw: np.ndarray) -> np.ndarray:
        return self.platt[category](np.asarray(raw, dtype=np.float64))

    def _fit_calibration(self, calib_emb: np.ndarray) -> dict[str, _Platt]:
        from sklearn.linear_model import LogisticRegression

        raw = self.raw_from_neighbours(*self._neighbours(calib_emb))
        out: dict[str, _Platt] = {}
        for j, c in enumerate(self.categories):
            y = np.array([c in e.labels for e in self.calibration], dtype=int)
            lr = LogisticRegression(C=10.0).fit(raw[:, j : j + 1], y)
            a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
            if a <= 0:  # a degenerate fit would invert the score; fall back to a fixed monotone map
                log.warning("kNN calibration for %s is not increasing (a=%.3f); using a default map", c, a)
                a, b = 8.0, -4.0
            out[c] = _Platt(a, b)
        return out

    def detect(self, texts: list[NormalizedText]) -> list[list[Signal]]:
        # units: (text index, start, end) in normalized coordinates; the whole text first, then its sentences
        units: list[tuple[int, int, int]] = []
        for t, nt in enumerate(texts):
            norm = nt.normalized
            if not norm.strip():
                continue
            units.append((t, 0, len(norm)))
            sents = sentence_spans(norm)
            if len(sents) > SENTENCE_SPLIT_OVER:
                units.extend((t, s, e) for s, e in sents)
        out: list[list[Signal]] = [[] for _ in texts]
        if not units:
            return out
        with span("moderation.knn.detect", texts=len(texts), units=len(units)):
            emb = self.embedder.embed([texts[t].normalized[s:e] for t, s, e in units])
            idx, sims = self._neighbours(emb)
            raw = self.raw_from_neighbours(idx, sims)
            probs = np.column_stack([self.calibrate(c, raw[:, j]) for j, c in enumerate(self.categories)])
        by_text: dict[int, list[int]] = {}
        for u, (t, _, _) in enumerate(units):
            by_text.setdefault(t, []).append(u)
        for t, us in by_text.items():
            nt = texts[t]
            for j, c in enumerate(self.categories):
                best = max(us, key=lambda u: probs[u, j])
                out[t].append(
                    Signal(c, float(probs[best, j]), self.name, self._evidence(nt, units[best], idx, sims, best, j))
                )
        return out

    def _evidence(
        self, nt: NormalizedText, unit: tuple[int, int, int], idx: np.ndarray, sims: np.ndarray, u: int, j: int
    ) -> tuple[Evidence, ...]:
        """The nearest positive neighbour of this unit for category j, as evidence over the unit's span."""
        for i, s in zip(idx[u], sims[u], strict=True):
            if self._labels[i, j]:
                start, end = nt.to_original(unit[1], unit[2])
                example = self.train[i].text
                shown = example if len(example) <= 120 else example[:117] + "..."
                why = f"nearest example: '{shown}' (cosine {float(s):.2f})"
                return (Evidence(start, end, nt.original[start:end], why),)
        return ()
