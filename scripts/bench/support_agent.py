"""Support-agent benchmark: turn latency p50/p95 and what concurrent sessions sustain, on the real default path.

    python scripts/bench/support_agent.py --out var/bench/support_agent.json [--conversations 6] [--concurrency 1 3]

Each conversation is a scripted customer cancelling a pending order of the generated retailer over five turns
(ask → e-mail → order id → reason → "yes"): the input rail, the intent router, the extractors, the policy-gated
tool calls, the reply wording by the configured chat model (the local Qwen 0.5B unless ``SERVING__*`` points at
vLLM) and the output rail, with every turn persisted. Run at several concurrency levels (threads, one session
each), it reports per-turn p50/p95, turns/s, and the share of conversations that ended with the order cancelled.
The baseline in the same run is the agent with ``SUPPORT__LLM_WORDING=false`` (templates only, no model call),
which isolates what the model costs per turn.

Uses ``DATABASE_URL`` when set (a scratch database is created there), otherwise its own embedded server.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.bench.retrieval import close_database, open_database, pct  # noqa: E402
from shared.db import with_dbname  # noqa: E402


def scripts_for(data: dict, n: int) -> list[tuple[str, list[str]]]:
    """``n`` (order id, messages) scripts, one per pending order of a distinct customer."""
    seen, out = set(), []
    for order in data["orders"].values():
        if order["status"] != "pending" or order["user_id"] in seen:
            continue
        seen.add(order["user_id"])
        email = data["users"][order["user_id"]]["email"]
        out.append((order["order_id"], ["Hi, I want to cancel an order", f"my email is {email}",
                                        f"order {order['order_id']}", "I ordered it by mistake", "yes"]))  # fmt: skip
        if len(out) == n:
            break
    return out


def run(agent, scripts: list[tuple[str, list[str]]], concurrency: int, url: str) -> dict:
    import psycopg

    def converse(script: tuple[str, list[str]]) -> tuple[list[float], bool]:
        order_id, messages = script
        sid = agent.start("bench")
        times = []
        for text in messages:
            t0 = time.perf_counter()
            agent.respond(sid, text)
            times.append((time.perf_counter() - t0) * 1000)
        with psycopg.connect(url) as conn:
            status = conn.execute("SELECT status FROM sa_orders WHERE id = %s", (order_id,)).fetchone()[0]
        return times, status == "cancelled"

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(converse, scripts))
    wall = time.perf_counter() - t0
    turns = [t for times, _ in results for t in times]
    return {
        "concurrency": concurrency,
        "conversations": len(scripts),
        "turn_p50_ms": pct(turns, 50),
        "turn_p95_ms": pct(turns, 95),
        "turns_per_s": round(len(turns) / wall, 2),
        "completed_share": round(sum(ok for _, ok in results) / len(results), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--conversations", type=int, default=6, help="per configuration and concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from projects.support_agent.agent import SupportAgent
    from projects.support_agent.retailer import generate_retailer, load_retailer
    from projects.support_agent.schema import ensure_schema
    from projects.support_agent.settings import get_support_settings

    admin, dbname, _ = open_database(args.keep)
    url = with_dbname(admin, dbname)
    result: dict = {"configs": {}}
    try:
        ensure_schema(url)
        n_customers = 40 * max(args.concurrency) + 40
        load_retailer(url, seed=0, n_customers=n_customers)
        data = generate_retailer(seed=0, n_customers=n_customers)
        levels = sorted(set(args.concurrency))
        pool = scripts_for(data, args.conversations * len(levels) * 2)
        settings = get_support_settings()
        used = 0
        for name, wording in (("templates_only", False), ("model_wording", True)):
            agent = SupportAgent(url, settings=settings.model_copy(update={"llm_wording": wording}))
            agent.respond(agent.start("bench"), "hello")  # warm: router, rails, model
            rows = []
            for level in levels:
                batch = pool[used : used + args.conversations]
                used += args.conversations
                rows.append(run(agent, batch, level, url))
                print(json.dumps({name: rows[-1]}), flush=True)
            result["configs"][name] = rows
        base = result["configs"]["templates_only"][0]["turn_p50_ms"]
        result["model_wording_p50_over_templates"] = round(
            result["configs"]["model_wording"][0]["turn_p50_ms"] / max(base, 1e-6), 1
        )
    finally:
        close_database(admin, dbname, keep=args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
