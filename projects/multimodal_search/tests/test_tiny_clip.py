"""The open_clip path end to end without downloads: train a tiny CLIP on generated shapes, load it back the way
production does (registered config + ``pretrained=<checkpoint path>``), and retrieve held-out images by text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

from projects.multimodal_search.shapes import COLOURS, SHAPES, WORDS, canonical_caption, make_shape_images
from projects.multimodal_search.tiny_clip import (
    TinyClipArtifacts,
    evaluate_tiny_clip,
    main,
    tiny_clip_config,
    train_tiny_clip,
)

HELD_OUT_SEED = 424_242  # training batches use seeds derived from seed 0; this set is never seen in training


@pytest.fixture(scope="module")
def artifacts(tiny_clip: TinyClipArtifacts) -> TinyClipArtifacts:
    """Trained once per session (conftest): the service-level tests index with the same model."""
    return tiny_clip


@pytest.fixture(scope="module")
def loaded(artifacts: TinyClipArtifacts):
    """Exactly what a service does with VISION__OPEN_CLIP_MODEL / _PRETRAINED / _MODEL_CONFIG."""
    open_clip.add_model_config(artifacts.config_path)
    model, _, preprocess = open_clip.create_model_and_transforms(
        artifacts.model_name, pretrained=str(artifacts.checkpoint_path)
    )
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(artifacts.model_name)


@pytest.fixture(scope="module")
def held_out(loaded):
    model, preprocess, _ = loaded
    samples = make_shape_images(400, seed=HELD_OUT_SEED)
    with torch.no_grad():
        features = model.encode_image(torch.stack([preprocess(s.image) for s in samples]), normalize=True)
    return samples, features


def _search(loaded, held_out, query: str, k: int = 5):
    model, _, tokenizer = loaded
    samples, image_features = held_out
    with torch.no_grad():
        text = model.encode_text(tokenizer([query]), normalize=True)
    top = (image_features @ text.T).squeeze(1).topk(k).indices.tolist()
    return [samples[i] for i in top]


# -- the generator ---------------------------------------------------------------------------------------------------


def test_generator_is_deterministic_and_seed_dependent():
    a, b, c = make_shape_images(12, seed=3), make_shape_images(12, seed=3), make_shape_images(12, seed=4)
    assert [s.caption for s in a] == [s.caption for s in b]
    assert all(np.array_equal(np.asarray(x.image), np.asarray(y.image)) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(np.asarray(x.image), np.asarray(y.image)) for x, y in zip(a, c, strict=True))


def test_generator_covers_every_class_with_matching_captions_and_paraphrases():
    samples = make_shape_images(600, seed=1, size=48)
    assert all(s.image.size == (48, 48) and s.image.mode == "RGB" for s in samples)
    shapes = [s for s in samples if s.shape != "word"]
    assert {(s.colour, s.shape) for s in shapes} == {(c, s) for c in COLOURS for s in SHAPES}
    assert all(s.colour in s.caption for s in shapes)  # every caption names the colour; the shape may be paraphrased
    captions = {s.caption for s in shapes}
    assert canonical_caption("red", "circle") in captions
    assert any("round" in c and "red" in c for c in captions)
    assert any("background" in c for c in captions)
    words = [s for s in samples if s.shape == "word"]
    assert {s.text for s in words} == set(WORDS)
    assert all(s.text in s.caption for s in words)


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError):
        make_shape_images(-1, seed=0)
    with pytest.raises(ValueError):
        make_shape_images(1, seed=0, size=4)


# -- training and loading back ----------------------------------------------------------------------------------------


def test_artifacts_are_an_open_clip_config_and_a_loadable_checkpoint(artifacts, loaded):
    config = json.loads(artifacts.config_path.read_text())
    assert config == tiny_clip_config()
    assert artifacts.config_path.stem == artifacts.model_name  # open_clip names registered configs by file stem
    assert artifacts.model_name in open_clip.list_models()
    assert np.isfinite(artifacts.final_loss)
    model, _, tokenizer = loaded
    assert isinstance(tokenizer, open_clip.SimpleTokenizer)  # the packaged BPE vocab: nothing downloaded
    assert tokenizer(["a red circle"]).shape == (1, config["text_cfg"]["context_length"])
    saved = torch.load(artifacts.checkpoint_path, weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    untrained, _, _ = open_clip.create_model_and_transforms(artifacts.model_name, pretrained=None)
    assert not torch.equal(untrained.state_dict()["text_projection"], model.state_dict()["text_projection"])


def test_loaded_model_embeds_an_image_the_same_alone_or_in_a_batch(loaded, held_out):
    """The image tower has BatchNorm: a service must call ``model.eval()`` (open_clip returns a model in train mode)."""
    model, preprocess, _ = loaded
    samples, features = held_out
    with torch.no_grad():
        alone = model.encode_image(preprocess(samples[7].image).unsqueeze(0), normalize=True)
    assert torch.allclose(alone[0], features[7], atol=1e-5)


def test_settings_point_production_at_the_artifacts(artifacts):
    env = artifacts.env()
    assert env["VISION__BACKEND"] == "open_clip"
    assert env["VISION__OPEN_CLIP_MODEL"] == artifacts.model_name
    assert Path(env["VISION__OPEN_CLIP_PRETRAINED"]).is_file()
    assert Path(env["VISION__OPEN_CLIP_MODEL_CONFIG"]).is_file()


def test_training_refuses_zero_steps(tmp_path):
    with pytest.raises(ValueError):
        train_tiny_clip(tmp_path, steps=0, seed=0)


# -- retrieval on held-out images -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "colour", "shape"), [("a red circle", "red", "circle"), ("a blue square", "blue", "square")]
)
def test_text_query_retrieves_matching_held_out_images(loaded, held_out, query, colour, shape):
    top = _search(loaded, held_out, query)
    assert [(s.colour, s.shape) for s in top] == [(colour, shape)] * 5


def test_paraphrased_query_finds_the_same_shapes(loaded, held_out):
    top = _search(loaded, held_out, "a round red shape", k=3)
    assert [(s.colour, s.shape) for s in top] == [("red", "circle")] * 3


@pytest.mark.parametrize("word", WORDS)
def test_rendered_word_query_finds_images_of_that_word(loaded, held_out, word):
    top = _search(loaded, held_out, f"the word {word}")
    assert all(s.shape == "word" for s in top)  # text in an image, not a coloured shape
    assert sum(s.text == word for s in top) >= 3  # measured 4 of 5 for each word (200 steps, seed 0)


def test_zero_shot_colour_and_shape_accuracy_is_far_above_chance(artifacts):
    quality = evaluate_tiny_clip(artifacts, n=300, seed=HELD_OUT_SEED + 1)
    assert quality.chance < 0.04
    assert quality.zero_shot_accuracy >= 0.6  # measured 0.92 (200 steps, seed 0)
    assert quality.precision_at_5 >= 0.7  # measured 0.94


def test_cli_trains_and_prints_the_settings(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert f"VISION__OPEN_CLIP_PRETRAINED={(tmp_path / 'tiny-clip-shapes.pt').resolve()}" in out
    assert f"VISION__OPEN_CLIP_MODEL_CONFIG={(tmp_path / 'tiny-clip-shapes.json').resolve()}" in out
    assert "VISION__OPEN_CLIP_MODEL=tiny-clip-shapes" in out
