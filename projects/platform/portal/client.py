"""How the portal talks to the platform API: plain HTTP for probes, the OpenAI client for chat.

Using the ``openai`` client against ``/v1`` is deliberate: it is the same code a project would
use against vLLM, so the playground exercises the production path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import get_settings

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Api:
    base_url: str
    api_key: str | None = None

    @classmethod
    def from_settings(cls) -> Api:
        portal = get_settings().portal
        key = portal.api_key.get_secret_value() if portal.api_key else None
        return cls(portal.api_url.rstrip("/"), key)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key} if self.api_key else {}

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base_url + path, headers=self.headers, timeout=TIMEOUT_S)

    def models(self) -> list[str]:
        resp = self.get("/v1/models")
        resp.raise_for_status()
        return [m["id"] for m in resp.json()["data"]]

    def openai(self):
        from openai import OpenAI

        return OpenAI(base_url=self.base_url + "/v1", api_key=self.api_key or "not-needed", timeout=300, max_retries=0)

    def chat_stream(self, model: str, messages: list[dict], *, max_tokens: int, temperature: float) -> Iterator[str]:
        stream = self.openai().chat.completions.create(
            model=model, messages=messages, max_tokens=max_tokens, temperature=temperature, stream=True
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


def problem_text(resp: httpx.Response) -> str:
    """An RFC 7807 problem response as one line for ``st.error``: status, title, the first error code, detail."""
    try:
        body = resp.json()
    except ValueError:
        return f"{resp.status_code}: {resp.text[:300]}"
    errors = body.get("errors") or []
    code = f" [{errors[0]['code']}]" if errors and isinstance(errors[0], dict) and errors[0].get("code") else ""
    return f"{resp.status_code} {body.get('title', '')}{code}: {body.get('detail', '')}"


KEY_METRICS = {
    "http_requests_total": "HTTP requests",
    "llm_requests_total": "Model requests",
    "llm_tokens_total": "Tokens",
    "cache_lookups_total": "Cache lookups",
    "embedding_texts_total": "Texts embedded",
}


def summarize_metrics(text: str) -> dict[str, float]:
    """Totals of the metrics an operator looks at first (sums over labels)."""
    totals = dict.fromkeys(KEY_METRICS.values(), 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            label = KEY_METRICS.get(sample.name)
            if label is not None:
                totals[label] += sample.value
    return totals


def latency_quantiles(text: str) -> dict[str, float]:
    """Mean request latency per route template, from the histogram's sum and count."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            route = sample.labels.get("route")
            if sample.name == "http_request_duration_seconds_sum":
                sums[route] = sums.get(route, 0.0) + sample.value
            elif sample.name == "http_request_duration_seconds_count":
                counts[route] = counts.get(route, 0.0) + sample.value
    return {r: 1000 * sums[r] / counts[r] for r in sums if counts.get(r)}
