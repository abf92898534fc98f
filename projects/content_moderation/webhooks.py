"""Job callbacks: the allow-list a callback URL must pass, the signature receivers verify, and delivery with retries.

Why each rule:
- **Allow-list before anything is stored.** A callback URL is a request the *server* makes; without a list any
  caller could point it at internal hosts (SSRF). Entries are hosts (``hooks.example.com``, ``*.example.com``) or
  URL prefixes (``https://hooks.example.com/moderation/``), compared on parsed parts, never as raw string
  prefixes: ``http://localhost.evil.com`` does not pass as ``localhost``. Credentials in the URL are refused.
- **Stripe-style signatures.** ``X-Moderation-Signature: t=<unix seconds>, v1=<hex HMAC-SHA256(secret, "t.body")>``
  signs the timestamp with the exact body bytes, so a receiver can reject replays (old ``t``) and tampering;
  :func:`verify_signature` is the receiver's side.
- **Redirects are not followed** (an allowed host must not bounce the callback inward), every attempt is
  recorded by the caller, and only transient failures (network, 408, 429, 5xx) are retried with exponential backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

SIGNATURE_HEADER = "X-Moderation-Signature"
EVENT_HEADER = "X-Moderation-Event"
DELIVERY_HEADER = "X-Moderation-Delivery"
DEFAULT_TOLERANCE_S = 300
_DEFAULT_PORTS = {"http": 80, "https": 443}


class WebhookUrlError(ValueError):
    """The callback URL is malformed (422) or outside the allow-list (403); ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else _DEFAULT_PORTS[scheme]


def _host_matches(host: str, entry: str) -> bool:
    entry = entry.strip().lower().strip("[]")
    if entry.startswith("*."):
        return host.endswith(entry[1:]) and host != entry[2:]
    return host == entry


def check_webhook_url(url: str, allowlist: Sequence[str]) -> str:
    """Return ``url`` if it is an http(s) URL allowed by ``allowlist``; raise :class:`WebhookUrlError` otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlError("invalid-webhook-url", f"webhook URL is not a valid URL: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise WebhookUrlError("invalid-webhook-url", "webhook URL must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("invalid-webhook-url", "webhook URL must not contain credentials")
    host = parts.hostname.lower()
    for entry in allowlist:
        if "://" not in entry:
            if _host_matches(host, entry):
                return url.strip()
            continue
        allowed = urlsplit(entry)
        if (
            allowed.scheme == parts.scheme
            and allowed.hostname is not None
            and allowed.hostname.lower() == host
            and _port(allowed.scheme, allowed.port) == _port(parts.scheme, port)
            and _path_under(parts.path or "/", allowed.path or "/")
        ):
            return url.strip()
    raise WebhookUrlError(
        "webhook-not-allowed", f"webhook host {host!r} is not in the allow-list (CONTENTMOD__WEBHOOK_ALLOWLIST)"
    )


def _path_under(path: str, prefix: str) -> bool:
    if prefix.endswith("/"):
        return path.startswith(prefix) or path + "/" == prefix
    return path == prefix or path.startswith(prefix + "/")


# -- signatures ----------------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Moderation-Signature`` value for ``body``: ``t=<unix>, v1=<hex>``."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t}, v1={mac}"


def verify_signature(
    secret: str, header: str | None, body: bytes, *, tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None
) -> bool:
    """The receiver's check: the header parses, its ``v1`` matches ``body`` and ``t`` is within ``tolerance_s``.

    Compare in constant time; several ``v1`` values are accepted (a sender rotating secrets sends both).
    """
    if not header:
        return False
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    try:
        t = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for v in fields.get("v1", []))


# -- delivery ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _transient(status: int | None) -> bool:
    return status is None or status in (408, 429) or status >= 500


def deliver(
    url: str,
    body: bytes,
    *,
    secret: str,
    event: str,
    delivery_id: str,
    timeout_s: float,
    max_attempts: int,
    backoff_s: float,
    record: Callable[[Attempt], None],
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST ``body`` (signed afresh each attempt) until a 2xx or a non-transient answer; True when delivered."""
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for n in range(1, max_attempts + 1):
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body),
                EVENT_HEADER: event,
                DELIVERY_HEADER: delivery_id,
            }
            start = time.perf_counter()
            status, error = None, None
            try:
                status = client.post(url, content=body, headers=headers).status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            attempt = Attempt(n, status, error, round((time.perf_counter() - start) * 1000, 2))
            record(attempt)
            if attempt.delivered:
                return True
            if not _transient(status) or n == max_attempts:
                return False
            sleep(backoff_s * 2 ** (n - 1))
    return False
