"""The shared guardrails (``shared.guardrails``), chosen for code: what a question, the context and an answer pass.

A code assistant's risks differ from a help desk's. The one that bites is **credentials**: a repository's
``settings.py`` holds a database URL with a password, a test has an AWS key, and retrieval puts them into a
prompt that may go to a remote model server, then back out in an answer or a completion. So secrets are
redacted (regex, microseconds) from every snippet before a model sees it and from everything a model says.

Questions pass the shared input rail (the injection classifier, profanity, the moderation cascade on
``llm_input``) without PII redaction — Presidio reads identifiers as names — and under the ``code`` moderation
policy (``shared/moderation/policies/code.yaml``): its keyword tier blocks "override the system prompt", an
everyday question about an LLM codebase, so there prompt injection is flagged and the classifier decides,
while asking for malware is blocked earlier than on a forum. Measured on 40 code questions that sound
dangerous ("kill the child process", "bypass the cache", "executes the shell command") and 10 attacks: see
ARCHITECTURE.md. A refused question is a 422 ``input-refused`` before any retrieval or model call.

Answers stream through :class:`~shared.guardrails.streaming.StreamModerator` (one sentence of delay): secrets
redacted always, profanity/moderation on ``llm_output`` when ``CODE__MODERATE_OUTPUT`` is on (off by default:
the answer is grounded in the user's own code). Completions are not moderated (latency; a completion is code,
not prose) but are scrubbed of secrets, as Copilot does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from projects.code_assistant.settings import CodeSettings
from shared.guardrails.secrets import detect_secrets, redact_secrets


class QuestionRefused(ValueError):
    """The input rail blocked a well-formed question; ``reasons``/``categories`` say why (for the 422)."""

    def __init__(self, reasons: list[str], categories: list[str], policy_version: str | None) -> None:
        super().__init__("the question was refused by the input rail: " + "; ".join(reasons))
        self.reasons = reasons
        self.categories = categories
        self.policy_version = policy_version


@dataclass
class OutputCheck:
    """What an answer's stream went through: secrets redacted, and a block (categories) if the rail stopped it."""

    secrets: list[str] = field(default_factory=list)
    blocked: dict | None = None


class CodeRails:
    """The rails for one request path; cheap to build (models load on first use, in ``shared.guardrails``)."""

    def __init__(self, settings: CodeSettings) -> None:
        self.settings = settings

    def check_question(self, question: str) -> str:
        """The question as the model may see it (secrets redacted), or :class:`QuestionRefused`."""
        if not self.settings.moderate_input:
            return self.scrub(question)
        from shared.guardrails import check_input

        s = self.settings
        rail = check_input(question, pii=False, secrets=s.redact_secrets, policy=s.moderation_policy)
        if not rail.allowed:
            raise QuestionRefused(rail.refusal_reasons, rail.blocked_by, rail.policy_version)
        return rail.sanitized_text

    def scrub(self, text: str) -> str:
        """``text`` with credentials replaced by ``<SECRET:kind>`` (when ``redact_secrets``); else unchanged."""
        return redact_secrets(text) if self.settings.redact_secrets else text

    def inserts_secret(self, prefix: str, middle: str, suffix: str) -> bool:
        """Whether a completion would put a credential into the file: checked on the whole lines around the
        cursor, so ``password = "`` + ``hunter2hunter2"`` counts, and a secret already in the line does not."""
        if not self.settings.redact_secrets:
            return False
        head = prefix[prefix.rfind("\n") + 1 :]
        window = head + middle + suffix.split("\n", 1)[0]
        start, end = len(head), len(head) + len(middle)
        return any(f.end > start and f.start < end for f in detect_secrets(window))

    def stream_answer(self, deltas: Iterable[str], check: OutputCheck) -> Iterator[str]:
        """The answer's deltas as they may be shown: sentence by sentence through the output rail. On a block,
        the stream ends there and ``check.blocked`` says why."""
        if not (self.settings.redact_secrets or self.settings.moderate_output):
            yield from deltas
            return
        from shared.guardrails.streaming import StreamModerator

        moderator = StreamModerator(lambda text: self._answer_rail(text, check))
        yield from moderator(deltas)
        if moderator.blocked is not None:
            check.blocked = moderator.blocked.as_dict()

    def _answer_rail(self, text: str, check: OutputCheck):
        from shared.guardrails.guards import RailResult, check_output

        if self.settings.moderate_output:
            s = self.settings
            rail = check_output(
                text, redact_pii=False, block_pii=False, secrets=s.redact_secrets, policy=s.moderation_policy
            )
        else:
            found = detect_secrets(text)
            rail = RailResult(allowed=True, sanitized_text=redact_secrets(text, found) if found else text)
            rail.secrets = sorted({f.kind for f in found})
        check.secrets = sorted(set(check.secrets) | set(rail.secrets))
        return rail
