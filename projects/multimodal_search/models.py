"""Request and response models shared by the service, the API and the UI."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

SearchMode = Literal["hybrid", "vector", "text"]
Orientation = Literal["landscape", "portrait", "square"]


class ImageFilters(BaseModel):
    """Filters applied in SQL inside every candidate list (so a selective filter still returns a full page)."""

    date_from: datetime | None = Field(default=None, description="taken at or after (EXIF date; else import time)")
    date_to: datetime | None = Field(default=None, description="taken before")
    tags: list[str] | None = Field(default=None, description="has any of these tags")
    sources: list[str] | None = Field(default=None, description="album / folder / 'upload'")
    orientation: Orientation | None = None
    min_width: int | None = Field(default=None, ge=1)
    min_height: int | None = Field(default=None, ge=1)
    camera: str | None = Field(default=None, description="camera model, exact")
    has_text: bool | None = Field(default=None, description="only images in which OCR found text")


class ImageSearchOptions(BaseModel):
    """What every search takes: filters, the cutoff, diversity, duplicate collapsing, the page. On its own, the
    options of image→image search (an uploaded query image or a stored image: "more like this")."""

    filters: ImageFilters = Field(default_factory=ImageFilters)
    min_similarity: float | None = Field(
        default=None, ge=-1, le=1, description="drop results whose vector similarity is below it (full-text hits stay)"
    )
    mmr: bool = Field(default=False, description="diversify the page (maximal marginal relevance)")
    collapse_duplicates: bool = Field(default=True, description="show one image per near-duplicate group")
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=24, ge=1, le=100)


class SearchQuery(ImageSearchOptions):
    query: str = Field(min_length=1, max_length=500, description="text to search for")
    mode: SearchMode = Field(
        default="hybrid",
        description="hybrid = vector + full text (caption/tags/labels/OCR) fused by RRF; vector; text (full text only)",
    )

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the query is empty")
        return v.strip()


class ImageOut(BaseModel):
    id: str
    filename: str
    source: str
    caption: str | None = None
    tags: list[str] = Field(default_factory=list)
    media_type: str
    size_bytes: int
    width: int
    height: int
    orientation: Orientation
    n_frames: int = 1
    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    colours: list[str] = Field(default_factory=list)
    labels: list[tuple[str, float]] = Field(default_factory=list, description="ImageNet labels with probabilities")
    ocr_text: str | None = None
    duplicate_of: str | None = Field(default=None, description="the earlier near-duplicate (perceptual hash)")
    warnings: list[str] = Field(default_factory=list)
    status: Literal["queued", "indexing", "indexed", "failed"]
    error: str | None = None
    indexed_model: str | None = None
    stale: bool = Field(default=False, description="indexed with another model than the one running: re-index")
    created_at: datetime
    thumbnail_url: str
    original_url: str


class SearchHit(BaseModel):
    image: ImageOut
    score: float = Field(description="the fused rank score (RRF) in hybrid mode, else the similarity")
    similarity: float | None = Field(default=None, description="cosine similarity in the vector space, if ranked by it")
    vector_rank: int | None = None
    text_rank: int | None = None
    duplicates: int = Field(default=0, description="near-duplicates collapsed into this hit")


class SearchPage(BaseModel):
    query: str | None = None
    mode: str
    space: str = Field(description="the embedding collection searched")
    model: str
    page: int
    page_size: int
    has_more: bool
    hits: list[SearchHit]
    took_ms: float


class SkippedFile(BaseModel):
    file: str
    code: str
    message: str


class ImportOut(BaseModel):
    id: str
    kind: Literal["folder", "upload", "reindex"]
    path: str | None = None
    source: str
    status: Literal["queued", "running", "done", "failed"]
    job_id: int | None = None
    total: int
    done: int
    added: int
    duplicates: int
    failed: int
    skipped: list[SkippedFile] = Field(default_factory=list)
    error: str | None = None
    image_ids: list[str] = Field(default_factory=list, description="images this request added (uploads)")
    created_at: datetime
    updated_at: datetime


class LibraryStats(BaseModel):
    images: int
    by_status: dict[str, int]
    stale: int = Field(description="images indexed with another model: a re-index job will re-embed them")
    near_duplicates: int
    model: str
    text_space: str
    image_space: str
    sources: list[str]
    tags: list[str]
    cameras: list[str]
    taken_from: datetime | None = None
    taken_to: datetime | None = None
