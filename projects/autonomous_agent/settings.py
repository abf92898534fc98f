"""Autonomous-agent configuration (environment prefix ``AGENT__``, e.g. ``AGENT__MAX_STEPS=20``).

Model ids and URLs live in ``shared.settings`` (``SERVING__*``); this section holds what only the agent has. Each
limit says what it protects: the complaints about agents are loops that burn budget, timeouts that kill long
commands, and checkpoints that grow without bound.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from projects.autonomous_agent.types import Permission

_REPO_ROOT = Path(__file__).resolve().parents[2]


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENT__", env_file=".env", extra="ignore", env_file_encoding="utf-8", env_nested_delimiter="__"
    )

    # -- budgets (per run; a resumed run continues its budget) ---------------------------------------------
    max_steps: int = Field(default=12, ge=1, le=200, description="actions per run (tool calls and code runs)")
    max_tokens: int = Field(default=20_000, ge=100, description="prompt + completion tokens per run")
    max_wall_s: float = Field(default=300.0, gt=0, description="wall-clock seconds per run, pauses excluded")
    max_cost_usd: float = Field(default=1.0, ge=0, description="per run, priced with shared.serving.accounting")

    # -- tools ---------------------------------------------------------------------------------------------
    workspace_root: Path = Field(
        default=_REPO_ROOT / "var" / "agent_workspaces",
        description="each run gets <root>/<run_id>: the only place file tools and code may write",
    )
    approval_required: list[Permission] = Field(
        default_factory=lambda: ["write", "network"],
        description="permission levels that pause the run for a human before the call",
    )
    tool_output_max_chars: int = Field(
        default=8000, ge=100, description="what a tool result may put into the context; the rest is cut (and said)"
    )
    tool_timeout_s: float = Field(default=60.0, gt=0, description="wall time of one tool call (code: the sandbox's)")

    # -- loop (loop.py) ------------------------------------------------------------------------------------
    plan: bool = Field(default=True, description="ask the model for a plan with success criteria before acting")
    max_plan_steps: int = Field(default=5, ge=1, le=20, description="steps a plan may have (small models ramble)")
    verify_with_model: bool = Field(
        default=True,
        description="after a successful tool call, ask the model whether the step's success criterion holds "
        "(a failed call fails the step without asking)",
    )
    max_step_attempts: int = Field(default=3, ge=1, description="actions on one plan step before it is re-planned")
    max_replans: int = Field(default=2, ge=0, description="re-plans per run; then the run fails with its evidence")
    max_repairs: int = Field(
        default=2, ge=0, description="re-asks after a malformed tool call (bad JSON, unknown tool) per step"
    )
    loop_window: int = Field(
        default=3,
        ge=2,
        description="an action repeated this many times in a row (same tool, same arguments), or one that already "
        "returned the same result, is a loop",
    )
    max_loop_recoveries: int = Field(
        default=2, ge=0, description="times a loop is broken by telling the model (then re-plan, then stop)"
    )
    scratchpad_keep: int = Field(
        default=12, ge=2, description="newest scratchpad entries shown verbatim; older ones fold to one line"
    )
    act_max_tokens: int = Field(default=384, ge=16, description="tokens of one act decision (a tool call or code)")
    plan_max_tokens: int = Field(default=320, ge=16)
    verify_max_tokens: int = Field(default=96, ge=16)
    answer_max_tokens: int = Field(default=320, ge=16)
    checkpoints_keep: int = Field(
        default=3, ge=1, description="checkpoints kept per run (resume needs the newest; the rest is compacted)"
    )
    event_max_chars: int = Field(default=4000, ge=200, description="characters of one trace event (the UI's)")
    max_goal_chars: int = Field(default=4000, ge=1, description="longer goals are refused (413)")

    # -- service and workers (service.py, supervisor.py) -----------------------------------------------------
    job_queue: str = Field(default="autonomous_agent", description="the shared job queue runs are worked from")
    inline_worker: bool = Field(default=True, description="work the queue in the API process (single machine)")
    workers: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "researcher": ["knowledge_search", "read_file", "list_files"],
            "coder": ["python", "read_file", "write_file", "list_files"],
            "analyst": ["sql_query", "calculator", "python"],
        },
        description="worker agents a supervisor may delegate to, with their tools (tools needing approval are "
        "dropped: dangerous calls stay with the supervisor); {} = no supervisor",
    )
    worker_max_steps: int = Field(default=6, ge=1, description="steps of one delegated worker run")
    worker_max_tokens: int = Field(default=8000, ge=100)
    worker_max_wall_s: float = Field(default=120.0, gt=0)

    # -- guardrails ------------------------------------------------------------------------------------------
    moderate_goals: bool = Field(
        default=True,
        description="goals pass the shared input rail (injection, profanity, moderation on llm_input); a block is "
        "a 422 input-refused and nothing is stored",
    )
    moderation_policy: str = Field(default="default", description="shared/moderation/policies/<name>.yaml")
    redact_secrets: bool = Field(
        default=True,
        description="credentials in tool observations and the final answer become <SECRET:kind> before they reach "
        "the model, the checkpoint, the trace or the user",
    )

    # -- memory (memory.py) ----------------------------------------------------------------------------------
    memory: bool = Field(default=True, description="recall and store episodic memories")
    memory_collection: str = Field(default="agent_memory", description="shared/retrieval collection of memories")
    memory_recall_k: int = Field(default=3, ge=1, le=20)
    memory_min_score: float = Field(default=0.5, description="cosine below which a memory is not 'similar'")
    memory_max_per_tenant: int = Field(default=500, ge=1, description="retention: newest memories kept per tenant")
    memory_ttl_days: int = Field(default=90, ge=1, description="retention: memories older than this are dropped")

    # -- tools (ag_tools) -------------------------------------------------------------------------------------
    python_wall_s: float = Field(
        default=30.0, gt=0, description="default wall-clock limit of one python tool run (the sandbox's wall_s)"
    )
    python_max_wall_s: float = Field(
        default=120.0, gt=0, description="the most a python call may ask for (its timeout_s argument): long jobs"
    )
    python_memory_mb: int = Field(default=1024, ge=64, description="address space per process of a python run")
    python_max_processes: int = Field(default=32, ge=1, description="processes of one python run (fork bombs)")
    python_max_output_bytes: int = Field(
        default=200_000, ge=1024, description="stdout+stderr a python run may print before it is killed"
    )
    workspace_max_file_bytes: int = Field(
        default=2_000_000, ge=1024, description="the largest file read_file reads / write_file writes"
    )
    workspace_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="a workspace copied into / back from a python run, in all"
    )
    knowledge_collection: str = Field(
        default="agent_kb", description="shared/retrieval collection knowledge_search reads"
    )
    knowledge_top_k: int = Field(default=4, ge=1, le=50, description="passages knowledge_search returns by default")
    sql_database_url: str | None = Field(
        default=None, description="database sql_query reads (read-only transactions); None = the platform database"
    )
    sql_statement_timeout_ms: int = Field(default=5000, ge=1, description="statement_timeout of one sql_query")
    sql_max_rows: int = Field(default=200, ge=1, description="rows sql_query returns; more are cut (and said)")
    http_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="hosts http_get may reach ('example.org', 'host:port', '.example.org' = subdomains); empty = "
        "none. Env: comma-separated or a JSON list",
    )
    http_timeout_s: float = Field(default=10.0, gt=0, description="connect+read timeout of one http_get")
    http_max_bytes: int = Field(default=1_000_000, ge=1024, description="response body http_get reads at most")
    http_max_redirects: int = Field(default=3, ge=0, description="redirects http_get follows (each allow-listed)")
    mcp_default_permission: Permission = Field(
        default="network",
        description="permission of an MCP server's tool that declares no annotations (an outside process: "
        "anything it does is beyond the sandbox, so it asks a human by default)",
    )

    # -- eval (ag_eval) ------------------------------------------------------------------------------------
    eval_workers: int = Field(
        default=8, ge=1, le=8, description="items evaluated at once (the local backend batches up to 8 requests)"
    )
    eval_repairs: int = Field(default=2, ge=0, le=5, description="eval: invalid BFCL tool calls sent back to be fixed")
    eval_math_max_tokens: int = Field(default=320, ge=16, description="eval: completion tokens per GSM8K request")
    eval_call_max_tokens: int = Field(default=256, ge=16, description="eval: completion tokens per BFCL request")
    eval_max_steps: int = Field(default=4, ge=1, description="eval: steps of one GSM8K agent run")
    eval_max_wall_s: float = Field(
        default=1200.0, gt=0, description="eval: wall time of one GSM8K agent run (8 runs share a 2-core CPU)"
    )
    eval_plan: bool = Field(default=False, description="eval: plan and verify with the model (a call each)")

    # -- ui/demo (ag_ui) ---------------------------------------------------------------------------------------
    demo_seed: int = Field(default=20260601, description="seed of the generated demo world (demo_data.py)")
    demo_schema: str = Field(
        default="agent_demo",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema of the demo operations database (regions, products, orders, incidents)",
    )
    demo_reader_role: str = Field(
        default="agent_demo_reader",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="role with SELECT on the demo schema only (search_path = the schema); point "
        "AGENT__SQL_DATABASE_URL at it (demo.reader_url) so sql_query reads nothing else",
    )
    demo_reader_password: SecretStr | None = Field(
        default=None, description="the reader role's password (an external server; the embedded one trusts local)"
    )
    demo_goals: bool = Field(
        default=True, description="make demo queues a few example goals for the model (worked by the API's worker)"
    )

    @field_validator("http_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: object) -> object:
        """``AGENT__HTTP_ALLOWLIST=a.org,b.org`` or a JSON list; hosts compared lower-case."""
        if isinstance(value, str):
            text = value.strip()
            items = json.loads(text) if text.startswith("[") else text.split(",")
            return [str(v).strip().lower() for v in items if str(v).strip()]
        if isinstance(value, list | tuple):
            return [str(v).strip().lower() for v in value if str(v).strip()]
        return value


@lru_cache
def get_agent_settings() -> AgentSettings:
    return AgentSettings()
