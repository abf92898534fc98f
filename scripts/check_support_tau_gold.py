"""Replay the gold actions of τ-bench retail tasks through the support agent's policy + tool layer.

Measures that the tool layer accepts every gold action: each task starts from a fresh copy of the imported
τ-bench data, verifies the task's customer (by e-mail, as the wiki requires), then runs each gold action through
``Policy.execute`` exactly as the agent would: a proposal (``confirmed=False``), then the confirmation.

    PYTHONPATH=$PWD python scripts/check_support_tau_gold.py \
        --tau-bench ../shared/data/customer-support/tau-bench/retail --tasks .../tasks_dev.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from projects.support_agent.eval import replay_gold_actions
from projects.support_agent.retailer import clone_database, drop_database, load_tau_bench, read_tau_bench, snapshot
from shared.db import close_pools, start_embedded, stop_embedded, with_dbname


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--tau-bench", type=Path, default=Path("/work/shared/data/customer-support/tau-bench/retail"))
    parser.add_argument("--tasks", type=Path, default=None, help="default: DIR/tasks_dev.json")
    args = parser.parse_args()
    tasks = json.loads((args.tasks or args.tau_bench / "tasks_dev.json").read_text())
    emails = {uid: u["email"] for uid, u in read_tau_bench(args.tau_bench)["users"].items()}

    root = Path(tempfile.mkdtemp(prefix="sa-gold-"))
    admin = start_embedded(root / "data", cleanup_mode="delete")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "sa_tau_template"')
    template = with_dbname(admin, "sa_tau_template")
    t0 = time.perf_counter()
    counts = load_tau_bench(template, args.tau_bench)
    print(f"imported {counts} in {time.perf_counter() - t0:.1f}s")

    n_actions = ok_actions = ok_tasks = changed = 0
    failures = []
    for index, task in enumerate(tasks):
        url = clone_database(admin, template)
        try:
            before = snapshot(url)
            applied, refused = replay_gold_actions(url, emails[task["user_id"]], task["actions"], f"gold-{index}")
            n_actions += len(task["actions"])
            ok_actions += len(applied)
            ok_tasks += not refused
            failures += [{"task": index, **r} for r in refused]
            changed += snapshot(url) != before
        finally:
            close_pools()
            drop_database(url, admin)
    stop_embedded()
    print(
        json.dumps(
            {
                "tasks": len(tasks),
                "tasks_all_actions_ok": ok_tasks,
                "actions": n_actions,
                "actions_ok": ok_actions,
                "tasks_with_state_change": changed,
                "failures": failures,
            },
            indent=1,
        )
    )
    return 0 if ok_actions == n_actions else 1


if __name__ == "__main__":
    sys.exit(main())
