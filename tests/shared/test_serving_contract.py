"""Contract tests: the same assertions against the local backend and, over real HTTP, the openai backend.

The ``openai`` case starts the platform's model server (uvicorn on a free 127.0.0.1 port) serving
the very same local models, and talks to it with OpenAIChatModel, so both backends must behave
alike down to token counts. Qwen2.5-Coder-0.5B is used where answer quality matters (tool calls,
structured output, stop strings); SmolLM2-135M where any real model will do.
"""

from __future__ import annotations

import concurrent.futures
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import jsonschema
import pytest
import uvicorn
from pydantic import BaseModel, Field

from shared.serving.base import ChatModel, ModelNotFoundError
from shared.serving.embeddings import LocalEmbedder, OpenAIEmbedder
from shared.serving.local import LocalChatModel
from shared.serving.openai_backend import OpenAIChatModel
from shared.serving.server import create_app
from shared.serving.structured import InvalidSchemaError, generate_structured
from shared.serving.types import ChatMessage, ChatRequest, ToolSpec

pytestmark = pytest.mark.slow

QWEN = "qwen2.5-coder-0.5b-instruct"
SMOL = "smollm2-135m-instruct"


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return "sunny"


WEATHER = ToolSpec.from_function(get_weather)


class City(BaseModel):
    name: str
    country: str
    population_millions: float = Field(ge=0)


@pytest.fixture(scope="module")
def local_models() -> dict[str, LocalChatModel]:
    return {QWEN: LocalChatModel(QWEN), SMOL: LocalChatModel(SMOL)}


@pytest.fixture(scope="module")
def server_url(local_models: dict[str, LocalChatModel]) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(local_models, {"all-minilm-l6-v2": LocalEmbedder()})
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "model server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module", params=["local", "openai"])
def backend(request: pytest.FixtureRequest, local_models: dict[str, LocalChatModel]) -> Callable[[str], ChatModel]:
    if request.param == "local":
        return lambda name: local_models[name]
    url = request.getfixturevalue("server_url")
    return lambda name: OpenAIChatModel(url, name, timeout_s=120)


def ask(text: str, **kw) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage.user(text)], **kw)


# -- one contract, two backends -------------------------------------------------------------------


def test_plain_chat_returns_text_and_usage(backend):
    result = backend(SMOL).chat(ask("Say hello.", max_tokens=12))
    assert result.text.strip()
    assert result.finish_reason in ("stop", "length")
    assert result.usage.prompt_tokens > 0
    assert 0 < result.usage.completion_tokens <= 12
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_greedy_decoding_is_deterministic(backend):
    model = backend(SMOL)
    req = ask("Name three colours.", max_tokens=12, temperature=0)
    assert model.chat(req).text == model.chat(req).text


def test_seeded_sampling_is_reproducible(backend):
    model = backend(SMOL)
    req = ask("Invent a name for a cat.", max_tokens=8, temperature=1.0, seed=1234)
    first = model.chat(req)
    assert first.text and model.chat(req).text == first.text


def test_max_tokens_ends_with_length(backend):
    result = backend(SMOL).chat(ask("Write a long story about a dragon.", max_tokens=5))
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 5


def test_stop_sequence_is_respected(backend):
    model = backend(QWEN)
    prompt = "List the numbers from 1 to 9, one per line, digits only."
    free = model.chat(ask(prompt, max_tokens=30))
    assert "5" in free.text  # the stop string would appear without the stop parameter
    stopped = model.chat(ask(prompt, max_tokens=30, stop=["5"]))
    assert "5" not in stopped.text
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.index("5")]


def test_stream_concatenates_to_the_greedy_answer(backend):
    model = backend(SMOL)
    req = ask("Describe the sea in one sentence.", max_tokens=16)
    whole = model.chat(req)
    chunks = list(model.stream(req))
    assert len(chunks) > 2  # really streamed, not one piece
    assert "".join(c.delta for c in chunks) == whole.text
    assert chunks[-1].finish_reason == whole.finish_reason
    assert chunks[-1].usage == whole.usage
    assert all(c.finish_reason is None for c in chunks[:-1])


FIM_PROMPT = (
    "<|fim_prefix|>def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n"
    "<|fim_suffix|>\n\nprint(fibonacci(10))\n<|fim_middle|>"
)


def test_raw_completion_fills_the_middle_without_a_chat_template(backend):
    """FIM needs the exact prompt: a chat template around it would turn the FIM tokens into chat text."""
    model = backend(QWEN)
    result = model.chat(ChatRequest.completion(FIM_PROMPT, max_tokens=40))
    assert "fibonacci(n - 1)" in result.text.replace("n-1", "n - 1") or "a, b = b, a + b" in result.text
    assert 0 < result.usage.completion_tokens <= 40
    assert result.usage.prompt_tokens == LocalChatModel(QWEN).count_tokens(FIM_PROMPT)  # no template tokens added
    streamed = list(model.stream(ChatRequest.completion(FIM_PROMPT, max_tokens=40)))
    assert "".join(c.delta for c in streamed) == result.text
    assert streamed[-1].usage == result.usage


def test_raw_completion_request_rejects_chat_fields():
    with pytest.raises(ValueError, match="cannot also have"):
        ChatRequest(prompt="x", messages=[ChatMessage.user("y")])
    with pytest.raises(ValueError, match=r"messages \(chat\) or prompt"):
        ChatRequest()
    with pytest.raises(ValueError, match="empty"):
        ChatRequest(prompt="")


def test_server_completions_wire_format(server_url):
    body = {"model": QWEN, "prompt": FIM_PROMPT, "max_tokens": 8}
    r = httpx.post(f"{server_url}/completions", json=body, timeout=120)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "text_completion" and data["choices"][0]["text"]
    assert data["usage"]["completion_tokens"] <= 8
    with httpx.stream("POST", f"{server_url}/completions", json={**body, "stream": True}, timeout=120) as s:
        lines = [line for line in s.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    texts = [json.loads(line[6:])["choices"][0]["text"] for line in lines[:-1]]
    assert "".join(texts) == data["choices"][0]["text"]
    r = httpx.post(f"{server_url}/completions", json={**body, "prompt": ""}, timeout=30)
    assert r.status_code == 422


@pytest.mark.parametrize("tool_choice", ["auto", "get_weather"])
def test_tool_call_has_valid_arguments(backend, tool_choice):
    req = ask("What is the weather in Paris right now?", tools=[WEATHER], tool_choice=tool_choice, max_tokens=40)
    result = backend(QWEN).chat(req)
    assert result.finish_reason == "tool_calls"
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    jsonschema.validate(result.tool_calls[0].arguments, WEATHER.parameters)
    assert "paris" in result.tool_calls[0].arguments["city"].lower()


def test_tool_choice_none_answers_in_text(backend):
    req = ask("What is the weather in Paris right now?", tools=[WEATHER], tool_choice="none", max_tokens=12)
    result = backend(QWEN).chat(req)
    assert result.tool_calls == []
    assert result.text


def test_structured_output_validates(backend):
    city = generate_structured(backend(QWEN), ask("Give facts about Paris as JSON.", max_tokens=60), City)
    assert isinstance(city, City)
    assert "paris" in city.name.lower()


def test_invalid_schema_is_a_clear_error(backend):
    with pytest.raises(InvalidSchemaError, match="schema"):
        backend(SMOL).chat(ask("hi", max_tokens=4, response_schema={"type": "not-a-type"}))


# -- the server's HTTP surface ----------------------------------------------------------------------


def _post(url: str, body: object, **kw) -> httpx.Response:
    return httpx.post(f"{url}/chat/completions", json=body, timeout=120, **kw)


def test_server_unknown_model_is_404_problem(server_url):
    r = _post(server_url, {"model": "nope", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "nope" in r.json()["detail"]


def test_server_invalid_schema_is_400_with_detail(server_url):
    body = {
        "model": SMOL,
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 12}}},
    }
    r = _post(server_url, body)
    assert r.status_code == 400
    assert "schema" in r.json()["detail"]


def test_server_malformed_json_is_400(server_url):
    r = httpx.post(
        f"{server_url}/chat/completions", content=b'{"model": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["type"].endswith("malformed-json")


def test_server_wrong_types_are_422(server_url):
    r = _post(server_url, {"model": SMOL, "messages": "hi", "temperature": "hot"})
    assert r.status_code == 422
    assert {tuple(e["loc"])[-1] for e in r.json()["errors"]} >= {"messages", "temperature"}


def test_server_sse_wire_format(server_url):
    body = {
        "model": SMOL,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 6,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{server_url}/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: ") :] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] <= 6
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def test_server_embeddings_and_models(server_url):
    r = httpx.post(f"{server_url}/embeddings", json={"model": "all-minilm-l6-v2", "input": ["a", "b"]}, timeout=60)
    assert r.status_code == 200
    assert [d["index"] for d in r.json()["data"]] == [0, 1]
    assert len(r.json()["data"][0]["embedding"]) == 384
    remote = OpenAIEmbedder(server_url, "all-minilm-l6-v2")  # the openai client asks for base64
    assert remote.embed(["one sentence"]).shape == (1, 384)
    ids = {m["id"] for m in httpx.get(f"{server_url}/models").json()["data"]}
    assert {QWEN, SMOL, "all-minilm-l6-v2"} <= ids


def test_server_batches_concurrent_requests(server_url, local_models):
    scheduler = local_models[SMOL].engine.scheduler
    before = scheduler.batches_run
    bodies = [
        {"model": SMOL, "messages": [{"role": "user", "content": f"Say the number {i}."}], "max_tokens": 6}
        for i in range(8)
    ]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda b: _post(server_url, b), bodies))
    assert [r.status_code for r in responses] == [200] * 8
    assert all(r.json()["choices"][0]["message"]["content"] for r in responses)
    assert scheduler.batches_run - before < 8  # some requests shared a generate call


def test_unknown_model_raises_model_not_found(server_url):
    with pytest.raises(ModelNotFoundError):
        LocalChatModel("no-such-model")
    with pytest.raises(ModelNotFoundError):
        OpenAIChatModel(server_url, "no-such-model").chat(ask("hi", max_tokens=2))


def test_server_streams_a_tool_call_as_deltas(server_url):
    body = {
        "model": QWEN,
        "messages": [{"role": "user", "content": "What is the weather in Oslo?"}],
        "tools": [{"type": "function", "function": WEATHER.model_dump()}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_tokens": 40,
        "stream": True,
    }
    with httpx.stream("POST", f"{server_url}/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    calls = [c for e in events for c in e["choices"][0]["delta"].get("tool_calls", [])]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    assert "oslo" in json.loads(calls[0]["function"]["arguments"])["city"].lower()
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"
