"""The policy engine: code, not the model, decides whether a proposed tool call may run ("code disposes").

Every call, whoever proposes it (a model, a flow, the eval's gold replay), goes through :meth:`Policy.execute`:

1. **Known tool, valid arguments** (pydantic), else ``unknown_tool`` / ``invalid_arguments``.
2. **Identity**: only ``find_customer_by_*`` and ``transfer_to_human`` run before the session has a verified
   customer (``not_verified``); one conversation serves one customer (``other_customer``).
3. **Ownership**: an order, payment method or customer id that is not the verified customer's is refused with
   exactly the message of an unknown id (``not_found``), so probing ids reveals nothing.
4. **Preconditions** in code: order status, the return window (``SUPPORT__RETURN_WINDOW_DAYS`` after a known
   delivery date), refund destination (original method or own gift card); the tools re-check status and gift
   card balance inside their transaction.
5. **Confirmation protocol** for writes: a call with ``confirmed=False`` is dry-run (the tool runs in a
   transaction that is rolled back, so the preview is exactly what would happen and a doomed action is refused
   before the user is asked) and returns a :class:`PendingAction` holding the SHA-256 of the canonical arguments.
   Only a later call with ``confirmed=True`` whose arguments hash to the same value, within the TTL, executes;
   any change of argument (another order, another card) needs a new proposal and a new "yes".
6. **Audit**: every call, allowed, proposed, refused or failed, appends a row to ``sa_tool_audit``; an executed
   write's row is written in the write's own transaction (no write without its audit row).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from projects.support_agent import tools as T
from projects.support_agent.settings import SupportSettings, get_support_settings
from shared.db import connection
from shared.observability.tracing import span

# Status each write needs (checked here, before any dry run, and again by the tool in its transaction).
REQUIRED_STATUS = {
    "cancel_pending_order": "pending",
    "modify_pending_order_address": "pending",
    "modify_pending_order_payment": "pending",
    "modify_pending_order_items": "pending",
    "return_delivered_order_items": "delivered",
    "exchange_delivered_order_items": "delivered",
    "refund": "processed",
}
RETURN_TOOLS = frozenset({"return_delivered_order_items", "exchange_delivered_order_items"})
REFUND_DESTINATION_TOOLS = frozenset({"return_delivered_order_items", "refund"})


class PolicyRefusal(Exception):
    """A refused call: ``code`` for code, ``message`` safe to show the user (never reveals other accounts)."""

    def __init__(self, code: str, message: str, tool: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.tool = tool


@dataclass
class SessionAuth:
    """Which customer this conversation has verified, and how."""

    customer_id: str | None = None
    method: Literal["email", "name_zip"] | None = None
    verified_at: str | None = None

    @property
    def verified(self) -> bool:
        return self.customer_id is not None


@dataclass(frozen=True)
class PendingAction:
    """A write shown to the user and awaiting an explicit "yes" to exactly these arguments."""

    tool: str
    arguments: dict[str, Any]
    args_sha256: str
    summary: str
    preview: dict[str, Any]
    created_at: str


@dataclass
class SessionState:
    """Policy state of one conversation; plain data (``to_dict``/``from_dict``) so the session store persists it."""

    session_id: str
    actor: str = "agent"
    auth: SessionAuth = field(default_factory=SessionAuth)
    pending: PendingAction | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionState:
        pending = data.get("pending")
        return cls(
            session_id=data["session_id"],
            actor=data.get("actor", "agent"),
            auth=SessionAuth(**data.get("auth", {})),
            pending=PendingAction(**pending) if pending else None,
        )


@dataclass
class ToolOutcome:
    """``executed``: ``result`` holds the tool's answer; ``needs_confirmation``: show ``pending.summary``."""

    status: Literal["executed", "needs_confirmation"]
    tool: str
    result: dict[str, Any] | None = None
    pending: PendingAction | None = None


def canonical_arguments(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Validated, defaults filled, JSON types: the form that is hashed, shown and executed."""
    spec = T.TOOLS[name]
    return spec.args.model_validate(arguments).model_dump(mode="json")


def args_hash(name: str, arguments: dict[str, Any], customer_id: str | None) -> str:
    payload = json.dumps({"tool": name, "arguments": arguments, "customer_id": customer_id}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def plain_value(value: Any) -> str:
    """A value as a person reads it: refunds as "$179.55 to paypal_8861197", lists joined, no Python reprs."""
    if isinstance(value, dict):
        if "amount" in value and "payment_method_id" in value:
            return f"${float(value['amount']):.2f} to {value['payment_method_id']}"
        return ", ".join(f"{k.replace('_', ' ')} {plain_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain_value(v) for v in value) or "none"
    return str(value)


def describe(name: str, arguments: dict[str, Any], preview: dict[str, Any]) -> str:
    """The action details listed to the user before they confirm (wiki.md: list the details, then ask for yes)."""
    details = "; ".join(f"{k.replace('_', ' ')}: {plain_value(v)}" for k, v in arguments.items() if v not in ("", None))
    effects = "; ".join(
        f"{k.replace('_', ' ')}: {plain_value(v)}"
        for k, v in preview.items()
        if k in ("status", "refunds", "refund_amount", "price_difference", "amount", "refunded_to")
    )
    return f"{name.replace('_', ' ')} ({details}). Result: {effects}. Do you confirm (yes/no)?"


class Policy:
    """Executes tool calls on the retailer database at ``url`` under the rules above."""

    def __init__(self, url: str, settings: SupportSettings | None = None) -> None:
        self.url = url
        self.settings = settings or get_support_settings()

    # -- entry point ---------------------------------------------------------------------------------------
    def execute(
        self, call: T.ToolCall, state: SessionState, *, confirmed: bool = False, now: datetime | None = None
    ) -> ToolOutcome:
        """Run ``call`` for the conversation ``state`` or raise :class:`PolicyRefusal` (always audited)."""
        now = now or datetime.now(UTC)
        with span("support.tool", tool=call.name, session_id=state.session_id, confirmed=confirmed) as s:
            try:
                outcome = self._execute(call, state, confirmed=confirmed, now=now)
            except PolicyRefusal as refusal:
                refusal.tool = call.name
                s.set_attribute("policy.decision", "refused")
                s.set_attribute("policy.code", refusal.code)
                raise
            s.set_attribute("policy.decision", outcome.status)
            return outcome

    def _execute(self, call: T.ToolCall, state: SessionState, *, confirmed: bool, now: datetime) -> ToolOutcome:
        spec = T.TOOLS.get(call.name)
        raw = call.arguments if isinstance(call.arguments, dict) else {}
        if spec is None:
            raise self._refuse(state, call.name, "read", raw, "unknown_tool", f"There is no tool '{call.name}'.")
        try:
            arguments = canonical_arguments(spec.name, raw)
        except ValidationError as exc:
            fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) or "arguments" for e in exc.errors()}))
            raise self._refuse(
                state, spec.name, spec.kind, raw, "invalid_arguments", f"Missing or invalid arguments: {fields}."
            ) from None
        args = spec.args.model_validate(arguments)
        customer_id = state.auth.customer_id

        if spec.kind == "identify":
            return self._identify(spec, args, arguments, state, now)
        if spec.kind == "handoff":
            return self._run(spec, args, arguments, state, decision="allowed")
        if not state.auth.verified:
            raise self._refuse(
                state,
                spec.name,
                spec.kind,
                arguments,
                "not_verified",
                "I first need to verify your identity: please give your e-mail, or your name and zip code.",
            )
        with connection(self.url) as conn:
            self._check_ownership(conn, arguments, customer_id, state, spec)
            if spec.kind == "write":
                self._check_preconditions(conn, spec.name, arguments, customer_id, state, now)
        if spec.kind == "read":
            return self._run(spec, args, arguments, state, decision="allowed")

        digest = args_hash(spec.name, arguments, customer_id)
        if not confirmed:
            preview = self._run(spec, args, arguments, state, decision="proposed", dry_run=True).result or {}
            pending = PendingAction(
                tool=spec.name,
                arguments=arguments,
                args_sha256=digest,
                summary=describe(spec.name, arguments, preview),
                preview=preview,
                created_at=now.isoformat(),
            )
            state.pending = pending
            return ToolOutcome("needs_confirmation", spec.name, pending=pending)
        pending, state.pending = state.pending, None  # a confirmation is used once, whatever happens next
        if pending is None:
            raise self._refuse(
                state,
                spec.name,
                spec.kind,
                arguments,
                "not_confirmed",
                "This change was not confirmed yet: I have to list it and get your explicit yes first.",
            )
        if pending.args_sha256 != digest:
            raise self._refuse(
                state,
                spec.name,
                spec.kind,
                arguments,
                "confirmation_mismatch",
                "What you confirmed differs from this change; I will list the new details for you to confirm.",
            )
        if now - datetime.fromisoformat(pending.created_at) > timedelta(seconds=self.settings.confirmation_ttl_s):
            raise self._refuse(
                state,
                spec.name,
                spec.kind,
                arguments,
                "confirmation_expired",
                "That confirmation is too old; I will list the change again for you to confirm.",
            )
        return self._run(spec, args, arguments, state, decision="allowed")

    # -- checks ------------------------------------------------------------------------------------------------
    def _identify(
        self, spec: T.ToolSpec, args: Any, arguments: dict, state: SessionState, now: datetime
    ) -> ToolOutcome:
        outcome = self._run(spec, args, arguments, state, decision="allowed")
        found = (outcome.result or {})["customer_id"]
        if state.auth.verified and found != state.auth.customer_id:
            raise self._refuse(
                state,
                spec.name,
                spec.kind,
                arguments,
                "other_customer",
                "I can only help the customer verified in this conversation.",
            )
        if not state.auth.verified:
            method = "email" if spec.name == "find_customer_by_email" else "name_zip"
            state.auth = SessionAuth(customer_id=found, method=method, verified_at=now.isoformat())
        return outcome

    def _check_ownership(
        self, conn: psycopg.Connection, arguments: dict, customer_id: str | None, state: SessionState, spec: T.ToolSpec
    ) -> None:
        """Every id the call names must be the verified customer's; a foreign id reads as an unknown one."""
        checks = (
            ("customer_id", "customer", "SELECT id FROM sa_customers WHERE id = %s"),
            ("order_id", "order", "SELECT customer_id FROM sa_orders WHERE id = %s"),
            ("payment_method_id", "payment method", "SELECT customer_id FROM sa_payment_methods WHERE id = %s"),
        )
        for key, label, sql in checks:
            ident = arguments.get(key)
            if ident is None:
                continue
            row = conn.execute(sql, (ident,)).fetchone()
            if row is None or row[0] != customer_id:
                error = T.not_found(label, ident)
                raise self._refuse(state, spec.name, spec.kind, arguments, error.code, error.message)

    def _check_preconditions(
        self,
        conn: psycopg.Connection,
        name: str,
        arguments: dict,
        customer_id: str | None,
        state: SessionState,
        now: datetime,
    ) -> None:
        kind = "write"
        if "order_id" not in arguments:
            return
        try:
            order = T.load_order(conn, arguments["order_id"], customer_id)
            required = REQUIRED_STATUS.get(name)
            if required and order.status != required:
                raise T.ToolError(
                    "bad_status", f"Order {order.id} is '{order.status}'; this needs an order that is {required}."
                )
            if name in RETURN_TOOLS and order.delivered_at is not None:
                days = self.settings.return_window_days
                if now - order.delivered_at > timedelta(days=days):
                    raise T.ToolError(
                        "return_window",
                        f"Order {order.id} was delivered more than {days} days ago: past the return window.",
                    )
            if name in REFUND_DESTINATION_TOOLS:
                T.check_refund_destination(conn, order, arguments["payment_method_id"])
        except T.ToolError as error:
            raise self._refuse(state, name, kind, arguments, error.code, error.message) from None

    # -- running and auditing ------------------------------------------------------------------------------------
    def _run(
        self, spec: T.ToolSpec, args: Any, arguments: dict, state: SessionState, *, decision: str, dry_run: bool = False
    ) -> ToolOutcome:
        ctx = T.ToolContext(customer_id=state.auth.customer_id, session_id=state.session_id)
        try:
            with connection(self.url) as conn:
                with conn.transaction(force_rollback=dry_run):
                    result = spec.fn(conn, args, ctx)
                    if not dry_run:  # the executed call's audit row commits (or not) with its effects
                        self._audit(conn, state, spec.name, spec.kind, arguments, decision, None, result)
                if dry_run:
                    self._audit(conn, state, spec.name, spec.kind, arguments, decision, "needs_confirmation", result)
        except T.ToolError as error:
            self._audit_alone(state, spec.name, spec.kind, arguments, "failed", error.code, {"error": error.message})
            raise PolicyRefusal(error.code, error.message, spec.name) from None
        except PolicyRefusal:
            raise
        except Exception as exc:  # a crash inside the transaction: rolled back, the user is told, the log keeps it
            self._audit_alone(
                state, spec.name, spec.kind, arguments, "failed", "tool_failed", {"error": repr(exc)[:500]}
            )
            raise PolicyRefusal(
                "tool_failed", "Something went wrong on our side and nothing was changed. Please try again later."
            ) from exc
        return ToolOutcome("executed", spec.name, result=result)

    def _refuse(
        self, state: SessionState, tool: str, kind: str, arguments: dict, code: str, message: str
    ) -> PolicyRefusal:
        self._audit_alone(
            state,
            tool,
            kind if kind in ("read", "write", "identify", "handoff") else "read",
            arguments,
            "refused",
            code,
            {"message": message},
        )
        return PolicyRefusal(code, message, tool)

    def _audit_alone(
        self,
        state: SessionState,
        tool: str,
        kind: str,
        arguments: dict,
        decision: str,
        code: str | None,
        result: dict | None,
    ) -> None:
        with connection(self.url) as conn:
            self._audit(conn, state, tool, kind, arguments, decision, code, result)

    @staticmethod
    def _audit(
        conn: psycopg.Connection,
        state: SessionState,
        tool: str,
        kind: str,
        arguments: dict,
        decision: str,
        code: str | None,
        result: dict | None,
    ) -> None:
        safe_args = json.loads(json.dumps(arguments, default=str))
        conn.execute(
            "INSERT INTO sa_tool_audit (session_id, actor, customer_id, tool, kind, args, args_sha256, decision, code,"
            " result) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                state.session_id,
                state.actor,
                state.auth.customer_id,
                tool,
                kind,
                Jsonb(safe_args),
                args_hash(tool, safe_args, state.auth.customer_id),
                decision,
                code,
                Jsonb(json.loads(json.dumps(result, default=str))) if result is not None else None,
            ),
        )
