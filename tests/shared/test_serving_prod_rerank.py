"""CrossEncoderReranker's real code path on a tiny randomly initialised BERT cross-encoder.

No cross-encoder ships offline, so this checks plumbing (loading from a folder, batching, shapes,
ordering), not relevance quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.serving.base import ModelNotFoundError
from shared.serving.rerank import CrossEncoderReranker, build_reranker
from shared.settings import RerankSettings, Settings

WORDS = [
    "the",
    "a",
    "how",
    "do",
    "i",
    "reset",
    "my",
    "password",
    "change",
    "email",
    "address",
    "opening",
    "hours",
    "store",
    "is",
    "open",
    "from",
    "nine",
    "to",
    "five",
]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path = tmp_path_factory.mktemp("tiny-ce")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(path / "vocab.txt")).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).eval().save_pretrained(path)
    return path


DOCS = [
    "the store is open from nine to five",
    "how do i change my email address",
    "reset my password",
    "opening hours",
    "the a the a",
]


def test_scores_are_batched_per_document_and_order_independent(tiny_cross_encoder: Path) -> None:
    small_batches = CrossEncoderReranker(str(tiny_cross_encoder), batch_size=2)
    scores = small_batches.score("how do i reset my password", DOCS)
    assert len(scores) == len(DOCS) and all(isinstance(s, float) for s in scores)
    assert len(set(scores)) > 1  # a real forward pass per pair, not a constant

    one_batch = CrossEncoderReranker(str(tiny_cross_encoder), batch_size=32).score("how do i reset my password", DOCS)
    np.testing.assert_allclose(scores, one_batch, atol=1e-5)

    permutation = [3, 0, 4, 2, 1]
    permuted = small_batches.score("how do i reset my password", [DOCS[i] for i in permutation])
    np.testing.assert_allclose(permuted, [scores[i] for i in permutation], atol=1e-5)
    assert small_batches.score("anything", []) == []


def test_rerank_returns_indices_best_first(tiny_cross_encoder: Path) -> None:
    reranker = CrossEncoderReranker(str(tiny_cross_encoder), batch_size=2)
    scores = reranker.score("opening hours", DOCS)
    ranked = reranker.rerank("opening hours", DOCS, top_k=3)
    assert [i for i, _ in ranked] == sorted(range(len(DOCS)), key=lambda i: -scores[i])[:3]
    assert [s for _, s in ranked] == sorted([s for _, s in ranked], reverse=True)


def test_build_reranker_from_settings(tiny_cross_encoder: Path) -> None:
    assert build_reranker(Settings()) is None  # offline default: nothing configured
    configured = Settings(rerank=RerankSettings(cross_encoder_model=str(tiny_cross_encoder), batch_size=4))
    reranker = build_reranker(configured)
    assert isinstance(reranker, CrossEncoderReranker) and reranker.batch_size == 4
    assert len(reranker.score("q", DOCS[:2])) == 2


def test_unavailable_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not available offline"):
        CrossEncoderReranker("no-such-org/no-such-cross-encoder")
