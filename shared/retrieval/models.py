"""The retrieval data model: documents, chunks and the principal every search runs as.

Ids are *stable*: a document's id is derived from its collection and source URI, a chunk's from
its document id and ordinal, so re-ingesting the same file addresses the same rows and upserts
stay idempotent. Content hashes (sha256 of the text) decide whether anything needs re-embedding.

Access control: every document and chunk carries ``tenant_id`` and ``allowed_groups``. A principal
sees a chunk iff the tenants match and the chunk's groups intersect the principal's *effective*
groups, which always include ``public`` and ``user:<user_id>``. So ``allowed_groups=["public"]``
(the default) means "everyone in the tenant", ``["user:alice"]`` means "only alice", and an empty
list means "nobody" (fail closed). Tenants are never crossed.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, computed_field, field_validator

PUBLIC_GROUP = "public"
_ID_NAMESPACE = uuid.UUID("6f1c1f0e-6a53-4f55-9a55-2d8f1b7f0c11")

DocType = Literal["txt", "md", "html", "pdf", "image", "other"]


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_id(collection: str, source_uri: str) -> str:
    """Stable id: the same collection + source always maps to the same document row."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{collection}\x00{source_uri}"))


def chunk_id(doc_id: str, ordinal: int) -> str:
    """Stable id: chunk ``ordinal`` of a document keeps its id across re-ingestion."""
    return str(uuid.uuid5(uuid.UUID(doc_id), str(ordinal)))


class Principal(BaseModel):
    """Who is searching. Every search and count takes one; ACL filters are built from it in SQL."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    tenant_id: str
    groups: tuple[str, ...] = ()

    @property
    def effective_groups(self) -> list[str]:
        return sorted({*self.groups, PUBLIC_GROUP, f"user:{self.user_id}"})


class Page(BaseModel):
    """One page of a paginated source (PDF); chunks never span pages, so page numbers stay exact."""

    number: int = Field(ge=1)
    text: str


class Document(BaseModel):
    """A source document as loaded, before chunking. ``text`` is the whole text (pages joined)."""

    collection: str = Field(min_length=1)
    source_uri: str = Field(min_length=1)
    text: str
    doc_type: DocType = "txt"
    title: str | None = None
    pages: list[Page] | None = None
    source_date: datetime | None = Field(default=None, description="publication/modification date for date filters")
    metadata: dict[str, Any] = Field(default_factory=dict)
    tenant_id: str = "default"
    allowed_groups: list[str] = Field(default_factory=lambda: [PUBLIC_GROUP])

    @field_validator("allowed_groups")
    @classmethod
    def _dedupe(cls, v: list[str]) -> list[str]:
        return sorted(set(v))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return document_id(self.collection, self.source_uri)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def content_hash(self) -> str:
        return sha256_text(self.text)


class Chunk(BaseModel):
    """A retrievable piece of a document; ``metadata`` holds chunker output such as ``heading_path``."""

    document_id: str
    ordinal: int = Field(ge=0)
    text: str
    page: int | None = None
    section: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return chunk_id(self.document_id, self.ordinal)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def content_hash(self) -> str:
        return sha256_text(self.text)


class Collection(BaseModel):
    """A named set of documents sharing one embedding model (and so one vector dimension)."""

    name: str
    embedding_model: str
    embedding_dim: int = Field(gt=0, le=2000, description="pgvector HNSW indexes 'vector' up to 2000 dims")
    chunking: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class UpsertResult(BaseModel):
    document_id: str
    status: Literal["inserted", "replaced", "unchanged", "acl_updated"]
    chunks: int

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"


# metadata keys reach SQL as bound parameters, but keep them to plain identifiers all the same
MetadataKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]


class MetadataRange(BaseModel):
    """Inclusive bounds on a numeric metadata field; a row without the field never matches."""

    min: float | None = None
    max: float | None = None


class SearchFilters(BaseModel):
    """Metadata filters, all applied in SQL next to the ACL predicate. Unset fields do not filter."""

    source_uris: list[str] | None = None
    doc_types: list[str] | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    tags_any: list[str] | None = Field(default=None, description="chunk metadata 'tags' contains any of these")
    metadata: dict[str, Any] | None = Field(default=None, description="jsonb containment: metadata @> this")
    metadata_in: dict[MetadataKey, list[str]] | None = Field(
        default=None, description="metadata[key] (as text) is one of the values, per key (e.g. several sources)"
    )
    metadata_ranges: dict[MetadataKey, MetadataRange] | None = Field(
        default=None, description="numeric metadata[key] within [min, max] per key (e.g. width ≥ 1024)"
    )


class SearchResult(BaseModel):
    chunk_id: str
    document_id: str
    text: str
    score: float
    dense_rank: int | None = None
    fulltext_rank: int | None = None
    rerank_score: float | None = None
    dense_score: float | None = Field(
        default=None, description="cosine similarity to the query vector, if ranked by it"
    )
    source_uri: str
    page: int | None = None
    section: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
