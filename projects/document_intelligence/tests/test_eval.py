"""The SROIE eval end to end on a generated 3-receipt folder (never ../shared/data), with and without a (fake) LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from projects.document_intelligence import eval as di_eval
from projects.document_intelligence.tests.test_extraction import ScriptedChat

RECEIPTS = {
    "001": (
        [
            ("KEDAI MAJU SDN BHD", (60, 60, 300, 85)),
            ("NO. 5, JALAN BUNGA 3,", (50, 110, 320, 130)),
            ("43000 KAJANG, SELANGOR.", (60, 133, 310, 153)),
            ("TEL: 03-1234 5678", (80, 156, 250, 175)),
            ("DATE: 05/03/2019", (20, 200, 300, 220)),
            ("TOTAL:", (20, 350, 100, 370)),
            ("6.50", (300, 350, 340, 370)),
        ],
        {"company": "KEDAI MAJU SDN BHD", "date": "05/03/2019",
         "address": "NO. 5, JALAN BUNGA 3, 43000 KAJANG, SELANGOR.", "total": "RM6.50"},
    ),
    "002": (
        [
            ("SINAR TRADING", (60, 60, 300, 85)),
            ("LOT 7, JALAN API,", (50, 110, 320, 130)),
            ("81100 JOHOR BAHRU", (60, 133, 310, 153)),
            ("INVOICE NO: 77", (20, 180, 300, 198)),
            ("12-01-19 21:13", (20, 200, 300, 220)),
            ("GRAND TOTAL", (20, 350, 150, 370)),
            ("RM 12.00", (260, 350, 340, 370)),
        ],
        {"company": "SINAR TRADING", "date": "12/01/2019", "address": "LOT 7, JALAN API, 81100 JOHOR BAHRU",
         "total": "12.00"},
    ),
    "003": (  # gold total empty (SROIE has such keys); the receipt prints a total anyway
        [
            ("TOKO BARU SDN BHD", (60, 60, 300, 85)),
            ("NO 1, JALAN SATU", (50, 110, 320, 130)),
            ("DATE 01/02/2018", (20, 200, 300, 220)),
            ("TOTAL 3.00", (20, 350, 340, 370)),
        ],
        {"company": "TOKO BARU SDN BHD", "date": "01/02/2018", "address": "NO 1, JALAN SATU", "total": ""},
    ),
}  # fmt: skip


def quad(b) -> str:
    x0, y0, x1, y1 = b
    return f"{x0},{y0},{x1},{y0},{x1},{y1},{x0},{y1}"


@pytest.fixture
def sroie_dir(tmp_path: Path) -> Path:
    root = tmp_path / "sroie"
    (root / "key").mkdir(parents=True)
    (root / "box").mkdir()
    for rid, (lines, gold) in RECEIPTS.items():
        (root / "key" / f"{rid}.json").write_text(json.dumps(gold), encoding="utf-8")
        # lines written bottom-up: the loader must restore reading order itself
        (root / "box" / f"{rid}.csv").write_text(
            "".join(f"{quad(b)},{t}\n" for t, b in reversed(lines)), encoding="utf-8"
        )
    (root / "key" / "999.json").write_text("{}", encoding="utf-8")  # a key without a box file is skipped
    return root


SUMMARY_KEYS = {"accuracy", "f1", "per_field", "micro_f1", "n", "seconds_per_doc", "baselines", "mode"}


def test_eval_text_mode_no_llm(sroie_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = di_eval.main(["--sroie", str(sroie_dir), "--out", str(out), "--no-llm", "--require-beats-regex"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    regex = summary["baselines"]["regex"]
    assert {"accuracy", "f1", "micro_f1", "n", "seconds_per_doc"} <= set(regex)
    assert summary["n"] == 3 and regex["n"] == 3
    assert summary["accuracy"] == {"company": 1.0, "address": 1.0, "date": 1.0, "total": pytest.approx(2 / 3, abs=1e-3)}
    # total: 3 predicted, 2 gold, 2 correct -> P 2/3, R 1, F1 0.8; micro: 11 correct / 12 predicted / 11 gold
    assert summary["per_field"]["total"]["precision"] == pytest.approx(0.6667, abs=1e-4)
    assert summary["per_field"]["total"]["recall"] == 1.0
    assert summary["f1"]["total"] == pytest.approx(0.8)
    assert summary["micro_f1"] == pytest.approx(2 * (11 / 12) * 1.0 / (11 / 12 + 1.0), abs=1e-4)
    assert summary["seconds_per_doc"]["p50"] is not None
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["001", "002", "003"]
    assert rows[0]["systems"]["regex"]["predicted"]["total"] == "6.50"
    assert rows[0]["systems"]["pipeline"]["scores"]["address"]["correct"] is True
    assert {"predicted", "scores", "seconds", "needs_review"} <= set(rows[1]["systems"]["pipeline"])


def test_eval_with_fake_llm_and_limit(sroie_dir: Path, tmp_path: Path, monkeypatch) -> None:
    fake = ScriptedChat(json.dumps({"company": "SINAR TRADING", "address": "NOWHERE STREET 9"}))
    monkeypatch.setattr("shared.serving.factory.get_chat_model", lambda *a, **k: fake)
    out = tmp_path / "out"
    rc = di_eval.main(["--sroie", str(sroie_dir), "--out", str(out), "--limit", "2", "--concurrency", "1"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 2 and summary["system"]["llm"] is True and summary["system"]["model"] == "scripted"
    assert fake.calls, "the LLM was asked for the weak fields"
    # the hallucinated address loses to the heuristic one: the pipeline is not worse than the baseline
    assert summary["micro_f1"] >= summary["baselines"]["regex"]["micro_f1"]


def test_cer() -> None:
    assert di_eval.cer(["ABC", "DEF"], ["ABC", "DEF"]) == 0.0
    assert di_eval.cer(["ABX DEF"], ["ABC", "DEF"]) == pytest.approx(1 / 7)
    assert di_eval.cer(["Date: 1"], ["DATE: 1"]) == 0.0  # SROIE transcripts are upper-cased: case is folded
    assert di_eval.cer([], ["AB"]) == 1.0


def test_image_mode_parses_the_image_and_reports_cer_and_page_times(sroie_dir: Path, tmp_path: Path) -> None:
    from .parsing_docs import image_bytes, text_image

    lines = [text for text, _ in RECEIPTS["001"][0][:5]] + ["TOTAL: 6.50"]
    (sroie_dir / "img").mkdir()
    (sroie_dir / "img" / "001.jpg").write_bytes(image_bytes(text_image(lines), "JPEG", quality=90))
    (sroie_dir / "img" / "002.jpg").write_bytes(b"not an image")  # a broken file is an error row, not a crash
    out = tmp_path / "img_out"
    di_eval.main(["--sroie", str(sroie_dir), "--out", str(out), "--mode", "image", "--no-llm"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "image" and summary["n"] == 1 and summary["n_errors"] == 1
    assert summary["ocr_cer"] < 0.15  # real OCR of a clean render vs the CSV transcripts (whose rows differ a bit)
    assert summary["seconds_per_page"]["p50"] > 0
    assert summary["accuracy"]["company"] == 1.0 and summary["accuracy"]["date"] == 1.0
