"""What a system under evaluation is: a callable from one question (+ its database) to generated SQL.

The harness times the call, executes the returned SQL itself on a read-only connection and compares the
result with the gold answers, so a system never grades itself. ``stages_ms`` carries the system's own
per-stage timings (linking, generation, validation, ...) into ``results.jsonl``; ``error`` is a refusal
or failure the system reports instead of raising (raising works too and is recorded the same way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from projects.nl2sql_analytics.evaluation.dataset import DbMetadata, EvalItem


@dataclass
class Generated:
    """A system's answer to one eval item."""

    sql: str | None
    error: str | None = None
    stages_ms: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)  # free-form, e.g. retries, linked tables, raw reply


class Generator(Protocol):
    """``generate(item, db_path, metadata) -> Generated``; ``metadata`` is None without ``--metadata-dir``."""

    def __call__(self, item: EvalItem, db_path: Path, metadata: DbMetadata | None) -> Generated: ...
