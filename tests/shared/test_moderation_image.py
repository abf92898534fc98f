"""Image moderation: the real NudeNet ONNX detector (checked weights, NudeNet's own preprocessing) on real photos,
the label→score mapping on synthetic detections, and moderate_image end to end with real OCR and the keyword
cascade: a photo passes, a rendered threat is flagged with the OCR'd text as evidence, bad bytes fail cleanly."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import sklearn
from PIL import Image, ImageDraw, ImageFont

from shared.moderation.image import ImageVerdict, moderate_image
from shared.moderation.nsfw import (
    NUDENET_SHA256,
    Detection,
    ImageEvidence,
    NsfwUnavailableError,
    NudeNetDetector,
    _preprocess,
    decode,
    nudenet_model_path,
    sexual_signals,
)
from shared.moderation.pipeline import build_cascade
from shared.settings import ModerationSettings
from shared.vision.images import ImageInputError

PHOTOS = Path(sklearn.__file__).parent / "datasets" / "images"


@pytest.fixture(scope="module")
def detector() -> NudeNetDetector:
    return NudeNetDetector(threads=2)


@pytest.fixture(scope="module")
def cascade():
    return build_cascade(ModerationSettings(judge="none"), tiers="keywords")


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def threat_poster() -> Image.Image:
    img = Image.new("RGB", (1100, 300), (235, 230, 215))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=52)
    draw.text((40, 60), "I will kill you and", font=font, fill=(20, 20, 30))
    draw.text((40, 160), "your family tonight", font=font, fill=(20, 20, 30))
    return img


def test_weights_are_the_recorded_ones_and_a_tampered_file_is_refused(tmp_path) -> None:
    import hashlib

    assert hashlib.sha256(nudenet_model_path().read_bytes()).hexdigest() == NUDENET_SHA256
    fake = tmp_path / "320n.onnx"
    fake.write_bytes(nudenet_model_path().read_bytes()[:-1] + b"\x00")
    with pytest.raises(NsfwUnavailableError, match="SHA-256"):
        NudeNetDetector(fake)


def test_preprocessing_matches_nudenets_own_blob() -> None:
    # NudeNet's reference reader (OpenCV) is the spec: BGR, padded square, INTER_LINEAR resize to 320
    from nudenet.nudenet import _read_image

    path = PHOTOS / "flower.jpg"
    ours, scale = _preprocess(Image.open(path))
    ref = _read_image(str(path), 320)[0]
    assert ours.shape == ref.shape == (1, 3, 320, 320)
    assert float(np.abs(ours - ref).mean()) < 0.002  # JPEG decoder rounding only; an RGB/BGR swap gives ~0.1
    assert scale == pytest.approx(640 / 320)


def test_real_photos_get_no_sexual_score(detector) -> None:
    images = [Image.open(PHOTOS / name).convert("RGB") for name in ("china.jpg", "flower.jpg")]
    assert detector.detect(images) == [[], []]
    # the raw model on the same photos: no exposed-part box at any usable confidence
    for regions in detector.regions(images):
        assert not [d for d in regions if d.label.endswith("_EXPOSED") and d.score >= 0.3]


def test_decode_maps_model_boxes_back_to_image_pixels_and_suppresses_duplicates() -> None:
    # a synthetic raw output: 22 rows (cx, cy, w, h, 18 class scores) × 3 anchors, two overlapping boxes
    out = np.zeros((22, 3), dtype=np.float32)
    out[:4, 0] = [100, 100, 40, 40]
    out[4 + 4, 0] = 0.8  # FEMALE_GENITALIA_EXPOSED
    out[:4, 1] = [102, 101, 40, 40]
    out[4 + 4, 1] = 0.6  # same place, weaker: suppressed
    out[:4, 2] = [250, 250, 20, 20]
    out[4 + 1, 2] = 0.1  # FACE_FEMALE under the 0.2 floor
    found = decode(out, scale=2.0, width=600, height=400)
    assert found == [Detection("FEMALE_GENITALIA_EXPOSED", pytest.approx(0.8), (160, 160, 80, 80))]


def test_label_mapping_exposed_parts_score_sexual_and_covered_or_faces_do_not() -> None:
    benign = [
        Detection("FACE_FEMALE", 0.95, (0, 0, 10, 10)),
        Detection("FEMALE_BREAST_COVERED", 0.9, (0, 0, 10, 10)),
        Detection("FEET_EXPOSED", 0.9, (0, 0, 10, 10)),
        Detection("MALE_BREAST_EXPOSED", 0.9, (0, 0, 10, 10)),
        Detection("BUTTOCKS_COVERED", 0.9, (0, 0, 10, 10)),
    ]
    assert sexual_signals(benign, "nudenet") == []
    explicit = sexual_signals([*benign, Detection("MALE_GENITALIA_EXPOSED", 0.8, (5, 6, 7, 8))], "nudenet")
    assert [(s.category, s.score) for s in explicit] == [("sexual", 0.8)]
    ev = explicit[0].evidence[0]
    assert isinstance(ev, ImageEvidence) and ev.source == "image_region" and ev.box == (5, 6, 7, 8)
    assert "MALE_GENITALIA_EXPOSED" in ev.why
    # several weaker boxes add up (noisy-OR), a lone swimwear-like box stays under review
    two = sexual_signals([Detection("FEMALE_BREAST_EXPOSED", 0.5, (0, 0, 1, 1))] * 2, "nudenet")
    assert two[0].score == pytest.approx(1 - (1 - 0.45) ** 2, abs=1e-4)
    assert sexual_signals([Detection("BUTTOCKS_EXPOSED", 0.9, (0, 0, 1, 1))], "nudenet")[0].score < 0.7
    assert sexual_signals([Detection("ANUS_EXPOSED", 0.25, (0, 0, 1, 1))], "nudenet", min_confidence=0.3) == []


def test_a_real_photo_is_allowed(detector, cascade) -> None:
    verdict = moderate_image((PHOTOS / "china.jpg").read_bytes(), cascade, nsfw=detector, filename="china.jpg")
    assert isinstance(verdict, ImageVerdict)
    assert verdict.action == "allow" and verdict.flagged == []
    assert (verdict.width, verdict.height, verdict.media_type) == (640, 427, "image/jpeg")
    assert verdict.policy_version == cascade.policy.version_id and "nsfw" in verdict.timings_ms


def test_a_rendered_threat_is_flagged_through_ocr_with_the_text_as_evidence(detector, cascade) -> None:
    verdict = moderate_image(jpeg(threat_poster()), cascade, nsfw=detector)
    assert "kill you" in verdict.ocr_text
    assert verdict.action == "block" and "violence" in verdict.flagged
    violence = verdict.categories["violence"]
    assert any(d.startswith("ocr:") for d in violence.detectors)
    ev = violence.evidence[0]
    assert isinstance(ev, ImageEvidence) and ev.source == "ocr_text"
    assert verdict.ocr_text[ev.start : ev.end] == ev.text and "kill you" in ev.text.lower()
    x, y, w, _ = ev.box
    assert 0 <= x < 200 and 20 <= y < 150 and w > 200  # the first rendered line, in the upload's pixels


def test_image_and_text_signals_merge_per_category(cascade) -> None:
    class Fixed:
        name = "fake-nsfw"

        def detect(self, images):
            return [sexual_signals([Detection("FEMALE_GENITALIA_EXPOSED", 0.95, (1, 2, 3, 4))], self.name)]

    verdict = moderate_image(jpeg(threat_poster()), cascade, nsfw=Fixed())
    assert verdict.categories["sexual"].action == "block" and verdict.categories["violence"].action == "block"
    assert verdict.categories["sexual"].evidence[0].source == "image_region"
    assert verdict.categories["sexual"].detectors == {"fake-nsfw": 0.95}


def test_nsfw_off_and_ocr_off_are_settings(cascade) -> None:
    off = ModerationSettings(image_nsfw="none", image_ocr=False)
    verdict = moderate_image(jpeg(threat_poster()), cascade, settings=off)
    assert verdict.action == "allow" and verdict.ocr_text == "" and "nsfw" not in verdict.timings_ms


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"", "empty"), (b"not an image at all", "unsupported_type"), (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "corrupt")],
)
def test_bad_bytes_raise_a_clean_input_error(cascade, data, code) -> None:
    with pytest.raises(ImageInputError) as info:
        moderate_image(data, cascade, nsfw=None)
    assert info.value.code == code
