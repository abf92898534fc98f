"""The agent loop: goal → plan → act → observe → verify → (re-plan) → answer, one checkpoint per step.

Why it is shaped like this:

* **Every step is a checkpoint** (``AgentStore.save_checkpoint``) written after the step's observation, so a run
  killed at any point (``kill -9``, a deploy) resumes from its last completed step with its budget as spent
  (``run`` loads the newest checkpoint). A step interrupted mid-way is redone: tools may run twice, which is why
  the workspace tools are idempotent writes and ``python`` runs on a copy (``tools/python_exec.py``).
* **Budgets are checked before every model call**: steps, tokens, wall time (pauses for approval excluded) and
  cost. Exhausting one ends the run as ``budget_exhausted`` with the evidence gathered so far, never silently.
* **Loops are detected and broken, not only stopped**: the same action ``loop_window`` times in a row, or an action
  that already returned the same observation, gets a note in the scratchpad ("you did X and got Y: do something
  different"); if that does not help, the plan is rebuilt; only then does the run stop (``failed``, reason loop).
* **Dangerous tools pause the run** (permission in ``AGENT__APPROVAL_REQUIRED``): the call is stored as an
  approval, the state is checkpointed with it pending, and the run ends as ``waiting_approval``. The service
  queues the run again when a human decides; a denied call becomes the observation "denied by <who>: <note>".
* **Malformed tool calls are repaired or re-asked, bounded** (``max_repairs``): a call-shaped answer that did not
  parse gets the parser's complaint back once or twice; a call with bad arguments reaches the registry, whose
  precise validation error is the observation the model corrects from.
* **Verification**: a failed tool call fails the step outright; a successful one is checked against the step's
  success criterion by a short structured model call (``verify_with_model``). A step that does not get there in
  ``max_step_attempts`` actions triggers a re-plan with what was learned (``max_replans``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from projects.autonomous_agent.memory import EpisodicMemory
from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.state import AgentState
from projects.autonomous_agent.store import AgentStore, StateConflict
from projects.autonomous_agent.tools.registry import ToolRegistry
from projects.autonomous_agent.types import Action, Budget, PlanStep, ToolContext, ToolResult
from shared.guardrails.secrets import redact_secrets
from shared.serving.base import ChatModel, ServingError
from shared.serving.structured import generate_structured
from shared.serving.types import ChatMessage, ChatRequest, ChatResult

log = logging.getLogger(__name__)

FINAL_MARK = "FINAL ANSWER:"
_CALL_SHAPED = re.compile(r"<tool_call>|^\s*\{\s*\"(?:name|tool)\"|```(?:json)?\s*\{\s*\"(?:name|tool)\"", re.M)

SYSTEM = (
    "You are an autonomous agent. You work towards the user's goal one action at a time, using the tools. "
    "Each turn, either call exactly one tool, or, when the goal is achieved, reply with '"
    + FINAL_MARK
    + " <answer>' followed by the evidence (tool results) it rests on. Use the python tool for any computation "
    "and print the result. Never invent tool results."
)


class PlanOut(BaseModel):
    steps: list[PlanStep] = Field(min_length=1)


class Verdict(BaseModel):
    satisfied: bool
    evidence: str = ""


Emit = Callable[[str, dict[str, Any]], None]


class AgentLoop:
    """Runs one agent (a goal, a tool set, a budget) to completion, approval, or exhaustion."""

    def __init__(
        self,
        chat: ChatModel,
        registry: ToolRegistry,
        store: AgentStore,
        settings: AgentSettings | None = None,
        memory: EpisodicMemory | None = None,
        system: str = SYSTEM,
    ) -> None:
        self.chat = chat
        self.registry = registry
        self.store = store
        self.settings = settings or get_agent_settings()
        self.memory = memory
        self.system = system

    # -- public ---------------------------------------------------------------------------------------------------
    def start(
        self,
        goal: str,
        *,
        tools: list[str] | None = None,
        budget: Budget | None = None,
        tenant: str = "default",
        agent: str = "agent",
        parent_id: str | None = None,
    ) -> str:
        """Create the run (status ``queued``); :meth:`run` works it."""
        s = self.settings
        budget = budget or Budget(
            max_steps=s.max_steps, max_tokens=s.max_tokens, max_wall_s=s.max_wall_s, max_cost_usd=s.max_cost_usd
        )
        available = self.registry.names()
        if tools is None:  # the default tool set; only a supervisor delegates (workers never: one level deep)
            tools = [n for n in available if n != "delegate" or agent == "supervisor"]
        names = [n for n in tools if n in available]
        return self.store.create_run(goal, tools=names, budget=budget, tenant=tenant, agent=agent, parent_id=parent_id)

    def run(self, run_id: str) -> AgentState:
        """Work the run until it finishes or waits for a human; resumes from the newest checkpoint.

        One worker at a time per run: the run's advisory lock is held for the whole call, so a job queued by an
        approval while the previous worker is still writing its last checkpoint waits for it, then continues
        from that checkpoint (rather than two workers stepping the same run)."""
        with self.store.run_lock(run_id):
            return self._run_locked(run_id)

    def _run_locked(self, run_id: str) -> AgentState:
        row = self.store.get_run(run_id)
        state = self.store.load_checkpoint(run_id)
        if row.finished:
            return state or AgentState(run_id=run_id, goal=row.goal, status=row.status)
        if not self.store.transition(run_id, "running", allowed_from=("queued", "running", "waiting_approval")):
            raise StateConflict(f"run {run_id} is {self.store.get_run(run_id).status}")
        if state is None:
            state = AgentState(
                run_id=run_id, goal=row.goal, tenant=row.tenant, agent=row.agent, tools=row.tools, budget=row.budget
            )
            self._begin(state)
        else:
            self._emit(state, "resumed", {"step": state.step, "usage": state.usage.model_dump()})
        state.status = "running"
        return self._loop(state)

    # -- the loop -------------------------------------------------------------------------------------------------
    def _begin(self, state: AgentState) -> None:
        if self.memory is not None and self.settings.memory:
            state.memories = self.memory.recall(state.tenant, state.goal)
            if state.memories:
                self._emit(state, "memory", {"memories": state.memories})
        state.plan = self._plan(state, failure=None)
        self._emit(state, "plan", {"steps": [p.model_dump() for p in state.plan]})
        self._checkpoint(state)

    def _loop(self, state: AgentState) -> AgentState:
        s = self.settings
        clock = time.perf_counter()
        repairs_this_step = 0
        while True:
            state.usage.wall_s += time.perf_counter() - clock
            clock = time.perf_counter()
            if self.store.run_status(state.run_id) == "cancelled":
                state.status = "cancelled"
                self._emit(state, "cancelled", {})
                self._checkpoint(state)
                return state
            if state.pending is not None:
                if not self._decided(state):
                    return self._wait(state)
                continue
            spent = state.usage.exhausted(state.budget)
            if spent is not None:
                return self._finish(state, "budget_exhausted", reason=f"budget exhausted: {spent}")
            if state.error:  # an unbreakable loop, recorded by _detect_loop
                return self._finish(state, "failed")
            action = self._decide(state)
            if action is None:  # a malformed call: re-asked within max_repairs
                repairs_this_step += 1
                state.repairs += 1
                if repairs_this_step > s.max_repairs:
                    state.note("note", "Your last answers were not valid tool calls.", s.scratchpad_keep)
                    repairs_this_step = 0
                    self._step_done(state)
                continue
            repairs_this_step = 0
            if action.kind == "final":
                if self._accept_final(state, action):
                    return self._finish(state, "succeeded")
                self._step_done(state)
                continue
            if self._needs_approval(action):
                return self._ask_approval(state, action)
            result = self._act(state, action)
            self._observe(state, action, result)
            self._step_done(state)

    def _step_done(self, state: AgentState) -> None:
        state.usage.steps += 1
        state.step += 1
        self._checkpoint(state)

    # -- planning -------------------------------------------------------------------------------------------------
    def _plan(self, state: AgentState, failure: str | None) -> list[PlanStep]:
        s = self.settings
        fallback = [PlanStep(description=state.goal, success_criterion="the goal is answered with evidence")]
        if not s.plan:
            return fallback
        tools = ", ".join(f"{t.name} ({t.description[:80]})" for t in self.registry.specs(state.tools))
        lines = [f"Goal: {state.goal}", f"Tools: {tools}"]
        if state.memories:
            lines.append("What worked for similar goals:\n" + "\n".join(f"- {m}" for m in state.memories))
        if failure:
            lines.append(f"The previous plan failed: {failure}\nEvidence so far:\n" + self._history(state))
        lines.append(
            f"Write a plan of at most {s.max_plan_steps} steps. Each step: a 'description' of one action and a "
            "'success_criterion' that an observation can confirm."
        )
        request = ChatRequest(
            messages=[ChatMessage.user("\n\n".join(lines))],
            system="You plan the work of an autonomous agent. Answer with JSON only.",
            max_tokens=s.plan_max_tokens,
            temperature=0.0,
        )
        try:
            plan = generate_structured(self._counted(state), request, PlanOut, 1)
            steps = [PlanStep(description=p.description, success_criterion=p.success_criterion) for p in plan.steps]
            return steps[: s.max_plan_steps] or fallback
        except (ServingError, ValueError) as exc:
            self._emit(state, "note", {"text": f"planning failed ({type(exc).__name__}); one step: the goal"})
            return fallback

    def _replan(self, state: AgentState, why: str) -> bool:
        if state.replans >= self.settings.max_replans:
            return False
        state.replans += 1
        state.plan = self._plan(state, failure=why)
        state.current = 0
        self._emit(state, "replan", {"why": why, "steps": [p.model_dump() for p in state.plan]})
        return True

    # -- acting ---------------------------------------------------------------------------------------------------
    def _decide(self, state: AgentState) -> Action | None:
        """The model's next action; None for a call-shaped answer that could not be repaired (it is re-asked).

        When every plan step is done, or a loop was just broken, the model is asked for the final answer with no
        tools offered: small models otherwise keep calling the tool whose result they already have."""
        s = self.settings
        answering = state.answer_now or (bool(state.plan) and state.current >= len(state.plan))
        specs = [] if answering else self.registry.specs(state.tools)
        prompt = self._prompt(state)
        if answering:
            prompt += f"\n\nWrite the final answer now, starting with '{FINAL_MARK}', from the results above."
        request = ChatRequest(
            messages=[ChatMessage.user(prompt)],
            system=self.system,
            tools=specs or None,
            max_tokens=s.answer_max_tokens if answering else s.act_max_tokens,
            temperature=0.0,
        )
        try:
            result = self._counted(state).chat(request)
        except ServingError as exc:
            state.note("note", f"model error: {exc}", s.scratchpad_keep)
            self._emit(state, "error", {"text": f"model error: {exc}"})
            return Action(kind="tool", tool="__model_error__", thought=str(exc))
        state.answer_now = False
        thought = (result.text or "").strip()
        if s.redact_secrets:  # what the model says is stored (trace, scratchpad, answer): no credentials in it
            thought = redact_secrets(thought)
        if result.tool_calls:
            call = result.tool_calls[0]
            return self._tool_action(state, call.name, call.arguments, thought)
        if FINAL_MARK.lower() in thought.lower() or not specs:
            answer = re.split(re.escape(FINAL_MARK), thought, maxsplit=1, flags=re.I)[-1].strip()
            self._emit(state, "thought", {"text": thought[:2000]})
            return Action(kind="final", answer=answer or thought, thought=thought)
        if _CALL_SHAPED.search(thought):
            repaired, complaint = self._repair(thought, specs)
            if repaired is not None:
                state.repairs += 1
                self._emit(state, "repair", {"text": thought[:500], "repaired": complaint})
                return self._tool_action(state, repaired[0], repaired[1], thought)
            state.note("note", complaint, s.scratchpad_keep)
            self._emit(state, "repair", {"text": thought[:500], "complaint": complaint})
            return None
        # Plain prose without a call: treat it as the model's answer for this step (small models often do this).
        self._emit(state, "thought", {"text": thought[:2000]})
        return Action(kind="final", answer=thought, thought=thought)

    def _tool_action(self, state: AgentState, name: str, arguments: dict[str, Any], thought: str) -> Action:
        self._emit(state, "action", {"tool": name, "arguments": arguments, "thought": thought[:500]})
        return Action(kind="tool", tool=name, arguments=arguments, thought=thought)

    def _repair(self, text: str, specs: list) -> tuple[tuple[str, dict[str, Any]] | None, str]:
        """A call-shaped answer the parser refused: ((name, arguments), what was fixed) when it can be repaired
        without guessing (a known tool; arguments that validate once keys the schema does not have are dropped,
        or once double-encoded JSON is decoded), else (None, a complaint naming exactly what is wrong)."""
        known = {t.name: t for t in specs}
        obj = None
        for match in re.finditer(r"\{", text):
            try:
                obj, _ = json.JSONDecoder().raw_decode(text, match.start())
                break
            except json.JSONDecodeError:
                continue
        if not isinstance(obj, dict):
            return None, (
                'Your tool call was not valid JSON. Reply with one call: <tool_call>{"name": ..., "arguments": '
                "{...}}</tool_call>. Known tools: " + ", ".join(known)
            )
        name = obj.get("name") or obj.get("tool")
        args = obj.get("arguments", obj.get("parameters", {}))
        if name not in known and isinstance(args, dict) and args:
            # A small model names the tool after the plan step; arguments that fit exactly one tool (once keys
            # that tool does not have are dropped) say which.
            fits = {}
            for tool in known:
                allowed = set((known[tool].parameters or {}).get("properties", {}))
                kept = {k: v for k, v in args.items() if k in allowed}
                if kept and self.registry.validate(tool, kept) is None:
                    fits[tool] = kept
            if len(fits) == 1:
                [(tool, kept)] = fits.items()
                return (tool, kept), f"unknown tool {name!r}: the arguments fit only {tool}"
        if name not in known:
            return None, f"There is no tool {name!r}. Known tools: {', '.join(known)}."
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                return None, f"The arguments of {name} must be a JSON object, not a string."
        if not isinstance(args, dict):
            return None, f"The arguments of {name} must be a JSON object."
        allowed = set((known[name].parameters or {}).get("properties", {}))
        dropped = sorted(set(args) - allowed)
        cleaned = {k: v for k, v in args.items() if k in allowed}
        error = self.registry.validate(name, cleaned)
        if error is None:
            return (name, cleaned), f"dropped unknown arguments {dropped}" if dropped else "re-read the call"
        return None, f"The call to {name} is invalid: {error}. Fix the arguments and call it again."

    def _act(self, state: AgentState, action: Action) -> ToolResult:
        if action.tool == "__model_error__":
            return ToolResult(ok=False, error=action.thought)
        workspace = Path(self.settings.workspace_root) / state.run_id
        workspace.mkdir(parents=True, exist_ok=True)
        ctx = ToolContext(run_id=state.run_id, workspace=workspace, tenant=state.tenant)
        if action.tool not in state.tools:
            return ToolResult(ok=False, error=f"tool {action.tool!r} is not available to this agent: {state.tools}")
        return self.registry.call(action.tool or "", action.arguments, ctx)

    def _observe(self, state: AgentState, action: Action, result: ToolResult) -> None:
        s = self.settings
        text = result.output if result.ok else f"ERROR: {result.error}"
        if result.ok and result.truncated:
            text += "\n(output truncated)"
        if s.redact_secrets:  # a tool read a .env or a config: the key goes no further than this line
            text = redact_secrets(text)
        arguments = json.dumps(action.arguments, default=str)
        if len(arguments) > 2000:  # never a cut inside a value the model might copy back: say it was cut instead
            arguments = f"<{len(arguments)} characters of arguments>"
        state.note("action", f"{action.tool}({arguments})", s.scratchpad_keep)
        state.note("observation", text, s.scratchpad_keep)
        self._emit(
            state,
            "observation",
            {"tool": action.tool, "ok": result.ok, "text": text, "duration_s": round(result.duration_s, 3)},
        )
        self._detect_loop(state, action, text)
        step = state.active_step
        if step is None:
            return
        step.attempts += 1
        step.status = "active"
        if step.description == state.goal:  # the fallback plan (the goal itself): the final answer is what is
            if result.ok:  # judged, so every call may add evidence and the step stays open until the answer
                state.evidence = [*state.evidence[-9:], f"{action.tool}: {text[:300]}"]
            return
        if result.ok and self._verified(state, step, text):
            step.status = "done"
            step.evidence = f"{action.tool}: {text[:300]}"
            state.evidence.append(f"step {state.current + 1} ({step.description[:80]}): {step.evidence}")
            state.current += 1
            return
        if step.attempts >= s.max_step_attempts:
            step.status = "failed"
            if not self._replan(state, f"step '{step.description}' did not meet '{step.success_criterion}'"):
                state.current += 1  # out of re-plans: move on; the final answer says what is missing

    def _verified(self, state: AgentState, step: PlanStep, observation: str) -> bool:
        if not self.settings.verify_with_model or step.description == state.goal:
            return True  # the fallback plan's one step is the goal itself: the final answer is what gets judged
        question = (
            f"Step: {step.description}\nSuccess criterion: {step.success_criterion}\n"
            f"Observation:\n{observation[:1500]}\n\nDoes the observation satisfy the criterion?"
        )
        request = ChatRequest(
            messages=[ChatMessage.user(question)],
            system="You check an agent's work. Answer with JSON only.",
            max_tokens=self.settings.verify_max_tokens,
            temperature=0.0,
        )
        try:
            verdict = generate_structured(self._counted(state), request, Verdict, 0)
        except (ServingError, ValueError):
            return True  # the verifier could not answer: do not block progress on it
        self._emit(state, "verification", {"step": step.description, **verdict.model_dump()})
        state.note(
            "verification",
            f"{'met' if verdict.satisfied else 'NOT met'}: {verdict.evidence}",
            self.settings.scratchpad_keep,
        )
        return verdict.satisfied

    # -- loops ----------------------------------------------------------------------------------------------------
    def _detect_loop(self, state: AgentState, action: Action, observation: str) -> None:
        s = self.settings
        sig = action.signature()
        outcome = hashlib.sha256(observation.encode()).hexdigest()[:16]
        repeated = state.signatures[-(s.loop_window - 1) :] == [sig] * (s.loop_window - 1)
        same_result = state.outcomes.get(sig) == outcome
        state.signatures = [*state.signatures[-20:], sig]
        state.outcomes[sig] = outcome
        if len(state.outcomes) > 64:
            state.outcomes = dict(list(state.outcomes.items())[-64:])
        if not (repeated or same_result):
            return
        state.loop_recoveries += 1
        self._emit(state, "loop", {"tool": action.tool, "recoveries": state.loop_recoveries})
        if state.loop_recoveries <= s.max_loop_recoveries:
            state.note(
                "note",
                f"You already called {action.tool} with these arguments and got the same result. Do not repeat it: "
                "use what you learned, try a different tool or arguments, or give the final answer.",
                s.scratchpad_keep,
            )
            state.answer_now = state.loop_recoveries > 1 and not observation.startswith("ERROR")
            return
        if not self._replan(state, f"stuck repeating {action.tool}"):
            state.error = f"stuck in a loop repeating {action.tool}"

    # -- approvals ------------------------------------------------------------------------------------------------
    def _needs_approval(self, action: Action) -> bool:
        if action.tool not in self.registry.names():
            return False
        return self.registry.permission(action.tool) in self.settings.approval_required

    def _ask_approval(self, state: AgentState, action: Action) -> AgentState:
        permission = self.registry.permission(action.tool or "")
        reason = f"{action.tool} needs '{permission}' permission"
        state.pending = action
        state.approval_id = self.store.create_approval(
            state.run_id, state.step, action.tool or "", action.arguments, permission, reason
        )
        self._emit(state, "approval_requested", {"approval_id": state.approval_id, "tool": action.tool,
                                                 "arguments": action.arguments, "permission": permission})  # fmt: skip
        return self._wait(state)

    def _decided(self, state: AgentState) -> bool:
        """Carry out a human's decision on the pending call (run it, or record the denial); False = undecided."""
        approval = self.store.get_approval(state.approval_id or "")
        if approval.status == "pending":
            return False
        action = state.pending
        assert action is not None
        state.pending, state.approval_id = None, None
        if approval.status == "approved":
            self._emit(state, "approved", {"approval_id": approval.id, "by": approval.decided_by})
            self._observe(state, action, self._act(state, action))
        else:
            note = f"The call {action.tool}({json.dumps(action.arguments, default=str)[:200]}) was denied by "
            note += f"{approval.decided_by}" + (f": {approval.note}" if approval.note else "")
            state.note("observation", note + ". Find another way, or finish.", self.settings.scratchpad_keep)
            self._emit(state, "denied", {"approval_id": approval.id, "by": approval.decided_by, "note": approval.note})
        self._step_done(state)
        return True

    def _wait(self, state: AgentState) -> AgentState:
        state.status = "waiting_approval"
        self._checkpoint(state)
        self.store.transition(state.run_id, "waiting_approval", allowed_from=("running",))
        return state

    # -- finishing ------------------------------------------------------------------------------------------------
    def _accept_final(self, state: AgentState, action: Action) -> bool:
        answer = (action.answer or "").strip()
        if not answer:
            state.note("note", "The final answer was empty.", self.settings.scratchpad_keep)
            return False
        state.final_answer = answer
        state.note("answer", answer, self.settings.scratchpad_keep)
        return True

    def _finish(self, state: AgentState, status: str, reason: str | None = None) -> AgentState:
        if state.error and status == "succeeded":
            status = "failed"
        state.status = status  # type: ignore[assignment]
        if reason:
            state.error = reason
        if state.final_answer is None:
            state.final_answer = self._best_effort(state)
        if self.settings.redact_secrets:
            state.final_answer = redact_secrets(state.final_answer)
        trail = "\n".join(f"- {e}" for e in state.evidence[-10:])
        self._emit(state, "final", {"status": status, "answer": state.final_answer, "evidence": state.evidence[-10:],
                                    "reason": reason})  # fmt: skip
        self._checkpoint(state)
        self.store.transition(
            state.run_id, status, allowed_from=("running",), final_answer=state.final_answer + (
                f"\n\nEvidence:\n{trail}" if trail and status == "succeeded" else ""),
            error=state.error, usage=state.usage, steps=state.usage.steps,
        )  # fmt: skip
        if status == "succeeded" and self.memory is not None and self.settings.memory:
            tools_used = [e.text.split("(", 1)[0] for e in state.scratchpad if e.kind == "action"]
            try:
                self.memory.remember(run_id=state.run_id, tenant=state.tenant, goal=state.goal,
                                     tools_used=tools_used, answer=state.final_answer)  # fmt: skip
            except Exception as exc:  # memory is a cache: never fail a finished run on it
                log.warning("could not store the episodic memory of %s: %s", state.run_id, exc)
        return state

    def _best_effort(self, state: AgentState) -> str:
        done = [p for p in state.plan if p.status == "done"]
        parts = [f"Stopped before finishing ({state.error or state.status})."]
        if done:
            parts.append("Completed: " + "; ".join(p.description for p in done) + ".")
        observations = [e.text for e in state.scratchpad if e.kind == "observation"]
        if observations:
            parts.append("Last observation: " + observations[-1][:300])
        return " ".join(parts)

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _prompt(self, state: AgentState) -> str:
        lines = [f"Goal: {state.goal}"]
        if state.plan:
            plan = []
            for i, p in enumerate(state.plan):
                mark = "→" if i == state.current else {"done": "✓", "failed": "✗"}.get(p.status, " ")
                plan.append(f"{mark} {i + 1}. {p.description} (done when: {p.success_criterion})")
            lines.append("Plan:\n" + "\n".join(plan))
        if state.memories:
            lines.append("What worked for similar goals:\n" + "\n".join(f"- {m}" for m in state.memories))
        history = self._history(state)
        if history:
            lines.append("So far:\n" + history)
        step = state.active_step
        lines.append(
            f"Now: {step.description}" if step else "All plan steps are done: give the final answer with evidence."
        )
        return "\n\n".join(lines)

    @staticmethod
    def _history(state: AgentState) -> str:
        lines = list(state.folded)
        lines += [f"[{e.step}] {e.kind}: {e.text}" for e in state.scratchpad]
        return "\n".join(lines)

    def _counted(self, state: AgentState) -> ChatModel:
        """The chat model with this run's token/cost accounting around every call."""
        return _Counting(self.chat, state)

    def _checkpoint(self, state: AgentState) -> None:
        self.store.save_checkpoint(state)

    def _emit(self, state: AgentState, kind: str, data: dict[str, Any]) -> None:
        self.store.add_event(state.run_id, state.step, kind, data)


class _Counting(ChatModel):
    """Adds each call's usage to the run's budget (tokens and cost)."""

    def __init__(self, inner: ChatModel, state: AgentState) -> None:
        self.inner = inner
        self.state = state
        self.backend = getattr(inner, "backend", "unknown")
        self.model = getattr(inner, "model", "unknown")

    def chat(self, request: ChatRequest) -> ChatResult:
        result = self.inner.chat(request)
        self.state.usage.tokens += result.usage.total_tokens or self.inner.count_tokens(result.text)
        self.state.usage.cost_usd += result.usage.cost_usd
        return result

    def stream(self, request: ChatRequest):
        return self.inner.stream(request)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
