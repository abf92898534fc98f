"""Errors of the SQL safety core, each with a machine-readable ``code`` the LLM retry loop feeds back.

One family so a caller can ``except SqlSafetyError`` and hand ``error.feedback()`` to the model (or an
API problem) without knowing which stage refused the query.
"""

from __future__ import annotations

from typing import Any


class SqlSafetyError(Exception):
    """Base: ``code`` (stable, upper-snake), ``message`` (for humans and the model), ``suggestion`` (optional fix)."""

    code: str = "SQL_ERROR"

    def __init__(self, code: str, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestion = suggestion

    def feedback(self) -> str:
        """One line to put in a retry prompt: what failed and how to fix it."""
        text = f"{self.code}: {self.message}"
        return f"{text} Hint: {self.suggestion}" if self.suggestion else text

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "suggestion": self.suggestion}

    def __str__(self) -> str:
        return self.feedback()


class SqlValidationError(SqlSafetyError):
    """The SQL was refused before execution (parse error, not read-only, unknown table/column/function...)."""


class PolicyDeniedError(SqlValidationError):
    """Row-level security: the user may not read a table the query references."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__("POLICY_DENIED", message, suggestion)


class QueryTimeoutError(SqlSafetyError):
    """The database cancelled the query after the statement timeout."""

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(
            "TIMEOUT",
            f"The query was cancelled after {timeout_ms} ms.",
            "Filter earlier, aggregate instead of returning raw rows, and avoid joins without a join condition.",
        )
        self.timeout_ms = timeout_ms


class QueryExecutionError(SqlSafetyError):
    """The database rejected the query at run time; ``message`` is the database's own error, fit for the model."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__("EXECUTION_ERROR", message, suggestion)
