"""A small OpenAI-compatible model server over any ChatModel/Embedder (dev convenience + contract target).

Routes (mounted at ``/v1`` by the platform app, or standalone with
``python -m shared.serving.server --host 127.0.0.1 --port 8001``): ``POST /chat/completions``
(JSON or SSE stream), ``POST /embeddings``, ``GET /models``. Model calls block, so they run in
the threadpool; the local backend's batch scheduler then decodes concurrent requests together.
Production serving is vLLM, which speaks the same wire format: apps never notice the difference.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from shared.api.problems import ProblemError, install_problem_handlers, problem_responses
from shared.serving.base import ChatModel, Embedder, ModelNotFoundError, ServingError
from shared.serving.structured import InvalidSchemaError, validate_schema
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, StreamChunk, ToolCall, ToolSpec

# -- wire models (the subset of the Chat Completions API the platform supports) -----------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients send fields we do not use (user, logprobs=false, ...)


class WireFunctionCall(_Wire):
    name: str
    arguments: str = "{}"


class WireToolCall(_Wire):
    id: str | None = None
    type: Literal["function"] = "function"
    function: WireFunctionCall


class WireMessage(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[WireToolCall] | None = None
    tool_call_id: str | None = None


class WireFunction(_Wire):
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class WireTool(_Wire):
    type: Literal["function"] = "function"
    function: WireFunction


class WireNamedToolChoice(_Wire):
    type: Literal["function"] = "function"
    function: WireFunctionCall | dict[str, str]


class WireJsonSchema(_Wire):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class WireResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: WireJsonSchema | None = None


class WireStreamOptions(_Wire):
    include_usage: bool = False


class ChatCompletionRequest(_Wire):
    model: str
    messages: list[WireMessage] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, description="omitted = greedy")
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: Literal[1] = 1
    stream: bool = False
    stream_options: WireStreamOptions | None = None
    tools: list[WireTool] | None = None
    tool_choice: Literal["auto", "none", "required"] | WireNamedToolChoice | None = None
    response_format: WireResponseFormat | None = None


class CompletionRequest(_Wire):
    """The legacy Completions request (what vLLM serves at ``/v1/completions``): one raw prompt, no template."""

    model: str
    prompt: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, description="omitted = greedy")
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=16, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: Literal[1] = 1
    echo: Literal[False] = False
    stream: bool = False
    stream_options: WireStreamOptions | None = None


class EmbeddingRequest(_Wire):
    model: str
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"


# -- translation --------------------------------------------------------------------------------


def _text(content: str | list[dict[str, Any]] | None) -> str | None:
    if content is None or isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def _message(m: WireMessage) -> ChatMessage:
    calls = None
    if m.tool_calls:
        calls = []
        for c in m.tool_calls:
            try:
                args = json.loads(c.function.arguments or "{}")
            except json.JSONDecodeError as exc:
                raise ProblemError(422, "Unprocessable Content", f"tool call arguments are not JSON: {exc}") from exc
            calls.append(ToolCall(id=c.id or f"call_{uuid.uuid4().hex[:12]}", name=c.function.name, arguments=args))
    role = "system" if m.role == "developer" else m.role
    return ChatMessage(role=role, content=_text(m.content), name=m.name, tool_calls=calls, tool_call_id=m.tool_call_id)


def _response_schema(fmt: WireResponseFormat | None) -> dict[str, Any] | None:
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "object"}
    if fmt.json_schema is None:
        raise ProblemError(400, "Invalid Schema", "response_format.type is json_schema but json_schema is missing")
    try:
        return validate_schema(fmt.json_schema.schema_)
    except InvalidSchemaError as exc:
        raise ProblemError(400, "Invalid Schema", f"response_format.json_schema.schema: {exc}") from exc


def to_chat_request(body: ChatCompletionRequest) -> ChatRequest:
    choice: str = "auto"
    if isinstance(body.tool_choice, str):
        choice = body.tool_choice
    elif body.tool_choice is not None:
        fn = body.tool_choice.function
        choice = fn.name if isinstance(fn, WireFunctionCall) else fn.get("name", "")
    stop = [body.stop] if isinstance(body.stop, str) else body.stop
    return ChatRequest(
        messages=[_message(m) for m in body.messages],
        temperature=body.temperature if body.temperature is not None else 0.0,
        top_p=body.top_p if body.top_p is not None else 1.0,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        stop=stop,
        seed=body.seed,
        tools=[
            ToolSpec(name=t.function.name, description=t.function.description, parameters=t.function.parameters)
            for t in body.tools or []
        ]
        or None,
        tool_choice=choice,
        response_schema=_response_schema(body.response_format),
    )


def _wire_tool_calls(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
        for c in calls
    ]


def _usage(u: Any) -> dict[str, int]:
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def completion_body(result: ChatResult, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.text or (None if result.tool_calls else "")}
    if result.tool_calls:
        message["tool_calls"] = _wire_tool_calls(result.tool_calls)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": result.finish_reason}],
        "usage": _usage(result.usage),
    }


def _problem_for(exc: Exception, model: str) -> ProblemError:
    if isinstance(exc, ProblemError):
        return exc
    if isinstance(exc, InvalidSchemaError):
        return ProblemError(400, "Invalid Schema", str(exc))
    if isinstance(exc, ModelNotFoundError):
        return ProblemError(404, "Not Found", str(exc))
    if isinstance(exc, ValueError):
        return ProblemError(400, "Bad Request", str(exc))
    if isinstance(exc, ServingError):
        return ProblemError(503, "Service Unavailable", f"model {model!r} failed: {exc}")
    raise exc


# -- router -------------------------------------------------------------------------------------


class _SSE:
    """Server-sent events in the Chat Completions chunk format."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def chunk(self, delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> str:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [] if usage is not None else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"


def create_model_server_router(chat_models: Mapping[str, ChatModel], embedders: Mapping[str, Embedder]) -> APIRouter:
    """Routes ``/chat/completions``, ``/completions``, ``/embeddings``, ``/models`` serving the given models by name."""
    router = APIRouter(tags=["model server"])

    def chat_model(name: str) -> ChatModel:
        if name not in chat_models:
            raise ProblemError(404, "Not Found", f"model {name!r} is not served here; available: {sorted(chat_models)}")
        return chat_models[name]

    async def stream_response(model: ChatModel, req: ChatRequest, body: ChatCompletionRequest) -> StreamingResponse:
        sse = _SSE(body.model)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        if req.tools and req.tool_choice != "none":
            try:  # a tool call is only known when complete: answer in one piece, streamed as chunks
                result = await run_in_threadpool(model.chat, req)
            except Exception as exc:
                raise _problem_for(exc, body.model) from exc
            chunks: Iterator[StreamChunk] = iter(
                [StreamChunk(delta=result.text, finish_reason=result.finish_reason, usage=result.usage)]
            )
            calls = result.tool_calls
        else:
            chunks, calls = model.stream(req), []
        try:  # pull the first chunk here so request errors become a 4xx, not a broken stream
            first = await run_in_threadpool(next, chunks, None)
        except Exception as exc:
            raise _problem_for(exc, body.model) from exc

        async def events() -> AsyncIterator[str]:
            yield sse.chunk({"role": "assistant", "content": ""})
            pending = [first] if first is not None else []
            rest = iterate_in_threadpool(chunks)
            try:
                while True:
                    if pending:
                        piece = pending.pop()
                    else:
                        try:
                            piece = await rest.__anext__()
                        except StopAsyncIteration:
                            break
                    if piece.delta:
                        yield sse.chunk({"content": piece.delta})
                    if piece.finish_reason is not None:
                        if calls:
                            tool_delta = [{"index": i, **c} for i, c in enumerate(_wire_tool_calls(calls))]
                            yield sse.chunk({"tool_calls": tool_delta})
                        yield sse.chunk({}, finish=piece.finish_reason)
                        if include_usage and piece.usage is not None:
                            yield sse.chunk({}, usage=_usage(piece.usage))
            except Exception as exc:  # mid-stream failure: the status line is gone, say so in-band
                yield f"data: {json.dumps({'error': {'message': str(exc), 'type': type(exc).__name__}})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @router.post(
        "/chat/completions",
        summary="OpenAI-compatible chat completion (JSON, or SSE when stream=true)",
        responses=problem_responses(400, 404, 422, 503),
    )
    async def chat_completions(body: ChatCompletionRequest) -> Any:
        model = chat_model(body.model)
        try:
            req = to_chat_request(body)
        except ProblemError:
            raise
        except ValueError as exc:  # pydantic checks of the contract types
            raise ProblemError(422, "Unprocessable Content", str(exc)) from exc
        if body.stream:
            return await stream_response(model, req, body)
        try:
            result = await run_in_threadpool(model.chat, req)
        except Exception as exc:
            raise _problem_for(exc, body.model) from exc
        return completion_body(result, body.model)

    @router.post(
        "/completions",
        summary="OpenAI-compatible (legacy) text completion of a raw prompt (JSON, or SSE when stream=true)",
        responses=problem_responses(400, 404, 422, 503),
    )
    async def completions(body: CompletionRequest) -> Any:
        model = chat_model(body.model)
        try:
            req = ChatRequest.completion(
                body.prompt,
                temperature=body.temperature if body.temperature is not None else 0.0,
                top_p=body.top_p if body.top_p is not None else 1.0,
                max_tokens=body.max_tokens,
                stop=[body.stop] if isinstance(body.stop, str) else body.stop,
                seed=body.seed,
            )
        except ValueError as exc:
            raise ProblemError(422, "Unprocessable Content", str(exc)) from exc
        cid, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        def body_of(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": cid, "object": "text_completion", "created": created, "model": body.model, "choices": choices,
            }  # fmt: skip
            if usage is not None:
                out["usage"] = usage
            return out

        if not body.stream:
            try:
                result = await run_in_threadpool(model.chat, req)
            except Exception as exc:
                raise _problem_for(exc, body.model) from exc
            choice = {"index": 0, "text": result.text, "logprobs": None, "finish_reason": result.finish_reason}
            return body_of([choice], _usage(result.usage))
        chunks = model.stream(req)
        try:
            first = await run_in_threadpool(next, chunks, None)
        except Exception as exc:
            raise _problem_for(exc, body.model) from exc
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        async def events() -> AsyncIterator[str]:
            pieces = iterate_in_threadpool(chunks)
            piece = first
            try:
                while piece is not None:
                    choice = {"index": 0, "text": piece.delta, "logprobs": None, "finish_reason": piece.finish_reason}
                    if piece.delta or piece.finish_reason:
                        yield f"data: {json.dumps(body_of([choice]))}\n\n"
                    if piece.finish_reason is not None and include_usage and piece.usage is not None:
                        yield f"data: {json.dumps(body_of([], _usage(piece.usage)))}\n\n"
                    piece = await anext(pieces, None)
            except Exception as exc:  # mid-stream failure: the status line is gone, say so in-band
                yield f"data: {json.dumps({'error': {'message': str(exc), 'type': type(exc).__name__}})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @router.post("/embeddings", summary="OpenAI-compatible embeddings", responses=problem_responses(404, 422, 503))
    async def embeddings(body: EmbeddingRequest) -> dict[str, Any]:
        if body.model not in embedders:
            raise ProblemError(
                404, "Not Found", f"embedding model {body.model!r} is not served here; available: {sorted(embedders)}"
            )
        texts = [body.input] if isinstance(body.input, str) else body.input
        try:
            vectors = await run_in_threadpool(embedders[body.model].embed, texts)
        except Exception as exc:
            raise _problem_for(exc, body.model) from exc
        data = []
        for i, v in enumerate(np.asarray(vectors, dtype=np.float32)):
            emb: Any = base64.b64encode(v.tobytes()).decode() if body.encoding_format == "base64" else v.tolist()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(max(1, len(t) // 4) for t in texts)  # approximate, like count_tokens of remote backends
        return {
            "object": "list",
            "data": data,
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @router.get("/models", summary="Models served here")
    async def models() -> dict[str, Any]:
        data = [{"id": n, "object": "model", "created": 0, "owned_by": m.backend} for n, m in chat_models.items()]
        data += [{"id": n, "object": "model", "created": 0, "owned_by": e.backend} for n, e in embedders.items()]
        return {"object": "list", "data": data}

    return router


def create_app(chat_models: Mapping[str, ChatModel] | None = None, embedders: Mapping[str, Embedder] | None = None):
    """A standalone app: the router at ``/v1`` with problem-details errors; local models from settings by default."""
    from shared.settings import get_settings

    settings = get_settings()
    if chat_models is None:
        from shared.serving.local import LocalChatModel

        local = LocalChatModel(settings.serving.local_model)
        chat_models = {local.model: local}
    if embedders is None:
        from shared.serving.embeddings import LocalEmbedder

        emb = LocalEmbedder(settings.embeddings.local_model, batch_size=settings.embeddings.batch_size)
        embedders = {emb.model: emb}
    app = FastAPI(title="Model server (OpenAI-compatible)", version="1.0")
    install_problem_handlers(app)
    app.include_router(create_model_server_router(chat_models, embedders), prefix="/v1")

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--model", action="append", help="local chat model name(s); default: settings")
    args = parser.parse_args(argv)
    chat = None
    if args.model:
        from shared.serving.local import LocalChatModel

        chat = {name: LocalChatModel(name) for name in args.model}
    uvicorn.run(create_app(chat), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
