"""The eight projects the platform knows about, and where each one's entry points live.

A project "lands" by providing the modules named here (by convention ``projects/<slug>/api.py``
with ``create_router(ctx)``, ``projects/<slug>/ui/page.py`` and ``projects/<slug>/demo.py`` with
``load_demo_data(ctx)``) and by moving its status off ``planned``. The platform mounts whatever
is importable, so a partial checkout still starts.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared.settings import REPO_ROOT

Status = Literal["planned", "alpha", "beta", "stable"]


@dataclass(frozen=True)
class Project:
    slug: str
    title: str
    description: str
    prefix: str
    status: Status = "planned"

    @property
    def router_factory(self) -> str:
        """``module:function`` of ``create_router(ctx: ServiceContext) -> APIRouter``."""
        return f"projects.{self.slug}.api:create_router"

    @property
    def demo_loader(self) -> str:
        """``module:function`` of ``load_demo_data(ctx: ServiceContext) -> None`` (idempotent)."""
        return f"projects.{self.slug}.demo:load_demo_data"

    @property
    def streamlit_page(self) -> Path:
        return REPO_ROOT / "projects" / self.slug / "ui" / "page.py"

    def has_router(self) -> bool:
        return _exists(self.router_factory)

    def has_demo_data(self) -> bool:
        return _exists(self.demo_loader)

    def has_page(self) -> bool:
        return self.streamlit_page.is_file()

    def load_router_factory(self) -> Callable[..., Any]:
        return _load(self.router_factory)

    def load_demo_loader(self) -> Callable[..., Any]:
        return _load(self.demo_loader)


def _exists(target: str) -> bool:
    module = target.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the project's package itself is missing
        return False


def _load(target: str) -> Callable[..., Any]:
    module, attr = target.split(":", 1)
    return getattr(importlib.import_module(module), attr)


PROJECTS: tuple[Project, ...] = (
    Project(
        "enterprise_rag",
        "Enterprise RAG",
        "Permission-aware question answering over company documents with citations.",
        "/rag",
        status="beta",
    ),
    Project(
        "support_agent",
        "Customer support agent",
        "Tool-using support agent that follows policies, looks up orders and escalates to humans.",
        "/support",
        status="alpha",
    ),
    Project(
        "code_assistant",
        "Code assistant",
        "Repository-aware Q&A with citations, fill-in-the-middle completion, a sandboxed debug loop, docs and review.",
        "/code",
        status="alpha",
    ),
    Project(
        "document_intelligence",
        "Document intelligence",
        "OCR, layout, classification and field extraction from scans and PDFs, with human review and Q&A.",
        "/docintel",
        status="alpha",
    ),
    Project(
        "autonomous_agent",
        "Autonomous agent",
        "Plans, calls tools and checks its own work on multi-step tasks within a budget.",
        "/agent",
        status="alpha",
    ),
    Project(
        "multimodal_search",
        "Multimodal search",
        "Search images and text together with image embeddings, captions and hybrid ranking.",
        "/search",
        "alpha",
    ),
    Project(
        "nl2sql_analytics",
        "NL-to-SQL analytics",
        "Answers business questions by writing, validating and running read-only SQL.",
        "/analytics",
        status="alpha",
    ),
    Project(
        "content_moderation",
        "Content moderation",
        "Classifies text and images against a policy with calibrated thresholds and human review.",
        "/moderation",
        status="alpha",
    ),
)


def get_project(slug: str) -> Project:
    for project in PROJECTS:
        if project.slug == slug:
            return project
    raise KeyError(slug)
