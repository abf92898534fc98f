"""System status: liveness, readiness per dependency, and the key Prometheus counters."""

from __future__ import annotations

import httpx
import streamlit as st

from projects.platform.portal.client import Api, latency_quantiles, summarize_metrics

api = Api.from_settings()

st.title("System status")
st.caption(f"Platform API: {api.base_url}")
if st.button("Refresh"):
    st.rerun()

try:
    health = api.get("/health")
except httpx.HTTPError as exc:
    st.error(f"API unreachable: {exc}")
    st.stop()

live, ready_col = st.columns(2)
live.metric("Liveness (/health)", "up" if health.status_code == 200 else f"HTTP {health.status_code}")

ready = api.get("/ready")
body = ready.json()
ready_col.metric("Readiness (/ready)", "ready" if ready.status_code == 200 else "not ready")
if ready.status_code == 200:
    checks = [{"check": name, **result} for name, result in body["checks"].items()]
else:
    checks = body.get("errors", [])
    st.warning(body.get("detail", "not ready"))
st.subheader("Readiness checks")
st.dataframe(checks, hide_index=True, width="stretch")

metrics_text = api.get("/metrics").text
st.subheader("Key metrics (since process start)")
cols = st.columns(len(summarize := summarize_metrics(metrics_text)))
for col, (label, value) in zip(cols, summarize.items(), strict=True):
    col.metric(label, f"{value:,.0f}")
latency = latency_quantiles(metrics_text)
if latency:
    st.subheader("Mean latency by route (ms)")
    st.dataframe(
        [{"route": r, "mean_ms": round(ms, 1)} for r, ms in sorted(latency.items())],
        hide_index=True,
        width="stretch",
    )
