"""The extraction result: every field with its value, raw text, confidence, source box, method and issues.

Why so much per field: a reviewer must see *where* a value came from (the box to highlight), *how*
(layout rule, regex, LLM, or a person) and *why* it is doubted (issues), and the review queue is driven by
confidences, so they are part of the contract rather than debug output.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from projects.document_intelligence.model import SourceRef

Method = Literal["layout", "regex", "llm", "human"]


class FieldValue(BaseModel):
    name: str
    value: str | None = Field(default=None, description="normalised: ISO date, decimal string, or clean text")
    raw: str | None = Field(default=None, description="the text as found (or as the LLM returned it)")
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    source: SourceRef | None = None
    method: Method = "regex"
    issues: list[str] = Field(default_factory=list)

    @property
    def present(self) -> bool:
        return self.value is not None


class LineItem(BaseModel):
    description: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    amount: str | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    source: SourceRef | None = None


class ValidationIssue(BaseModel):
    code: str = Field(description="machine-readable, e.g. 'total_mismatch', 'invalid_date', 'missing_required'")
    message: str
    fields: list[str] = Field(default_factory=list)


class ExtractionResult(BaseModel):
    doc_type: str
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    line_items: list[LineItem] = Field(default_factory=list)
    issues: list[ValidationIssue] = Field(default_factory=list)
    needs_review: bool = False
    review_reasons: list[str] = Field(default_factory=list)

    def values(self) -> dict[str, str | None]:
        """Field name → normalised value (what an export or the eval reads)."""
        return {name: fv.value for name, fv in self.fields.items()}
