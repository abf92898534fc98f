"""RFC 7807 problem details: the one error body every API in the monorepo returns.

Services raise :class:`ProblemError` (or let validation fail); the handlers installed by the app
factory turn everything, including FastAPI's own 404/405/422 and unexpected exceptions, into
``application/problem+json`` with the request id, so clients parse one shape everywhere.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://genai-reference-systems.dev/problems/"


class Problem(BaseModel):
    """An RFC 7807 problem; ``errors`` lists field-level validation failures when there are any."""

    type: str = Field(default="about:blank", description="URI identifying the problem type")
    title: str = Field(description="short, human-readable summary of the problem type")
    status: int = Field(description="HTTP status code")
    detail: str | None = Field(default=None, description="explanation specific to this occurrence")
    instance: str | None = Field(default=None, description="the request path")
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


class ProblemError(Exception):
    """Raise from any service or router to answer with a problem body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ or (PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"))
        self.errors = errors
        self.headers = headers


def coded_problem(status: int, code: str, detail: str, **error: Any) -> ProblemError:
    """A problem whose ``type`` ends in a machine-readable ``code`` (``…/problems/run-not-found``), with the code
    (and any ``error`` fields) repeated in ``errors``: what a project's router raises for its own refusals."""
    return ProblemError(
        status, _TITLES.get(status, "Error"), detail, type_=PROBLEM_TYPE_BASE + code, errors=[{"code": code, **error}]
    )


class RequestRefused(ValueError):
    """A service's refusal of a request before it stores anything; ``status`` and ``code`` become the problem
    (routers map it with :func:`coded_problem`). Raised by service layers that must not depend on FastAPI."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _request_id(request: Request) -> str | None:
    try:
        from asgi_correlation_id import correlation_id

        return correlation_id.get()
    except Exception:  # pragma: no cover - correlation middleware absent
        return request.headers.get("x-request-id")


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=type_,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=_request_id(request),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        out.append({"loc": [str(p) for p in err.get("loc", ())], "msg": err.get("msg"), "type": err.get("type")})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error path through :func:`problem_response`."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            request,
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            detail,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        malformed = any(e["type"] == "json_invalid" for e in errors)
        status = 400 if malformed else 422
        detail = "request body is not valid JSON" if malformed else "request failed validation"
        return problem_response(
            request,
            status,
            _TITLES[status],
            detail,
            type_=PROBLEM_TYPE_BASE + ("malformed-json" if malformed else "validation-error"),
            errors=errors,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(request, 500, _TITLES[500], "an unexpected error occurred; see server logs")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting the problem bodies a route can return."""
    return {
        s: {"model": Problem, "description": _TITLES.get(s, "Error"), "content": {PROBLEM_MEDIA_TYPE: {}}}
        for s in statuses
    }


COMMON_ERRORS = problem_responses(400, 401, 413, 415, 422, 429, 500)
