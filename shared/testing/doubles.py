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
