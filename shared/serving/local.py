"""In-process chat model: transformers on CPU over the packaged GGUF models (converted once, see model_store).

One engine per (model, dtype) per process, shared by every ``LocalChatModel`` that names it.
Non-streaming requests go through a :class:`BatchScheduler`, which decodes compatible concurrent
requests in one left-padded ``generate`` call; streaming requests take the model lock and run
alone. Both paths share the same stopping logic and post-processing, so a streamed greedy answer
concatenates to exactly the non-streamed one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from shared.observability.tracing import span
from shared.serving import tools as toolfmt
from shared.serving.base import ChatModel, ServingError
from shared.serving.batching import BatchScheduler
from shared.serving.grammar import BatchGrammarProcessor, GrammarFactory, RowState
from shared.serving.model_store import ensure_converted, get_spec
from shared.serving.structured import schema_instruction, validate_schema
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, FinishReason, StreamChunk, ToolSpec, Usage
from shared.settings import ServingSettings, get_settings

log = logging.getLogger(__name__)

_TOOLS_FALLBACK_PROMPT = (
    "You may call one of these functions. To call one, answer only with\n"
    '<tool_call>\n{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>\n'
    "Functions:\n{tools}"
)


@dataclass
class _Job:
    """A request reduced to what ``generate`` needs, plus what post-processing needs."""

    prompt_ids: list[int]
    max_tokens: int
    stops: list[str]
    do_sample: bool
    temperature: float
    top_p: float
    seed: int | None
    grammar: Any = None  # xgr.CompiledGrammar
    tools: list[ToolSpec] = field(default_factory=list)
    forced_call: bool = False
    stop_ids: frozenset[int] = frozenset()  # besides EOS: token ids that end this row (raw completions)

    def batch_key(self) -> Hashable:
        """Requests batch together only when one ``generate`` call can serve them all."""
        if self.seed is not None and self.do_sample:
            return ("seeded", id(self))  # a seeded sample must not share the RNG with others
        return (self.do_sample, self.temperature, self.top_p) if self.do_sample else ("greedy",)


@dataclass
class _Raw:
    ids: list[int]  # generated ids up to and including the step that finished the row
    finish: FinishReason


class _RowStopper(StoppingCriteria):
    """Per-row stop: EOS, a stop string in the generated text, the row's own max_tokens, or cancel."""

    def __init__(self, jobs: Sequence[_Job], prompt_len: int, eos: set[int], tokenizer: Any, state: RowState) -> None:
        self.jobs = jobs
        self.prompt_len = prompt_len
        self.eos = eos
        self.tokenizer = tokenizer
        self.state = state
        self.finish: list[FinishReason | None] = [None] * len(jobs)
        self.n_tokens = [0] * len(jobs)
        self.cancelled = threading.Event()
        self._tail = [max((len(s) for s in j.stops), default=0) + 4 for j in jobs]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        n_gen = input_ids.shape[1] - self.prompt_len
        for i, job in enumerate(self.jobs):
            if self.state.done[i]:
                continue
            reason: FinishReason | None = None
            last = int(input_ids[i, -1])
            if last in self.eos or last in job.stop_ids:
                reason = "stop"
            elif job.stops:
                tail = self.tokenizer.decode(input_ids[i, -min(n_gen, self._tail[i]) :], skip_special_tokens=True)
                if any(s in tail for s in job.stops):
                    reason = "stop"
            if reason is None and n_gen >= job.max_tokens:
                reason = "length"
            if reason is None and self.cancelled.is_set():
                reason = "stop"
            if reason is not None:
                self.state.done[i] = True
                self.finish[i] = reason
                self.n_tokens[i] = n_gen
        return torch.tensor(self.state.done, dtype=torch.bool, device=input_ids.device)


class _QueueStreamer(BaseStreamer):
    """Hands generated token ids to the consuming thread (the first ``put`` is the prompt)."""

    def __init__(self) -> None:
        self.q: queue.Queue[list[int] | None] = queue.Queue()
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.q.put(value.reshape(-1).tolist())

    def end(self) -> None:
        self.q.put(None)


class LocalEngine:
    """A loaded model + tokenizer + batch scheduler; all model calls happen under ``lock``."""

    _engines: ClassVar[dict[tuple[str, str], LocalEngine]] = {}
    _engines_lock = threading.Lock()

    @classmethod
    def get(cls, model_name: str, settings: ServingSettings, cache_dir: Path | None) -> LocalEngine:
        path = ensure_converted(model_name, cache_dir, settings.local_dtype)
        key = (str(path), settings.local_dtype)
        with cls._engines_lock:
            if key not in cls._engines:
                cls._engines[key] = cls(model_name, path, settings)
            return cls._engines[key]

    def __init__(self, model_name: str, path: Path, settings: ServingSettings) -> None:
        t0 = time.perf_counter()
        if settings.local_threads:
            torch.set_num_threads(settings.local_threads)
        self.name = model_name
        self.spec = get_spec(model_name)
        self.dtype = getattr(torch, settings.local_dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.tokenizer.padding_side = "left"
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype, local_files_only=True).eval()
        gen = self.model.generation_config
        eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
        self.eos = {int(e) for e in [*eos, self.tokenizer.eos_token_id] if e is not None}
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self.eos)
        # a raw completion ends at the first control token it generates (end of text, a FIM or file marker):
        # past it the model is starting another document
        self.special_ids = frozenset(i for i, t in self.tokenizer.added_tokens_decoder.items() if t.special)
        template = self.tokenizer.chat_template or ""
        self.template_supports_tools = "tools" in template
        self.grammars = GrammarFactory(self.tokenizer, self.model.config.vocab_size, sorted(self.eos))
        self.lock = threading.Lock()
        # encoding may mutate the Rust tokenizer's padding/truncation state ("Already borrowed" under threads)
        self.tokenizer_lock = threading.Lock()
        self.scheduler: BatchScheduler[_Job, _Raw] = BatchScheduler(
            self._run_batch, settings.local_max_batch_size, settings.local_batch_wait_ms, name=f"batcher-{model_name}"
        )
        self.load_s = time.perf_counter() - t0
        log.info("loaded %s (%s) in %.1f s", model_name, settings.local_dtype, self.load_s)

    # -- generation ---------------------------------------------------------------------------
    def _generate_kwargs(self, jobs: Sequence[_Job], state: RowState, stopper: _RowStopper) -> dict[str, Any]:
        job = jobs[0]  # jobs in one batch share sampling settings (batch_key)
        kw: dict[str, Any] = {
            "max_new_tokens": max(j.max_tokens for j in jobs),
            "pad_token_id": self.pad_id,
            "eos_token_id": sorted(self.eos),
            "stopping_criteria": StoppingCriteriaList([stopper]),
            "do_sample": job.do_sample,
            "top_k": None,
        }
        if job.do_sample:
            kw.update(temperature=job.temperature, top_p=job.top_p, top_k=0)
            if job.seed is not None:
                torch.manual_seed(job.seed)
        else:
            kw.update(temperature=None, top_p=None)
        if any(j.grammar is not None for j in jobs):
            kw["logits_processor"] = LogitsProcessorList(
                [BatchGrammarProcessor([j.grammar for j in jobs], self.grammars.vocab_size, state)]
            )
        return kw

    def _inputs(self, jobs: Sequence[_Job]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(j.prompt_ids) for j in jobs)
        ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for i, j in enumerate(jobs):  # left padding: every row's last prompt token is aligned
            ids[i, width - len(j.prompt_ids) :] = torch.tensor(j.prompt_ids)
            mask[i, width - len(j.prompt_ids) :] = 1
        return ids, mask

    def _run_batch(self, jobs: Sequence[_Job]) -> list[_Raw]:
        ids, mask = self._inputs(jobs)
        state = RowState(len(jobs))
        stopper = _RowStopper(jobs, ids.shape[1], self.eos, self.tokenizer, state)
        with self.lock, torch.inference_mode(), span("llm.generate", model=self.name, batch=len(jobs)):
            out = self.model.generate(ids, attention_mask=mask, **self._generate_kwargs(jobs, state, stopper))
        results = []
        for i in range(len(jobs)):
            gen = out[i, ids.shape[1] :].tolist()
            n = stopper.n_tokens[i] if stopper.finish[i] else len(gen)
            results.append(_Raw(gen[:n], stopper.finish[i] or "length"))
        return results

    def stream_ids(self, job: _Job) -> Iterator[list[int]]:
        """Yield generated ids as they come (alone, under the model lock); returns the _Raw at the end."""
        ids, mask = self._inputs([job])
        state = RowState(1)
        stopper = _RowStopper([job], ids.shape[1], self.eos, self.tokenizer, state)
        streamer = _QueueStreamer()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with self.lock, torch.inference_mode(), span("llm.generate", model=self.name, batch=1, stream=True):
                    kwargs = self._generate_kwargs([job], state, stopper)  # seeds the RNG: only under the lock
                    self.model.generate(ids, attention_mask=mask, streamer=streamer, **kwargs)
            except BaseException as exc:  # surfaced to the consumer below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, name="stream-generate", daemon=True)
        thread.start()
        produced: list[int] = []
        try:
            while (piece := streamer.q.get()) is not None:
                produced.extend(piece)
                yield piece
        finally:
            stopper.cancelled.set()  # consumer gone (e.g. client disconnect): stop decoding
            thread.join()
        if errors:
            raise ServingError(f"local generation failed: {errors[0]}") from errors[0]
        n = stopper.n_tokens[0] if stopper.finish[0] else len(produced)
        return _Raw(produced[:n], stopper.finish[0] or "length")


def _trim_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class LocalChatModel(ChatModel):
    """A ChatModel running a packaged model in this process (settings.serving.local_*)."""

    backend = "local"

    def __init__(
        self, model_name: str | None = None, settings: ServingSettings | None = None, cache_dir: Path | None = None
    ) -> None:
        self.settings = settings or get_settings().serving
        self.model = model_name or self.settings.local_model
        self.engine = LocalEngine.get(self.model, self.settings, cache_dir)
        self.tokenizer = self.engine.tokenizer

    def count_tokens(self, text: str) -> int:
        with self.engine.tokenizer_lock:
            return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    # -- request -> job -----------------------------------------------------------------------
    def _messages(self, request: ChatRequest, tools: list[ToolSpec]) -> list[dict[str, Any]]:
        messages = request.all_messages()
        extra: list[str] = []
        if request.response_schema is not None:
            extra.append(schema_instruction(request.response_schema))
        if tools and not self.engine.template_supports_tools:
            listing = "\n".join(t.model_dump_json() for t in tools)
            extra.append(_TOOLS_FALLBACK_PROMPT.format(tools=listing))
        if extra:
            if messages and messages[0].role == "system":
                first = messages[0].content or ""
                messages[0] = ChatMessage.system("\n\n".join([first, *extra]))
            else:
                messages.insert(0, ChatMessage.system("\n\n".join(extra)))
        return toolfmt.template_messages(messages)

    def _job(self, request: ChatRequest) -> _Job:
        tools = toolfmt.selected_tools(request.tools, request.tool_choice)
        forced = bool(tools) and request.tool_choice != "auto"
        grammar = None
        if request.response_schema is not None:
            grammar = self._compile(validate_schema(request.response_schema))
        elif forced:
            grammar = self._compile(toolfmt.forced_call_schema(tools))
        kwargs: dict[str, Any] = {"add_generation_prompt": True, "tokenize": False}
        if tools and self.engine.template_supports_tools:
            kwargs["tools"] = toolfmt.template_tools(tools)
        with self.engine.tokenizer_lock:
            if request.prompt is not None:  # raw completion: the caller's exact text (special tokens included)
                prompt = request.prompt
            else:
                prompt = self.tokenizer.apply_chat_template(self._messages(request, tools), **kwargs)
            if forced:
                prompt += toolfmt.TOOL_CALL_OPEN + "\n"  # the answer starts inside a call; the grammar does the rest
            prompt_ids = self.tokenizer(prompt, add_special_tokens=False).input_ids
        max_tokens = request.max_tokens or self.settings.default_max_tokens
        room = self.engine.spec.context_window - len(prompt_ids)
        if room < 1:
            raise ValueError(f"prompt has {len(prompt_ids)} tokens; the context window is {room + len(prompt_ids)}")
        return _Job(
            prompt_ids=prompt_ids,
            max_tokens=min(max_tokens, room),
            stops=[s for s in (request.stop or []) if s],
            do_sample=request.temperature > 0,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            grammar=grammar,
            tools=tools,
            forced_call=forced,
            stop_ids=self.engine.special_ids if request.prompt is not None else frozenset(),
        )

    def _compile(self, schema: dict[str, Any]) -> Any:
        try:
            return self.engine.grammars.json_schema(schema)
        except Exception as exc:  # valid JSON schema, but a feature xgrammar cannot compile
            log.warning("cannot constrain decoding to this schema (%s); relying on validation", exc)
            return None

    def _finish(self, job: _Job, raw: _Raw, latency_s: float) -> ChatResult:
        text = self.tokenizer.decode(raw.ids, skip_special_tokens=True)
        text, _ = _trim_stop(text, job.stops)
        finish: FinishReason = raw.finish
        calls = []
        if job.tools:
            rest, calls = toolfmt.parse_tool_calls(text, job.tools)
            if calls:
                text, finish = rest, "tool_calls"
        usage = Usage(
            prompt_tokens=len(job.prompt_ids),
            completion_tokens=len(raw.ids),
            total_tokens=len(job.prompt_ids) + len(raw.ids),
        )
        return ChatResult(
            text=text,
            tool_calls=calls,
            finish_reason=finish,
            usage=usage,
            model=self.model,
            backend=self.backend,
            latency_s=latency_s,
        )

    # -- ChatModel ------------------------------------------------------------------------------
    def chat(self, request: ChatRequest) -> ChatResult:
        t0 = time.perf_counter()
        with span("llm.chat", backend=self.backend, model=self.model):
            job = self._job(request)
            raw = self.engine.scheduler.submit(job, job.batch_key()).result()
            return self._finish(job, raw, time.perf_counter() - t0)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        """Text deltas as decoded; a trailing partial stop string or UTF-8 sequence is held back."""
        job = self._job(request)
        if job.tools:  # a call is only known once complete: answer in one piece (tool calls via chat())
            result = self.chat(request)
            yield StreamChunk(delta=result.text, finish_reason=result.finish_reason, usage=result.usage)
            return
        t0 = time.perf_counter()
        ids: list[int] = []
        sent = ""
        gen = self.engine.stream_ids(job)
        holdback = max((len(s) for s in job.stops), default=1) - 1
        while True:
            try:
                ids.extend(next(gen))
            except StopIteration as stop:
                raw: _Raw = stop.value
                break
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            text, hit = _trim_stop(text, job.stops)
            safe = text if hit else text[: len(text) - holdback] if holdback else text
            safe = safe.rstrip("\ufffd")
            if len(safe) > len(sent) and safe.startswith(sent):
                yield StreamChunk(delta=safe[len(sent) :])
                sent = safe
        final = self._finish(job, raw, time.perf_counter() - t0)
        rest = final.text[len(sent) :] if final.text.startswith(sent) else ""
        yield StreamChunk(delta=rest, finish_reason=final.finish_reason, usage=final.usage)
