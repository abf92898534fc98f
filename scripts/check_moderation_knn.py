"""Score the OpenAI moderation dev set with the k-NN detector and print per-category AUPRC (a measurement, not a test).

Label mapping (OpenAI key -> our category): S->sexual, H->hate, V->violence, HR->harassment, SH->self-harm,
S3->sexual/minors, H2->hate (threatening hate is hate), V2->violence (graphic violence is violence).
A missing key means unknown and the row is skipped for that label. The dev data is only *scored* here;
nothing is trained or tuned on it.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python scripts/check_moderation_knn.py [FILE.jsonl]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

DEFAULT = Path("/work/shared/data/moderation/openai_moderation_dev.jsonl")
LABELS = {
    "S": "sexual",
    "H": "hate",
    "V": "violence",
    "HR": "harassment",
    "SH": "self-harm",
    "S3": "sexual/minors",
    "H2": "hate",
    "V2": "violence",
}


def main(path: Path = DEFAULT) -> dict[str, float]:
    from sklearn.metrics import average_precision_score

    from shared.moderation.knn import KnnDetector, as_normalized

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    det = KnnDetector()
    start = time.perf_counter()
    signals = det.detect([as_normalized(r["prompt"]) for r in rows])
    elapsed = time.perf_counter() - start
    scores = [{s.category: s.score for s in sigs} for sigs in signals]
    print(f"{len(rows)} texts scored in {elapsed:.1f} s ({len(rows) / elapsed:.1f} texts/s)")
    print(f"{'label':5} {'category':15} {'n':>4} {'pos':>4} {'base':>6} {'AUPRC':>6}")
    out: dict[str, float] = {}
    for key, cat in LABELS.items():
        pairs = [(r[key], s.get(cat, 0.0)) for r, s in zip(rows, scores, strict=True) if key in r]
        y = [int(p[0]) for p in pairs]
        if not pairs or not any(y):
            print(f"{key:5} {cat:15} {len(y):4} {sum(y):4}   (no positives)")
            continue
        auprc = float(average_precision_score(y, [p[1] for p in pairs]))
        out[key] = auprc
        print(f"{key:5} {cat:15} {len(y):4} {sum(y):4} {sum(y) / len(y):6.3f} {auprc:6.3f}")
    if out:
        print(f"macro AUPRC over {len(out)} labels: {sum(out.values()) / len(out):.3f}")
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
