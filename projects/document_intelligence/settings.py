"""Document intelligence configuration (environment prefix ``DOCINT__``, e.g. ``DOCINT__OCR_ENGINE=paddleocr``).

Model ids, URLs and the database live in ``shared.settings``; this section holds the knobs of
parsing, extraction and review. Limits are the defences against the inputs the issue lists
(decompression bombs, 20,000×20,000 images, 500-page PDFs), so each says what it protects.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OcrEngineName = Literal["rapidocr", "paddleocr"]


class DocIntSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCINT__", env_file=".env", extra="ignore", env_file_encoding="utf-8")

    # -- input limits ------------------------------------------------------------------------------------
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1, description="per file")
    max_pages: int = Field(default=1000, ge=1, description="pages per document; longer PDFs are refused up front")
    max_image_pixels: int = Field(
        default=80_000_000,
        ge=1,
        description="decoded pixels per image/frame (a 20,000×20,000 scan is 400 M: refused from the header, "
        "before any pixel is decoded; PIL's bomb warning is also raised as an error when a frame is decoded)",
    )
    max_image_side: int = Field(default=12_000, ge=1, description="longest side of an input image, pixels")

    # -- parsing -----------------------------------------------------------------------------------------
    render_dpi: int = Field(default=150, ge=50, le=600, description="rasterisation of PDF pages for OCR/layout")
    ocr_max_side: int = Field(
        default=2000, ge=256, description="page images are downscaled so the longest side is at most this before OCR"
    )
    min_text_layer_chars: int = Field(
        default=20, ge=0, description="a PDF page with fewer extractable characters than this goes through OCR"
    )
    ocr_engine: OcrEngineName = "rapidocr"
    layout: bool = Field(default=True, description="run the layout detector (rapid-layout); off = one text block")
    layout_min_score: float = Field(default=0.5, ge=0, le=1)
    detect_rotation: bool = Field(default=True, description="try 90/180/270° when OCR confidence is low")
    rotation_min_confidence: float = Field(
        default=0.80, ge=0, le=1, description="mean OCR line confidence below which other orientations are tried"
    )
    deskew: bool = Field(default=True, description="straighten small skew angles estimated from text lines")

    # -- classification ----------------------------------------------------------------------------------
    classify_k: int = Field(default=7, ge=1, le=50)
    classify_min_confidence: float = Field(
        default=0.55, ge=0, le=1, description="k-NN vote share below which the LLM decides the type"
    )
    classify_llm_fallback: bool = True

    # -- extraction --------------------------------------------------------------------------------------
    extract_llm: bool = Field(default=True, description="ask the LLM (structured output) for fields heuristics miss")
    extract_max_chars: int = Field(default=3500, ge=200, description="document text given to the LLM")
    review_threshold: float = Field(
        default=0.7, ge=0, le=1, description="a required field below this confidence sends the document to review"
    )
    amount_tolerance: float = Field(default=0.011, ge=0, description="line items vs total / subtotal+tax checks")

    # -- Q&A ---------------------------------------------------------------------------------------------
    chunk_max_chars: int = Field(default=1200, ge=100)
    qa_k: int = Field(default=4, ge=1, le=20)
    qa_max_tokens: int = Field(default=200, ge=1, le=2048)
    max_question_chars: int = Field(default=2000, ge=1)
    qa_screen_injection: bool = Field(default=True, description="remove injection-like document lines from prompts")
    qa_injection_threshold: float = Field(
        default=0.95,
        ge=0,
        le=1,
        description="shared detector score at which a document line is removed. Measured on 2,814 lines of the "
        "generated corpus: 8.3 % of legitimate lines score ≥ 0.7 (polite closings such as 'Thank you for your "
        "business!'), 0.5 % ≥ 0.95; 3 of 4 planted override instructions score ≥ 0.95",
    )
    qa_abstain_rule: bool = Field(
        default=False,
        description="also tell the model to say 'not found in the document' itself. Off for the local 0.5B model, "
        "which then abstains on answerable questions ('When is the payment due?' with 'Due 2022-05-24' in the "
        "excerpt); answers whose words are not in the excerpts are replaced by 'not found' either way. Turn on "
        "with a stronger model",
    )

    # -- jobs --------------------------------------------------------------------------------------------
    inline_worker: bool = Field(default=True, description="run a job worker thread inside the API process")
    job_queue: str = "docint"
    demo_sync: int = Field(
        default=8, ge=0, description="make demo: documents processed before the portal opens (the rest queue)"
    )

    # -- classifier training corpus (synthetic.py / classify.py) -----------------------------------------
    classify_train_per_type: int = Field(
        default=30, ge=2, le=500, description="generated training documents per type, embedded once per process"
    )
    classify_train_seed: int = Field(default=1, description="corpus seed (the demo set uses 7, hold-out checks 99)")
    classify_max_chars: int = Field(
        default=1000, ge=100, description="leading document text embedded (MiniLM reads ~256 tokens anyway)"
    )
    classify_min_similarity: float = Field(
        default=0.35, ge=0, le=1, description="nearest-neighbour cosine below which the vote share is discounted"
    )

    # -- extraction (added by the field-extraction helper) -------------------------------------------------
    extract_accept_confidence: float = Field(
        default=0.8, ge=0, le=1, description="heuristic values at or above this are kept without asking the LLM"
    )
    extract_prefer_heuristics: list[str] = Field(
        default_factory=list,
        description="field kinds (text/date/amount/id) or field names where a heuristic value wins a disagreement "
        "with the LLM",
    )
    extract_llm_optional_fields: bool = Field(
        default=False,
        description="also ask the LLM for optional fields the heuristics did not find (slower; a small model tends "
        "to invent a tax line that is not printed)",
    )
    extract_day_first: bool = Field(default=True, description="read 01/02/2024 as 1 February (False: January 2)")
    extract_llm_max_tokens: int = Field(default=200, ge=16, le=4096, description="answer budget of one LLM call")


@lru_cache(maxsize=1)
def get_docint_settings() -> DocIntSettings:
    return DocIntSettings()
