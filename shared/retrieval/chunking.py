"""Chunkers: fixed token windows, recursive separators, markdown headings, semantic breakpoints.

A collection stores its :class:`ChunkingConfig`, so re-ingestion chunks the same way. Chunks
never span PDF pages (each page is chunked on its own and keeps its page number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from shared.retrieval.models import Chunk, Document
from shared.serving.base import Embedder

Strategy = Literal["fixed_tokens", "recursive", "markdown", "semantic"]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class ChunkingConfig(BaseModel):
    """How a collection splits documents. Token sizes use the embedding model's tokenizer."""

    strategy: Strategy = "recursive"
    chunk_tokens: int = Field(default=256, ge=8, description="fixed_tokens: window size")
    overlap_tokens: int = Field(default=32, ge=0, description="fixed_tokens: tokens shared by neighbours")
    max_chars: int = Field(default=1200, ge=50, description="recursive/markdown/semantic: chunk size cap")
    overlap_chars: int = Field(default=0, ge=0, description="recursive: characters carried into the next chunk")
    breakpoint_percentile: float = Field(default=90.0, gt=0, lt=100, description="semantic: distance percentile")
    min_chars: int = Field(default=0, ge=0, description="drop chunks shorter than this (after stripping)")
    tokenizer: str = Field(default="all-minilm-l6-v2", description="packaged model name or path for token counts")

    @model_validator(mode="after")
    def _check(self) -> ChunkingConfig:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError("overlap_tokens must be smaller than chunk_tokens")
        if self.overlap_chars >= self.max_chars:
            raise ValueError("overlap_chars must be smaller than max_chars")
        return self


@lru_cache(maxsize=4)
def load_tokenizer(name: str) -> Any:
    """The embedding model's own (fast) tokenizer, loaded offline from the packaged weights."""
    from pathlib import Path

    from transformers import AutoTokenizer

    from shared.serving.embeddings import packaged_model_dir

    path = Path(name) if Path(name).exists() else packaged_model_dir(name)
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


# -- strategies: each maps text -> list of (text, metadata) ------------------------------------------------


def split_fixed_tokens(text: str, tokenizer: Any, chunk_tokens: int, overlap_tokens: int) -> list[str]:
    """Windows of ``chunk_tokens`` tokens, stepping by ``chunk - overlap``; text is sliced from the source
    via offsets, so casing and spacing survive (an uncased tokenizer's decode would lowercase)."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets = enc["offset_mapping"]
    if not offsets:
        return [text] if text.strip() else []
    step = chunk_tokens - overlap_tokens
    out = []
    for start in range(0, len(offsets), step):
        window = offsets[start : start + chunk_tokens]
        out.append(text[window[0][0] : window[-1][1]])
        if start + chunk_tokens >= len(offsets):
            break
    return out


def split_sentences(text: str) -> list[str]:
    parts: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        parts.extend(s.strip() for s in _SENTENCE_END.split(para.strip()) if s.strip())
    return parts


def _split_by(text: str, level: int) -> list[str]:
    if level == 0:
        return [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if level == 1:
        return [p for p in text.split("\n") if p.strip()]
    if level == 2:
        return [s for s in _SENTENCE_END.split(text) if s.strip()]
    return text.split(" ")


_JOINERS = ("\n\n", "\n", " ", " ")


def split_recursive(text: str, max_chars: int, overlap_chars: int = 0, level: int = 0) -> list[str]:
    """Paragraphs, then lines, then sentences, then words; pieces are merged greedily up to ``max_chars``."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    if level > 3:  # one word longer than max_chars: hard cut
        return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]
    pieces: list[str] = []
    for part in _split_by(text, level):
        pieces.extend(split_recursive(part, max_chars, 0, level + 1) if len(part) > max_chars else [part.strip()])
    joiner = _JOINERS[level]
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}{joiner}{piece}" if current else piece
        if len(candidate) <= max_chars:
            current = candidate
            continue
        if current:
            chunks.append(current)
            tail = current[-overlap_chars:] if overlap_chars else ""
            if tail and " " in tail:
                tail = tail[tail.index(" ") + 1 :]  # start the overlap on a word boundary
            current = f"{tail}{joiner}{piece}" if tail and len(tail) + len(piece) < max_chars else piece
        else:
            current = piece
    if current:
        chunks.append(current)
    return chunks


def split_markdown(text: str, max_chars: int) -> list[tuple[str, dict[str, Any]]]:
    """Sections under ATX headings (``#``..``######``, fences respected); each chunk keeps its heading path."""
    sections: list[tuple[list[str], list[str]]] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        if any(line.strip() for line in lines):
            sections.append(([h for _, h in path], list(lines)))
        lines.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            path = [(lvl, h) for lvl, h in path if lvl < level]
            path.append((level, match.group(2)))
            lines.append(line)
        else:
            lines.append(line)
    flush()
    out: list[tuple[str, dict[str, Any]]] = []
    for headings, body in sections:
        for piece in split_recursive("\n".join(body), max_chars):
            out.append((piece, {"heading_path": headings, "section": " > ".join(headings) or None}))
    return out


def split_semantic(
    text: str, embed: Callable[[Sequence[str]], np.ndarray], percentile: float, max_chars: int
) -> list[str]:
    """Break between sentences whose embedding distance is above the ``percentile`` of all neighbour
    distances (the topic shifts there); pieces longer than ``max_chars`` are split recursively."""
    sentences = split_sentences(text)
    if len(sentences) <= 2:
        return split_recursive(text, max_chars)
    vectors = embed(sentences)
    distances = 1.0 - np.sum(vectors[:-1] * vectors[1:], axis=1)
    threshold = float(np.percentile(distances, percentile))
    groups: list[list[str]] = [[sentences[0]]]
    for sentence, distance in zip(sentences[1:], distances, strict=True):
        if distance > threshold:
            groups.append([sentence])
        else:
            groups[-1].append(sentence)
    out: list[str] = []
    for group in groups:
        out.extend(split_recursive(" ".join(group), max_chars))
    return out


# -- documents -> chunks ------------------------------------------------------------------------------------


def _split(text: str, config: ChunkingConfig, embedder: Embedder | None) -> list[tuple[str, dict[str, Any]]]:
    if config.strategy == "fixed_tokens":
        tok = load_tokenizer(config.tokenizer)
        return [(t, {}) for t in split_fixed_tokens(text, tok, config.chunk_tokens, config.overlap_tokens)]
    if config.strategy == "markdown":
        return split_markdown(text, config.max_chars)
    if config.strategy == "semantic":
        if embedder is None:
            raise ValueError("the semantic chunker needs an embedder")
        return [(t, {}) for t in split_semantic(text, embedder.embed, config.breakpoint_percentile, config.max_chars)]
    return [(t, {}) for t in split_recursive(text, config.max_chars, config.overlap_chars)]


def chunk_document(document: Document, config: ChunkingConfig, embedder: Embedder | None = None) -> list[Chunk]:
    """Split ``document`` into ordered chunks with stable ids; PDF pages are chunked one by one."""
    units = [(p.number, p.text) for p in document.pages] if document.pages else [(None, document.text)]
    chunks: list[Chunk] = []
    for page, text in units:
        for piece, meta in _split(text, config, embedder):
            if len(piece.strip()) < max(1, config.min_chars):
                continue
            section = meta.pop("section", None)
            chunks.append(
                Chunk(
                    document_id=document.id,
                    ordinal=len(chunks),
                    text=piece,
                    page=page,
                    section=section,
                    metadata=meta,
                )
            )
    return chunks
