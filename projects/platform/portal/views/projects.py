"""Home: the eight projects with their status and where to try each one."""

from __future__ import annotations

import streamlit as st

from projects.platform.portal.client import Api
from projects.platform.registry import PROJECTS

api = Api.from_settings()

st.title("GenAI reference systems")
st.write(
    "Eight production-grade reference GenAI systems on one shared platform: model serving, "
    "retrieval on PostgreSQL + pgvector, evaluation, guardrails and an API kit. "
    f"API docs: [{api.base_url}/docs]({api.base_url}/docs)"
)

rows = []
for project in PROJECTS:
    landed = project.has_router()
    rows.append(
        {
            "Project": project.title,
            "What it does": project.description,
            "Status": project.status if landed or project.status != "planned" else "planned",
            "API": f"{api.base_url}/docs#/{project.title.replace(' ', '%20')}"
            if landed
            else f"{project.prefix} (planned)",
            "Page": f"/{project.slug}" if project.has_page() else "",
        }
    )
st.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    column_config={"API": st.column_config.LinkColumn("API"), "Page": st.column_config.LinkColumn("Page")},
)
st.caption(f"{sum(p.has_router() for p in PROJECTS)} of {len(PROJECTS)} projects available in this checkout.")
