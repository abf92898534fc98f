"""The production open_clip path end to end: a CLIP trained in this session on generated shapes, loaded from its
checkpoint through the settings the way a real CLIP is, indexed into PostgreSQL by the service, searched."""

from __future__ import annotations

from collections import defaultdict

import pytest

from projects.multimodal_search.models import ImageSearchOptions, SearchQuery
from projects.multimodal_search.service import Models, MultimodalService
from projects.multimodal_search.settings import MultimodalSettings
from projects.multimodal_search.shapes import ShapeSample, make_shape_images
from projects.multimodal_search.tests.conftest import USER
from projects.multimodal_search.tests.images import encode
from shared.serving import get_embedder
from shared.serving.vision import build_image_embedder
from shared.settings import VisionSettings

PER_CLASS = 3


@pytest.fixture(scope="module")
def shapes() -> dict[str, ShapeSample]:
    """Up to PER_CLASS held-out images (a seed training never saw) per colour+shape, under opaque names."""
    per_class: dict[tuple[str, str], list[ShapeSample]] = defaultdict(list)
    for s in make_shape_images(600, seed=424_242):
        if s.text is None and len(per_class[(s.colour, s.shape)]) < PER_CLASS:
            per_class[(s.colour, s.shape)].append(s)
    samples = [s for group in per_class.values() for s in group]
    return {f"img{i:03d}.png": s for i, s in enumerate(samples)}


def clip_service(database_url: str, settings: MultimodalSettings, tiny_clip) -> MultimodalService:
    vision = VisionSettings(
        backend="open_clip", open_clip_model=tiny_clip.model_name, open_clip_pretrained=str(tiny_clip.checkpoint_path),
        open_clip_model_config=tiny_clip.config_path, batch_size=32,
    )  # fmt: skip
    models = Models(image=build_image_embedder(vision), text=get_embedder(), ocr=None)
    return MultimodalService(database_url, settings.model_copy(update={"ocr": False}), models)


def test_a_red_circle_retrieves_red_circles(database_url, settings, tiny_clip, shapes) -> None:
    service = clip_service(database_url, settings, tiny_clip)
    try:
        assert service.profile.joint and service.model.startswith(f"open_clip:{tiny_clip.model_name}:")
        files = [(name, encode(s.image, "PNG")) for name, s in shapes.items()]
        assert service.upload(USER, files, index_filename=False)["added"] == len(files)
        service.drain()

        def top(query: str, mode: str = "vector", k: int = PER_CLASS) -> list[tuple[str, str]]:
            page = service.search(USER, SearchQuery(query=query, mode=mode, page_size=k, collapse_duplicates=False))
            return [(shapes[h["image"]["filename"]].colour, shapes[h["image"]["filename"]].shape) for h in page["hits"]]

        assert top("a red circle") == [("red", "circle")] * PER_CLASS
        assert top("a blue square") == [("blue", "square")] * PER_CLASS
        assert top("a red circle", mode="hybrid", k=1) == [("red", "circle")]
        # image→image in the same joint space: a red circle's neighbours are red circles
        first_red_circle = next(n for n, s in shapes.items() if (s.colour, s.shape) == ("red", "circle"))
        image_id = next(i["id"] for i in service.list_images(USER, limit=500) if i["filename"] == first_red_circle)
        similar = service.similar(USER, image_id, ImageSearchOptions(page_size=1, collapse_duplicates=False))
        assert (
            shapes[similar["hits"][0]["image"]["filename"]].colour,
            shapes[similar["hits"][0]["image"]["filename"]].shape,
        ) == ("red", "circle")
    finally:
        service.queue.close()


def test_changing_the_model_reindexes_into_new_collections(database_url, settings, tiny_clip, shapes) -> None:
    names = list(shapes)[:8]
    default = MultimodalService(database_url, settings.model_copy(update={"ocr": False}))
    try:
        default.upload(USER, [(n, encode(shapes[n].image, "PNG")) for n in names], index_filename=False)
        default.drain()
        old = {s.collection for s in default.profile.spaces}
    finally:
        default.queue.close()

    service = clip_service(database_url, settings, tiny_clip)  # the settings now name another model
    try:
        stats = service.stats(USER)
        assert (stats["images"], stats["stale"]) == (8, 8)
        assert all(i["stale"] for i in service.list_images(USER))
        job = service.reindex(USER)
        assert job is not None and job["kind"] == "reindex" and job["total"] == 8
        service.drain()
        assert service.get_import(USER, job["id"])["status"] == "done"
        assert service.stats(USER)["stale"] == 0 and service.reindex(USER) is None
        collections = {c.name for c in service.store.list_collections()}
        assert service.profile.text.collection in collections and not (old & collections)  # old spaces dropped
        everything = SearchQuery(query="a shape", page_size=20, collapse_duplicates=False)
        assert len(service.search(USER, everything)["hits"]) == 8
    finally:
        service.queue.close()
