"""Test doubles for orchestration tests: a chat model that replays scripted replies and records requests.

Only for unit tests of orchestration logic (what a pipeline does with a model's answer); the default
path of every project and its end-to-end tests use the real local model.
"""

from __future__ import annotations

from collections.abc import Iterator

from shared.serving.base import ChatModel
from shared.serving.types import ChatRequest, ChatResult, StreamChunk, Usage


class RecordingChat(ChatModel):
    """Returns scripted replies (the last one repeats) and records every request it was given."""

    backend = "test"
    model = "recording"

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies) or ["ok [1]"]
        self.calls: list[ChatRequest] = []

    def _next(self) -> str:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls.append(request)
        return ChatResult(text=self._next(), model=self.model, backend=self.backend, usage=Usage(total_tokens=3))

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        self.calls.append(request)
        words = self._next().split(" ")
        for i, word in enumerate(words):
            yield StreamChunk(delta=word if i == 0 else " " + word)
        yield StreamChunk(finish_reason="stop", usage=Usage(total_tokens=3))


class ToolCallingChat(RecordingChat):
    """A :class:`RecordingChat` whose replies go through the local backend's tool-call parser when the request
    has tools: a reply ``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` comes back as a parsed
    ``ToolCall``, and a malformed one stays text, exactly as the real backend would return it."""

    def chat(self, request: ChatRequest) -> ChatResult:
        from shared.serving.tools import parse_tool_calls

        result = super().chat(request)
        if not request.tools:
            return result
        text, calls = parse_tool_calls(result.text, request.tools)
        return result.model_copy(
            update={"text": text, "tool_calls": calls, "finish_reason": "tool_calls" if calls else "stop"}
        )


def tool_call(name: str, **arguments: object) -> str:
    """A scripted reply that is one well-formed tool call (for :class:`ToolCallingChat`)."""
    import json

    return f'<tool_call>{{"name": "{name}", "arguments": {json.dumps(arguments)}}}</tool_call>'
