"""Unit tests of the serving glue that needs no model: batch scheduling, tool-call parsing, schemas."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from pydantic import BaseModel

from shared.serving.base import ChatModel
from shared.serving.batching import BatchScheduler
from shared.serving.structured import (
    InvalidSchemaError,
    StructuredOutputError,
    extract_json,
    generate_structured,
    validate_schema,
)
from shared.serving.tools import forced_call_schema, parse_tool_calls, selected_tools
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, StreamChunk, ToolSpec

WEATHER = ToolSpec(
    name="get_weather",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


# -- batching -----------------------------------------------------------------------------------


def test_scheduler_batches_only_compatible_items_and_keeps_order():
    gate = threading.Event()
    batches: list[list[int]] = []

    def run(items: Sequence[int]) -> list[int]:
        gate.wait(5)
        batches.append(list(items))
        return [i * 10 for i in items]

    sched: BatchScheduler[int, int] = BatchScheduler(run, max_batch_size=3, wait_ms=50)
    blocker = sched.submit(0, key="a")  # occupies the worker while the rest queue up
    futures = [sched.submit(i, key="even" if i % 2 == 0 else "odd") for i in range(1, 8)]
    gate.set()
    assert blocker.result(5) == 0
    assert [f.result(5) for f in futures] == [i * 10 for i in range(1, 8)]
    for batch in batches[1:]:
        assert len(batch) <= 3
        assert len({i % 2 for i in batch}) == 1  # never mixes keys
    assert len(batches) < 8
    sched.close()


def test_scheduler_survives_a_failing_batch():
    def run(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise RuntimeError("boom")
        return list(items)

    sched: BatchScheduler[int, int] = BatchScheduler(run, max_batch_size=1, wait_ms=0)
    with pytest.raises(RuntimeError, match="boom"):
        sched.submit(13).result(5)
    assert sched.submit(1).result(5) == 1  # the worker thread is still alive
    sched.close()


# -- tools --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
        'Sure.\n```json\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```',
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}',
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}',  # unterminated at max_tokens
    ],
)
def test_parse_tool_call_forms(text):
    _, calls = parse_tool_calls(text, [WEATHER])
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", {"city": "Oslo"})]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>{"name": "get_weather", "arguments": {"town": "Oslo"}}</tool_call>',  # fails the schema
        '<tool_call>{"name": "launch", "arguments": {}}</tool_call>',  # unknown tool
        "It is sunny in Oslo.",
    ],
)
def test_invalid_or_absent_calls_stay_text(text):
    rest, calls = parse_tool_calls(text, [WEATHER])
    assert calls == [] and rest == text


def test_tool_choice_selection():
    assert selected_tools([WEATHER], "none") == []
    assert selected_tools([WEATHER], "get_weather") == [WEATHER]
    with pytest.raises(ValueError, match="not among"):
        selected_tools([WEATHER], "other")
    assert forced_call_schema([WEATHER])["properties"]["name"] == {"const": "get_weather"}


# -- structured ---------------------------------------------------------------------------------


def test_validate_schema_rejects_with_location():
    with pytest.raises(InvalidSchemaError, match="properties/x"):
        validate_schema({"type": "object", "properties": {"x": {"type": "bogus"}}})
    assert validate_schema({"type": "object"}) == {"type": "object"}


def test_extract_json_from_fence_and_prose():
    assert extract_json('Here:\n```json\n{"a": 1}\n```') == '{"a": 1}'
    assert extract_json('The answer is {"a": 1}. Done') == '{"a": 1}'


class Point(BaseModel):
    x: int
    y: int


class ScriptedModel(ChatModel):
    """A test double at the model boundary: answers from a script, records the requests."""

    backend = "script"
    model = "script"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.requests: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        return ChatResult(text=self.answers.pop(0), model=self.model, backend=self.backend)

    def stream(self, request: ChatRequest):
        yield StreamChunk(delta=self.chat(request).text, finish_reason="stop")


def test_generate_structured_feeds_the_error_back_and_retries():
    model = ScriptedModel(['{"x": 1}', '{"x": 1, "y": 2}'])
    point = generate_structured(model, ChatRequest(messages=[ChatMessage.user("a point")]), Point, max_retries=2)
    assert point == Point(x=1, y=2)
    assert model.requests[0].response_schema == Point.model_json_schema()
    feedback = model.requests[1].messages[-1].content
    assert "y" in feedback and "Field required" in feedback


def test_generate_structured_gives_up_after_bounded_retries():
    model = ScriptedModel(["nope", "still no", "never"])
    with pytest.raises(StructuredOutputError) as err:
        generate_structured(model, ChatRequest(messages=[ChatMessage.user("a point")]), Point, max_retries=1)
    assert len(model.requests) == 2
    assert err.value.last_output == "still no"
