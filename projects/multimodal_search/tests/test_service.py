"""The service end to end on real parts: uploads and folder imports, the indexing job, text/image/hybrid search,
filters, cutoff, pagination, near-duplicates, failures and retries."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import psycopg
import pytest

from projects.multimodal_search.models import ImageFilters, ImageSearchOptions, SearchQuery
from projects.multimodal_search.service import FolderMissing, FolderNotAllowed, ImageNotFound, MultimodalService
from projects.multimodal_search.tests.conftest import OTHER, USER
from projects.multimodal_search.tests.images import encode, photo, photo_bytes, sign, solid, stripes, with_exif
from shared.vision.images import ImageInputError


def names(page: dict) -> list[str]:
    return [h["image"]["filename"] for h in page["hits"]]


def library(service: MultimodalService) -> dict[str, dict]:
    return {i["filename"]: i for i in service.list_images(USER, limit=200)}


@pytest.fixture
def indexed(service: MultimodalService) -> MultimodalService:
    files = [
        ("flower.jpg", photo_bytes("flower")),
        ("china.jpg", photo_bytes("china")),
        ("bakery_sign.png", encode(sign("BAKERY"), "PNG")),
        ("red.png", encode(solid((220, 30, 30)), "PNG")),
        ("portrait_blue.jpg", with_exif(stripes((30, 60, 200)), taken=datetime(2024, 6, 1, 12, 0))),
    ]
    out = service.upload(USER, files, tags=["test"])
    assert out["added"] == 5 and out["status"] == "queued"
    service.drain()
    return service


def test_upload_indexes_every_image_with_labels_ocr_and_metadata(indexed: MultimodalService) -> None:
    images = library(indexed)
    assert {i["status"] for i in images.values()} == {"indexed"}
    assert images["flower.jpg"]["labels"][0][0] == "daisy"
    assert images["china.jpg"]["labels"][0][0] == "palace"
    assert "BAKERY" in (images["bakery_sign.png"]["ocr_text"] or "").upper()
    portrait = images["portrait_blue.jpg"]
    assert (portrait["width"], portrait["height"], portrait["orientation"]) == (200, 300, "portrait")
    assert portrait["taken_at"] == datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert portrait["camera_model"] == "EOS R6" and "blue" in portrait["colours"]
    imp = indexed.list_imports(USER)[0]
    assert (imp["status"], imp["done"], imp["total"], imp["failed"]) == ("done", 5, 5, 0)


def test_text_search_finds_images_by_label_ocr_and_colour(indexed: MultimodalService) -> None:
    assert names(indexed.search(USER, SearchQuery(query="a daisy")))[0] == "flower.jpg"
    assert names(indexed.search(USER, SearchQuery(query="palace")))[0] == "china.jpg"
    bakery = indexed.search(USER, SearchQuery(query="bakery"))
    assert names(bakery)[0] == "bakery_sign.png" and bakery["hits"][0]["text_rank"] == 1
    assert names(indexed.search(USER, SearchQuery(query="bakery", mode="text"))) == ["bakery_sign.png"]
    diverse = indexed.search(USER, SearchQuery(query="a daisy", mmr=True))
    assert names(diverse)[0] == "flower.jpg" and len(diverse["hits"]) == 5  # MMR re-orders, never drops
    vector_only = indexed.search(USER, SearchQuery(query="a photo of a flower", mode="vector"))
    assert names(vector_only)[0] == "flower.jpg" and all(h["text_rank"] is None for h in vector_only["hits"])


def test_filters_apply_in_sql(indexed: MultimodalService) -> None:
    def search(**f) -> set[str]:
        return set(names(indexed.search(USER, SearchQuery(query="image", filters=ImageFilters(**f)))))

    assert search(orientation="portrait") == {"portrait_blue.jpg"}
    assert search(min_width=600) == {"flower.jpg", "china.jpg", "bakery_sign.png"}
    assert search(date_from=datetime(2024, 1, 1, tzinfo=UTC), date_to=datetime(2025, 1, 1, tzinfo=UTC)) == {
        "portrait_blue.jpg"
    }
    assert search(camera="EOS R6") == {"portrait_blue.jpg"}
    assert search(has_text=True) == {"bakery_sign.png"}
    assert search(tags=["test"]) == set(library(indexed))
    assert search(tags=["nope"]) == set()
    assert search(sources=["upload"]) == set(library(indexed)) and search(sources=["travel"]) == set()


def test_similarity_cutoff_drops_weak_vector_hits_but_keeps_word_matches(indexed: MultimodalService) -> None:
    everything = indexed.search(USER, SearchQuery(query="bakery"))
    assert len(everything["hits"]) == 5
    strict = indexed.search(USER, SearchQuery(query="bakery", min_similarity=0.9))
    assert names(strict) == ["bakery_sign.png"]  # kept: its text matches, whatever its vector similarity
    assert indexed.search(USER, SearchQuery(query="zebra", min_similarity=0.9))["hits"] == []


def test_pagination_walks_all_results_without_overlap(indexed: MultimodalService) -> None:
    pages, page = [], 1
    while True:
        result = indexed.search(USER, SearchQuery(query="picture", page=page, page_size=2))
        pages.append(names(result))
        if not result["has_more"]:
            break
        page += 1
    flat = [n for p in pages for n in p]
    assert [len(p) for p in pages] == [2, 2, 1] and len(set(flat)) == 5


def test_more_like_this_and_image_query(indexed: MultimodalService) -> None:
    images = library(indexed)
    similar = indexed.similar(USER, images["red.png"]["id"], ImageSearchOptions())
    assert "red.png" not in names(similar) and len(similar["hits"]) == 4
    assert similar["hits"][0]["similarity"] >= similar["hits"][-1]["similarity"]
    crop = photo("flower").crop((100, 60, 540, 380))
    by_image = indexed.search_by_image(USER, encode(crop), "crop.jpg", ImageSearchOptions(page_size=2))
    assert names(by_image)[0] == "flower.jpg" and by_image["hits"][0]["similarity"] > 0.7
    with pytest.raises(ImageNotFound):
        indexed.similar(OTHER, images["red.png"]["id"], ImageSearchOptions())


def test_exact_and_near_duplicates(service: MultimodalService) -> None:
    service.upload(USER, [("flower.jpg", photo_bytes("flower"))])
    again = service.upload(USER, [("copy.jpg", photo_bytes("flower"))])
    assert (again["added"], again["duplicates"], again["status"]) == (0, 1, "done")
    smaller = encode(photo("flower").resize((320, 213)), quality=70)
    service.upload(USER, [("flower_small.jpg", smaller), ("china.jpg", photo_bytes("china"))])
    service.drain()
    images = library(service)
    assert len(images) == 3
    assert images["flower_small.jpg"]["duplicate_of"] == images["flower.jpg"]["id"]
    assert images["china.jpg"]["duplicate_of"] is None
    collapsed = service.search(USER, SearchQuery(query="daisy"))
    assert names(collapsed)[0] in ("flower.jpg", "flower_small.jpg") and collapsed["hits"][0]["duplicates"] == 1
    assert len(collapsed["hits"]) == 2
    assert len(service.search(USER, SearchQuery(query="daisy", collapse_duplicates=False))["hits"]) == 3
    assert service.stats(USER)["near_duplicates"] == 1


def test_concurrent_uploads_of_the_same_image_store_it_once(service: MultimodalService) -> None:
    data = photo_bytes("china")
    results: list[dict] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(service.upload(USER, [(f"c{i}.jpg", data)])))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["added"] for r in results) == 1 and sum(r["duplicates"] for r in results) == 3
    with psycopg.connect(service.url) as conn:
        assert conn.execute("SELECT count(*) FROM mms_images").fetchone()[0] == 1


def test_bad_upload_stores_nothing_and_a_mixed_batch_reports_each_file(service: MultimodalService) -> None:
    with pytest.raises(ImageInputError) as err:
        service.upload(USER, [("notes.jpg", b"just some text, not a picture")])
    assert err.value.code == "unsupported_type"
    truncated = photo_bytes("china")[:5000]
    out = service.upload(USER, [("ok.jpg", photo_bytes("flower")), ("cut.jpg", truncated)])
    assert out["added"] == 1 and [s["code"] for s in out["skipped"]] == ["corrupt"]
    with psycopg.connect(service.url) as conn:
        assert conn.execute("SELECT count(*) FROM mms_images").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM mms_imports").fetchone()[0] == 1
    assert len([p for p in service.settings.media_dir.rglob("*") if p.is_file()]) == 1


def test_folder_import_with_sidecar_skips_bad_files_and_refuses_other_folders(service: MultimodalService) -> None:
    folder = service.settings.import_roots[0] / "trip"
    (folder / "day2").mkdir(parents=True)
    (folder / "harbour.jpg").write_bytes(photo_bytes("china"))
    (folder / "day2" / "flower.jpg").write_bytes(photo_bytes("flower"))
    (folder / "day2" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (folder / "readme.txt").write_text("not an image and not an image extension")
    (folder / "captions.json").write_text(
        json.dumps([{"file": "harbour.jpg", "caption": "Evening at the old harbour", "tags": ["harbour"]}])
    )
    imp = service.import_folder(USER, str(folder))
    assert imp["status"] == "queued" and imp["source"] == "trip"
    service.drain()
    imp = service.get_import(USER, imp["id"])
    assert (imp["status"], imp["added"], imp["done"]) == ("done", 2, 2)
    assert [(s["file"], s["code"]) for s in imp["skipped"]] == [("day2/broken.png", "corrupt")]
    images = library(service)
    assert images["harbour.jpg"]["caption"] == "Evening at the old harbour" and images["harbour.jpg"]["tags"] == [
        "harbour"
    ]
    assert names(service.search(USER, SearchQuery(query="harbour")))[0] == "harbour.jpg"
    with pytest.raises(FolderNotAllowed):
        service.import_folder(USER, "/etc")
    with pytest.raises(FolderNotAllowed):
        service.import_folder(USER, str(folder / ".." / ".." / ".."))
    with pytest.raises(FolderMissing):
        service.import_folder(USER, str(service.settings.import_roots[0] / "nope"))


def test_an_unreadable_original_fails_only_that_image_and_retry_recovers_it(service: MultimodalService) -> None:
    imp = service.upload(USER, [("a.jpg", photo_bytes("china")), ("b.jpg", photo_bytes("flower"))])
    stored = next(p for p in service.settings.media_dir.rglob("*.jpeg") if p.read_bytes() == photo_bytes("flower"))
    aside = stored.rename(stored.with_suffix(".aside"))  # storage loses the file before the job runs
    service.drain()
    images = library(service)
    assert images["b.jpg"]["status"] == "failed" and "unreadable" in images["b.jpg"]["error"]
    assert images["a.jpg"]["status"] == "indexed"
    assert service.get_import(USER, imp["id"])["status"] == "done"
    assert service.get_import(USER, imp["id"])["failed"] == 1
    aside.rename(stored)
    assert service.retry_import(USER, imp["id"])["status"] == "queued"
    service.drain()
    assert library(service)["b.jpg"]["status"] == "indexed"
    assert service.get_import(USER, imp["id"])["failed"] == 0


def test_tenants_are_isolated(indexed: MultimodalService) -> None:
    assert indexed.search(OTHER, SearchQuery(query="daisy"))["hits"] == []
    assert indexed.list_images(OTHER) == []
    some_id = next(iter(library(indexed).values()))["id"]
    with pytest.raises(ImageNotFound):
        indexed.get(OTHER, some_id)
    with pytest.raises(ImageNotFound):
        indexed.thumbnail(OTHER, some_id)


def test_delete_removes_the_image_from_every_index(indexed: MultimodalService) -> None:
    flower = library(indexed)["flower.jpg"]
    indexed.delete(USER, flower["id"])
    assert "flower.jpg" not in names(indexed.search(USER, SearchQuery(query="daisy")))
    with psycopg.connect(indexed.url) as conn:
        assert conn.execute("SELECT count(*) FROM documents WHERE source_uri = %s", (flower["id"],)).fetchone()[0] == 0
