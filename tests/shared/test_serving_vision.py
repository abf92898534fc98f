"""Image embedders: the packaged EfficientNet-Lite0 with its real weights, open_clip through a tiny
architecture registered from JSON and loaded from a checkpoint, and the OpenAI-compatible adapter
against an in-process mock server. Photos are sklearn's packaged flower.jpg / china.jpg."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from shared.serving import ServingError, get_image_embedder, reset_serving_singletons
from shared.serving.model_store import ModelIntegrityError
from shared.serving.vision import (
    EfficientNetImageEmbedder,
    TextTowerUnavailable,
    build_image_embedder,
    to_rgb,
)
from shared.serving.vision_clip import OpenClipImageEmbedder, open_clip_model_id
from shared.serving.vision_openai import OpenAIImageEmbedder
from shared.settings import Settings, VisionSettings

# sklearn's packaged sample photos, located without importing sklearn (seconds on a loaded machine)
PHOTOS = Path(importlib.util.find_spec("sklearn").submodule_search_locations[0]) / "datasets" / "images"


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def flower() -> Image.Image:
    return Image.open(PHOTOS / "flower.jpg").convert("RGB")


@pytest.fixture(scope="module")
def china() -> Image.Image:
    return Image.open(PHOTOS / "china.jpg").convert("RGB")


@pytest.fixture(scope="module")
def effnet() -> EfficientNetImageEmbedder:
    return EfficientNetImageEmbedder(batch_size=2, label_top_k=5)


# ---------------------------------------------------------------- EfficientNet-Lite0 (real weights)


@pytest.fixture(scope="module")
def shifted(flower) -> Image.Image:
    w, h = flower.size
    return flower.crop((24, 16, w - 8, h - 12))


@pytest.fixture(scope="module")
def outputs(effnet, flower, china, shifted) -> dict:
    """Each forward pass is ~0.1-0.5 s on 2 shared cores: run them once for the tests that read them."""
    return {
        "batch": effnet.embed_images([flower, china, shifted]),  # batch_size=2: two forward passes
        "single": [effnet.analyze([im])[0] for im in (flower, china, shifted)],
    }


def test_efficientnet_features_are_unit_1280d_and_batching_does_not_change_them(effnet, outputs) -> None:
    batch = outputs["batch"]
    assert batch.shape == (3, 1280) and batch.dtype == np.float32 and effnet.dim == 1280
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    # analyze()'s vector is the feature vector embed_images() returns (one pass gives both)
    np.testing.assert_allclose(batch, np.stack([a.vector for a in outputs["single"]]), atol=1e-4)
    assert effnet.embed_images([]).shape == (0, 1280) and effnet.analyze([]) == []
    assert effnet.model == "efficientnet-lite0@579344248a93" and effnet.supports_text is False


def test_efficientnet_labels_are_imagenet_classes_in_model_order(effnet, outputs) -> None:
    assert len(effnet.label_names) == 1000 and effnet.label_names[985] == "daisy"
    flower_a, china_a, _ = outputs["single"]
    # flower.jpg (a pink flower with a yellow centre) -> 'daisy' (index 985) is its top-1 class
    assert flower_a.labels[0][0] == "daisy"
    assert china_a.labels[0][0] == "palace"  # china.jpg is the Summer Palace
    for analysis in (flower_a, china_a):
        probs = [p for _, p in analysis.labels]
        assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < probs[-1] <= probs[0] <= 1


def test_a_shifted_crop_is_closer_than_a_different_photo(outputs) -> None:
    flower, china, shifted = outputs["batch"]
    assert flower @ shifted > 0.9
    assert flower @ shifted > flower @ china + 0.3


def test_any_image_mode_is_accepted(effnet, outputs, flower) -> None:
    grey16 = Image.fromarray((np.asarray(flower.convert("L"), dtype=np.uint16) * 257).astype(np.uint16))
    assert grey16.mode.startswith("I;16")
    rgba = flower.convert("RGBA")
    modes = [rgba, flower.convert("CMYK"), flower.convert("P"), flower.convert("LA"), grey16, flower.convert("L")]
    vecs = effnet.embed_images(modes)
    assert np.isfinite(vecs).all()
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    ref = outputs["batch"][0]
    assert _cos(vecs[0], ref) > 0.999 and _cos(vecs[1], ref) > 0.98  # opaque RGBA, CMYK round trip
    assert _cos(vecs[4], vecs[5]) > 0.99  # 16-bit greyscale rescaled like its 8-bit twin, not clipped to white


def test_extreme_sizes_embed(effnet) -> None:
    rng = np.random.default_rng(0)
    tiny = Image.new("RGB", (1, 1), (200, 30, 30))
    strip = Image.fromarray(rng.integers(0, 256, (100, 30_000, 3), dtype=np.uint8))  # 30,000 x 100
    vecs = effnet.embed_images([tiny, strip])
    assert vecs.shape == (2, 1280) and np.isfinite(vecs).all()
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_transparent_pixels_are_composited_on_white() -> None:
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert to_rgb(clear).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("F", (4, 4), 0.5)).getpixel((0, 0)) == (127, 127, 127)


def test_efficientnet_has_no_text_tower(effnet) -> None:
    with pytest.raises(TextTowerUnavailable) as err:
        effnet.embed_texts(["a daisy"])
    assert isinstance(err.value, ServingError)


def test_weights_with_another_checksum_are_refused() -> None:
    with pytest.raises(ModelIntegrityError):
        EfficientNetImageEmbedder(expected_sha256="0" * 64)


def test_factory_shares_one_instance_per_vision_settings(effnet) -> None:
    reset_serving_singletons()
    settings = Settings()
    first = get_image_embedder(settings)
    assert get_image_embedder(settings) is first
    assert isinstance(first, EfficientNetImageEmbedder) and first._net is effnet._net  # weights loaded once
    reset_serving_singletons()
    assert get_image_embedder(settings) is not first
    reset_serving_singletons()


def test_importing_shared_serving_does_not_import_torch() -> None:
    code = "import sys, shared.serving; print(sorted(m for m in ('torch', 'open_clip') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- open_clip (tiny architecture from JSON)

TINY = "tiny-test-clip"
TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> dict:
    """A random-init tiny CLIP built in memory and saved twice (two seeds) as checkpoint files."""
    import open_clip
    import torch

    d = tmp_path_factory.mktemp("clip")
    cfg = d / f"{TINY}.json"
    cfg.write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(cfg)
    ckpts, models = [], []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model, _, preprocess = open_clip.create_model_and_transforms(TINY)
        path = d / f"tiny-{seed}.pt"
        torch.save(model.state_dict(), path)
        ckpts.append(path)
        models.append(model)
    memory = OpenClipImageEmbedder.from_model(models[0], preprocess, open_clip.get_tokenizer(TINY), "test:tiny-0")
    return {"cfg": cfg, "ckpts": ckpts, "memory": memory}


def test_open_clip_checkpoint_reproduces_the_in_memory_model(tiny_clip, flower, china) -> None:
    loaded = OpenClipImageEmbedder(TINY, str(tiny_clip["ckpts"][0]), model_config=tiny_clip["cfg"], batch_size=2)
    memory = tiny_clip["memory"]
    assert loaded.dim == memory.dim == 32 and loaded.supports_text
    images = [flower, china, flower.convert("RGBA")]
    texts = ["a red circle", "a blue square", "the word stop"]
    img, txt = loaded.embed_images(images), loaded.embed_texts(texts)
    assert img.shape == (3, 32) and txt.shape == (3, 32) and img.dtype == txt.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(img, memory.embed_images(images), atol=1e-5)
    np.testing.assert_allclose(txt, memory.embed_texts(texts), atol=1e-5)
    np.testing.assert_allclose(img[1], loaded.embed_image(china), atol=1e-5)  # batching is transparent
    assert abs(float(txt[0] @ txt[1])) < 0.9999  # different texts, different vectors


def test_open_clip_model_id_follows_the_checkpoint(tiny_clip, flower) -> None:
    cfg, (ckpt0, ckpt1) = tiny_clip["cfg"], tiny_clip["ckpts"]
    id0, id1 = open_clip_model_id(TINY, str(ckpt0), cfg), open_clip_model_id(TINY, str(ckpt1), cfg)
    assert id0.startswith(f"open_clip:{TINY}:") and id0 != id1
    assert open_clip_model_id("ViT-B-32", "laion2b_s34b_b79k") == "open_clip:ViT-B-32:laion2b_s34b_b79k"
    settings = VisionSettings(backend="open_clip", open_clip_model=TINY, open_clip_pretrained=str(ckpt1))
    other = build_image_embedder(settings.model_copy(update={"open_clip_model_config": cfg}))
    assert other.model == id1
    assert not np.allclose(other.embed_image(flower), tiny_clip["memory"].embed_image(flower), atol=1e-3)


def test_open_clip_refuses_random_weights_and_missing_files(tiny_clip, tmp_path) -> None:
    with pytest.raises(ServingError, match="random weights"):
        OpenClipImageEmbedder(TINY, None, model_config=tiny_clip["cfg"])
    with pytest.raises(ServingError, match="not found"):
        OpenClipImageEmbedder(TINY, str(tmp_path / "missing.pt"), model_config=tiny_clip["cfg"])
    wrong_name = tmp_path / "other-name.json"
    wrong_name.write_text(json.dumps(TINY_CFG))
    with pytest.raises(ServingError, match="file stem"):
        OpenClipImageEmbedder(TINY, str(tiny_clip["ckpts"][0]), model_config=wrong_name)


# ---------------------------------------------------------------- OpenAI-compatible server (mock transport)


def _mock_server(requests: list[dict]) -> httpx.MockTransport:
    """Texts embed as [len, 3, 4]-ish unnormalised rows (returned in reverse order); an image as its mean colour."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/embeddings" and request.headers["authorization"] == "Bearer k"
        body = json.loads(request.content)
        requests.append(body)
        if "input" in body:
            rows = [{"index": i, "embedding": [float(len(t)), 3.0, 4.0]} for i, t in enumerate(body["input"])]
            return httpx.Response(200, json={"data": rows[::-1]})
        url = body["messages"][0]["content"][0]["image_url"]["url"]
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        mean = np.asarray(image, dtype=np.float32).reshape(-1, 3).mean(axis=0) + 1.0
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": mean.tolist()}]})

    return httpx.MockTransport(handler)


def test_openai_adapter_request_bodies_and_normalisation() -> None:
    requests: list[dict] = []
    emb = OpenAIImageEmbedder(
        "http://vllm/v1", "clip", api_key="k", batch_size=2, max_side=64, transport=_mock_server(requests)
    )
    txt = emb.embed_texts(["", "abc", "x"])
    assert [r["input"] for r in requests] == [["", "abc"], ["x"]] and requests[0]["model"] == "clip"
    raw = np.array([[0, 3, 4], [3, 3, 4], [1, 3, 4]], dtype=np.float64)  # rows came back in reverse index order
    np.testing.assert_allclose(txt, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)

    requests.clear()
    red = Image.new("RGBA", (300, 100), (255, 0, 0, 255))
    img = emb.embed_images([red, Image.new("L", (10, 10), 0)])
    assert len(requests) == 2  # one request per image
    body = requests[0]
    assert body["model"] == "clip" and body["encoding_format"] == "float"
    (message,) = body["messages"]
    assert message["role"] == "user" and message["content"][0]["type"] == "image_url"
    url = message["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.format == "PNG" and sent.mode == "RGB" and sent.size == (64, 21)  # downscaled to max_side
    np.testing.assert_allclose(img[0], np.array([256, 1, 1]) / np.linalg.norm([256, 1, 1]), atol=1e-5)
    np.testing.assert_allclose(img[1], np.ones(3) / 3**0.5, atol=1e-6)
    assert emb.dim == 3 and emb.model == "openai:clip" and emb.supports_text


def test_openai_adapter_turns_server_errors_into_serving_errors() -> None:
    emb = OpenAIImageEmbedder(
        "http://vllm/v1", "clip", transport=httpx.MockTransport(lambda r: httpx.Response(500, text="boom"))
    )
    with pytest.raises(ServingError, match="clip"):
        emb.embed_images([Image.new("RGB", (4, 4))])
