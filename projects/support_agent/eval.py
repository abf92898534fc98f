"""τ-bench retail evaluation of the support agent: a simulated customer per task, scored on the database state.

    python -m projects.support_agent.eval --tau-bench DIR --tasks TASKS.json --out OUT [--trials K] [--limit N]
        [--intents banking77.csv] [--seed S] [--max-turns T] [--user-temperature X]

``DIR`` holds τ-bench retail data (``users.json``, ``orders.json``, ``products.json``, ``wiki.md``). It is imported
once into a template database; every task × trial runs on its own copy (``CREATE DATABASE ... TEMPLATE``), so
each starts from the same state, and the copies are dropped afterwards. ``DATABASE_URL`` when set, otherwise the
embedded PostgreSQL.

Per task (τ-bench's scoring):

- **gold state**: on another copy, the task's gold ``actions`` run through the same tool layer (``from_tau`` →
  ``Policy.execute``: the customer verified, each action proposed then confirmed); a gold action the policy
  refuses changes nothing, as in τ-bench;
- **a trial**: ``SupportAgent`` (the real router, policy, session store, the configured chat model) talks with the
  user simulator (``simulator.py``: the configured chat model playing ``instruction``, seeded per task × trial)
  until the user says ``###STOP###``, the agent hands off to a human, or ``--max-turns``;
- **passed** when ``snapshot_digest`` of the agent's copy equals the gold one AND every string of ``outputs``
  occurs in the agent's replies (lower-cased, commas removed).

``OUT/summary.json``: ``pass^1`` … ``pass^K`` (mean over tasks of C(c,k)/C(n,k)), ``tool_call_precision`` /
``tool_call_recall`` (executed writes vs gold writes, on name + canonical arguments), ``policy_violations``
(``scoring.policy_violations``: an audit of every executed write independent of ``policy.py``),
``escalation_rate``, ``turns``, ``latency_per_turn_ms``, ``n`` (tasks × trials), wall time, model ids, and
``intents`` (the router on Banking77-format data, ``intent_eval``) with ``--intents``. ``OUT/results.jsonl``:
one row per task × trial with the transcript. Exit status 1 when ``policy_violations`` > 0 (the gate).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from projects.support_agent import scoring
from projects.support_agent.simulator import LLMUserSimulator, UserSimulator
from shared.eval.metrics import percentile

log = logging.getLogger("projects.support_agent.eval")

MAKE_EVAL_ARGS = [
    "--tau-bench",
    "../shared/data/customer-support/tau-bench/retail",
    "--tasks",
    "../shared/data/customer-support/tau-bench/retail/tasks_dev.json",
    "--out",
    "var/eval/support_agent",
    "--limit",
    "5",
]
TENANT = "tau-bench"


# -- databases ---------------------------------------------------------------------------------------------------
def build_template(admin: str, tau_dir: Path) -> str:
    """A new database holding the τ-bench data and the session tables; nobody stays connected (it is cloned)."""
    from projects.support_agent.retailer import load_tau_bench
    from projects.support_agent.session_schema import ensure_session_schema
    from shared.db import close_pools, with_dbname

    name = f"sa_eval_tpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(admin, name)
    load_tau_bench(url, tau_dir)
    ensure_session_schema(url)
    close_pools()
    return url


def _release(url: str, admin: str) -> None:
    from projects.support_agent.retailer import drop_database
    from shared.db import close_pools

    close_pools()
    drop_database(url, admin)


def replay_gold_actions(
    url: str, email: str, actions: Sequence[dict[str, Any]], session_id: str
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Run τ-bench gold actions through ``Policy.execute`` as the agent would (the customer verified by e-mail, each
    write proposed, then confirmed); returns the calls that ran and the refusals (code, message), which change
    nothing — as in τ-bench, where a failing gold action is no change."""
    from projects.support_agent.policy import Policy, PolicyRefusal, SessionState
    from projects.support_agent.tools import ToolCall, from_tau

    policy = Policy(url)
    state = SessionState(session_id=session_id, actor="gold")
    policy.execute(ToolCall(name="find_customer_by_email", arguments={"email": email}), state)
    applied, refused = [], []
    for action in actions:
        call = from_tau(action["name"], action.get("kwargs", {}))
        try:
            if policy.execute(call, state, confirmed=False).status == "needs_confirmation":
                policy.execute(call, state, confirmed=True)
            applied.append(call)
        except PolicyRefusal as refusal:
            refused.append({"tool": call.name, "code": refusal.code, "message": refusal.message})
    return applied, refused


def gold_state(admin: str, template: str, task: dict[str, Any], email: str) -> dict[str, Any]:
    """Digest of the state the task's gold actions produce through the tool layer, the calls that ran (``applied``,
    ToolCalls) and those the policy refused (``refused``: no change, and not expected of the agent either)."""
    from projects.support_agent.retailer import clone_database, snapshot_digest

    url = clone_database(admin, template)
    try:
        session_id = f"gold-{uuid.uuid4().hex[:8]}"
        applied, refused = replay_gold_actions(url, email, task.get("actions", []), session_id)
        refused = [{"tool": r["tool"], "code": r["code"]} for r in refused]
        return {"digest": snapshot_digest(url), "applied": applied, "refused": refused}
    finally:
        _release(url, admin)


# -- one trial ---------------------------------------------------------------------------------------------------
def run_trial(
    admin: str,
    template: str,
    task: dict[str, Any],
    gold: dict[str, Any],
    simulator: UserSimulator,
    seed: int,
    *,
    agent_chat: Any,
    router: Any,
    settings: Any,
    policy_markdown: str | None = None,
) -> dict[str, Any]:
    """One conversation on a fresh copy; returns the scored row (transcript included). ``policy_markdown`` (the
    benchmark's ``wiki.md``) replaces the generated policy articles the FAQ answers from."""
    from projects.support_agent.agent import SupportAgent
    from projects.support_agent.knowledge import KnowledgeBase
    from projects.support_agent.policy import Policy
    from projects.support_agent.retailer import clone_database, snapshot_digest
    from projects.support_agent.sessions import SessionStore
    from projects.support_agent.tools import WRITE_TOOLS

    url = clone_database(admin, template)
    store = SessionStore(url, settings)
    try:
        kb = None
        if policy_markdown is not None:
            embedder = getattr(router, "embedder", None)
            kb = KnowledgeBase(url, embedder=embedder, settings=settings, policy_markdown=policy_markdown)
        agent = SupportAgent(
            url, chat=agent_chat, router=router, store=store, policy=Policy(url, settings), settings=settings, kb=kb
        )
        sid = agent.start(TENANT, "eval")
        user = simulator.conversation(task["instruction"], seed)
        transcript: list[dict[str, Any]] = []
        latencies: list[float] = []
        replies: list[str] = []
        escalated, error, ended = False, None, "max_turns"
        try:
            message = user.first()
            while message is not None:
                transcript.append({"role": "user", "text": message})
                t0 = time.perf_counter()
                result = agent.respond(sid, message)
                latencies.append((time.perf_counter() - t0) * 1000)
                replies.append(result.reply)
                keys = ("tool", "arguments", "decision")
                tools = [{k: e.get(k) for k in keys} for e in result.events if e["type"] == "tool"]
                transcript.append({"role": "assistant", "text": result.reply, "tools": tools})
                if result.status == "waiting_human":
                    escalated, ended = True, "handoff"
                    break
                message = user.reply(result.reply)
                if message is None:
                    ended = "user_stop"
        except Exception as exc:  # a crash is a failed trial with its reason, not a lost eval
            log.exception("trial failed")
            error, ended = repr(exc)[:500], "error"
        writes = scoring.executed_writes(url, sid)
        gold_writes = [c for c in gold["applied"] if c.name in WRITE_TOOLS]
        digest = snapshot_digest(url)
        violations = scoring.policy_violations(url, [sid])
    finally:
        store.shutdown()
        _release(url, admin)
    state_match = digest == gold["digest"]
    said = scoring.outputs_said(task.get("outputs", []), replies)
    return {
        "passed": state_match and said and error is None,
        "state_match": state_match,
        "outputs_said": said,
        "turns": len(latencies),
        "ended": ended,
        "escalated": escalated,
        "error": error,
        "tool_calls": [w.model_dump() for w in writes],
        "gold_calls": [g.model_dump() for g in gold_writes],
        "tool_match": scoring.match_calls(writes, gold_writes),
        "policy_violations": violations,
        "latency_ms": [round(x, 1) for x in latencies],
        "transcript": transcript,
    }


# -- summary -----------------------------------------------------------------------------------------------------
def summarise(rows: Sequence[dict[str, Any]], trials: int) -> dict[str, Any]:
    """The metrics of ``summary.json`` from the rows of ``results.jsonl``."""
    by_task: dict[int, list[bool]] = defaultdict(list)
    for r in rows:
        by_task[r["task"]].append(bool(r["passed"]))
    full = {t: v for t, v in by_task.items() if len(v) == trials}
    precision, recall = scoring.precision_recall(r["tool_match"] for r in rows)
    turns = [r["turns"] for r in rows]
    lat = [x for r in rows for x in r["latency_ms"]]
    n = len(rows)
    summary: dict[str, Any] = {f"pass^{k}": round(scoring.pass_hat_k(full, k), 4) for k in range(1, trials + 1)}
    summary.update(
        {
            "n": n,
            "tasks": len(by_task),
            "trials": trials,
            "state_match_rate": round(sum(r["state_match"] for r in rows) / n, 4) if n else 0.0,
            "outputs_said_rate": round(sum(r["outputs_said"] for r in rows) / n, 4) if n else 0.0,
            "tool_call_precision": None if precision is None else round(precision, 4),
            "tool_call_recall": None if recall is None else round(recall, 4),
            "tool_calls": {key: sum(r["tool_match"][key] for r in rows) for key in ("predicted", "gold", "matched")},
            "policy_violations": sum(len(r["policy_violations"]) for r in rows),
            "escalation_rate": round(sum(r["escalated"] for r in rows) / n, 4) if n else 0.0,
            "errors": sum(r["error"] is not None for r in rows),
            "ended": {e: sum(r["ended"] == e for r in rows) for e in sorted({r["ended"] for r in rows})},
            "turns": {
                "p50": percentile(turns, 50),
                "mean": round(sum(turns) / n, 2) if n else 0.0,
                "max": max(turns, default=0),
            },
            "latency_per_turn_ms": {"p50": percentile(lat, 50, 1), "p95": percentile(lat, 95, 1), "n": len(lat)},
        }
    )
    return summary


# -- CLI ---------------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m projects.support_agent.eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tau-bench", required=True, type=Path, help="τ-bench retail data folder")
    ap.add_argument("--tasks", required=True, type=Path, help="JSON list of tasks")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--trials", type=int, default=1, help="K: trials per task (pass^1..pass^K)")
    ap.add_argument("--limit", type=int, default=None, help="first N tasks only")
    ap.add_argument("--intents", type=Path, default=None, help="Banking77-format CSV (text,category)")
    ap.add_argument("--seed", type=int, default=0, help="base seed of the user simulator")
    ap.add_argument("--max-turns", type=int, default=14, help="user messages per conversation")
    ap.add_argument("--user-temperature", type=float, default=0.7, help="sampling temperature of the simulator")
    ap.add_argument(
        "--user-model",
        default=None,
        help="the simulated customer's model, when it should differ from the agent's: a local model name "
        "(e.g. qwen2.5-coder-1.5b-instruct) with the local backend, the served model id with SERVING__BACKEND=openai",
    )
    args = ap.parse_args(argv)
    if args.trials < 1:
        ap.error("--trials must be >= 1")
    return args


def user_chat_model(name: str) -> Any:
    """The chat model for the simulated customer: the platform's serving settings with another model name.

    The agent under test keeps the configured model; a stronger customer than the agent is what makes the score
    about the agent (a 0.5B "customer" mostly role-plays the agent, see the simulator's docstring)."""
    from shared.serving.factory import get_chat_model
    from shared.settings import get_settings

    settings = get_settings()
    field = "local_model" if settings.serving.backend == "local" else "openai_model"
    serving = settings.serving.model_copy(update={field: name})
    return get_chat_model(settings.model_copy(update={"serving": serving}))


def trial_seed(base: int, task: int, trial: int) -> int:
    """A distinct, reproducible seed per task × trial."""
    return base * 1_000_003 + task * 1_000 + trial


def main(argv: Sequence[str] | None = None, *, simulator: UserSimulator | None = None, agent_chat: Any = None) -> int:
    """Run the eval; ``simulator`` / ``agent_chat`` replace the configured models (tests). Returns the exit code."""
    from projects.support_agent.retailer import read_tau_bench
    from projects.support_agent.router import get_router
    from projects.support_agent.settings import get_support_settings
    from shared.db import close_pools, start_embedded, stop_embedded
    from shared.eval.harness import git_commit
    from shared.settings import get_settings

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tasks = json.loads(args.tasks.read_text(encoding="utf-8"))
    if args.limit is not None:
        tasks = tasks[: args.limit]
    emails = {uid: u["email"] for uid, u in read_tau_bench(args.tau_bench)["users"].items()}
    args.out.mkdir(parents=True, exist_ok=True)

    platform = get_settings()
    external = platform.effective_database_url()
    admin = external or start_embedded(platform.database.embedded_data_dir)
    started = time.perf_counter()
    if agent_chat is None:
        from shared.serving.factory import get_chat_model

        agent_chat = get_chat_model()
    if simulator is None:
        user_chat = user_chat_model(args.user_model) if args.user_model else None
        simulator = LLMUserSimulator(chat=user_chat, temperature=args.user_temperature, max_turns=args.max_turns)
    router = get_router()
    settings = get_support_settings()
    wiki_path = args.tau_bench / "wiki.md"
    wiki = wiki_path.read_text(encoding="utf-8") if wiki_path.exists() else None
    template = build_template(admin, args.tau_bench)
    rows: list[dict[str, Any]] = []
    try:
        with (args.out / "results.jsonl").open("w", encoding="utf-8") as out:
            for index, task in enumerate(tasks):
                gold = gold_state(admin, template, task, emails[task["user_id"]])
                for trial in range(args.trials):
                    seed = trial_seed(args.seed, index, trial)
                    row = run_trial(
                        admin, template, task, gold, simulator, seed,
                        agent_chat=agent_chat, router=router, settings=settings, policy_markdown=wiki,
                    )  # fmt: skip
                    row = {"task": index, "trial": trial, "seed": seed, "user_id": task["user_id"],
                           "gold_refused": gold["refused"], **row}  # fmt: skip
                    rows.append(row)
                    out.write(json.dumps(row, default=str) + "\n")
                    out.flush()
                    log.info(
                        "task %d trial %d: passed=%s state=%s outputs=%s turns=%d ended=%s writes=%s",
                        index, trial, row["passed"], row["state_match"], row["outputs_said"], row["turns"],
                        row["ended"], [c["name"] for c in row["tool_calls"]],
                    )  # fmt: skip
    finally:
        _release(template, admin)
        close_pools()
        if not external:
            stop_embedded()

    summary = summarise(rows, args.trials)
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    summary["models"] = {
        "agent_chat": f"{getattr(agent_chat, 'backend', '?')}:{getattr(agent_chat, 'model', '?')}",
        "user_simulator": simulator.model_id,
        "router_embedder": _embedder_id(router),
        "llm_wording": settings.llm_wording,
    }
    summary["config"] = {
        "tau_bench": str(args.tau_bench),
        "tasks": str(args.tasks),
        "limit": args.limit,
        "seed": args.seed,
        "max_turns": args.max_turns,
        "user_temperature": args.user_temperature,
        "commit": git_commit(),
    }
    if args.intents is not None:
        from projects.support_agent.intent_eval import evaluate_intents

        t0 = time.perf_counter()
        intents = evaluate_intents(args.intents, args.out / "intents", args.seed)
        summary["intents"] = {**intents, "wall_s": round(time.perf_counter() - t0, 1)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "intents"}, indent=2, default=str))
    if summary["policy_violations"] > 0:
        log.error("GATE FAILED: %d policy violations (see results.jsonl)", summary["policy_violations"])
        return 1
    return 0


def _embedder_id(router: Any) -> str | None:
    embedder = getattr(router, "embedder", None)
    return f"{embedder.backend}:{embedder.model}" if embedder is not None else None


if __name__ == "__main__":
    sys.exit(main())
