"""The moderation rails with the real cascade (keyword rules + Presidio, profanity, injection classifiers).

Streaming tests feed a fake delta iterator through the real output rail.
"""

from __future__ import annotations

import pytest

from shared.guardrails import check_input, check_output, moderation_input_guard, moderation_output_guard
from shared.guardrails.moderation import ModerationValidator, verdict_from_metadata, verdict_metadata
from shared.guardrails.streaming import StreamModerator, sentence_cut
from shared.moderation.policy import load_policy

from guardrails import Guard  # isort: skip
from guardrails.errors import ValidationError  # isort: skip

POLICY = load_policy("default").version_id
THREAT = "I will kill you and your whole family."
HATE = "Muslims are vermin and should be exterminated."


def deltas(text: str, size: int = 3):
    """Token-like deltas of a few characters, as a model streams them."""
    return (text[i : i + size] for i in range(0, len(text), size))


def test_validator_fails_with_categories_evidence_and_policy_version() -> None:
    guard = Guard().use(ModerationValidator("llm_input", on_fail="noop"))
    outcome = guard.validate(HATE)
    assert not outcome.validation_passed
    summary = outcome.validation_summaries[0]
    assert "hate" in summary.failure_reason and "Muslims are vermin" in summary.failure_reason
    assert POLICY in summary.failure_reason
    spans = summary.error_spans
    assert spans and HATE[spans[0].start : spans[0].end] == "Muslims are vermin"
    meta = guard.history.last.iterations.last.validator_logs[0].validation_result.metadata
    verdict = verdict_from_metadata(meta)
    assert verdict.action == "block" and verdict.policy_version == POLICY and verdict.surface == "llm_input"
    assert verdict.tiers_run == [0]  # a keyword block short-circuits the model tiers
    assert verdict_metadata(verdict)["categories"]["hate"] == meta["categories"]["hate"]
    with pytest.raises(ValidationError, match="violence"):
        moderation_input_guard().validate(THREAT)


def test_clean_text_passes_and_fail_on_is_configurable() -> None:
    assert moderation_input_guard().validate("How many days of annual leave do I get?").validation_passed
    # "kill a process" scores violence at flag level: not blocked by default, refused by a review-strict rail
    text = "How do I kill the process and shoot the messenger?"
    base = Guard().use(ModerationValidator("llm_input", on_fail="noop")).validate(text)
    strict = Guard().use(ModerationValidator("llm_input", fail_on=["flag", "review", "block"], on_fail="noop"))
    assert base.validation_passed and not strict.validate(text).validation_passed
    with pytest.raises(ValueError, match="surface"):
        ModerationValidator("comments")


def test_check_input_carries_the_verdict() -> None:
    refused = check_input(THREAT)
    assert not refused.allowed and refused.blocked_by[:2] and "violence" in refused.blocked_by
    assert refused.policy_version == POLICY and refused.verdict is not None
    assert refused.scores["moderation/violence"] >= 0.9
    assert any(r.startswith("ModerationValidator") and "kill you" in r for r in refused.reasons)
    clean = check_input("Where is my parcel? My email is ann@example.com")
    assert clean.allowed and clean.blocked_by == [] and "pii" in clean.categories
    assert "<EMAIL_ADDRESS>" in clean.sanitized_text
    off = check_input(HATE, moderation=False)
    assert off.verdict is None and off.policy_version is None


def test_output_rail_and_guard() -> None:
    out = check_output("Write to ann.lee@corp.example.org. " + THREAT)
    assert not out.allowed and "violence" in out.blocked_by
    keep_pii = check_output("Ask Jane Miller in HR.", redact_pii=False, block_pii=False)
    assert keep_pii.allowed and keep_pii.sanitized_text == "Ask Jane Miller in HR."
    guarded = moderation_output_guard().validate("Reach Ann Lee at ann.lee@corp.example.org")
    assert guarded.validated_output == "Reach <PERSON> at <EMAIL_ADDRESS>"
    with pytest.raises(ValidationError, match="hate"):
        moderation_output_guard().validate(HATE)


def test_sentence_cut() -> None:
    assert sentence_cut("One. Two", 300) == 4
    assert sentence_cut("Ask Dr. Smith", 300) is None  # an abbreviation is no sentence end
    assert sentence_cut("Leave is 28 days [1]. And", 300) == 21
    assert sentence_cut("no end yet", 300) is None
    assert sentence_cut("word " * 20, 30) == 29  # long text without a sentence end: cut at a space


def test_stream_releases_clean_text_sentence_by_sentence() -> None:
    text = "Leave is 28 days per year [1]. It can be carried over until March [1]. Ask HR for details."
    mod = StreamModerator()
    released = []
    source = deltas(text)
    for piece in mod(source):
        released.append(piece)
    assert "".join(released) == text and mod.blocked is None
    assert released == ["Leave is 28 days per year [1].", " It can be carried over until March [1].",
                        " Ask HR for details."]  # fmt: skip


def test_stream_is_cut_at_the_toxic_sentence_after_earlier_ones_were_delivered() -> None:
    text = "Refunds take five days. Contact ann.lee@corp.example.org for help. " + THREAT + " More text follows."
    consumed = []

    def source():
        for d in deltas(text):
            consumed.append(d)
            yield d

    mod = StreamModerator()
    stream = mod(source())
    first = next(stream)
    assert first == "Refunds take five days." and mod.blocked is None  # delivered before the rest was generated
    assert len("".join(consumed)) < len(text) // 2
    rest = list(stream)
    assert rest == [" Contact <EMAIL_ADDRESS> for help."]  # PII redacted in the stream
    assert mod.blocked is not None and "violence" in mod.blocked.categories
    assert any("kill you" in e.text for e in mod.blocked.evidence) and mod.blocked.policy_version == POLICY
    assert "More text" not in "".join(consumed)  # generation stopped at the blocked sentence
    assert "kill" not in mod.text


def test_stream_overlap_sees_a_threat_split_over_segments() -> None:
    # "kill you tonight." alone is only review-level (a game, a film plot); after the released line it is a threat
    text = "Tonight I will\nkill you tonight."
    mod = StreamModerator()
    assert list(mod(deltas(text))) == ["Tonight I will\n"]
    assert mod.blocked is not None and "violence" in mod.blocked.categories
    assert mod.blocked.window == text
    blind = StreamModerator(overlap_chars=0)
    assert "".join(blind(deltas(text))) == text and blind.blocked is None
