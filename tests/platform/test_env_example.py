"""``.env.example`` documents every setting of shared/settings.py, with working defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from scripts.env_example import TARGET, render
from shared.settings import REPO_ROOT, Settings

LINE = re.compile(r"^# ([A-Z0-9_]+)=(.*)$")


def _env_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Independently of the generator: walk the Settings model for every leaf's environment name."""
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _env_names(annotation, f"{prefix}{name}__")
        elif not prefix and field.validation_alias is not None:
            names.add(field.validation_alias.choices[0].upper())  # DATABASE_URL
        else:
            names.add((prefix + name).upper())
    return names


def _documented() -> dict[str, str]:
    return {m[1]: m[2] for line in TARGET.read_text().splitlines() if (m := LINE.match(line))}


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    documented = _documented()
    expected = _env_names(Settings)
    assert expected - set(documented) == set(), "missing from .env.example: run `python -m scripts.env_example`"
    assert set(documented) - expected == set(), "stale entries in .env.example"


def test_every_setting_has_a_comment() -> None:
    lines = TARGET.read_text().splitlines()
    for i, line in enumerate(lines):
        if LINE.match(line):
            assert lines[i - 1].startswith("# ") and not LINE.match(lines[i - 1]), line


def test_env_example_is_up_to_date_with_the_generator() -> None:
    assert TARGET.read_text() == render(), "run `python -m scripts.env_example`"


def test_documented_defaults_are_the_real_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Uncommenting every line must not change any setting (a wrong default in the doc fails here)."""
    monkeypatch.chdir(tmp_path)  # no .env file
    for name, value in _documented().items():
        if value:  # empty = not set
            monkeypatch.setenv(name, value.replace("./", str(REPO_ROOT) + "/", 1) if value.startswith("./") else value)
    loaded = Settings()
    defaults = Settings.model_construct()

    def plain(model: BaseModel) -> dict:
        return {
            k: (plain(v) if isinstance(v, BaseModel) else v.get_secret_value() if isinstance(v, SecretStr) else v)
            for k, v in ((k, getattr(model, k)) for k in type(model).model_fields)
        }

    assert plain(loaded) == plain(defaults)
