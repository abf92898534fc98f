"""Demo loading: deterministic database, connection, semantic layer and starter tiles; idempotent; RLS visible."""

from __future__ import annotations

from pathlib import Path

from projects.nl2sql_analytics.demo import CONNECTION, DASHBOARD_USERS, STARTER_TILES, load_demo_data
from projects.nl2sql_analytics.service import Nl2SqlService
from projects.nl2sql_analytics.settings import PROJECT_DIR, Nl2SqlSettings
from projects.nl2sql_analytics.workspace import edited_semantic_path
from shared.api.context import ServiceContext


def test_demo_loads_once_and_shows_row_level_security(database_url: str, tmp_path: Path) -> None:
    settings = Nl2SqlSettings(data_dir=tmp_path / "data", demo_customers=60, sample_values=0)
    ctx = ServiceContext(database_url=database_url)
    load_demo_data(ctx, settings)
    db = settings.data_dir / "demo.sqlite"
    stamp = db.stat().st_mtime_ns
    layer = edited_semantic_path(settings, CONNECTION)
    assert layer.read_text() == (PROJECT_DIR / "semantic" / "demo.yaml").read_text()
    layer.write_text(layer.read_text() + "# my edit\n")

    load_demo_data(ctx, settings)  # idempotent: same file, same tiles, the user's edit kept
    assert db.stat().st_mtime_ns == stamp and layer.read_text().endswith("# my edit\n")
    service = Nl2SqlService(database_url, settings)
    assert [c.name for c in service.list_connections()] == [CONNECTION]
    for user in DASHBOARD_USERS:
        assert [t.title for t in service.list_tiles(user)] == [t["title"] for t in STARTER_TILES]

    def regions(user: str) -> list[str]:
        tile = next(t for t in service.list_tiles(user) if t.title == "Revenue by region")
        return [row[0] for row in service.refresh_tile(user, tile.id).answer.rows]

    assert regions("dana") == ["North America"] and len(regions("analyst")) == 5

    db.write_bytes(db.read_bytes()[:-1] + b"\x01")  # a changed file is regenerated
    load_demo_data(ctx, settings)
    assert db.stat().st_mtime_ns != stamp and len(regions("analyst")) == 5
