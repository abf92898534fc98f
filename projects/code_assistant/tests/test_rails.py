"""The code assistant's guardrails on real parts (the embedded index, the shared rails' real classifiers; a
recording chat model scripts what the model says): credentials never reach the model and never come back,
a completion that would write one is withheld, questions that sound dangerous to a help-desk rail but are
everyday code questions pass, and abusive ones are refused before retrieval or a model call."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from projects.code_assistant.ask import Asker
from projects.code_assistant.complete import FimCompleter
from projects.code_assistant.context import IndexContext
from projects.code_assistant.indexer import RepoIndexer
from projects.code_assistant.rail_eval import ATTACK, BENIGN
from projects.code_assistant.rails import CodeRails, QuestionRefused
from projects.code_assistant.search import CodeSearch
from projects.code_assistant.settings import CodeSettings
from projects.code_assistant.tests.conftest import PREFIX

KEY = "AKIA" + "Q3EGRTX7NV4ZP2LM"  # assembled so this file does not trip secret scanners
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7qqqq\nqqqqqqqqqqqq\n-----END RSA PRIVATE KEY-----"
SETTINGS_PY = f'''"""Service settings."""
import os

SIGNING_KEY = """{PEM}"""


def storage_client():
    """The S3 client for uploaded invoices."""
    return connect(key_id="{KEY}", region=os.environ.get("REGION", "eu-west-1"))
'''


def _repo(store, root: Path) -> str:
    (root / "svc").mkdir(parents=True)
    (root / "svc" / "settings.py").write_text(SETTINGS_PY)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    store.create_repo("svc", str(root), kind="folder")
    RepoIndexer(store).index("svc")
    return "svc"


def test_secrets_in_snippets_never_reach_the_model_and_line_numbers_survive(store, tmp_path: Path) -> None:
    from shared.testing.doubles import RecordingChat

    repo = _repo(store, tmp_path / "svc")
    chat = RecordingChat("It connects with the key_id [1].")
    settings = CodeSettings(moderate_input=False)
    answer = Asker(chat, CodeSearch(store), settings).ask(repo, "How is the S3 storage client configured?")
    prompt = chat.calls[0].messages[-1].content
    assert "storage_client" in prompt and "<SECRET:aws-access-key-id>" in prompt and KEY not in prompt
    assert "<SECRET:private-key>" in prompt and "MIIEow" not in prompt
    assert "   12     return connect(" in prompt and '    4 SIGNING_KEY = """<SECRET:private-key>' in prompt
    assert answer.citations and answer.redacted_secrets == []

    off = RecordingChat("ok [1]")
    Asker(off, CodeSearch(store), CodeSettings(moderate_input=False, redact_secrets=False)).ask(repo, "storage client?")
    assert KEY in off.calls[0].messages[-1].content  # the switch is real


@pytest.mark.parametrize("stream", [False, True])
def test_a_secret_in_the_answer_is_redacted_in_the_stream_and_the_answer(store, tmp_path: Path, stream) -> None:
    from shared.testing.doubles import RecordingChat

    repo = _repo(store, tmp_path / "svc")
    chat = RecordingChat(f"Set key_id to {KEY} in storage_client [1]. Then restart.")
    asker = Asker(chat, CodeSearch(store), CodeSettings(moderate_input=False))
    events = list(asker.stream(repo, "What key does storage_client use?", stream=stream))
    shown = "".join(e.delta for e in events if e.kind == "delta")
    answer = events[-1].answer
    assert KEY not in shown and "<SECRET:aws-access-key-id>" in shown and shown.endswith("Then restart.")
    assert answer.text == shown.strip() and answer.redacted_secrets == ["aws-access-key-id"]
    assert answer.withheld is None and [c.n for c in answer.citations] == [1]


def test_a_completion_that_writes_a_secret_is_withheld_and_context_is_scrubbed(store, tmp_path: Path) -> None:
    from shared.testing.doubles import RecordingChat

    repo = _repo(store, tmp_path / "svc")
    prefix = 'from svc.settings import storage_client\n\nAWS_SECRET_ACCESS_KEY = "'
    chat = RecordingChat("wJalrXUtnFEMI/K7MDENG/bPxRfiCYZQ3KX9Y7A1")
    completer = FimCompleter(chat, CodeSettings(), IndexContext(CodeSearch(store), repo))
    out = completer.complete(prefix, '"\n', path="svc/upload.py", repo="svc")
    assert out.text == "" and out.finish_reason == "content_filter"
    assert out.context and "<SECRET:aws-access-key-id>" in chat.calls[0].prompt and KEY not in chat.calls[0].prompt

    chat.replies = ["storage_client()"]
    fine = completer.complete("client = ", "\n", path="svc/upload.py", repo="svc")
    assert fine.text == "storage_client()" and fine.finish_reason != "content_filter"


def test_inserts_secret_looks_at_the_whole_line_but_only_blames_the_middle() -> None:
    rails = CodeRails(CodeSettings())
    assert rails.inserts_secret('password = "', 'hunter2hunter2"', "\n")
    assert not rails.inserts_secret(f'key = "{KEY}"\nx = ', "1", "\n")  # the secret was already there
    assert not rails.inserts_secret('password = os.environ["', 'DB_PASSWORD"]', "\n")
    assert not CodeRails(CodeSettings(redact_secrets=False)).inserts_secret('password = "', 'hunter2hunter2"', "")


def test_code_questions_that_sound_dangerous_pass_and_attacks_are_refused() -> None:
    """The rail_eval lists (40 code questions, 10 attacks) on the real rail; the help-desk rail is measured there."""
    rails = CodeRails(CodeSettings())
    for question in BENIGN:
        assert rails.check_question(question) == question
    for attack in ATTACK:
        with pytest.raises(QuestionRefused):
            rails.check_question(attack)


def test_abuse_is_refused_and_a_secret_in_a_question_is_scrubbed() -> None:
    rails = CodeRails(CodeSettings())
    with pytest.raises(QuestionRefused, match="input rail") as refused:
        rails.check_question("you fucking idiot, who wrote this shit code")
    assert any(r.startswith("ProfanityValidator") for r in refused.value.reasons)
    assert rails.check_question(f"Why does boto reject {KEY}?") == "Why does boto reject <SECRET:aws-access-key-id>?"


def test_api_refuses_with_422_before_any_model_call(client, service, repo_root: Path) -> None:
    from projects.code_assistant.tests.conftest import write_shop

    service.add_repo(path=str(write_shop(repo_root / "shop")))
    service.drain()
    headers = {"X-User-Id": "dev", "X-Tenant-Id": "acme"}
    for stream in (False, True):
        body = {"question": "you fucking idiot, who wrote this shit code", "stream": stream}
        resp = client.post(f"{PREFIX}/repos/shop/ask", json=body, headers=headers)
        assert resp.status_code == 422 and resp.json()["type"].endswith("input-refused"), resp.text
        assert any(r.startswith("ProfanityValidator") for r in resp.json()["errors"][0]["reasons"])
    assert service.chat.calls == []
    ok = client.post(f"{PREFIX}/repos/shop/ask", json={"question": "How is the cart total rounded?"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["redacted_secrets"] == [] and ok.json()["withheld"] is None


def test_moderated_output_withholds_the_rest_of_an_abusive_answer(store, tmp_path: Path) -> None:
    from shared.testing.doubles import RecordingChat

    repo = _repo(store, tmp_path / "svc")
    chat = RecordingChat("storage_client builds the client [1].\nWhoever wrote this is a fucking moron. More text.")
    asker = Asker(chat, CodeSearch(store), CodeSettings(moderate_input=False, moderate_output=True))
    events = list(asker.stream(repo, "What does storage_client do?"))  # streamed: released sentence by sentence
    answer = events[-1].answer
    assert answer.text.startswith("storage_client builds the client [1].") and "moron" not in answer.text
    assert "withheld by the output rail" in answer.text and "More text" not in answer.text
    assert "ProfanityValidator" in answer.withheld["reason"]
    whole = asker.ask(repo, "What does storage_client do?")  # not streamed: one check, withheld whole
    assert whole.text == "(This answer was withheld by the output rail.)" and whole.withheld is not None
