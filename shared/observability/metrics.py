"""Prometheus metrics shared by every service; one registry per process (the default one).

Names are fixed here so dashboards and alerts work for every project alike. Label values must
stay low-cardinality: route templates (not raw paths), model names, cache kinds.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
LLM_REQUESTS = Counter("llm_requests_total", "Chat model requests", ["backend", "model", "outcome"])
LLM_LATENCY = Histogram(
    "llm_request_duration_seconds", "Chat model request latency", ["backend", "model"], buckets=LATENCY_BUCKETS
)
LLM_TOKENS = Counter("llm_tokens_total", "Tokens processed", ["backend", "model", "kind"])  # kind: prompt|completion
LLM_COST = Counter("llm_cost_usd_total", "Estimated model cost in USD", ["backend", "model"])
EMBEDDINGS = Counter("embedding_texts_total", "Texts embedded", ["backend", "model"])
IMAGE_EMBEDDINGS = Counter("image_embeddings_total", "Images embedded", ["backend", "model"])
CACHE_LOOKUPS = Counter("cache_lookups_total", "Cache lookups", ["cache", "result"])  # cache: exact|semantic
BREAKER_STATE = Gauge("circuit_breaker_open", "1 when the backend's circuit breaker is open", ["backend"])
RETRIEVAL_LATENCY = Histogram(
    "retrieval_duration_seconds", "Retrieval latency", ["mode"], buckets=LATENCY_BUCKETS
)  # mode: dense|fulltext|hybrid|rerank
JOB_QUEUE_DEPTH = Gauge("job_queue_depth", "Jobs by queue and status", ["queue", "status"])
JOBS_FINISHED = Counter("jobs_finished_total", "Jobs finished", ["task", "outcome"])
SANDBOX_RUNS = Counter("sandbox_runs_total", "Sandboxed code runs", ["status"])  # status: SandboxResult.status
SANDBOX_DURATION = Histogram("sandbox_run_duration_seconds", "Sandboxed code run wall time", buckets=LATENCY_BUCKETS)
