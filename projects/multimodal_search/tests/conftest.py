"""Fixtures: a real service (embedded PostgreSQL, packaged EfficientNet-Lite0 + MiniLM, rapidocr) per test DB."""

from __future__ import annotations

from pathlib import Path

import pytest

from projects.multimodal_search.service import MultimodalService
from projects.multimodal_search.settings import MultimodalSettings
from shared.retrieval.models import Principal

USER = Principal(user_id="alice", tenant_id="acme")
OTHER = Principal(user_id="mallory", tenant_id="other")


@pytest.fixture
def settings(tmp_path: Path) -> MultimodalSettings:
    imports = tmp_path / "imports"
    imports.mkdir()
    return MultimodalSettings(media_dir=tmp_path / "media", import_roots=[imports], inline_worker=False)


@pytest.fixture
def service(database_url: str, settings: MultimodalSettings):
    svc = MultimodalService(database_url, settings)
    yield svc
    svc.queue.close()


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory):
    """A CLIP trained here, once per session, on generated shapes (see tiny_clip.py): real training, no download."""
    from projects.multimodal_search.tiny_clip import DEFAULT_STEPS, train_tiny_clip

    return train_tiny_clip(tmp_path_factory.mktemp("tiny_clip"), steps=DEFAULT_STEPS, seed=0)
