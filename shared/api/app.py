"""The FastAPI app factory every service in the monorepo is built with.

``create_app`` gives each project (and the platform process that mounts them all) the same
operational surface: liveness/readiness, Prometheus metrics, request ids, JSON logs, RFC 7807
errors, API keys, per-caller rate limits, body-size and content-type checks, CORS, tracing and
an OpenAPI document that lists the error responses. Projects only bring routers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from anyio import to_thread
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded

from shared.api.middleware import (
    ApiKeyMiddleware,
    BodySizeLimitMiddleware,
    JsonContentTypeMiddleware,
    MetricsMiddleware,
    RateLimitMiddleware,
)
from shared.api.problems import (
    COMMON_ERRORS,
    PROBLEM_TYPE_BASE,
    ProblemError,
    install_problem_handlers,
    problem_response,
    problem_responses,
)
from shared.observability.logging import configure_logging
from shared.observability.tracing import configure_tracing
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json"})
"""Reachable without an API key and outside the rate limit: probes, scrapers and the API docs."""

ReadinessCheck = Callable[[], None]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-reference-systems")
    except PackageNotFoundError:  # running from a checkout without an install
        return "0.1.0"


class Health(BaseModel):
    status: str = "ok"
    service: str
    version: str


class CheckResult(BaseModel):
    status: str
    duration_ms: float
    error: str | None = None


class Readiness(BaseModel):
    status: str
    checks: dict[str, CheckResult]


def _principal_key(request: Request) -> str:
    """slowapi key function: the same caller identity the global limiter uses."""
    principal = getattr(request.state, "principal", None)
    return principal or (request.client.host if request.client else "unknown")


def _run_checks(checks: Mapping[str, ReadinessCheck]) -> dict[str, CheckResult]:
    results = {}
    for name, check in checks.items():
        start = time.perf_counter()
        try:
            check()
            results[name] = CheckResult(status="ok", duration_ms=round((time.perf_counter() - start) * 1000, 2))
        except Exception as exc:  # a failing dependency is an answer, not a crash
            results[name] = CheckResult(
                status="fail", duration_ms=round((time.perf_counter() - start) * 1000, 2), error=str(exc) or repr(exc)
            )
    return results


def _ops_router(service: str, version: str, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", response_model=Health, summary="Liveness: 200 while the process serves")
    async def health() -> Health:
        return Health(service=service, version=version)

    @router.get(
        "/ready",
        response_model=Readiness,
        responses=problem_responses(503),
        summary="Readiness: every dependency check passes (database, models, ...)",
    )
    async def ready(request: Request) -> Any:
        results = await to_thread.run_sync(_run_checks, checks)
        failed = [name for name, r in results.items() if r.status != "ok"]
        if failed:
            return problem_response(
                request,
                503,
                "Service Unavailable",
                f"readiness checks failed: {', '.join(failed)}",
                type_=PROBLEM_TYPE_BASE + "not-ready",
                errors=[{"check": n, **r.model_dump(exclude_none=True)} for n, r in results.items()],
            )
        return Readiness(status="ready", checks=results)

    @router.get("/metrics", summary="Prometheus metrics (text exposition format)", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


def _rate_limited(request: Request, exc: RateLimitExceeded) -> JSONResponse:
    """Per-route slowapi limits answer like the global one: a 429 problem with Retry-After."""
    retry_after = 1
    current = getattr(request.state, "view_rate_limit", None)
    if current is not None:
        reset_at, _ = request.app.state.limiter.limiter.get_window_stats(current[0], *current[1])
        retry_after = max(1, int(reset_at - time.time()) + 1)
    return problem_response(
        request,
        429,
        "Too Many Requests",
        f"rate limit of {exc.detail} exceeded",
        type_=PROBLEM_TYPE_BASE + "rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


def _install_openapi(app: FastAPI, auth_enabled: bool) -> None:
    """Document the API-key schemes (when auth is on) next to the problem responses of every route."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        if auth_enabled:
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["ApiKeyHeader"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            schemes["BearerKey"] = {"type": "http", "scheme": "bearer"}
            schema["security"] = [{"ApiKeyHeader": []}, {"BearerKey": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    title: str,
    *,
    routers: Sequence[tuple[str, APIRouter]] = (),
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    settings: Settings | None = None,
    version: str | None = None,
    description: str = "",
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """Build a service: ``routers`` are ``(prefix, router)`` pairs; ``readiness_checks`` raise when not ready.

    ``lifespan`` (optional) runs inside the kit's own startup/shutdown, e.g. to warm a model.
    """
    settings = settings or get_settings()
    version = version or _package_version()
    checks = dict(readiness_checks or {})
    api = settings.api
    service = settings.observability.service_name
    configure_logging(settings.observability)
    # Before the app exists, so FastAPI's native request spans use the configured provider.
    configure_tracing(settings.observability)

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("starting %s %s", title, version, extra={"service": service})
        if lifespan is None:
            yield
        else:
            async with lifespan(app):
                yield
        log.info("stopped %s", title)

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        responses=COMMON_ERRORS,
        lifespan=_lifespan,
        # Server spans for real traffic only: probes and scrapes would drown the traces.
        telemetry={"metrics": False, "exclude": lambda scope: scope.get("path") in EXEMPT_PATHS},
    )
    install_problem_handlers(app)
    app.add_exception_handler(RateLimitExceeded, _rate_limited)  # type: ignore[arg-type]

    limiter = Limiter(key_func=_principal_key, strategy="moving-window")
    app.state.limiter = limiter
    app.state.settings = settings

    app.include_router(_ops_router(service, version, checks))
    for prefix, router in routers:
        app.include_router(router, prefix=prefix, responses=COMMON_ERRORS)

    keys = [k.get_secret_value() for k in api.api_keys]
    # Listed outermost first; add_middleware prepends, so add them in reverse.
    stack: list[tuple[type, dict[str, Any]]] = [
        (CorrelationIdMiddleware, {"header_name": "X-Request-ID", "validator": _valid_request_id}),
        (MetricsMiddleware, {"service": service, "quiet_paths": EXEMPT_PATHS}),
        (
            CORSMiddleware,
            {
                "allow_origins": api.cors_origins,
                "allow_methods": ["*"],
                "allow_headers": ["*"],
                "expose_headers": ["X-Request-ID", "Retry-After"],
            },
        ),
        (BodySizeLimitMiddleware, {"max_bytes": api.max_body_bytes, "max_upload_bytes": api.max_upload_body_bytes}),
        (ApiKeyMiddleware, {"keys": keys, "exempt": EXEMPT_PATHS}),
        (RateLimitMiddleware, {"strategy": limiter.limiter, "rate": api.rate_limit, "exempt": EXEMPT_PATHS}),
        (JsonContentTypeMiddleware, {}),
    ]
    for cls, kwargs in reversed(stack):
        app.add_middleware(cls, **kwargs)
    _install_openapi(app, auth_enabled=bool(keys))
    return app


def _valid_request_id(value: str) -> bool:
    """Accept caller ids that are safe to log and echo (proxies' ids are not always UUIDs)."""
    return 0 < len(value) <= 128 and all(c.isalnum() or c in "-_.:" for c in value)


__all__ = ["EXEMPT_PATHS", "ProblemError", "create_app"]
