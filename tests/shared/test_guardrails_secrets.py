"""The credentials detector: provider formats, PEM blocks, URL passwords and assignments found and redacted;
placeholders, names and environment lookups left alone; and the rails' ``secrets=`` flag.

Token-shaped strings are assembled at run time so this file does not itself trip secret scanners."""

from __future__ import annotations

import pytest

from shared.guardrails import check_input, check_output
from shared.guardrails.secrets import detect_secrets, redact_secrets
from shared.guardrails.validators import SecretsValidator

from guardrails import Guard  # isort: skip

AWS_ID = "AKIA" + "Q3EGRTX7NV4ZP2LM"
FOUND = [
    (f'key = "{AWS_ID}"', "aws-access-key-id", AWS_ID),
    ('aws_secret_access_key = "' + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + 'ZQ3KX9Y7A1"', "aws-secret-access-key", None),
    ("token: ghp_" + "a1B2" * 9, "github-token", "ghp_" + "a1B2" * 9),
    ("GITLAB=glpat-" + "xY3" * 7, "gitlab-token", None),
    ("SLACK=xoxb-" + "12345-67890-" + "abcDEF" * 3, "slack-token", None),
    ("stripe.api_key = 'sk_live_" + "4eC39HqLyjWD" * 2 + "'", "stripe-key", None),
    ("OPENAI_API_KEY=sk-proj-" + "Ab3" * 10, "api-key", "sk-proj-" + "Ab3" * 10),
    ("maps = 'AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY'", "google-api-key", None),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9", "jwt", None),
    ("DATABASE_URL=postgresql://app:s3cr3t-pw@db.internal:5432/app", "url-password", "s3cr3t-pw"),
    ('DB_PASSWORD = "hunter2hunter2"', "hard-coded-credential", "hunter2hunter2"),
    ('connect(host="db", password="Tr0ub4dor&3")', "hard-coded-credential", "Tr0ub4dor&3"),
    ('{"api_key": "9f8e7d6c5b4a"}', "hard-coded-credential", "9f8e7d6c5b4a"),
]
LEFT_ALONE = [
    'password = os.environ["DB_PASSWORD"]',
    'password = "<your-password>"',
    'api_key = "${API_KEY}"',
    'password = "changeme123"',
    'token = "xxxxxxxxxxxx"',
    'password_field = "password_input"',
    'secret_name = "LITELLM_ENVIRONMENT"',
    "postgresql://user:password@localhost/db",
    "redis://[:password]@host:6379",
    'sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
    "def check_password(user, password):\n    return hash(password) == user.password_hash",
    "Where do we hash the user's password before storing it?",
]


@pytest.mark.parametrize(("text", "kind", "value"), FOUND, ids=[f[1] for f in FOUND])
def test_credentials_are_found_and_redacted(text: str, kind: str, value: str | None) -> None:
    [finding] = detect_secrets(text)
    assert finding.kind == kind
    if value is not None:
        assert text[finding.start : finding.end] == value
    redacted = redact_secrets(text)
    assert f"<SECRET:{kind}>" in redacted and text[finding.start : finding.end] not in redacted
    assert finding.masked(text).endswith("…") and len(finding.masked(text)) <= 5


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_placeholders_names_and_lookups_are_left_alone(text: str) -> None:
    assert detect_secrets(text) == [] and redact_secrets(text) == text


def test_a_private_key_block_goes_whole_even_when_cut_off() -> None:
    body = "MIIEowIBAAKCAQEA7" + "q" * 60
    pem = f"x = 1\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}\n-----END RSA PRIVATE KEY-----\ny = 2\n"
    assert redact_secrets(pem) == "x = 1\n<SECRET:private-key>\ny = 2\n"
    truncated = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n"  # a chunk boundary fell inside the key
    assert redact_secrets(truncated) == "<SECRET:private-key>"


def test_overlapping_rules_report_once_and_positions_stay_right() -> None:
    text = f'aws_key = "{AWS_ID}"\nother = 1\napi_key = "{AWS_ID}"'
    findings = detect_secrets(text)
    assert [f.kind for f in findings] == ["aws-access-key-id", "aws-access-key-id"]
    redacted = '"<SECRET:aws-access-key-id>"'
    assert redact_secrets(text) == f"aws_key = {redacted}\nother = 1\napi_key = {redacted}"


def test_validator_fixes_and_rails_redact_without_blocking() -> None:
    text = f'Why is boto failing with key "{AWS_ID}"?'
    outcome = Guard().use(SecretsValidator(on_fail="fix")).validate(text)
    assert outcome.validated_output == 'Why is boto failing with key "<SECRET:aws-access-key-id>"?'

    rail = check_input(text, injection=False, pii=False, moderation=False, secrets=True)
    assert rail.allowed and rail.secrets == ["aws-access-key-id"]
    assert AWS_ID not in rail.sanitized_text and rail.reasons[0].startswith("SecretsValidator")
    assert check_input(text, injection=False, pii=False, moderation=False).sanitized_text == text  # off by default

    out = check_output(f"Use {AWS_ID} there.", redact_pii=False, block_pii=False, moderation=False, secrets=True)
    assert out.allowed and out.sanitized_text == "Use <SECRET:aws-access-key-id> there."
