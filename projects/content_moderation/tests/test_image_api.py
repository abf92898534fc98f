"""POST /moderate/image and GET /review/items/{id}/media on the real service (embedded PostgreSQL, the real
NudeNet detector, real OCR, the text cascade at tier ``fast``): a photo passes and leaves only its hash, a rendered
threat is blocked through OCR with the read text as evidence, a rendered insult goes to review with its image
kept for the reviewer, bad uploads are refused with a precise problem and store nothing, and a key replays."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import sklearn
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont

from projects.content_moderation.service import ModerationService
from projects.content_moderation.settings import ContentModerationSettings
from projects.content_moderation.tests.conftest import PREFIX, count, headers, reviewer

PHOTO = Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg"
THREAT = ("I will find you and beat you until", "you can't stand up.")
INSULT = ("Only an idiot would leave the bandsaw running like that.", "Are you stupid or just lazy?")
MAX_IMAGE_BYTES = 300_000  # small enough for a noise PNG to exceed, large enough for the test images
TABLES = ("cm_decisions", "cm_media", "cm_review_items", "cm_idempotency")


@pytest.fixture
def settings() -> ContentModerationSettings:
    """The conftest settings with a small image limit (the 413 test) that every real test image fits under."""
    return ContentModerationSettings(tiers="fast", inline_worker=False, max_image_bytes=MAX_IMAGE_BYTES)


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def poster(lines: tuple[str, ...]) -> bytes:
    """Dark text on a light background, large enough for OCR to read it back exactly."""
    img = Image.new("RGB", (1200, 80 + 60 * len(lines)), (240, 238, 230))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=34)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 60 * i), line, font=font, fill=(15, 15, 25))
    return encode(img, "PNG")


def upload(client: TestClient, data: bytes, name: str = "upload.png", key: str | None = None, **form: str):
    hdr = {**headers(), **({"Idempotency-Key": key} if key else {})}
    return client.post(f"{PREFIX}/moderate/image", files={"file": (name, data)}, data=form, headers=hdr)


def test_a_photo_is_allowed_keeps_only_its_hash_and_replays_by_key(client: TestClient, database_url: str) -> None:
    photo = encode(Image.open(PHOTO).convert("RGB"), "JPEG")
    sha = hashlib.sha256(photo).hexdigest()
    first = upload(client, photo, "china.jpg", key="img-1", surface="comments", reach="40")
    assert first.status_code == 200, first.text
    body = first.json()
    [result] = body["results"]
    assert result["action"] == "allow" and result["flagged"] == [] and result["review_item_id"] is None
    assert result["categories"]["sexual"]["score"] == 0.0 and {"nsfw", "ocr"} <= set(result["timings_ms"])  # ran
    assert (body["width"], body["height"], body["media_type"]) == (640, 427, "image/jpeg")
    assert body["image_sha256"] == sha and body["surface"] == "comments" and body["warnings"] == []
    assert count(database_url, "cm_decisions", f"text_sha256 = '{sha}' AND text_bytes = {len(photo)}") == 1
    assert count(database_url, "cm_media") == 0 and count(database_url, "cm_review_items") == 0  # hash only

    again = upload(client, photo, "china.jpg", key="img-1", surface="comments", reach="40")
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == body and count(database_url, "cm_decisions") == 1
    other = upload(client, poster(THREAT), key="img-1")  # same key, another image: refused before anything runs
    assert other.status_code == 409 and other.json()["type"].endswith("idempotency-key-reused")
    assert count(database_url, "cm_decisions") == 1


def test_a_rendered_threat_is_blocked_through_ocr_with_the_read_text_as_evidence(
    client: TestClient, database_url: str
) -> None:
    resp = upload(client, poster(THREAT), "threat.png")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    [result] = body["results"]
    assert "beat you" in body["ocr_text"] and result["action"] == "block"
    flagged = [result["categories"][c] for c in result["flagged"]]
    evidence = [e for c in flagged for e in c["evidence"] if e["source"] == "ocr_text"]
    assert evidence, result
    ev = evidence[0]
    assert body["ocr_text"][ev["start"] : ev["end"]] == ev["text"] and ev["why"].startswith("OCR text")
    assert len(ev["box"]) == 4 and ev["box"][2] > 100  # the line in the image's pixels
    assert any(d.startswith("ocr:") for c in flagged for d in c["detectors"])
    assert count(database_url, "cm_decisions", "action = 'block'") == 1
    assert count(database_url, "cm_media") == 0  # a block is not reviewed (CONTENTMOD__REVIEW_ACTIONS): not kept

    text = client.post(f"{PREFIX}/moderate", json={"text": "you f.a.g.g.o.t"}, headers=headers()).json()
    [text_ev] = text["results"][0]["categories"]["hate"]["evidence"]  # a text's evidence: no image fields
    assert set(text_ev) == {"start", "end", "text", "why"} and text_ev["text"] == "f.a.g.g.o.t"


def test_an_insult_in_an_image_goes_to_review_with_the_image_for_the_reviewer(
    client: TestClient, database_url: str
) -> None:
    image = poster(INSULT)
    sha = hashlib.sha256(image).hexdigest()
    resp = upload(client, image, "insult.png", reach="500", source_ref="post-7")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    [result] = body["results"]
    assert result["action"] == "review" and "harassment" in result["flagged"] and result["review_item_id"]
    assert count(database_url, "cm_media", f"sha256 = '{sha}' AND media_type = 'image/png'") == 1

    item_id = result["review_item_id"]
    item = client.get(f"{PREFIX}/review/items/{item_id}", headers=reviewer("rita")).json()
    assert item["media_sha256"] == sha and item["text"] == body["ocr_text"].strip() and "idiot" in item["text"]
    assert item["reach"] == 500 and item["source_ref"] == "post-7"
    assert item["categories"]["harassment"]["evidence"][0]["source"] == "ocr_text"

    media = client.get(f"{PREFIX}/review/items/{item_id}/media", headers=reviewer("rita"))
    assert media.status_code == 200 and media.content == image
    assert media.headers["content-type"] == "image/png" and "no-store" in media.headers["cache-control"]
    assert client.get(f"{PREFIX}/review/items/{item_id}/media", headers=headers("bob")).status_code == 403
    assert client.get(f"{PREFIX}/review/items/{item_id}/media", headers=reviewer("x", "other")).status_code == 404

    text_item = client.post(f"{PREFIX}/moderate", json={"text": "I want to hurt myself"}, headers=headers()).json()
    text_item_id = text_item["results"][0]["review_item_id"]
    missing = client.get(f"{PREFIX}/review/items/{text_item_id}/media", headers=reviewer("rita"))
    assert missing.status_code == 404 and missing.json()["type"].endswith("not-found")
    queue = client.get(f"{PREFIX}/review/queue", headers=reviewer("rita")).json()
    assert {q["media_sha256"] for q in queue} == {sha, None}


def truncated_png() -> bytes:
    data = encode(Image.new("RGB", (400, 300), (10, 120, 200)), "PNG")
    return data[: len(data) // 2]


def noise_png() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)  # incompressible
    data = encode(Image.fromarray(pixels), "PNG")
    assert len(data) > MAX_IMAGE_BYTES
    return data


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("empty.png", lambda: b"", 422, "image-empty"),
        ("notes.png", lambda: b"just some text pretending to be a picture\n" * 5, 415, "image-unsupported-type"),
        ("cut.png", truncated_png, 422, "image-corrupt"),
        ("huge.png", noise_png, 413, "image-too-large"),
    ],
)
def test_bad_uploads_get_a_precise_problem_and_store_nothing(
    client: TestClient, database_url: str, name: str, make, status: int, code: str
) -> None:
    resp = upload(client, make(), name, key=f"bad-{code}")
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["type"].endswith("/" + code) and problem["errors"][0]["code"] == code
    assert all(count(database_url, t) == 0 for t in TABLES)


def test_the_direct_service_call_checks_the_size_too_and_openapi_documents_the_errors(
    client: TestClient, service: ModerationService
) -> None:
    from shared.vision.images import ImageInputError

    with pytest.raises(ImageInputError) as exc:
        service.moderate_image(b"\x89PNG" + b"\0" * MAX_IMAGE_BYTES, "x.png", "acme")
    assert exc.value.code == "too_large"

    spec = client.get("/openapi.json").json()
    post = spec["paths"][f"{PREFIX}/moderate/image"]["post"]
    assert {"413", "415", "422", "409"} <= set(post["responses"])
    assert "multipart/form-data" in post["requestBody"]["content"]
    media = spec["paths"][f"{PREFIX}/review/items/{{item_id}}/media"]["get"]
    assert {"403", "404"} <= set(media["responses"]) and "image/png" in media["responses"]["200"]["content"]
    missing_file = client.post(f"{PREFIX}/moderate/image", data={"surface": "default"}, headers=headers())
    assert missing_file.status_code == 422  # no `file` part
