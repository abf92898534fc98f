"""ChatModel over any OpenAI-compatible server: vLLM in production, the platform's own model server in dev.

Translates the serving contract to the Chat Completions wire format (tools, tool_choice,
``response_format`` json_schema, streaming with a final usage chunk) and maps the client's errors
onto the contract's: unknown model -> ModelNotFoundError, invalid schema -> InvalidSchemaError,
anything else -> ServingError (which the resilience layer may retry or fall back from).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
from openai import OpenAI

from shared.observability.tracing import span
from shared.serving.base import ChatModel, ModelNotFoundError, ServingError
from shared.serving.structured import InvalidSchemaError, validate_schema
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, FinishReason, StreamChunk, ToolCall, Usage


def _wire_message(m: ChatMessage) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.name:
        d["name"] = m.name
    if m.tool_calls:
        d["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in m.tool_calls
        ]
    if m.role == "tool":
        d["tool_call_id"] = m.tool_call_id
    return d


def to_wire(request: ChatRequest, model: str) -> dict[str, Any]:
    """Chat Completions parameters for ``request``."""
    params: dict[str, Any] = {
        "model": model,
        "messages": [_wire_message(m) for m in request.all_messages()],
        "temperature": request.temperature,
        "top_p": request.top_p,
    }
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    if request.stop:
        params["stop"] = request.stop
    if request.seed is not None:
        params["seed"] = request.seed
    if request.tools:
        params["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
        choice = request.tool_choice
        params["tool_choice"] = (
            choice if choice in ("auto", "none", "required") else {"type": "function", "function": {"name": choice}}
        )
    if request.response_schema is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": validate_schema(request.response_schema), "strict": True},
        }
    return params


def to_completion_wire(request: ChatRequest, model: str) -> dict[str, Any]:
    """Completions (``/v1/completions``) parameters for a raw-prompt request."""
    params: dict[str, Any] = {
        "model": model,
        "prompt": request.prompt,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens or 256,  # the legacy endpoint defaults to 16 tokens
    }
    if request.stop:
        params["stop"] = request.stop
    if request.seed is not None:
        params["seed"] = request.seed
    return params


def _finish(reason: str | None) -> FinishReason:
    return reason if reason in ("stop", "length", "tool_calls") else "stop"  # type: ignore[return-value]


def _usage(u: Any) -> Usage:
    if u is None:
        return Usage()
    return Usage(prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens, total_tokens=u.total_tokens)


def _parse_args(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ServingError(f"server returned tool arguments that are not JSON: {raw!r}") from exc
    return value if isinstance(value, dict) else {"value": value}


class OpenAIChatModel(ChatModel):
    backend = "openai"

    def __init__(self, base_url: str, model: str, api_key: str = "not-needed", timeout_s: float = 300.0) -> None:
        self.model = model
        self.base_url = base_url
        # Retries belong to the resilience layer (one policy for every backend), not to the client.
        self._client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)

    def _error(self, exc: Exception) -> Exception:
        if isinstance(exc, openai.NotFoundError):
            return ModelNotFoundError(f"{self.base_url}: model {self.model!r} not found ({exc})")
        if isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 422):
            text = str(exc).lower()
            if "schema" in text or "response_format" in text:
                return InvalidSchemaError(str(exc))
            return ValueError(f"{self.base_url} rejected the request: {exc}")
        return ServingError(f"{self.base_url}: {type(exc).__name__}: {exc}")

    def _complete(self, request: ChatRequest) -> ChatResult:
        t0 = time.perf_counter()
        with span("llm.complete", backend=self.backend, model=self.model):
            try:
                resp = self._client.completions.create(**to_completion_wire(request, self.model))
            except openai.OpenAIError as exc:
                raise self._error(exc) from exc
        choice = resp.choices[0]
        return ChatResult(
            text=choice.text or "",
            finish_reason=_finish(choice.finish_reason),
            usage=_usage(resp.usage),
            model=resp.model or self.model,
            backend=self.backend,
            latency_s=time.perf_counter() - t0,
        )

    def _stream_completion(self, request: ChatRequest) -> Iterator[StreamChunk]:
        params = to_completion_wire(request, self.model)
        params.update(stream=True, stream_options={"include_usage": True})
        finish = None
        try:
            with span("llm.stream", backend=self.backend, model=self.model):
                for chunk in self._client.completions.create(**params):
                    if chunk.choices:
                        c = chunk.choices[0]
                        finish = c.finish_reason or finish
                        if c.text:
                            yield StreamChunk(delta=c.text)
                    if chunk.usage is not None:
                        yield StreamChunk(finish_reason=_finish(finish), usage=_usage(chunk.usage))
                        return
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        yield StreamChunk(finish_reason=_finish(finish), usage=Usage())

    def chat(self, request: ChatRequest) -> ChatResult:
        if request.is_completion:
            return self._complete(request)
        params = to_wire(request, self.model)
        t0 = time.perf_counter()
        with span("llm.chat", backend=self.backend, model=self.model):
            try:
                resp = self._client.chat.completions.create(**params)
            except openai.OpenAIError as exc:
                raise self._error(exc) from exc
        choice = resp.choices[0]
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=_parse_args(c.function.arguments))
            for c in (choice.message.tool_calls or [])
            if c.type == "function"
        ]
        finish = choice.finish_reason if choice.finish_reason in ("stop", "length", "tool_calls") else "stop"
        u = resp.usage
        usage = Usage(
            prompt_tokens=u.prompt_tokens if u else 0,
            completion_tokens=u.completion_tokens if u else 0,
            total_tokens=u.total_tokens if u else 0,
        )
        return ChatResult(
            text=choice.message.content or "",
            tool_calls=calls,
            finish_reason="tool_calls" if calls else finish,
            usage=usage,
            model=resp.model or self.model,
            backend=self.backend,
            latency_s=time.perf_counter() - t0,
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        if request.is_completion:
            yield from self._stream_completion(request)
            return
        params = to_wire(request, self.model)
        params.update(stream=True, stream_options={"include_usage": True})
        finish = None
        try:
            with span("llm.stream", backend=self.backend, model=self.model):
                stream = self._client.chat.completions.create(**params)
                for chunk in stream:
                    if chunk.choices:
                        c = chunk.choices[0]
                        finish = c.finish_reason or finish
                        if c.delta and c.delta.content:
                            yield StreamChunk(delta=c.delta.content)
                    if chunk.usage is not None:  # the final chunk (stream_options.include_usage)
                        u = chunk.usage
                        yield StreamChunk(
                            finish_reason=finish if finish in ("stop", "length", "tool_calls") else "stop",
                            usage=Usage(
                                prompt_tokens=u.prompt_tokens,
                                completion_tokens=u.completion_tokens,
                                total_tokens=u.total_tokens,
                            ),
                        )
                        return
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        yield StreamChunk(finish_reason=finish or "stop", usage=Usage())  # server sent no usage chunk
