"""Document Q&A spot check: lookups and off-document questions on three demo documents, with and without the
abstain instruction, through the configured chat model (local 0.5B by default).

    python scripts/bench/document_intelligence_qa.py [--out var/bench/document_intelligence_qa.json]

Small on purpose (15 questions per setting): it shows the trade-off behind ``DOCINT__QA_ABSTAIN_RULE``, it is
not an accuracy benchmark. Answers are printed so a reader can judge them; "abstained" counts "Not found".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DOCS = ("02-invoice-digital.pdf", "05-receipt-digital.pdf", "12-letter-digital.pdf")
LOOKUPS = ("What is the total amount due?", "When is the payment due?", "Who issued this document?")
OFF_DOCUMENT = ("What is the capital of France?", "How do I bake bread?")


def main() -> None:
    from projects.document_intelligence.demo_data import iter_demo_files
    from projects.document_intelligence.model import chunk_document
    from projects.document_intelligence.parser import DocumentParser
    from projects.document_intelligence.qa import DocumentQA
    from projects.document_intelligence.settings import DocIntSettings
    from shared.serving.factory import get_chat_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench/document_intelligence_qa.json"))
    args = parser.parse_args()
    model = get_chat_model()
    docs = {f.filename: DocumentParser().parse(f.data, f.filename) for f in iter_demo_files() if f.filename in DOCS}
    report: dict[str, list[dict[str, object]]] = {}
    for rule in (False, True):
        qa = DocumentQA.__new__(DocumentQA)  # answering only: no store needed for whole-document context
        qa.settings, qa.chat_model = DocIntSettings(qa_abstain_rule=rule), (lambda: model)
        rows = []
        for name, doc in docs.items():
            context = chunk_document(doc, qa.settings.chunk_max_chars)
            for question in LOOKUPS + OFF_DOCUMENT:
                result = qa.answer(question, context, doc)
                text, cites = result.answer, result.citations
                row = {"document": name, "question": question, "answer": text}
                row["cited"] = cites[0].text if cites else ""
                row["off_document"] = question in OFF_DOCUMENT
                rows.append(row)
                print(f"abstain_rule={rule} | {name} | {question} -> {text[:80]}", flush=True)
        report[f"abstain_rule={rule}"] = rows
        off = [r for r in rows if r["off_document"]]
        print(f"abstain_rule={rule}: off-document abstained "
              f"{sum(r['answer'].startswith('Not found') for r in off)}/{len(off)}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
