"""Evaluation: metrics (``metrics``), the dataset harness (``harness.run_eval``) and the CI gate (``gate``)."""

from shared.eval.harness import load_jsonl, run_eval

__all__ = ["load_jsonl", "run_eval"]
