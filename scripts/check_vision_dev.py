"""Spot-check the offline image embedder on the dev ImageNet photos: top-1/top-5 label accuracy and images/s.

    PYTHONPATH=$PWD python -m scripts.check_vision_dev [--images DIR] [--labels LABELS.json] [--batch-size 16]

Not a test (it reads /work/shared/data); it is how the numbers in MODELS.md / the README are reproduced.
``LABELS.json`` is ``[{"file", "wnid", "label"}]`` with ``label`` an ImageNet class name as torchvision spells it.
Throughput counts decoding + preprocessing + the forward pass, not model loading (reported separately).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from PIL import Image

from shared.serving.vision import EfficientNetImageEmbedder

DEV = Path("/work/shared/data/multimodal/imagenet-sample")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DEV)
    parser.add_argument("--labels", type=Path, default=None, help="default: IMAGES/labels.json")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    items = json.loads((args.labels or args.images / "labels.json").read_text())

    t0 = time.perf_counter()
    embedder = EfficientNetImageEmbedder(batch_size=args.batch_size, label_top_k=5, threads=args.threads)
    load_s = time.perf_counter() - t0
    unknown = sorted({it["label"] for it in items} - set(embedder.label_names))
    if unknown:
        raise SystemExit(f"labels not among the model's ImageNet classes: {unknown}")

    top1 = top5 = 0
    t0 = time.perf_counter()
    for i in range(0, len(items), args.batch_size):
        chunk = items[i : i + args.batch_size]
        images = []
        for it in chunk:
            with Image.open(args.images / it["file"]) as im:
                im.load()
                images.append(im.copy())
        for it, analysis in zip(chunk, embedder.analyze(images), strict=True):
            names = [name for name, _ in analysis.labels]
            top1 += names[0] == it["label"]
            top5 += it["label"] in names
    run_s = time.perf_counter() - t0
    n = len(items)
    print(
        json.dumps(
            {
                "model": embedder.model,
                "n": n,
                "top1": round(top1 / n, 4),
                "top5": round(top5 / n, 4),
                "images_per_s": round(n / run_s, 2),
                "load_s": round(load_s, 2),
                "batch_size": args.batch_size,
            }
        )
    )


if __name__ == "__main__":
    main()
