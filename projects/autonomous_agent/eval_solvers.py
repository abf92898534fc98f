"""What the evaluation runs: the ``Solver`` interface and the solvers measured against each other.

- ``SingleShotSolver``: the baseline the issue asks for — the same model, no tools, no loop: one request per item,
  the answer (a number, or JSON calls) read out of the text once, nothing validated, repaired or retried.
- ``ToolCallingSolver`` (BFCL): the serving layer's native tool calling; calls are validated against the schemas
  and an invalid answer is sent back with the validation error, a bounded number of times.
- ``LoopMathSolver`` (GSM8K): the agent loop itself, with the python and calculator tools.

Every solver reports the same stats (steps = model requests, tokens, budget exhaustion, loop recoveries), so the
summary compares like with like. Solvers are called from a thread pool: they keep no per-item state on ``self``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from projects.autonomous_agent import bfcl
from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, ToolSpec


@dataclass(slots=True)
class SolveResult:
    """A math answer: ``answer`` is the final answer text (the harness reads the number out of it)."""

    answer: str
    steps: int = 1
    budget_exhausted: bool = False
    loop_recoveries: int = 0
    latency_s: float = 0.0
    tokens: int = 0
    error: str | None = None
    repairs: int = 0  # answers sent back with an error to be fixed
    trace: list[dict[str, Any]] = field(default_factory=list)  # what each step did (results.jsonl)


@dataclass(slots=True)
class CallResult:
    """The calls the solver would make (not executed): ``[{"name": <BFCL name>, "arguments": {...}}]``."""

    calls: list[dict[str, Any]]
    steps: int = 1
    budget_exhausted: bool = False
    loop_recoveries: int = 0
    latency_s: float = 0.0
    tokens: int = 0
    error: str | None = None
    repairs: int = 0
    trace: list[dict[str, Any]] = field(default_factory=list)


@runtime_checkable
class Solver(Protocol):
    name: str

    def solve_math(self, question: str) -> SolveResult: ...

    def call_functions(self, question: list[dict] | str, functions: list[dict]) -> CallResult: ...


# -- shared helpers ------------------------------------------------------------------------------------------------
MATH_SYSTEM = (
    "Solve the math word problem. Reason briefly step by step, then write the final answer on the last line as "
    "'#### <number>' (just the number, no units)."
)
CALL_SYSTEM = (
    "You are a function-calling assistant. The available functions (JSON schema):\n{functions}\n\n"
    "Answer with ONLY a JSON list of the calls that fulfil the request, each "
    '{{"name": <function name>, "arguments": {{<parameter>: <value>}}}}; several calls if several are needed. '
    "If none of the functions fits the request, answer with []."
)
TOOL_SYSTEM = (
    "You are a function-calling assistant. Call the functions that fulfil the user's request, with every required "
    "argument taken from the request; make several calls if several are needed. If none of the functions fits, "
    "do not call any: say so in one sentence."
)


def _tokens(result: ChatResult) -> int:
    usage = result.usage
    return usage.total_tokens or usage.prompt_tokens + usage.completion_tokens


def question_messages(question: list[dict] | str) -> tuple[str | None, list[ChatMessage]]:
    """(the question's own system text, its other messages): BFCL questions may carry a system message, which
    is appended to the solver's instructions rather than sent as a second system message."""
    if isinstance(question, str):
        return None, [ChatMessage.user(question)]
    system = "\n\n".join(m["content"] for m in question if m.get("role") == "system" and m.get("content")) or None
    messages = [ChatMessage(role=m["role"], content=m.get("content") or "") for m in question if m["role"] != "system"]
    return system, messages or [ChatMessage.user("")]


def _join(*parts: str | None) -> str:
    return "\n\n".join(p for p in parts if p)


def coerce_to_schema(arguments: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Whole floats given for ``integer`` parameters become ints (``4.0`` -> ``4``): JSON schema accepts both, a
    Python function does not. Nothing else is changed."""
    props = parameters.get("properties", {})
    out = dict(arguments)
    for name, value in arguments.items():
        if props.get(name, {}).get("type") == "integer" and isinstance(value, float) and value.is_integer():
            out[name] = int(value)
    return out


# -- the baseline --------------------------------------------------------------------------------------------------
class SingleShotSolver:
    """Same model, no tools, no loop: one request per item, parsed once."""

    name = "single_shot"

    def __init__(self, chat: ChatModel, *, math_max_tokens: int = 320, call_max_tokens: int = 256) -> None:
        self.chat = chat
        self.math_max_tokens = math_max_tokens
        self.call_max_tokens = call_max_tokens

    def solve_math(self, question: str) -> SolveResult:
        messages = [ChatMessage.user(question)]
        request = ChatRequest(system=MATH_SYSTEM, messages=messages, max_tokens=self.math_max_tokens)
        result = self.chat.chat(request)
        return SolveResult(answer=result.text, tokens=_tokens(result), trace=[{"text": result.text}])

    def call_functions(self, question: list[dict] | str, functions: list[dict]) -> CallResult:
        own_system, messages = question_messages(question)
        listing = json.dumps(functions, ensure_ascii=False)
        request = ChatRequest(
            system=_join(CALL_SYSTEM.format(functions=listing), own_system),
            messages=messages,
            max_tokens=self.call_max_tokens,
        )
        result = self.chat.chat(request)
        return CallResult(calls=bfcl.extract_calls(result.text), tokens=_tokens(result), trace=[{"text": result.text}])


# -- native tool calling with validation and bounded repair --------------------------------------------------------
class ToolCallingSolver:
    """BFCL through ``ChatRequest(tools=...)``: validate every call, send invalid ones back (at most ``repairs``
    times) with the validation error, and nudge (at a little temperature) when the model repeats the same answer."""

    name = "tool_calling"

    def __init__(self, chat: ChatModel, *, max_tokens: int = 256, repairs: int = 2) -> None:
        self.chat = chat
        self.max_tokens = max_tokens
        self.repairs = repairs

    def solve_math(self, question: str) -> SolveResult:  # not a tool-calling task: answer directly
        return SingleShotSolver(self.chat, math_max_tokens=self.max_tokens).solve_math(question)

    def call_functions(self, question: list[dict] | str, functions: list[dict]) -> CallResult:
        names = bfcl.tool_names(functions)
        back = {tool: original for original, tool in names.items()}
        docs = {fn["name"]: fn for fn in functions}
        tools = [
            ToolSpec(
                name=names[fn["name"]],
                description=fn.get("description", ""),
                parameters=bfcl.to_json_schema(fn["parameters"]),
            )
            for fn in functions
        ]
        own_system, messages = question_messages(question)
        system = _join(TOOL_SYSTEM, own_system)
        out = CallResult(calls=[], steps=0)
        seen: set[str] = set()
        temperature = 0.0
        for attempt in range(self.repairs + 1):
            request = ChatRequest(
                system=system, messages=messages, tools=tools, max_tokens=self.max_tokens, temperature=temperature
            )
            result = self.chat.chat(request)
            out.steps += 1
            out.tokens += _tokens(result)
            calls = [
                {"name": back.get(c.name, c.name), "arguments": c.arguments}
                for c in result.tool_calls  # the serving layer returns only calls that parsed and validated
            ]
            if not calls and "<tool_call>" not in result.text:
                # calls written as bare JSON (several objects in a row, no tags): take them if they validate
                written = [{**c, "name": back.get(c["name"], c["name"])} for c in bfcl.extract_calls(result.text)]
                if written and all(bfcl.validate_call(c, functions) is None for c in written):
                    calls, result = written, result.model_copy(update={"text": ""})
                    out.repairs += 1
            calls = [
                {**c, "arguments": coerce_to_schema(c["arguments"], docs[c["name"]]["parameters"])}
                if c["name"] in docs
                else c
                for c in calls
            ]
            problem = self._problem(result.text, calls, functions, back)
            out.trace.append({"text": result.text, "calls": calls, "problem": problem})
            # what the agent would do if this was its last answer: every call it attempted, valid or not (an
            # attempted call to a made-up function must still count against it on irrelevance)
            attempted = bfcl.extract_calls(result.text) if problem else []
            out.calls = calls + [{**c, "name": back.get(c["name"], c["name"])} for c in attempted]
            if problem is None:
                out.error = None
                return out
            out.error = problem
            if attempt == self.repairs:
                break
            signature = result.text + json.dumps(calls, sort_keys=True, default=str)
            feedback = f"That answer was not a valid function call: {problem}. Answer again with corrected calls."
            if signature in seen:
                out.loop_recoveries += 1
                temperature = 0.4  # greedy decoding would repeat the same answer forever
                feedback = f"You repeated the same invalid answer. {feedback} Try a different approach."
            seen.add(signature)
            out.repairs += 1
            assistant = ChatMessage(
                role="assistant",
                content=result.text,
                tool_calls=[tc for tc in result.tool_calls] or None,
            )
            messages = [*messages, assistant, ChatMessage.user(feedback)]
        out.budget_exhausted = True
        return out

    @staticmethod
    def _problem(text: str, calls: list[dict], functions: list[dict], back: dict[str, str]) -> str | None:
        """What is wrong with an answer, or None. Text with no call attempt in it is a deliberate "no call"."""
        for call in calls:
            if error := bfcl.validate_call(call, functions):
                return error
        leftover = text.strip()
        if "<tool_call>" in leftover:
            attempts = bfcl.extract_calls(leftover)
            for call in attempts:
                call = {**call, "name": back.get(call["name"], call["name"])}
                if error := bfcl.validate_call(call, functions):
                    return error
            return 'the <tool_call> block is not valid JSON of the form {"name": ..., "arguments": {...}}'
        if not calls and (attempts := bfcl.extract_calls(leftover)):
            for call in attempts:
                call = {**call, "name": back.get(call["name"], call["name"])}
                if error := bfcl.validate_call(call, functions):
                    return error
            return "the call was written as text; use the function-calling format"
        return None


# -- GSM8K through the sandbox (placeholder for the agent loop) ----------------------------------------------------
class CombinedSolver:
    """One ``Solver`` from a math solver and a function-calling solver (each used for its own dataset)."""

    def __init__(self, name: str, math: Solver, calls: Solver) -> None:
        self.name = name
        self.math = math
        self.calls = calls

    def solve_math(self, question: str) -> SolveResult:
        return self.math.solve_math(question)

    def call_functions(self, question: list[dict] | str, functions: list[dict]) -> CallResult:
        return self.calls.call_functions(question, functions)


class LoopMathSolver:
    """GSM8K through the real agent loop (``loop.py``): the question is the goal, ``python`` and ``calculator``
    the tools, the run's final answer the answer. Runs are stored like any other (tenant ``eval``), so each item's
    trace can be opened in the portal. Planning and model verification are off here (``AGENT__EVAL_PLAN``): on
    a 2-core CPU each costs a model call per step, and for one-question goals the plan is the question."""

    name = "agent_loop"

    def __init__(self, chat: ChatModel, settings: Any, url: str) -> None:
        from projects.autonomous_agent.loop import AgentLoop
        from projects.autonomous_agent.store import AgentStore
        from projects.autonomous_agent.tools import default_registry

        s = settings.model_copy(update={
            "plan": settings.eval_plan, "verify_with_model": settings.eval_plan, "memory": False,
            "act_max_tokens": settings.eval_math_max_tokens,
        })  # fmt: skip
        registry = default_registry(s, knowledge=False, sql_url=False, http=False).subset(["python", "calculator"])
        self.loop = AgentLoop(chat, registry, AgentStore(url), s)
        self.settings = s

    def solve_math(self, question: str) -> SolveResult:
        from projects.autonomous_agent.types import Budget

        s = self.settings
        budget = Budget(max_steps=s.eval_max_steps, max_tokens=s.max_tokens, max_wall_s=s.eval_max_wall_s)
        run_id = self.loop.start(question, tools=["python", "calculator"], budget=budget, tenant="eval")
        state = self.loop.run(run_id)
        trace = [{"kind": e["kind"], **{k: str(v)[:300] for k, v in e["data"].items()}}
                 for e in self.loop.store.events(run_id)]  # fmt: skip
        return SolveResult(
            answer=state.final_answer or "", steps=max(1, state.usage.steps), latency_s=state.usage.wall_s,
            budget_exhausted=state.status == "budget_exhausted", loop_recoveries=state.loop_recoveries,
            tokens=state.usage.tokens, repairs=state.repairs, trace=[{"run_id": run_id}, *trace],
            error=None if state.status in ("succeeded", "budget_exhausted", "failed") else state.status,
        )  # fmt: skip
