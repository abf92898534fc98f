"""Code-assistant configuration (environment prefix ``CODE__``, e.g. ``CODE__MAX_FILE_BYTES=2000000``).

Model ids and URLs live in ``shared.settings``; this section holds what only the code assistant has. Each limit
says what it protects.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import REPO_ROOT as _REPO_ROOT


class CodeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CODE__",
        env_file=".env",
        extra="ignore",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
    )

    # -- indexing: what is read, and how much ------------------------------------------------------------
    max_file_bytes: int = Field(
        default=1_000_000,
        ge=1,
        description="larger files are skipped (minified bundles, data dumps, the 200 MB binary someone committed): "
        "they are rarely what a question is about and would dominate embedding time",
    )
    max_files: int = Field(
        default=200_000, ge=1, description="files one index run may take; the rest are reported as skipped"
    )
    index_batch_files: int = Field(
        default=200,
        ge=1,
        description="files parsed, embedded and written per batch: bounds memory on large repositories",
    )
    chunk_max_lines: int = Field(
        default=150, ge=10, description="a definition longer than this is split into line windows (keeps its symbol)"
    )
    line_chunk_lines: int = Field(default=60, ge=5, description="window size for files without a grammar")
    line_chunk_overlap: int = Field(default=10, ge=0, description="lines shared by consecutive windows")

    # -- completion (FIM) --------------------------------------------------------------------------------
    fim_prefix_tokens: int = Field(
        default=1024, ge=16, description="tokens of the file before the cursor (the nearest ones matter most)"
    )
    fim_suffix_tokens: int = Field(default=256, ge=0, description="tokens of the file after the cursor")
    fim_context_tokens: int = Field(
        default=512,
        ge=0,
        description="tokens of cross-file context (imported signatures, similar code); 0 turns retrieval off. "
        "Prompt tokens are prefill time on CPU: ~300 tok/s for the 0.5B model",
    )
    fim_max_tokens: int = Field(default=96, ge=1, description="new tokens for a block completion")
    fim_line_max_tokens: int = Field(default=32, ge=1, description="new tokens for a mid-line completion")
    fim_max_lines: int = Field(default=12, ge=1, description="lines a block completion may insert")

    # -- index store and code search (store/search part) -------------------------------------------------
    embed_batch_chunks: int = Field(
        default=256,
        ge=1,
        description="chunks sent to the embedder per call: one call per batch amortises model overhead, the cap "
        "bounds the memory of one call on a batch of huge files",
    )
    search_candidates: int = Field(
        default=50, ge=1, le=1000, description="per-signal (dense, full text) candidate list size of code search"
    )
    search_lexical: Literal["websearch", "any"] = Field(
        default="websearch",
        description="full-text semantics of code search: 'websearch' (AND of the question's terms) fires only on "
        "chunks holding all of them, so dense similarity decides otherwise; 'any' (OR) let one incidental common "
        "word in a README outrank the right function on the project's tests",
    )
    identifier_boost_max: int = Field(
        default=3,
        ge=0,
        description="definition chunks of identifiers named in a question that are merged in ahead of the "
        "hybrid hits (capped: `save` may be defined in twenty classes)",
    )

    # -- ask (repository Q&A) ----------------------------------------------------------------------------
    ask_k: int = Field(default=6, ge=1, le=50, description="snippets retrieved for a question")
    ask_context_tokens: int = Field(
        default=1800,
        ge=100,
        description="tokens of snippets shown to the model: prefill is ~300 tok/s on 2 cores for the 0.5B model, "
        "so this bounds time-to-first-token as well as cost",
    )
    ask_max_tokens: int = Field(default=320, ge=16, description="answer length cap")
    max_question_chars: int = Field(default=2000, ge=1, description="longer questions are refused (413)")

    # -- guardrails (rails.py) -----------------------------------------------------------------------------
    moderate_input: bool = Field(
        default=True,
        description="questions pass the shared input rail without PII redaction (injection classifier, profanity, "
        "moderation cascade on llm_input); a block is a 422 input-refused",
    )
    moderate_output: bool = Field(
        default=False,
        description="answers also pass profanity + moderation on llm_output, sentence by sentence (secrets are "
        "redacted regardless of this)",
    )
    moderation_policy: str = Field(
        default="code",
        description="shared/moderation/policies/<name>.yaml for both rails: `code` leaves prompt injection to the "
        "classifier (its keywords block 'override the system prompt') and blocks malware requests earlier",
    )
    redact_secrets: bool = Field(
        default=True,
        description="credentials are replaced by <SECRET:kind> in snippets and prompts sent to a model, and in "
        "answers and completions coming back",
    )

    # -- service: repositories, jobs, limits ---------------------------------------------------------------
    repo_roots: list[str] = Field(
        default_factory=lambda: [str(_REPO_ROOT / "var" / "code_repos")],
        description="server folders repositories may be registered from (and git clones go to the first): an "
        "API that indexes any path it is given reads any file the server can",
    )
    git_url_schemes: list[str] = Field(
        default_factory=lambda: ["https", "file"], description="URL schemes `git_url` may use (never ext::)"
    )
    git_clone_timeout_s: float = Field(default=300.0, gt=0, description="a clone slower than this is refused")
    job_queue: str = Field(default="code_assistant", description="queue of index and debug jobs")
    inline_worker: bool = Field(
        default=True, description="run the job queue in the API process (single machine); false = separate workers"
    )
    max_completion_chars: int = Field(
        default=200_000, ge=1, description="prompt + suffix characters a completion request may send (413 beyond)"
    )

    # -- document / review: bounds on what one docstring, README section or diff review costs --------------------
    doc_max_code_chars: int = Field(
        default=6000, ge=200, description="definition code shown to the model; a longer class is shown as an outline"
    )
    doc_max_callee_signatures: int = Field(
        default=8, ge=0, description="signatures of same-file functions the definition calls, given as context"
    )
    doc_max_tokens: int = Field(default=200, ge=16, description="model answer budget for one docstring")
    doc_max_lines: int = Field(default=40, ge=1, description="a longer generated docstring is cut at this many lines")
    doc_max_chars: int = Field(default=2000, ge=40, description="a longer generated docstring is cut (line boundary)")
    readme_map_tokens: int = Field(
        default=1024, ge=64, description="repo-map budget describing a package to the model for its README section"
    )
    readme_max_symbols: int = Field(default=60, ge=1, description="public API entries listed in a README section")
    readme_max_tokens: int = Field(default=320, ge=32, description="model answer budget for the overview + example")
    review_max_diff_chars: int = Field(
        default=2_000_000, ge=1000, description="a larger diff is refused outright (parsing it is already the cost)"
    )
    review_max_hunks: int = Field(
        default=24, ge=0, description="hunks sent to the model per review; the rest get the rule-based checks only"
    )
    review_hunk_max_lines: int = Field(default=120, ge=5, description="lines of one hunk shown to the model")
    review_max_tokens: int = Field(default=256, ge=32, description="model answer budget for one hunk's comments")
    review_max_comments_per_hunk: int = Field(default=5, ge=1, description="model comments kept per hunk")
    review_concurrency: int = Field(
        default=8, ge=1, le=32, description="hunks reviewed at once (the local backend batches up to 8 requests)"
    )
    review_structured_retries: int = Field(
        default=1, ge=0, description="re-asks after schema-invalid JSON for one hunk before giving up on it"
    )

    readme_max_files: int = Field(default=200, ge=1, description="source files a README section is written from")

    max_fix_input_chars: int = Field(
        default=100_000, ge=1, description="characters of a pasted traceback or description (413 beyond)"
    )

    # -- debug loop (debug.py, localize.py): how much the model sees and how long it may try ---------------------
    debug_max_attempts: int = Field(
        default=4, ge=1, le=20, description="model answers per debug run; each costs a generation and a test run"
    )
    debug_max_tokens: int = Field(
        default=400, ge=32, description="answer budget per attempt: an edit block is short, rambling is not a fix"
    )
    debug_context_lines: int = Field(
        default=120, ge=10, description="code lines shown to the model (localised regions); the main prompt cost"
    )
    debug_max_region_lines: int = Field(
        default=60, ge=5, description="one region's cap (a 500-line function is clipped around the failing line)"
    )
    debug_failure_chars: int = Field(
        default=2500, ge=200, description="test output shown per attempt: head plus assertion lines, the rest cut"
    )
    debug_max_parse_files: int = Field(
        default=5000, ge=1, description="files parsed on the fly to find definitions when no index is plugged in"
    )
    debug_test_timeout_s: float = Field(
        default=120.0, gt=0, description="wall clock of one sandboxed test run (the whole suite, not one test)"
    )
    debug_max_failures: int = Field(
        default=20, ge=1, description="pytest --maxfail: enough failures to compare attempts, bounded run time"
    )
    debug_strategies: list[Literal["infill", "chat"]] = Field(
        default=["infill", "chat"],
        description="repair strategies in order: 'infill' re-predicts single lines of the suspect functions with FIM "
        "(what a 0.5B model is good at), 'chat' asks for SEARCH/REPLACE edits and iterates on the test output",
    )
    debug_infill_candidates: int = Field(
        default=24,
        ge=0,
        description="FIM requests (masked lines) per debug run; each candidate passing the compile "
        "check costs one sandboxed test run",
    )
    debug_infill_regions: int = Field(default=3, ge=1, description="top-ranked code regions whose lines are infilled")
    debug_pytest_plugins: bool = Field(
        default=False,
        description="let pytest autoload the server's installed plugins in the sandbox; off: 0.6 s instead of 2.6 s "
        "per run here and no dependence on what the server has installed; on: for tests needing e.g. pytest-asyncio",
    )


@lru_cache
def get_code_settings() -> CodeSettings:
    return CodeSettings()
