"""Document type classification: k-NN over embedded synthetic examples, the LLM when the vote is unsure.

Why k-NN on generated data: the project ships no labelled corpus and no trained head, but it can
generate documents of every type (synthetic.py). Embedding a few hundred of them once per process
(all-MiniLM-L6-v2, ~2 s on CPU) gives a classifier that needs no training step, explains itself
(per-type vote shares) and improves by adding examples. When the distance-weighted vote is unsure —
a document unlike anything generated — the chat model decides with structured output constrained to
the type names, and the answer says so (``method="llm"``).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field

from projects.document_intelligence.doc_types import DOC_TYPE_DESCRIPTIONS, DOC_TYPES, DocType
from projects.document_intelligence.model import Document
from projects.document_intelligence.settings import DocIntSettings, get_docint_settings
from projects.document_intelligence.synthetic import SyntheticDoc, generate_corpus
from shared.observability.tracing import span
from shared.serving.base import ChatModel, Embedder, ServingError
from shared.serving.structured import generate_structured
from shared.serving.types import ChatMessage, ChatRequest

log = logging.getLogger(__name__)


class Classification(BaseModel):
    doc_type: DocType
    confidence: float = Field(ge=0.0, le=1.0)
    method: Literal["knn", "llm"]
    scores: dict[str, float] = Field(default_factory=dict, description="k-NN vote share per type (sums to 1)")


class LlmDocType(BaseModel):
    """The fallback's answer; the Literal makes any other label a validation error (and a retry)."""

    doc_type: DocType
    confidence: float = Field(ge=0.0, le=1.0, description="how sure the model is")


_OCR_CONFUSIONS = {"O": "0", "0": "O", "l": "1", "1": "l", "S": "5", "B": "8", "e": "c", "m": "rn", "I": "l"}


def ocr_noise(text: str, rng: random.Random, rate: float = 0.02) -> str:
    """Text as a mediocre OCR pass returns it: confused glyphs, lost lines, odd case.

    Training on some noisy copies keeps scanned documents close to their clean siblings.
    """
    lines = [ln for ln in text.splitlines() if rng.random() > 0.05]
    chars = [(_OCR_CONFUSIONS.get(c, c) if rng.random() < rate else c) for c in "\n".join(lines)]
    out = "".join(chars)
    return out.upper() if rng.random() < 0.2 else out


def training_texts(n_per_type: int, seed: int, max_chars: int) -> tuple[list[str], list[DocType]]:
    """Texts and labels of the generated training set (about a third OCR-noised)."""
    rng = random.Random(f"train-noise:{seed}")
    docs: list[SyntheticDoc] = generate_corpus(n_per_type, seed)
    texts = [(ocr_noise(d.text, rng) if rng.random() < 0.35 else d.text)[:max_chars] for d in docs]
    return texts, [d.doc_type for d in docs]


class DocumentClassifier:
    """``classify_text(text)`` / ``classify(document)`` → Classification. Thread-safe; the index is built lazily."""

    # embedded training sets, shared by every instance in the process: key -> (matrix, labels)
    _indexes: ClassVar[dict[tuple[str, str, int, int, int], tuple[np.ndarray, np.ndarray]]] = {}
    _lock = threading.Lock()

    def __init__(
        self,
        embedder: Embedder | None = None,
        chat_model: ChatModel | Callable[[], ChatModel] | None = None,
        settings: DocIntSettings | None = None,
    ) -> None:
        if embedder is None:
            from shared.serving.factory import get_embedder

            embedder = get_embedder()
        self.embedder = embedder
        self._chat = chat_model
        self.settings = settings or get_docint_settings()

    @property
    def chat_model(self) -> ChatModel:
        """Built on first use: most documents never need the LLM."""
        if self._chat is None:
            from shared.serving.factory import get_chat_model

            self._chat = get_chat_model()
        elif not isinstance(self._chat, ChatModel):
            self._chat = self._chat()  # a factory (the service context's): resolved when first needed
        return self._chat

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """The embedded training matrix (n × dim, L2-normalised) and its labels."""
        s = self.settings
        key = (
            self.embedder.backend,
            self.embedder.model,
            s.classify_train_per_type,
            s.classify_train_seed,
            s.classify_max_chars,
        )
        with self._lock:
            if key not in self._indexes:
                with span("docint.classify.index", n_per_type=s.classify_train_per_type):
                    texts, labels = training_texts(
                        s.classify_train_per_type, s.classify_train_seed, s.classify_max_chars
                    )
                    matrix = np.asarray(self.embedder.embed(texts), dtype=np.float32)
                self._indexes[key] = (matrix, np.array(labels))
            return self._indexes[key]

    def knn(self, text: str) -> Classification:
        """Distance-weighted vote of the k nearest training documents (cosine)."""
        return self.knn_many([text])[0]

    def knn_many(self, texts: list[str]) -> list[Classification]:
        """``knn`` for many texts with one embedding batch (evaluation, batch jobs)."""
        matrix, labels = self.index()
        limit = self.settings.classify_max_chars
        queries = np.asarray(self.embedder.embed([t[:limit] for t in texts]), dtype=np.float32)
        return [self._vote(matrix @ q, labels) for q in queries]

    def _vote(self, sims: np.ndarray, labels: np.ndarray) -> Classification:
        k = min(self.settings.classify_k, len(sims))
        top = np.argsort(-sims)[:k]
        weights = 1.0 / np.maximum(1.0 - sims[top], 1e-3)  # closer neighbours count more
        scores = {t: 0.0 for t in DOC_TYPES}
        for i, w in zip(top, weights, strict=True):
            scores[str(labels[i])] += float(w)
        total = sum(scores.values()) or 1.0
        scores = {t: round(v / total, 4) for t, v in scores.items()}
        best = max(scores, key=scores.__getitem__)
        # a unanimous vote among distant neighbours is still a guess: discount by how close the nearest is
        closeness = min(1.0, max(float(sims[top[0]]), 0.0) / max(self.settings.classify_min_similarity, 1e-6))
        return Classification(doc_type=best, confidence=round(scores[best] * closeness, 4), method="knn", scores=scores)

    def classify_text(self, text: str) -> Classification:
        text = text.strip()
        if not text:
            return Classification(doc_type="other", confidence=0.0, method="knn", scores={})
        with span("docint.classify", chars=len(text)) as sp:
            result = self.knn(text)
            if result.confidence < self.settings.classify_min_confidence and self.settings.classify_llm_fallback:
                result = self._ask_llm(text, result)
            sp.set_attribute("doc_type", result.doc_type)
            sp.set_attribute("method", result.method)
            return result

    def classify(self, doc: Document) -> Classification:
        """Classify from the first page(s): the type shows at the top, and long documents cost no more."""
        limit = self.settings.classify_max_chars
        parts: list[str] = []
        for page in doc.pages:
            parts.append(page.text)
            if sum(len(p) for p in parts) >= limit:
                break
        return self.classify_text("\n".join(parts)[:limit])

    def _ask_llm(self, text: str, knn: Classification) -> Classification:
        types = "\n".join(f"- {t}: {d}" for t, d in DOC_TYPE_DESCRIPTIONS.items())
        hints = ", ".join(f"{t} {s:.2f}" for t, s in sorted(knn.scores.items(), key=lambda kv: -kv[1])[:3])
        request = ChatRequest(
            system=(
                "You classify business documents by type. The types are:\n"
                f"{types}\nUse 'other' when none fits. Give your confidence between 0 and 1."
            ),
            messages=[
                ChatMessage.user(
                    f"Document text (may be truncated or contain OCR errors):\n---\n"
                    f"{text[: self.settings.classify_max_chars]}\n---\n"
                    f"A similarity search over example documents suggests: {hints}.\nWhich type is this document?"
                )
            ],
            max_tokens=60,
        )
        try:
            answer = generate_structured(self.chat_model, request, LlmDocType)
        except ServingError as exc:  # includes StructuredOutputError: keep the unsure vote, review will catch it
            log.warning("classification fallback failed, keeping the k-NN vote: %s", exc)
            return knn
        return Classification(doc_type=answer.doc_type, confidence=answer.confidence, method="llm", scores=knn.scores)
