"""Fitted artefacts (small trained classifiers) cached on disk under a content key, written atomically.

Why: several components train a light model at start-up from data the code generates (the injection rail, the
support agent's intent router). Refitting in every process wastes seconds of CPU and, worse, makes two processes
disagree if the data changed between them; keying the file by a hash of everything the fit depends on makes a
stale cache impossible to load, and a temp-file-plus-rename write means a concurrent reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def content_key(parts: Iterable[str | bytes], length: int = 24) -> str:
    """A stable hex key over ordered parts; separators make ("ab","c") and ("a","bc") differ."""
    h = hashlib.sha256()
    for p in parts:
        data = p.encode("utf-8") if isinstance(p, str) else p
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:length]


def atomic_dump(obj: object, path: Path) -> None:
    """joblib-dump ``obj`` to a unique temp file beside ``path``, then rename over it (atomic on POSIX)."""
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        joblib.dump(obj, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load_or_build(path: Path, build: Callable[[], T], valid: Callable[[T], bool] = lambda _: True) -> tuple[T, bool]:
    """The object cached at ``path`` if it loads and passes ``valid``; else ``build()``, cached for next time.

    Returns ``(obj, built)`` so callers (and tests) can tell a cache hit from a fit. An unreadable or invalid
    file (corrupt, pickled by an incompatible library version) is rebuilt rather than failing the caller.
    """
    import joblib

    if path.exists():
        try:
            obj = joblib.load(path)
            if valid(obj):
                return obj, False
            log.info("cached artefact %s is stale; rebuilding", path)
        except Exception as exc:  # corrupt or incompatible pickle: rebuild rather than fail
            log.warning("cannot load %s (%s); rebuilding", path, exc)
    obj = build()
    atomic_dump(obj, path)
    return obj, True
