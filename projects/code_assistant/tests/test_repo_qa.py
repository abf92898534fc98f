"""Question generation of the repository-QA eval (deterministic, one per file, no names, no tests)."""

from __future__ import annotations

from projects.code_assistant.repo_qa import questions_from_symbols
from projects.code_assistant.types import Symbol


def sym(name: str, path: str, doc: str | None, kind: str = "function", line: int = 1) -> Symbol:
    return Symbol(name, name, kind, path, line, line + 3, f"def {name}():", doc)  # type: ignore[arg-type]


SYMBOLS = [
    sym("hash_password", "app/auth.py", "Derive a storable hash of a password with PBKDF2 and a salt."),
    sym("verify", "app/auth.py", "Check a password against the stored hash in constant time.", line=20),
    sym("load_config", "app/config.py", "Read the YAML configuration and apply environment overrides to it."),
    sym("short", "app/misc.py", "Does stuff."),
    sym("ref", "app/ref.py", "``x``: the value of the setting that controls it."),
    sym("test_hash", "tests/test_auth.py", "Hashing twice gives different salts and the same verification."),
    sym("undocumented", "app/none.py", None),
    sym("render", "app/view.py", "render turns the template into HTML with the context variables filled in."),
]


def test_one_question_per_file_without_the_symbol_name_or_tests():
    questions = questions_from_symbols(SYMBOLS, n=10, seed=0)
    assert {q.expected_path for q in questions} == {"app/auth.py", "app/config.py", "app/view.py"}
    for q in questions:
        assert q.question.startswith("Where is the code that does this: ")
        assert q.symbol.split(".")[-1] not in q.question  # "render turns..." became "it turns..."
    assert questions_from_symbols(SYMBOLS, n=10, seed=0) == questions  # deterministic
    assert len(questions_from_symbols(SYMBOLS, n=2, seed=0)) == 2
