"""Pure-ASGI middleware of the API kit: metrics, body limits, JSON content type, API keys, rate limits.

Each class wraps only ``receive``/``send`` and never buffers a response, so Server-Sent Events
and other streaming responses pass through untouched (Starlette's ``BaseHTTPMiddleware`` and
slowapi's ASGI middleware both get in the way of streaming). Rejections are answered with the
same RFC 7807 problem body the exception handlers produce.
"""

from __future__ import annotations

import email.message
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Collection, Iterable

from fastapi import params
from fastapi.routing import APIRoute
from limits import RateLimitItem, parse
from limits.strategies import RateLimiter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.api.problems import PROBLEM_TYPE_BASE, problem_response
from shared.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS

access_log = logging.getLogger("shared.api.access")

PRINCIPAL_KEY = "principal"
"""``request.state.principal``: ``key:<hash prefix>`` for an authenticated caller, ``ip:<addr>`` otherwise."""


async def _reject(scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str, **kw) -> None:
    response = problem_response(Request(scope, receive), status, title, detail, **kw)
    await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return _header(scope, b"transfer-encoding") is not None


def _state(scope: Scope) -> dict:
    return scope.setdefault("state", {})


# ---------------------------------------------------------------------------------------- metrics


class MetricsMiddleware:
    """Counts requests and observes latency by route *template* (``/items/{id}``), and logs one access line.

    The duration runs until the last body chunk is sent, so a streamed answer is measured whole.
    """

    def __init__(self, app: ASGIApp, service: str, quiet_paths: Collection[str] = ()) -> None:
        self.app = app
        self.service = service
        self.quiet_paths = quiet_paths  # probes and scrapes: logged at DEBUG, they arrive every few seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_label(scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, route).observe(elapsed)
            access_log.log(
                logging.DEBUG if scope["path"] in self.quiet_paths else logging.INFO,
                "%s %s %s",
                method,
                route,
                status,
                extra={"method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)},
            )


def _route_label(scope: Scope) -> str:
    """The matched route's full template, prefixes included; ``unmatched`` for 404s (bounded label set)."""
    # FastAPI >= 0.16x keeps included routers nested and records the effective (prefixed) route here.
    effective = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(effective, "path_format", None)
    if not template:
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if template:
        return scope.get("root_path", "") + template
    if "endpoint" in scope and not scope.get("path_params"):
        return scope["path"]  # a matched plain Starlette route (/openapi.json, /docs): a fixed path
    return "unmatched"  # 404s must not create one label per probed URL


# ------------------------------------------------------------------------------------ body limit


class RequestTooLarge(HTTPException):
    """Raised from ``receive`` when a body (chunked or not) exceeds the limit; FastAPI re-raises HTTPExceptions."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body exceeds {limit} bytes")


class BodySizeLimitMiddleware:
    """413 for bodies over the limit: up front from Content-Length, else while the body streams in.

    File uploads (``multipart/form-data``) get their own, larger cap: a JSON body over a megabyte is a
    mistake or an attack, a scanned PDF over a megabyte is Tuesday.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes if max_upload_bytes is not None else max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        content_type = (_header(scope, b"content-type") or "").lower()
        limit = self.max_upload_bytes if content_type.startswith("multipart/form-data") else self.max_bytes
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            return await _reject(scope, receive, send, 413, "Payload Too Large", f"request body exceeds {limit} bytes")
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge(limit)
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except RequestTooLarge as exc:  # a reader outside FastAPI's handlers let it escape
            if started:
                raise
            await _reject(scope, receive, send, 413, "Payload Too Large", str(exc.detail))


# ---------------------------------------------------------------------------------- content type


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _takes_json_body(route: object) -> bool:
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    return not isinstance(route.body_field.field_info, params.Form)  # File is a Form subclass


class UnsupportedMediaType(HTTPException):
    def __init__(self, got: str | None) -> None:
        super().__init__(status_code=415, detail=f"this endpoint accepts application/json, got {got or 'none'}")


class JsonContentTypeMiddleware:
    """415 when a body arrives at a route that parses JSON with a content type that is not JSON.

    The check runs when the endpoint first reads the body, i.e. after routing chose the route
    (``scope["route"]``), so it applies to routes of included routers and leaves form/file
    routes alone. FastAPI on its own answers such requests with a confusing 422.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH", "DELETE") or not _has_body(scope):
            return await self.app(scope, receive, send)
        content_type = _header(scope, b"content-type")
        if _is_json(content_type):
            return await self.app(scope, receive, send)
        checked = False

        async def checked_receive() -> Message:
            nonlocal checked
            if not checked:
                checked = True
                if _takes_json_body(scope.get("route")):
                    raise UnsupportedMediaType(content_type)
            return await receive()

        await self.app(scope, checked_receive, send)


# ------------------------------------------------------------------------------------------ auth


def key_id(key: str) -> str:
    """A stable, non-secret identifier of an API key (for rate-limit buckets and logs)."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _presented_key(scope: Scope) -> str | None:
    key = _header(scope, b"x-api-key")
    if key:
        return key.strip()
    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def is_exempt(path: str, exempt: Collection[str]) -> bool:
    return path in exempt or path.startswith("/docs")


class ApiKeyMiddleware:
    """Accepts ``X-API-Key: K`` or ``Authorization: Bearer K``; disabled when no keys are configured.

    Sets ``request.state.principal`` for every request (the caller's key id, or its IP address
    when auth is off) so the rate limiter and logs can tell callers apart.
    """

    def __init__(self, app: ASGIApp, keys: Iterable[str], exempt: Collection[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys if k]
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        presented = _presented_key(scope)
        valid = presented is not None and any(hmac.compare_digest(presented.encode(), k) for k in self.keys)
        client = scope.get("client")
        _state(scope)[PRINCIPAL_KEY] = key_id(presented) if valid else f"ip:{client[0] if client else 'unknown'}"
        if self.keys and not valid and scope["method"] != "OPTIONS" and not is_exempt(scope["path"], self.exempt):
            detail = "missing API key" if presented is None else "invalid API key"
            return await _reject(
                scope,
                receive,
                send,
                401,
                "Unauthorized",
                f"{detail}: send X-API-Key or Authorization: Bearer",
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        await self.app(scope, receive, send)


# ------------------------------------------------------------------------------------ rate limit


class RateLimitMiddleware:
    """One budget per caller (API key, else client IP) across all routes, enforced by ``limits``.

    ``limits`` is slowapi's engine; the app's slowapi ``Limiter`` (``app.state.limiter``) lends
    its storage so per-route ``@limiter.limit(...)`` decorators and this global budget agree.
    """

    def __init__(self, app: ASGIApp, strategy: RateLimiter, rate: str, exempt: Collection[str]) -> None:
        self.app = app
        self.strategy = strategy
        self.item: RateLimitItem = parse(rate)
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_exempt(scope["path"], self.exempt) or scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        principal = _state(scope).get(PRINCIPAL_KEY, "anonymous")
        if not self.strategy.hit(self.item, "api", principal):
            reset_at, _ = self.strategy.get_window_stats(self.item, "api", principal)
            retry_after = max(1, math.ceil(reset_at - time.time()))
            return await _reject(
                scope,
                receive,
                send,
                429,
                "Too Many Requests",
                f"rate limit of {self.item} exceeded; retry after {retry_after} s",
                type_=PROBLEM_TYPE_BASE + "rate-limited",
                headers={"Retry-After": str(retry_after)},
            )
        await self.app(scope, receive, send)
