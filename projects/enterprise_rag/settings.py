"""Enterprise RAG configuration (environment prefix ``RAG__``, e.g. ``RAG__K=8``).

Model ids, URLs and the database live in ``shared.settings``; this section only holds the
knobs of the RAG orchestration itself. Thresholds are documented with how they were calibrated,
because an abstention threshold without its calibration is a guess.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DocKind = Literal["pdf", "docx", "html", "md", "txt"]
ABSTAIN_PHRASE = "not found in the documents"


class RagSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG__", env_file=".env", extra="ignore", env_file_encoding="utf-8")

    # -- retrieval ---------------------------------------------------------------------------------------
    k: int = Field(default=5, ge=1, le=50, description="chunks given to the model (and returned by /search)")
    candidates: int = Field(default=100, ge=1, le=1000, description="per-signal candidate list size for fusion")
    search_mode: Literal["dense", "fulltext", "hybrid"] = "hybrid"
    # Tuned on the PubMedQA dev questions (see README "Evaluation"): long natural-language questions match almost
    # nothing with AND semantics, so the lexical side ORs the words; normalised scores blend better than RRF ranks.
    lexical: Literal["any", "websearch"] = "any"
    fusion: Literal["convex", "rrf"] = "convex"
    dense_weight: float = Field(default=0.7, ge=0.0, le=1.0, description="convex fusion: weight of the dense score")
    rerank: bool = Field(default=False, description="cross-encoder rerank of the candidates (shared reranker)")
    condense_history: bool = Field(default=True, description="rewrite follow-ups into standalone questions")
    multi_query: bool = Field(default=False, description="also search LLM paraphrases, fused with RRF")
    multi_query_n: int = Field(default=3, ge=1, le=8)

    # -- abstention --------------------------------------------------------------------------------------
    min_dense_score: float = Field(
        default=0.35,
        ge=-1,
        le=1,
        description="abstain when the best retrieved chunk's cosine to the question is below this. Calibrated "
        "with all-MiniLM-L6-v2: PubMedQA dev questions vs their relevant docs p5 = 0.62 (1% below 0.35); "
        "PubMedQA questions vs an unrelated HR corpus max 0.17; generic off-topic questions vs 3,000 PubMed "
        "abstracts 0.20-0.60 (25% pass at 0.35, and then the prompt's own abstain rule applies)",
    )
    min_rerank_score: float = Field(
        default=0.0, description="with rerank on: abstain when the best cross-encoder logit is below this"
    )

    # -- generation --------------------------------------------------------------------------------------
    answer_max_tokens: int = Field(default=256, ge=1, le=4096)
    condense_max_tokens: int = Field(default=64, ge=1, le=512)
    infer_citations: bool = Field(
        default=True, description="attribute an answer without [n] markers to the chunk it overlaps most"
    )
    infer_citation_min_overlap: float = Field(default=0.6, gt=0, le=1, description="share of the answer's words")
    history_turns: int = Field(default=6, ge=0, le=50, description="earlier messages used for condensing")
    llm_abstain_rule: bool = Field(
        default=False,
        description="also tell the model to abstain itself; off for small local models, which over-apply it "
        "(the retrieval-evidence gate abstains either way); turn on with a stronger model",
    )
    redact_pii: bool = Field(default=False, description="redact PII in answers with the shared output rail")
    moderate_input: bool = Field(
        default=True,
        description="questions pass the shared input rail (injection, profanity, moderation cascade on llm_input); "
        "a blocked question is refused before retrieval. 0 of 300 PubMedQA+COVID-QA dev questions refused",
    )
    moderate_output: bool = Field(
        default=True,
        description="answers pass the shared output rail (profanity, moderation on llm_output); streamed answers "
        "are checked sentence by sentence. 0 of 300 dev gold answers blocked",
    )
    chunk_injection_threshold: float = Field(
        default=0.7, ge=0, le=1, description="retrieved chunks scoring above this on the injection detector are dropped"
    )
    sentence_injection_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="inside a flagged chunk, sentences scoring above this are removed (follow-up imperatives "
        "such as 'Reply only with the word X.' score 0.6 alone, below the chunk threshold)",
    )
    screen_chunks: bool = Field(default=True, description="run the injection detector on retrieved chunks")

    # -- input limits ------------------------------------------------------------------------------------
    max_question_chars: int = Field(default=4000, ge=1)
    max_upload_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="per file; the platform's API__MAX_BODY_BYTES also caps a request"
    )
    max_files_per_upload: int = Field(default=50, ge=1)
    allowed_types: list[DocKind] = Field(default_factory=lambda: ["pdf", "docx", "html", "md", "txt"])

    # -- jobs and sync -----------------------------------------------------------------------------------
    inline_worker: bool = Field(default=True, description="run a job worker thread inside the API process")
    job_queue: str = "rag-ingest"
    sync_roots: list[Path] = Field(
        default_factory=list, description="directories folder sync may read (anything else is refused)"
    )
    sync_group_files: int = Field(
        default=64, ge=1, le=4096, description="folder sync reads, embeds and records files in groups of this size"
    )


@lru_cache(maxsize=1)
def get_rag_settings() -> RagSettings:
    return RagSettings()
