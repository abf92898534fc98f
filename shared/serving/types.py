"""The serving contract: what a request to a chat model is and what comes back.

Backends (local transformers, any OpenAI-compatible server) translate to and from these types,
so a project's code never changes when the backend does.
"""

from __future__ import annotations

import inspect
import typing
import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, model_validator

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls"]


class ToolCall(BaseModel):
    id: str = Field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChatMessage(BaseModel):
    role: Role
    content: str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = Field(default=None, description="for role='tool': the call this answers")

    @classmethod
    def system(cls, content: str) -> ChatMessage:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> ChatMessage:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str) -> ChatMessage:
        return cls(role="assistant", content=content)


class ToolSpec(BaseModel):
    """A function the model may call; ``parameters`` is a JSON schema (OpenAI's function format)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @classmethod
    def from_function(cls, fn: Callable[..., Any]) -> ToolSpec:
        """Build the schema from type hints and the docstring's first paragraph (smolagents-style)."""
        hints = typing.get_type_hints(fn)
        props: dict[str, Any] = {}
        required: list[str] = []
        for name, param in inspect.signature(fn).parameters.items():
            schema = TypeAdapter(hints.get(name, str)).json_schema()
            props[name] = schema
            if param.default is inspect.Parameter.empty:
                required.append(name)
        doc = inspect.getdoc(fn) or ""
        return cls(
            name=fn.__name__,
            description=doc.split("\n\n")[0].strip(),
            parameters={"type": "object", "properties": props, "required": required},
        )


class ChatRequest(BaseModel):
    """A chat turn, or (with ``prompt``) a raw text completion.

    Raw completion exists for prompts that must reach the model byte for byte: fill-in-the-middle with the
    model's FIM tokens, base-model style prompting. Backends send it without a chat template (local) or to
    ``/v1/completions`` (OpenAI-compatible servers such as vLLM), so the caller owns the whole prompt.
    """

    messages: list[ChatMessage] = Field(default_factory=list)
    prompt: str | None = Field(
        default=None,
        description="raw completion: the exact model input, no chat template; excludes messages, system, tools and "
        "response_schema",
    )
    system: str | None = Field(default=None, description="prepended as a system message when set")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 = greedy decoding")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1, description="None = settings.serving.default_max_tokens")
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[ToolSpec] | None = None
    tool_choice: Literal["auto", "none", "required"] | str = "auto"
    response_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema the answer must satisfy (constrained decoding where supported)"
    )

    @classmethod
    def completion(cls, prompt: str, **kwargs: Any) -> ChatRequest:
        return cls(prompt=prompt, **kwargs)

    @property
    def is_completion(self) -> bool:
        return self.prompt is not None

    @model_validator(mode="after")
    def _one_input(self) -> ChatRequest:
        if self.prompt is None:
            if not self.messages:
                raise ValueError("a request needs messages (chat) or prompt (raw completion)")
            return self
        if not self.prompt:
            raise ValueError("prompt is empty")
        chat_only = [
            n for n in ("messages", "system", "tools", "response_schema") if getattr(self, n) not in (None, [])
        ]
        if chat_only:
            raise ValueError(f"a raw completion (prompt) cannot also have {', '.join(chat_only)}")
        return self

    def all_messages(self) -> list[ChatMessage]:
        if self.system:
            return [ChatMessage.system(self.system), *self.messages]
        return list(self.messages)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0


class ChatResult(BaseModel):
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: FinishReason = "stop"
    usage: Usage = Field(default_factory=Usage)
    model: str
    backend: str
    cached: bool = False
    latency_s: float = 0.0


class StreamChunk(BaseModel):
    """One streamed piece; the last chunk carries ``finish_reason`` and ``usage``."""

    delta: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
