"""The evaluation CLI on a tiny labelled folder made here: the exact interface, the summary keys, the baseline."""

from __future__ import annotations

import json
from pathlib import Path

from projects.multimodal_search import eval as mm_eval
from projects.multimodal_search.tests.images import encode, photo, sign

KEYS = {"text_to_image_recall@1", "text_to_image_recall@5", "text_to_image_recall@10", "image_top1", "image_top5",
        "n", "index_images_per_s", "query_p50_ms", "query_p95_ms", "embedder"}  # fmt: skip


def test_eval_writes_summary_and_results_and_beats_the_metadata_baseline(database_url: str, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    # file names carry the label, as in the dev set: the eval must not index them
    (images / "n11939491_daisy.JPEG").write_bytes(encode(photo("flower")))
    (images / "n03877845_palace.JPEG").write_bytes(encode(photo("china")))
    (images / "n06794110_street_sign.JPEG").write_bytes(encode(sign("BAKERY").convert("RGB")))
    labels = [
        {"file": "n11939491_daisy.JPEG", "wnid": "n11939491", "label": "daisy"},
        {"file": "n03877845_palace.JPEG", "wnid": "n03877845", "label": "palace"},
        {"file": "n06794110_street_sign.JPEG", "wnid": "n06794110", "label": "street sign"},
    ]
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    out = tmp_path / "out"
    rc = mm_eval.main([
        "--images", str(images), "--labels", str(tmp_path / "labels.json"), "--out", str(out),
        "--database-url", database_url, "--no-ocr", "--require-beats-metadata",
    ])  # fmt: skip
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= KEYS and set(summary["baselines"]["metadata"]) >= KEYS
    assert summary["n"] == 3 and summary["embedder"].startswith("efficientnet-lite0@")
    assert summary["text_to_image_recall@1"] >= 2 / 3 and summary["image_top1"] >= 2 / 3
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["label"] for r in rows] == ["daisy", "palace", "street sign"]
    assert all("daisy" not in r["opaque"] and "palace" not in r["opaque"] for r in rows)
    assert rows[0]["predicted_labels"][0][0] == "daisy"


def test_captions_format_is_read_as_free_text_queries(tmp_path: Path) -> None:
    path = tmp_path / "captions.json"
    path.write_text(json.dumps([{"file": "a.png", "caption": "Color image of an astronaut."}]))
    assert mm_eval.load_labels(path) == [
        {"file": "a.png", "label": "Color image of an astronaut.", "query": "Color image of an astronaut."}
    ]
