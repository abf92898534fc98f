"""Support-agent configuration (environment prefix ``SUPPORT__``, e.g. ``SUPPORT__MAX_MESSAGE_CHARS=2000``).

Model ids and URLs live in ``shared.settings``; this section holds what only the support agent has. Each limit
says what it protects.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Method = Literal["lr", "knn"]  # the router's classifier head


class RouterSettings(BaseModel):
    """The intent router (``projects/support_agent/router.py``); environment ``SUPPORT__ROUTER__<FIELD>``, e.g.
    ``SUPPORT__ROUTER__THRESHOLD=0.6``."""

    method: Method = Field(default="lr", description="classifier head on the embeddings (see intent_eval numbers)")
    threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="calibrated confidence below which the intent is 'unknown' (clarify or escalate)",
    )
    lr_c: float = Field(default=10.0, gt=0, description="inverse L2 strength; unit-norm features need a large C")
    knn_k: int = Field(default=10, ge=1, description="neighbours in the k-NN vote")
    knn_temperature: float = Field(default=0.05, gt=0, description="softness of the similarity weights")
    knn_s0: float = Field(default=0.35, description="cosine of the 'nothing similar' pseudo-neighbour")
    familiar_low: float = Field(
        default=0.30,
        description="nearest-example cosine at or below which confidence is 0: the head has seen nothing like the "
        "message (gibberish, other languages), and a softmax is confident about anything",
    )
    familiar_high: float = Field(default=0.45, description="nearest-example cosine from which confidence is unscaled")


class SupportSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUPPORT__",
        env_file=".env",
        extra="ignore",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
    )

    router: RouterSettings = Field(default_factory=RouterSettings, description="the intent router")

    # -- sessions: input limits, turn budget, concurrency ------------------------------------------------
    max_message_chars: int = Field(
        default=4000,
        ge=1,
        description="characters per message; longer ones are refused before anything is stored (a chat turn is "
        "not a document, and every message is PII-scanned and re-read by the model on each later turn)",
    )
    max_messages_per_session: int = Field(
        default=2000, ge=1, description="messages one session may hold; the next append is refused (TooManyMessages)"
    )
    max_turns_per_minute: int = Field(
        default=20,
        ge=1,
        description="bot turns one session may start per minute (fixed window): a client flooding one "
        "conversation gets TooManyMessages instead of tying up the model",
    )
    turn_lock_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="how long a turn waits for another turn of the same session to finish before SessionBusy",
    )
    max_concurrent_turns: int = Field(
        default=32,
        ge=1,
        description="turns in flight per process: each holds one database connection for its advisory lock",
    )
    mask_pii: bool = Field(
        default=True, description="fill sa_messages.content_masked / trace payloads with Presidio-redacted text"
    )

    # -- policy (enforced in projects/support_agent/policy.py) ------------------------------------------
    return_window_days: int = Field(
        default=30,
        ge=0,
        description="returns/exchanges only within this many days of delivery, when the delivery date is known "
        "(τ-bench rows have none, so their window is not checked)",
    )
    confirmation_ttl_s: float = Field(
        default=1800.0,
        gt=0,
        description="a proposed write (PendingAction) older than this cannot be confirmed: a 'yes' an hour later "
        "is not consent to what was shown an hour ago",
    )

    # -- conversation loop and escalation (projects/support_agent/agent.py) --------------------------------
    max_failures_in_row: int = Field(
        default=3,
        ge=1,
        description="refusals/clarifications in a row after which the conversation goes to a human (the bot is "
        "not getting anywhere, and a fourth 'which order?' only frustrates)",
    )
    low_confidence_turns_to_escalate: int = Field(
        default=2, ge=1, description="turns in a row the router could not place (intent unknown) before a handoff"
    )
    human_request_min_confidence: float = Field(
        default=0.85,
        ge=0.0,
        le=1.0,
        description="router confidence from which talk_to_human queues the conversation at once; below it the "
        "agent asks (messages about giving an e-mail address land in that class at ~0.7); 'a human/real person' "
        "in the words always counts",
    )
    max_injections: int = Field(
        default=2, ge=1, description="blocked jailbreak/injection messages in a session before a handoff"
    )
    negative_sentiment_threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="moderation harassment score from which a message counts as negative (next to the "
        "frustration lexicon in extract.NEGATIVE)",
    )
    negative_turns_to_escalate: int = Field(
        default=2, ge=1, description="negative messages in a row before the conversation goes to a human"
    )
    llm_wording: bool = Field(
        default=True,
        description="let the chat model reword the deterministic reply (ids/numbers it adds → the template)",
    )
    reply_max_tokens: int = Field(
        default=60, ge=8, description="tokens of a reworded reply (the local 0.5B model decodes ~10 tok/s)"
    )

    # -- HTTP API (projects/support_agent/api.py, service.py) --------------------------------------------
    api_seed_retailer: bool = Field(
        default=True,
        description="the API service loads the generated retailer into a database with no customer (the agent "
        "has nothing to look up otherwise); turn off in front of a real shop's database",
    )
    api_demo_customers: int = Field(default=200, ge=1, description="customers of that generated retailer")
    api_demo_seed: int = Field(default=0, description="seed of that generated retailer (deterministic ids)")
    human_agent_group: str | None = Field(
        default=None,
        description="when set, the handoff routes (queue, claim, reply, hand back, close) need this group in "
        "X-Groups: customers must not claim their own conversations",
    )
    stream_chunk_chars: int = Field(
        default=24, ge=1, description="about how many characters each SSE `delta` event of a reply carries"
    )

    # -- FAQ from the knowledge base (projects/support_agent/knowledge.py, faq.py; sa-faq) ------------------
    kb_collection: str = Field(
        default="support_kb", min_length=1, description="shared/retrieval collection holding the store's articles"
    )
    faq_min_relevance: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="cosine similarity (MiniLM) of the best passage below which the agent says it does not know "
        "instead of quoting a passage that does not answer the question",
    )
    faq_misses_to_escalate: int = Field(
        default=2, ge=1, description="unanswerable FAQ questions in a row before the conversation goes to a human"
    )
    kb_shipping_days_min: int = Field(default=3, ge=0, description="business days of delivery quoted by the FAQ")
    kb_shipping_days_max: int = Field(default=7, ge=0, description="business days of delivery quoted by the FAQ")
    kb_refund_business_days: int = Field(
        default=7, ge=0, description="business days a card/PayPal refund takes, as quoted by the FAQ"
    )


@lru_cache
def get_support_settings() -> SupportSettings:
    return SupportSettings()
