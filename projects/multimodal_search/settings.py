"""Multimodal search configuration (environment prefix ``MMSEARCH__``, e.g. ``MMSEARCH__MAX_UPLOAD_BYTES=5000000``).

Which image model runs is ``shared.settings.VisionSettings`` (``VISION__BACKEND=open_clip``); this section
holds the input limits, the indexing knobs and the search defaults. Each limit says what it protects.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import REPO_ROOT


class MultimodalSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MMSEARCH__", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    # -- input limits ------------------------------------------------------------------------------------
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1, description="per uploaded image file")
    max_query_image_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="an image used as a query")
    max_image_pixels: int = Field(
        default=100_000_000,
        ge=1,
        description="decoded pixels (width×height, from the header, before decoding): decompression bombs stop here",
    )
    max_image_side: int = Field(default=30_000, ge=1, description="longest side in pixels")
    min_image_side: int = Field(default=1, ge=1, description="shortest side in pixels (1×1 images are accepted)")
    max_aspect_ratio: float = Field(
        default=500.0,
        ge=1,
        description="longest/shortest side; a 30,000×100 strip (300:1) is accepted, thinner refused",
    )

    # -- indexing ----------------------------------------------------------------------------------------
    import_roots: list[Path] = Field(
        default_factory=lambda: [REPO_ROOT / "var" / "multimodal"],
        description="folders (and their subfolders) the API may import from; anything else is refused",
    )
    media_dir: Path = Field(default=REPO_ROOT / "var" / "multimodal" / "media", description="uploaded originals")
    thumbnail_side: int = Field(default=256, ge=32, le=1024, description="longest side of stored thumbnails")
    ocr: bool = Field(default=True, description="read text in images (rapidocr) and index it for full-text search")
    ocr_max_side: int = Field(default=1280, ge=256, description="images are downscaled to this before OCR")
    ocr_min_confidence: float = Field(default=0.6, ge=0, le=1)
    near_duplicate_distance: int = Field(
        default=6, ge=0, le=64, description="pHash Hamming distance at or below which two images are near-duplicates"
    )
    index_batch_size: int = Field(default=16, ge=1, description="images embedded per batch in an indexing job")
    job_queue: str = "multimodal"
    inline_worker: bool = Field(default=True, description="run indexing jobs in a thread of the API process")
    demo_images: int = Field(default=48, ge=4, description="images generated for the demo library")
    demo_dir: Path = Field(default=REPO_ROOT / "var" / "multimodal" / "demo", description="where the demo is written")
    demo_sync: bool = Field(default=True, description="index the demo library before `make demo` opens the portal")

    # -- search ------------------------------------------------------------------------------------------
    max_results: int = Field(default=200, ge=1, le=1000, description="deepest result reachable by pagination")
    min_similarity: float | None = Field(
        default=None, ge=-1, le=1, description="default cutoff on the vector similarity (cosine); None keeps all"
    )
    candidates: int = Field(default=100, ge=10, le=1000, description="per-signal candidates fused by RRF")
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)


@lru_cache
def get_multimodal_settings() -> MultimodalSettings:
    return MultimodalSettings()
