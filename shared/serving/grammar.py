"""JSON-schema constrained decoding for transformers with xgrammar (the grammar engine vLLM uses).

A compiled grammar masks, at every decoding step, the tokens that could not continue a JSON value
valid for the schema; the model still chooses among the rest. The processor here supports a batch
in which only some rows are constrained, so constrained and free requests can share a batch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import torch
import xgrammar as xgr
from transformers import LogitsProcessor, PreTrainedTokenizerBase


class GrammarFactory:
    """Compiles (and caches) schema grammars for one tokenizer; thread-safe."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, vocab_size: int, stop_token_ids: Sequence[int]) -> None:
        self._tokenizer = tokenizer
        self._vocab_size = vocab_size
        self._stop_ids = list(stop_token_ids)
        self._compiler: xgr.GrammarCompiler | None = None
        self._lock = threading.Lock()

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    def json_schema(self, schema: dict[str, Any]) -> xgr.CompiledGrammar:
        """Raises ValueError/RuntimeError from xgrammar when the schema uses features it cannot compile."""
        with self._lock:
            if self._compiler is None:  # building the tokenizer info takes ~1 s: only when first needed
                info = xgr.TokenizerInfo.from_huggingface(
                    self._tokenizer, vocab_size=self._vocab_size, stop_token_ids=self._stop_ids
                )
                self._compiler = xgr.GrammarCompiler(info, max_threads=1)
            return self._compiler.compile_json_schema(json.dumps(schema, sort_keys=True), any_whitespace=False)


class RowState:
    """Per-row decoding state shared by the grammar processor and the stopping criteria."""

    def __init__(self, n: int) -> None:
        self.done = [False] * n


class BatchGrammarProcessor(LogitsProcessor):
    """Masks logits of the rows that have a grammar; one instance per ``generate`` call."""

    def __init__(self, grammars: Sequence[xgr.CompiledGrammar | None], vocab_size: int, state: RowState) -> None:
        self._matchers = [xgr.GrammarMatcher(g) if g is not None else None for g in grammars]
        self._bitmask = xgr.allocate_token_bitmask(len(grammars), vocab_size)
        self._vocab_size = vocab_size
        self._state = state
        self._first = True

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self._first:
            for i, m in enumerate(self._matchers):
                if m is not None and not self._state.done[i] and not m.is_terminated():
                    m.accept_token(int(input_ids[i, -1]))
        self._first = False
        rows = []
        for i, m in enumerate(self._matchers):
            if m is not None and not self._state.done[i] and not m.is_terminated():
                m.fill_next_token_bitmask(self._bitmask, i)
                rows.append(i)
        if rows:
            xgr.apply_token_bitmask_inplace(scores, self._bitmask, vocab_size=self._vocab_size, indices=rows)
        return scores
