"""Request and response models of the support-agent API (the OpenAPI schema the agent console and chat clients use).

Length and emptiness of a message are checked by the session store, not here: a pydantic ``max_length`` would
answer 422 where the API promises 413 (``message-too-long``), and only the store knows the configured limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

SessionStatus = Literal["active", "waiting_human", "with_human", "closed"]
HandoffStatus = Literal["queued", "claimed", "returned", "closed"]
HandoffReason = Literal[
    "explicit_request", "repeated_failure", "negative_sentiment", "policy_exception", "low_confidence"
]
Role = Literal["user", "assistant", "human", "system", "tool"]
CHANNEL_PATTERN = r"^[a-z0-9_\-]{1,32}$"
AGENT_FIELD = Field(
    default=None,
    min_length=1,
    max_length=128,
    description="the human agent acting; defaults to the caller (X-User-Id)",
)


# -- sessions ---------------------------------------------------------------------------------------------


class SessionIn(BaseModel):
    channel: str = Field(default="web", pattern=CHANNEL_PATTERN, description="where the customer writes from")


class CustomerOut(BaseModel):
    verified: bool = Field(description="the customer proved who they are (e-mail, or name + zip)")
    id_masked: str | None = Field(description="the verified customer id, masked (first and last two characters)")
    method: str | None = Field(default=None, description="how they were verified: email | name_zip")


class FlowOut(BaseModel):
    intent: str = Field(description="the specialist flow in progress (cancel_order, return_item, ...)")
    awaiting: str | None = Field(description="the slot the agent asked for last (order_id, reason, identity...)")
    slots: list[str] = Field(description="names of the slots already filled (values stay out of listings)")
    done: bool


class PendingOut(BaseModel):
    tool: str = Field(description="the write waiting for the customer's explicit yes")
    summary: str = Field(description="exactly what was shown to the customer")
    created_at: str


class SessionOut(BaseModel):
    session_id: str
    status: SessionStatus = Field(description="who talks: the bot (active), the queue (waiting_human), a person")
    channel: str
    version: int = Field(description="bumped by every state or status change")
    assigned_agent: str | None = Field(description="the human agent who has the conversation (with_human)")
    last_seq: int = Field(description="seq of the newest message (poll messages with after_seq)")
    customer: CustomerOut
    flow: FlowOut | None
    pending_action: PendingOut | None
    open_handoff_id: str | None = Field(description="the queued or claimed handoff of this session, if any")
    created_at: datetime
    updated_at: datetime


class CloseIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


# -- messages and turns -----------------------------------------------------------------------------------


class MessageIn(BaseModel):
    text: str = Field(description="what the customer says (empty → 422 empty-message, too long → 413)")


class MessageOut(BaseModel):
    seq: int = Field(description="1, 2, 3 ... per session, gap-free")
    role: Role = Field(description="`human` is a human support agent; `tool` only with ?tools=true")
    author: str | None = Field(description="the human agent's name for `human` messages")
    text: str
    created_at: datetime
    tool_name: str | None = None
    tool_args: Any = None
    tool_result: Any = None


class TurnOut(BaseModel):
    reply: str = Field(description="the bot's answer; empty while the conversation waits for or is with a human")
    status: SessionStatus = Field(description="the session's status after the turn")
    handoff_id: str | None = Field(description="set when this turn handed the conversation to a human")
    events: list[dict[str, Any]] = Field(
        description="what happened, in order: input_rail, route (intent, confidence), tool (tool, arguments, "
        "decision, result, latency_ms), policy, correction, handoff, waiting_human ..."
    )


class TraceOut(BaseModel):
    id: int
    user_seq: int | None = Field(description="the user message this turn answered")
    intent: str | None
    confidence: float | None
    tool_calls: list[dict[str, Any]] = Field(description="tool, arguments, decision, result, latency_ms (PII-masked)")
    policy_decisions: list[dict[str, Any]]
    latency_ms: dict[str, float] = Field(description="per step (input_rail, route, flow, tools, reply, total)")
    model_id: str | None = Field(description="the chat model, when it was used this turn")
    created_at: datetime


# -- the human queue --------------------------------------------------------------------------------------


class HandoffOut(BaseModel):
    handoff_id: str
    session_id: str
    reason: HandoffReason
    summary: str = Field(description="generated for the human: request, verified customer, details, last results")
    status: HandoffStatus
    claimed_by: str | None
    note: str | None = Field(description="the hand-back note")
    version: int
    age_s: float = Field(description="seconds since the conversation was queued")
    created_at: datetime
    claimed_at: datetime | None
    returned_at: datetime | None
    closed_at: datetime | None


class AgentIn(BaseModel):
    agent: str | None = AGENT_FIELD


class HumanReplyIn(BaseModel):
    agent: str | None = AGENT_FIELD
    text: str = Field(description="the human agent's message to the customer (same limits as a customer message)")


class HandBackIn(BaseModel):
    agent: str | None = AGENT_FIELD
    note: str | None = Field(default=None, max_length=2000, description="for the bot and the record")


class HandoffCloseIn(BaseModel):
    agent: str | None = AGENT_FIELD
    reason: str | None = Field(default=None, max_length=500)
