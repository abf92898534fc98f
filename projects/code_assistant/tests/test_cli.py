"""The ``code-assistant`` CLI on a real repository and the real index (the model is a recording double where
the command's own logic is under test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from projects.code_assistant import cli
from projects.code_assistant.tests.conftest import write_shop
from shared.settings import get_settings
from shared.testing.doubles import RecordingChat


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, embedder):
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    chat = RecordingChat("The total is rounded by round_cents [1].")
    monkeypatch.setattr("shared.serving.get_chat_model", lambda *a, **k: chat)
    monkeypatch.setattr("shared.serving.get_embedder", lambda *a, **k: embedder)
    yield chat
    get_settings.cache_clear()


def test_index_then_ask_reuses_the_index(env, tmp_path: Path, capsys):
    repo = write_shop(tmp_path / "shop")
    assert cli.main(["-q", "index", str(repo)]) == 0
    assert cli.main(["-q", "ask", str(repo), "Where is round_cents defined?"]) == 0
    out = capsys.readouterr().out
    assert "shop/money.py:5-7" in out and "[1]" in out
    assert env.calls == []  # a symbol lookup needs no model
    assert cli.main(["-q", "ask", str(repo), "How is the cart total rounded?"]) == 0
    out = capsys.readouterr().out
    assert "round_cents [1]" in out and "Sources:" in out


def test_complete_prints_the_middle(env, tmp_path: Path, capsys):
    repo = write_shop(tmp_path / "shop")
    target = repo / "shop" / "lines.py"
    target.write_text("from shop.money import round_cents\n\ndef line_total(price, qty):\n    return \n")
    env.replies = ["round_cents(price * qty)\nmore"]
    assert cli.main(["-q", "complete", str(target), "--line", "4", "--col", "11", "--repo", str(repo)]) == 0
    assert capsys.readouterr().out.strip() == "round_cents(price * qty)"  # line mode: one line
    assert "<|file_sep|>shop/money.py" in env.calls[-1].prompt


def test_review_and_doc_commands(env, tmp_path: Path, capsys):
    repo = write_shop(tmp_path / "shop")
    diff = tmp_path / "change.diff"
    diff.write_text(
        "--- a/shop/money.py\n+++ b/shop/money.py\n@@ -1,2 +1,3 @@\n"
        ' """Money helpers."""\n+import pdb\n from decimal import ROUND_HALF_UP, Decimal\n'
    )
    env.replies = ['{"comments": []}']
    assert cli.main(["-q", "review", str(diff)]) == 0
    assert "pdb" in capsys.readouterr().out
    env.replies = ["Round an amount half-up to cents."]
    money = repo / "shop" / "money.py"
    before = money.read_text()
    assert cli.main(["-q", "doc", str(money), "--symbol", "round_cents"]) == 0
    assert capsys.readouterr().out.startswith("--- a/money.py")
    assert money.read_text() == before  # printed, not applied
    assert cli.main(["-q", "doc", str(money), "--symbol", "round_cents", "--apply"]) == 0
    assert '"""Round an amount half-up to cents."""' in money.read_text()
