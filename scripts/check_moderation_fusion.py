"""Compare fusion rules for the cascade on the OpenAI moderation dev set (a measurement, not a test).

Scores every text once with each tier-0/1 detector, then fuses the per-detector scores per category by ``max``
and by noisy-OR (what ``shared/moderation/cascade.py`` does) and prints macro AUPRC and macro F1 at the
policy's flag thresholds for each. The dev data is only *scored*; nothing is trained or tuned on it.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python scripts/check_moderation_fusion.py [FILE.jsonl]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT = REPO_ROOT.parent / "shared" / "data" / "moderation" / "openai_moderation_dev.jsonl"
FUSIONS = {
    "max": lambda scores: max(scores, default=0.0),
    "noisy-or": lambda scores: 1.0 - math.prod(1.0 - s for s in scores),
}


def main() -> None:
    import numpy as np

    from projects.content_moderation.eval import OPENAI_LABELS, load_openai
    from shared.eval.metrics import auprc, classification_report
    from shared.moderation.keywords import KeywordDetector
    from shared.moderation.knn import KnnDetector
    from shared.moderation.normalize import normalize
    from shared.moderation.packaged import PackagedDetector
    from shared.moderation.policy import load_policy

    rows = load_openai(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
    texts = [normalize(r["text"]) for r in rows]
    per_text: list[dict[str, list[float]]] = [{} for _ in rows]
    for detector in (KeywordDetector(), PackagedDetector(), KnnDetector()):
        for start in range(0, len(texts), 64):
            for i, signals in enumerate(detector.detect(texts[start : start + 64]), start=start):
                best: dict[str, float] = {}
                for s in signals:
                    best[s.category] = max(best.get(s.category, 0.0), s.score)
                for category, score in best.items():
                    per_text[i].setdefault(category, []).append(score)
    rules = load_policy().categories
    for name, fuse in FUSIONS.items():
        aps, f1s = [], []
        for key, category in OPENAI_LABELS.items():
            pairs = [(r["labels"][key], fuse(t.get(category, []))) for r, t in zip(rows, per_text, strict=True)
                     if key in r["labels"]]  # fmt: skip
            y = [a for a, _ in pairs]
            scores = [s for _, s in pairs]
            if 0 < sum(y) < len(y):
                aps.append(auprc(y, scores))
            if sum(y):
                pred = [int(s >= rules[category].flag) for s in scores]
                f1s.append(classification_report(y, pred, labels=[1])["per_class"]["1"]["f1"])
        print(f"{name:9s} macro AUPRC {np.mean(aps):.3f}  macro F1 at flag thresholds {np.mean(f1s):.3f}")


if __name__ == "__main__":
    main()
