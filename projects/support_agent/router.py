"""Intent router: sentence embeddings (the shared Embedder port) + a light classifier with a calibrated confidence.

Why embeddings + a small head rather than asking the LLM: routing runs on every turn, must be fast and
deterministic, and must say *how sure* it is — below the threshold the agent asks a clarification question or
escalates instead of acting ("the LLM proposes, code disposes"). The head is fitted at start-up from the
project's generated examples (``intents.py``) or any ``(texts, labels)`` set, and cached on disk keyed by a hash
of everything the fit depends on (data, method, hyper-parameters, embedder, scikit-learn version), so a second
process loads it in milliseconds and a changed example set can never load a stale model.

Two heads, chosen by ``SUPPORT__ROUTER__METHOD`` (``intent_eval`` compares them on Banking77):

- ``lr``: multinomial logistic regression on the unit embeddings; confidence = softmax after *temperature
  scaling* (Guo et al. 2017), the temperature fitted on out-of-fold logits so it reflects unseen messages.
- ``knn``: a similarity-weighted vote of the k nearest examples with a "nothing similar" pseudo-neighbour (as in
  ``shared/moderation/knn.py``); confidence = a Platt map of the winning vote share fitted on leave-one-out votes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from projects.support_agent.settings import Method, RouterSettings, get_support_settings
from shared.artifacts import content_key, load_or_build
from shared.observability.tracing import span
from shared.serving.base import Embedder

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
HEAD_FORMAT = 2  # bump when FittedHead changes: the cache key includes it, so old pickles are never loaded


@dataclass(frozen=True)
class IntentPrediction:
    intent: str  # UNKNOWN when confidence < threshold
    confidence: float  # calibrated probability that ``best`` is right
    runner_up: str | None
    margin: float  # score gap between the best and the runner-up intent (0..1)
    best: str = ""  # the classifier's top intent even when ``intent`` is UNKNOWN ("did you mean …?")

    @property
    def is_unknown(self) -> bool:
        return self.intent == UNKNOWN


@dataclass
class FittedHead:
    """Everything predict needs, pickled to the cache (numpy arrays + plain values only)."""

    method: Method
    classes: list[str]
    params: dict
    coef: np.ndarray | None = None  # lr: (C, dim)
    intercept: np.ndarray | None = None  # lr: (C,)
    temperature: float = 1.0  # lr: softmax temperature
    train_emb: np.ndarray | None = None  # (n, dim): k-NN votes, and the familiarity gate of both heads
    train_y: np.ndarray | None = None  # knn: (n,) class index
    platt: tuple[float, float] = (1.0, 0.0)  # knn: confidence = sigmoid(a * vote + b)
    meta: dict = field(default_factory=dict)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T minimising the negative log-likelihood of softmax(logits / T) (a 1-D grid is exact enough)."""
    best_t, best_nll = 1.0, np.inf
    for t in np.geomspace(0.05, 20.0, 121):
        p = _softmax(logits / t)[np.arange(len(y)), y]
        nll = -np.mean(np.log(np.clip(p, 1e-12, None)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _knn_votes(
    query: np.ndarray, emb: np.ndarray, y: np.ndarray, n_classes: int, k: int, temp: float, s0: float, skip_self=False
) -> np.ndarray:
    """(n, C) vote shares: sum of exp(sim/T) per class over the k nearest, over their sum plus a pseudo-neighbour."""
    sims = query @ emb.T
    if skip_self:
        np.fill_diagonal(sims, -np.inf)
    k = min(k, emb.shape[0] - (1 if skip_self else 0))
    idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(sims, idx, axis=1)
    w = np.exp((top - 1.0) / temp)  # shifted by 1 for range; cancels in the ratio
    w0 = np.exp((s0 - 1.0) / temp)
    votes = np.zeros((query.shape[0], n_classes))
    np.add.at(votes, (np.repeat(np.arange(query.shape[0]), k), y[idx].ravel()), w.ravel())
    return votes / (w.sum(axis=1, keepdims=True) + w0)


def _fit_lr(emb: np.ndarray, y: np.ndarray, classes: list[str], s: RouterSettings) -> FittedHead:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    def model():
        return LogisticRegression(C=s.lr_c, max_iter=2000, class_weight="balanced")

    clf = model().fit(emb, y)
    folds = int(min(5, np.bincount(y).min()))
    temperature = 1.0
    if folds >= 2:  # out-of-fold logits: the temperature must reflect messages the head has not seen
        oof = np.zeros((len(y), len(classes)))
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(emb, y):
            m = model().fit(emb[tr], y[tr])
            oof[np.ix_(te, m.classes_)] = m.decision_function(emb[te])
            oof[np.ix_(te, np.setdiff1d(np.arange(len(classes)), m.classes_))] = -1e9
        temperature = _fit_temperature(oof, y)
    return FittedHead(
        "lr", classes, s.model_dump(), coef=clf.coef_, intercept=clf.intercept_, temperature=temperature, train_emb=emb
    )


def _fit_knn(emb: np.ndarray, y: np.ndarray, classes: list[str], s: RouterSettings) -> FittedHead:
    from sklearn.linear_model import LogisticRegression

    votes = _knn_votes(emb, emb, y, len(classes), s.knn_k, s.knn_temperature, s.knn_s0, skip_self=True)
    top = votes.max(axis=1)
    correct = (votes.argmax(axis=1) == y).astype(int)
    a, b = 8.0, -4.0  # a monotone default when leave-one-out is all right or all wrong
    if 0 < correct.sum() < len(correct):
        lr = LogisticRegression(C=10.0).fit(top[:, None], correct)
        if lr.coef_[0, 0] > 0:
            a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    return FittedHead("knn", classes, s.model_dump(), train_emb=emb, train_y=y, platt=(a, b))


class IntentRouter:
    """``fit(texts, labels)`` once (or load the cached fit), then ``predict(texts)`` per turn. Thread-safe."""

    fits = 0  # class-wide count of real fits (not cache loads); tests read it to prove persistence

    def __init__(
        self, embedder: Embedder | None = None, settings: RouterSettings | None = None, cache_dir: Path | None = None
    ) -> None:
        if embedder is None:
            from shared.serving.factory import get_embedder

            embedder = get_embedder()
        if cache_dir is None:
            from shared.settings import get_settings

            cache_dir = get_settings().cache_dir
        self.embedder = embedder
        self.settings = settings or get_support_settings().router
        self.cache_dir = Path(cache_dir)
        self.head: FittedHead | None = None
        self.cache_path: Path | None = None
        self.loaded_from_cache = False
        self._lock = threading.Lock()

    @property
    def intents(self) -> list[str]:
        return list(self.head.classes) if self.head else []

    def _key(self, texts: Sequence[str], labels: Sequence[str]) -> str:
        import sklearn

        params = self.settings.model_dump(exclude={"threshold", "familiar_low", "familiar_high"})  # not part of the fit
        e = self.embedder
        head = json.dumps([HEAD_FORMAT, params, e.backend, e.model, e.dim, sklearn.__version__], sort_keys=True)
        return content_key([head, *(f"{t}\x00{lbl}" for t, lbl in zip(texts, labels, strict=True))])

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentRouter:
        """Fit the head on (text, intent) pairs, or load the identical fit from the cache dir."""
        if len(texts) != len(labels) or not texts:
            raise ValueError("texts and labels must be non-empty and of equal length")
        if len(set(labels)) < 2:
            raise ValueError("need at least two intents")
        key = self._key(texts, labels)
        path = self.cache_dir / "support_agent" / f"intent_router_{self.settings.method}_{key}.joblib"

        def build() -> FittedHead:
            type(self).fits += 1
            classes = sorted(set(labels))
            y = np.array([classes.index(lbl) for lbl in labels])
            with span("support.router.fit", n=len(texts), intents=len(classes), method=self.settings.method):
                emb = self.embedder.embed(list(texts))
                fit = _fit_lr if self.settings.method == "lr" else _fit_knn
                head = fit(emb, y, classes, self.settings)
            head.meta = {"key": key, "n": len(texts)}
            return head

        with self._lock:
            head, built = load_or_build(
                path, build, valid=lambda h: isinstance(h, FittedHead) and h.meta.get("key") == key
            )
            self.head, self.cache_path, self.loaded_from_cache = head, path, not built
        log.info("intent router %s: %s (%d intents)", "fitted" if built else "loaded", path.name, len(head.classes))
        return self

    def probabilities(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores (n, C) used for ranking and margin, calibrated confidence of the top class (n,)).

        The confidence is scaled by a familiarity gate on the nearest training example's cosine: calibration is
        fitted on messages like the training data, so it says nothing about a message unlike all of them.
        """
        h, s = self.head, self.settings
        if h is None:
            raise RuntimeError("IntentRouter.fit() first")
        if h.method == "lr":
            scores = _softmax((emb @ h.coef.T + h.intercept) / h.temperature)
            conf = scores.max(axis=1)
        else:
            scores = _knn_votes(emb, h.train_emb, h.train_y, len(h.classes), s.knn_k, s.knn_temperature, s.knn_s0)
            a, b = h.platt
            conf = 1.0 / (1.0 + np.exp(-(a * scores.max(axis=1) + b)))
        nearest = (emb @ h.train_emb.T).max(axis=1)
        span_ = max(s.familiar_high - s.familiar_low, 1e-6)
        return scores, conf * np.clip((nearest - s.familiar_low) / span_, 0.0, 1.0)

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        """One prediction per text; empty texts are UNKNOWN with confidence 0 (nothing to route on)."""
        out: list[IntentPrediction | None] = [None] * len(texts)
        live = [i for i, t in enumerate(texts) if t and t.strip()]
        with span("support.router.predict", n=len(texts)):
            if live:
                scores, conf = self.probabilities(self.embedder.embed([texts[i] for i in live]))
                order = np.argsort(-scores, axis=1)
                for row, i in enumerate(live):
                    best, second = order[row, 0], order[row, 1] if scores.shape[1] > 1 else None
                    c = float(conf[row])
                    name = self.head.classes[best]
                    out[i] = IntentPrediction(
                        intent=name if c >= self.settings.threshold else UNKNOWN,
                        confidence=c,
                        runner_up=self.head.classes[second] if second is not None else None,
                        margin=float(scores[row, best] - (scores[row, second] if second is not None else 0.0)),
                        best=name,
                    )
        return [p or IntentPrediction(UNKNOWN, 0.0, None, 0.0, "") for p in out]

    def predict_one(self, text: str) -> IntentPrediction:
        return self.predict([text])[0]


@lru_cache(maxsize=4)
def get_router(method: Method | None = None) -> IntentRouter:
    """The process-wide router fitted on the project's generated intents (cached on disk after the first fit)."""
    from projects.support_agent.intents import generate_examples

    settings = get_support_settings().router
    if method is not None:
        settings = settings.model_copy(update={"method": method})
    pairs = generate_examples()
    return IntentRouter(settings=settings).fit([t for t, _ in pairs], [i for _, i in pairs])
