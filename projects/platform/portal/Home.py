"""Portal entry point: navigation over the platform pages and every landed project's page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from projects.platform.registry import PROJECTS

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="GenAI reference systems", layout="wide")

platform_pages = [
    st.Page(str(HERE / "views" / "projects.py"), title="Projects", default=True),
    st.Page(str(HERE / "views" / "playground.py"), title="Model playground", url_path="playground"),
    st.Page(str(HERE / "views" / "status.py"), title="System status", url_path="status"),
]
project_pages = [st.Page(str(p.streamlit_page), title=p.title, url_path=p.slug) for p in PROJECTS if p.has_page()]
sections = {"Platform": platform_pages}
if project_pages:
    sections["Projects"] = project_pages
st.navigation(sections).run()
