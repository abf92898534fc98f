"""Credentials in text: provider token formats, private-key blocks, URL passwords and hard-coded assignments.

Why a regex detector and not a model: secrets have shapes (``AKIA`` + 16, ``ghp_`` + 36, a PEM header), the
cost must be microseconds (it runs on every completion an editor asks for, and on every code chunk sent to a
model), and a miss is better understood than a classifier's score. This is the rule set of gitleaks /
detect-secrets in small: provider formats first, then generic ``password = "..."`` assignments whose value is
not a placeholder. Entropy-only detection is left out on purpose: on source code it flags hashes, UUIDs and
base64 test fixtures far more often than keys.

:func:`redact_secrets` keeps the code readable for a model (``api_key = "<SECRET:api-key>"``) while the value
never leaves the process; a rail uses it to scrub context before a (possibly remote) model sees it and to
scrub a model's output before a user does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SecretFinding:
    """A credential at ``text[start:end]`` (the value only, for an assignment); ``kind`` names its format."""

    kind: str
    description: str
    start: int
    end: int

    def masked(self, text: str) -> str:
        """The value with all but its first four characters hidden: enough to find it, not to use it."""
        value = text[self.start : self.end]
        return value[:4] + "…" if len(value) > 4 else "…"


@dataclass(frozen=True)
class SecretRule:
    """One credential format. ``hints``: literal substrings one of which must be in the text (checked in the
    lower-cased text when ``lower``) before the regex runs; a substring test is ~100× cheaper than a scan.
    ``group``: the regex group that is the secret itself (0 = the whole match). ``placeholders``: values that
    look like templates or names are not reported (only for the generic rules, where that happens)."""

    kind: str
    description: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]
    group: int = 0
    lower: bool = False
    placeholders: bool = False


RULES: tuple[SecretRule, ...] = (
    SecretRule(
        "private-key",
        "a private key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[\s\S]*\Z)"
        ),
        ("PRIVATE KEY",),
    ),
    SecretRule(
        "aws-access-key-id",
        "an AWS access key id",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
        ("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    SecretRule(
        "aws-secret-access-key",
        "an AWS secret access key",
        re.compile(r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
        ("aws",),
        group=1,
        lower=True,
    ),
    SecretRule(
        "github-token",
        "a GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})\b"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    SecretRule("gitlab-token", "a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), ("glpat-",)),
    SecretRule("slack-token", "a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), ("xox",)),
    SecretRule(
        "slack-webhook",
        "a Slack webhook URL",
        re.compile(r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"),
        ("hooks.slack.com",),
    ),
    SecretRule(
        "stripe-key",
        "a Stripe key",
        re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),
        ("k_live_", "k_test_"),
    ),
    SecretRule("api-key", "an API key", re.compile(r"\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}"), ("sk-",)),
    SecretRule(
        "google-api-key",
        "a Google API key",
        re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
        ("AIza",),
    ),
    SecretRule(
        "jwt",
        "a JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
        ("eyJ",),
    ),
    SecretRule(
        "url-password",
        "a password in a URL",
        re.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@\"'<>\[\]]+:([^\s:/@\"'<>\[\]]{3,})@[^\s/\"'<>]"),
        ("://",),
        group=1,
        placeholders=True,
    ),
    SecretRule(
        "hard-coded-credential",
        "a hard-coded credential",
        re.compile(
            r"(?i)(?:passw(?:or)?d|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|private[_-]?key)"
            r"[\w.-]*[\"']?\s*(?::=|[:=]|=>)\s*[rbu]?[\"']([^\"'\s]{8,})[\"']"
        ),
        ("passw", "pwd", "secret", "key", "token"),
        group=1,
        lower=True,
        placeholders=True,
    ),
)

# Values that are obviously not real: templates, examples, masks, references to the environment.
_PLACEHOLDER = re.compile(
    r"""^(?:
        [{$%].*                                   # {{ key }}, ${KEY}, %(key)s
      | .*<[^>]*>.* | \[[^\]]*\]                   # <your-key>, pat/<token>, [SECRET]
      | .*(?:x{4,}|\*{3,}|\.{3}|•{3,}|…).*        # xxxx, ****, ..., •••, hf_jwt_…
      | [a-z]+(?:_[a-z]+)+ | [A-Z]+(?:_[A-Z]+)+    # my_vault, LITELLM_ENVIRONMENT: identifiers, not values
      | (?i:.*(?:example|placeholder|changeme|change[_-]?me|dummy|your[_-]|redacted|replace[_-]?me).*)
      | (?i:(?:test|fake|sample|mock)[\w-]*)     # test-password, fake_token
      | (?i:[a-z_./-]*(?:pass|pwd|secret|token|key)[a-z_./-]*)  # password_input, /client_secrets: names
    )$""",
    re.VERBOSE,
)


def detect_secrets(text: str) -> list[SecretFinding]:
    """Credentials found in ``text``, sorted by position, overlaps resolved in favour of the earlier, longer one.

    A hard-coded assignment counts only when its value is not a placeholder; provider formats always count
    (an ``AKIA…`` string in a test fixture is still worth a look)."""
    found: list[SecretFinding] = []
    lowered = text.lower()
    for rule in RULES:
        haystack = lowered if rule.lower else text
        if not any(hint in haystack for hint in rule.hints):
            continue
        for match in rule.pattern.finditer(text):
            value = match.group(rule.group)
            if rule.placeholders and _PLACEHOLDER.match(value):
                continue
            start, end = match.span(rule.group)
            found.append(SecretFinding(rule.kind, rule.description, start, end))
    found.sort(key=lambda f: (f.start, -f.end))
    kept: list[SecretFinding] = []
    for finding in found:
        if kept and finding.start < kept[-1].end:
            continue  # inside one already kept (a token inside an assignment, a key inside a PEM block)
        kept.append(finding)
    return kept


def redact_secrets(text: str, findings: list[SecretFinding] | None = None) -> str:
    """``text`` with each credential replaced by ``<SECRET:kind>``; code around it is left as it was."""
    out = text
    for f in reversed(detect_secrets(text) if findings is None else findings):
        out = f"{out[: f.start]}<SECRET:{f.kind}>{out[f.end :]}"
    return out


def scan_tree(root: Path, pattern: str = "*.py", limit: int | None = None) -> dict:
    """Scan files under ``root``: throughput and findings by kind (locations only, values masked)."""
    import time

    files = sorted(root.rglob(pattern))[:limit]
    by_kind: dict[str, int] = {}
    where: list[str] = []
    chars, seconds = 0, 0.0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        t0 = time.perf_counter()
        found = detect_secrets(text)
        seconds += time.perf_counter() - t0
        chars += len(text)
        for f in found:
            by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
            line = text.count("\n", 0, f.start) + 1
            where.append(f"{path.relative_to(root)}:{line} {f.kind} {f.masked(text)}")
    return {
        "files": len(files), "mb": round(chars / 1e6, 1), "mb_per_s": round(chars / 1e6 / max(seconds, 1e-9), 1),
        "findings": by_kind, "files_with_findings": len({w.split(":", 1)[0] for w in where}), "where": where,
    }  # fmt: skip


if __name__ == "__main__":  # python -m shared.guardrails.secrets DIR [--glob '*.py'] [--limit N]
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Scan a tree for credentials (values masked).")
    parser.add_argument("root", type=Path)
    parser.add_argument("--glob", default="*.py")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    print(json.dumps(scan_tree(args.root, args.glob, args.limit), indent=2))
