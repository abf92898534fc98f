"""Which texts the service accepts, checked before anything runs or is stored; each refusal has a stable code.

Why these rules:
- **Empty or invisible text** (whitespace, zero-width and other format characters only) has nothing to moderate;
  answering ``allow`` would let a client believe it was checked. 422 ``empty-text``.
- **Size** is bounded per text in UTF-8 bytes (what the models and the database pay for), not characters:
  a 1 MB text is 413 ``text-too-large`` naming the limit. Too many texts is 413 ``too-many-texts``.
- **Not text**: lone surrogates (``"\\ud800"`` is valid JSON but not Unicode; it cannot be hashed or stored)
  are 422 ``invalid-unicode``; NUL characters, or a text that is mostly control characters or U+FFFD (binary
  decoded by a client with ``errors="replace"``), are 422 ``binary-content``. A body that is not UTF-8 at all
  never gets here: the API kit answers it 400 ``malformed-json``.
- Mixed scripts and emoji-only texts are ordinary text and are moderated.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

_BINARY_SHARE = 0.3


class TextInputError(ValueError):
    """A refused input: ``status`` 413 or 422, ``code`` stable, ``index`` the offending text (None: the batch)."""

    def __init__(self, status: int, code: str, message: str, index: int | None = None, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.index = index
        self.extra = extra


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Cf"


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    odd = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"))
    return odd / len(text) > _BINARY_SHARE


def validate_texts(texts: Sequence[str], *, max_texts: int, max_text_bytes: int) -> None:
    """Raise :class:`TextInputError` for the first problem; return quietly when every text is acceptable."""
    if not texts:
        raise TextInputError(422, "no-texts", "send one text in `text` or a non-empty list in `texts`")
    if len(texts) > max_texts:
        raise TextInputError(
            413, "too-many-texts", f"{len(texts)} texts in one request; the limit is {max_texts}", limit=max_texts
        )
    for i, text in enumerate(texts):
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise TextInputError(
                422, "invalid-unicode", f"text {i} contains lone surrogates: it is not valid Unicode", i
            ) from None
        if size > max_text_bytes:
            raise TextInputError(
                413,
                "text-too-large",
                f"text {i} is {size:,} bytes of UTF-8; the limit is {max_text_bytes:,} bytes per text "
                "(split it, or raise CONTENTMOD__MAX_TEXT_BYTES)",
                i,
                bytes=size,
                limit=max_text_bytes,
            )
        if all(_invisible(ch) for ch in text):
            raise TextInputError(422, "empty-text", f"text {i} is empty or only whitespace/invisible characters", i)
        if _looks_binary(text):
            raise TextInputError(422, "binary-content", f"text {i} looks like binary data, not text", i)
