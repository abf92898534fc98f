"""The HTTP surface: every bad input the issue lists gets a precise problem and stores nothing; awkward but valid
images (1×1, 30,000×100, CMYK, 16-bit, alpha, animated GIF) are accepted and indexed; search and detail routes."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from projects.multimodal_search.api import create_router
from projects.multimodal_search.service import MultimodalService
from projects.multimodal_search.settings import MultimodalSettings
from projects.multimodal_search.tests.images import encode, photo, photo_bytes, sign
from shared.api.app import create_app
from shared.api.context import ServiceContext

PREFIX = "/search"
QUERY_IMAGE_LIMIT = 60_000


def headers(user: str = "alice", tenant: str = "acme") -> dict[str, str]:
    return {"X-User-Id": user, "X-Tenant-Id": tenant}


@pytest.fixture
def settings(tmp_path: Path) -> MultimodalSettings:
    roots = tmp_path / "imports"
    roots.mkdir()
    return MultimodalSettings(
        media_dir=tmp_path / "media", import_roots=[roots], inline_worker=False, ocr=False,
        max_query_image_bytes=QUERY_IMAGE_LIMIT, max_upload_bytes=2_000_000,
    )  # fmt: skip


@pytest.fixture
def service(database_url: str, settings: MultimodalSettings) -> Iterator[MultimodalService]:
    svc = MultimodalService(database_url, settings)
    yield svc
    svc.queue.close()


@pytest.fixture
def client(database_url: str, service: MultimodalService, settings: MultimodalSettings) -> Iterator[TestClient]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("mms-test", routers=[(PREFIX, create_router(ctx, settings, service=service))])
    with TestClient(app) as c:
        yield c


def upload(client: TestClient, *files: tuple[str, bytes], **form: str):
    return client.post(f"{PREFIX}/images", files=[("files", f) for f in files], data=form, headers=headers())


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("mms_images", "mms_imports"))


def bomb_header_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A real 8×8 PNG whose IHDR says ``width``×``height`` (CRC fixed): a decompression bomb's header."""
    data = bytearray(encode(Image.new("L", (8, 8), 128), "PNG"))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (64, 48), (i * 100, 50, 200 - i * 60)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


BAD = {
    "not an image, image extension": ("holiday.jpg", lambda: b"%PDF-1.7 not really a photo", 415, "unsupported-type"),
    "truncated JPEG": ("cut.jpg", lambda: photo_bytes("china")[:6000], 422, "corrupt"),
    "decompression bomb": ("bomb.png", bomb_header_png, 422, "too-many-pixels"),
    "empty file": ("empty.png", lambda: b"", 422, "empty"),
    "over the upload limit": ("big.png", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 2_000_100, 413, "too-large"),
    "thinner than 500:1": (
        "strip.png",
        lambda: encode(Image.new("L", (30_000, 50), 200), "PNG"),
        422,
        "bad-dimensions",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_upload_is_a_precise_problem_and_stores_nothing(
    client: TestClient, database_url: str, settings: MultimodalSettings, case: str
) -> None:
    filename, make, status, code = BAD[case]
    resp = upload(client, (filename, make()))
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["type"].endswith("/" + code) and body["status"] == status and body["detail"]
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert counts(database_url) == (0, 0)
    assert not settings.media_dir.exists() or not any(settings.media_dir.rglob("*.*"))


def test_awkward_but_valid_images_are_accepted_and_indexed(
    client: TestClient, service: MultimodalService, database_url: str
) -> None:
    cmyk = encode(photo("flower").convert("CMYK"), "JPEG")
    sixteen = encode(Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)), "PNG")
    alpha = Image.new("RGBA", (80, 60), (255, 0, 0, 0))
    alpha.paste((0, 0, 255, 255), (20, 15, 60, 45))
    files = [
        ("one.png", encode(Image.new("RGB", (1, 1), (10, 200, 10)), "PNG")),
        ("strip.png", encode(Image.new("L", (30_000, 100), 200), "PNG")),
        ("cmyk.jpg", cmyk),
        ("deep.png", sixteen),
        ("alpha.png", encode(alpha, "PNG")),
        ("anim.gif", animated_gif()),
        ("scan.tiff", encode(photo("china"), "TIFF")),
        ("pic.webp", encode(photo("china").rotate(180), "WEBP")),
    ]
    resp = upload(client, *files)
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert (job["added"], job["skipped"]) == (8, [])
    service.drain()
    done = client.get(f"{PREFIX}/imports/{job['id']}", headers=headers()).json()
    assert (done["status"], done["done"], done["failed"]) == ("done", 8, 0)
    images = {i["filename"]: i for i in client.get(f"{PREFIX}/images", headers=headers()).json()}
    assert {i["status"] for i in images.values()} == {"indexed"}
    assert (images["strip.png"]["width"], images["strip.png"]["height"]) == (30_000, 100)
    assert any("first of 3 frames" in w for w in images["anim.gif"]["warnings"])
    assert images["anim.gif"]["n_frames"] == 3 and images["cmyk.jpg"]["media_type"] == "image/jpeg"
    thumb = client.get(f"{PREFIX}/images/{images['strip.png']['id']}/thumbnail", headers=headers())
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) <= 256
    original = client.get(f"{PREFIX}/images/{images['cmyk.jpg']['id']}/original", headers=headers())
    assert original.content == cmyk


def test_search_routes_and_their_errors(client: TestClient, service: MultimodalService) -> None:
    assert upload(client, ("flower.jpg", photo_bytes("flower")), ("china.jpg", photo_bytes("china"))).status_code == 202
    service.drain()
    hits = client.post(f"{PREFIX}/query", json={"query": "daisy"}, headers=headers()).json()["hits"]
    assert hits[0]["image"]["filename"] == "flower.jpg" and hits[0]["image"]["labels"][0][0] == "daisy"
    for bad in ({"query": ""}, {"query": "   "}, {"query": "x" * 501}, {"query": "a", "page_size": 0}):
        resp = client.post(f"{PREFIX}/query", json=bad, headers=headers())
        assert resp.status_code == 422, bad
    small = encode(photo("china").resize((160, 107)))
    by_image = client.post(f"{PREFIX}/query/image", files={"file": ("q.jpg", small)}, headers=headers())
    assert by_image.status_code == 200 and by_image.json()["hits"][0]["image"]["filename"] == "china.jpg"
    big = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)), "PNG")
    assert len(big) > QUERY_IMAGE_LIMIT
    resp = client.post(f"{PREFIX}/query/image", files={"file": ("big.png", big)}, headers=headers())
    assert resp.status_code == 413 and resp.json()["type"].endswith("/too-large")
    resp = client.post(
        f"{PREFIX}/query/image", files={"file": ("q.jpg", small)}, data={"options": json.dumps({"page": 0})},
        headers=headers(),
    )  # fmt: skip
    assert resp.status_code == 422 and "page" in resp.json()["detail"]
    resp = client.post(f"{PREFIX}/query/image", files={"file": ("q.txt", b"hello")}, headers=headers())
    assert resp.status_code == 415
    china = hits[-1]["image"]["id"] if hits[-1]["image"]["filename"] == "china.jpg" else hits[0]["image"]["id"]
    similar = client.post(f"{PREFIX}/images/{china}/similar", headers=headers())
    assert similar.status_code == 200 and china not in [h["image"]["id"] for h in similar.json()["hits"]]
    for path in ("/images/not-a-uuid", "/images/00000000-0000-0000-0000-000000000000", "/imports/nope"):
        resp = client.get(PREFIX + path, headers=headers())
        assert resp.status_code == 404 and resp.json()["type"].endswith("/not-found")
    assert client.get(f"{PREFIX}/images/{china}", headers=headers(tenant="other")).status_code == 404


def test_folder_import_routes(client: TestClient, service: MultimodalService, settings: MultimodalSettings) -> None:
    folder = settings.import_roots[0] / "signs"
    folder.mkdir()
    (folder / "bakery.png").write_bytes(encode(sign("BAKERY"), "PNG"))
    resp = client.post(f"{PREFIX}/imports", json={"path": str(folder)}, headers=headers())
    assert resp.status_code == 202 and resp.json()["status"] == "queued"
    service.drain()
    assert client.get(f"{PREFIX}/imports/{resp.json()['id']}", headers=headers()).json()["added"] == 1
    outside = client.post(f"{PREFIX}/imports", json={"path": "/etc"}, headers=headers())
    assert outside.status_code == 403 and outside.json()["type"].endswith("/folder-not-allowed")
    missing = client.post(f"{PREFIX}/imports", json={"path": str(folder / "nope")}, headers=headers())
    assert missing.status_code == 422
    stats = client.get(f"{PREFIX}/stats", headers=headers()).json()
    assert stats["images"] == 1 and stats["sources"] == ["signs"] and stats["stale"] == 0
    assert client.post(f"{PREFIX}/reindex", headers=headers()).json() == {"queued": False, "job": None}


def test_openapi_documents_the_problems(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    upload_responses = spec["paths"][f"{PREFIX}/images"]["post"]["responses"]
    assert {"202", "413", "415", "422"} <= set(upload_responses)
    assert {"403", "422"} <= set(spec["paths"][f"{PREFIX}/imports"]["post"]["responses"])
    assert "413" in spec["paths"][f"{PREFIX}/query/image"]["post"]["responses"]
