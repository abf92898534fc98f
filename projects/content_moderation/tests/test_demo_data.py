"""The generated demo forum: deterministic, complete, and its images decode."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from PIL import Image

from projects.content_moderation.demo_data import DEMO_IMAGES, DEMO_POSTS, REACH, write_demo_data


def test_demo_data_is_byte_identical_across_runs(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert write_demo_data(a) == {"posts": len(DEMO_POSTS), "images": len(DEMO_IMAGES)}
    write_demo_data(b)
    for f in sorted(p.name for p in a.iterdir()):
        assert hashlib.sha256((a / f).read_bytes()).digest() == hashlib.sha256((b / f).read_bytes()).digest(), f
    rows = [json.loads(line) for line in (a / "posts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["ref"] for r in rows] == [p.ref for p in DEMO_POSTS] and len({r["ref"] for r in rows}) == len(rows)
    for image in DEMO_IMAGES:
        with Image.open(io.BytesIO((a / image.filename).read_bytes())) as img:
            assert img.width >= 400


def test_the_mix_a_moderator_sees() -> None:
    expected = {p.expected for p in DEMO_POSTS}
    assert expected == {"allow", "flag", "review", "block"}
    assert sum(p.expected == "allow" for p in DEMO_POSTS) >= len(DEMO_POSTS) // 2  # mostly ordinary traffic
    assert any("\u200b" in p.text for p in DEMO_POSTS)  # evasion
    assert any(p.channel == "help-bot" and p.expected == "block" for p in DEMO_POSTS)  # injection at the bot
    assert all(p.reach == REACH[p.channel] for p in DEMO_POSTS)
