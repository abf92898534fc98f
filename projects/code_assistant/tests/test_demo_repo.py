"""The demo repository: deterministic, with git history, passing tests, and bugs that break exactly their tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from projects.code_assistant.demo_repo import BUGS, generate_demo_repo, plant_bug


def _pytest(root: Path) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    return done.stdout.strip().splitlines()[-1], set(re.findall(r"^FAILED (\S+)", done.stdout, re.MULTILINE))


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return generate_demo_repo(tmp_path_factory.mktemp("demo") / "repo").root


def test_clean_repo_passes_its_suite_and_has_history(clean: Path):
    summary, failed = _pytest(clean)
    assert failed == set()
    assert re.match(r"^29 passed", summary), summary
    assert _git(clean, "log", "--format=%s").splitlines() == [
        "Invoices, JSON orders, CSV export and the CLI",
        "Money, tax bands and discounts",
    ]
    assert _git(clean, "status", "--porcelain") == ""
    assert (clean / "web/format.js").read_text().startswith("// Money formatting")


def test_generation_is_deterministic_and_refuses_a_non_empty_dest(tmp_path: Path, clean: Path):
    again = generate_demo_repo(tmp_path / "again").root
    assert _git(again, "rev-parse", "HEAD") == _git(clean, "rev-parse", "HEAD")
    other_seed = generate_demo_repo(tmp_path / "seed1", seed=1).root
    assert _git(other_seed, "rev-parse", "HEAD") != _git(clean, "rev-parse", "HEAD")
    with pytest.raises(FileExistsError):
        generate_demo_repo(again)


def test_catalogue_has_increasing_difficulty():
    assert 4 <= len(BUGS) <= 6
    assert len({bug.kind for bug in BUGS.values()}) == len(BUGS)
    assert [b.difficulty for b in BUGS.values()] == sorted(b.difficulty for b in BUGS.values())


@pytest.mark.parametrize("bug_id", list(BUGS))
def test_each_bug_fails_exactly_its_tests_and_is_one_commit(tmp_path: Path, bug_id: str):
    repo = generate_demo_repo(tmp_path / "repo")
    bug = plant_bug(repo.root, bug_id)
    summary, failed = _pytest(repo.root)
    assert failed == set(bug.failing_tests), summary
    diff = _git(repo.root, "diff", "HEAD~1")
    assert f"--- a/{bug.file}" in diff
    assert "-" + bug.original.splitlines()[-1] in diff.splitlines() or bug.original.strip() in diff
    assert _git(repo.root, "status", "--porcelain") == ""


def test_generate_with_bugs_plants_them_in_order(tmp_path: Path):
    repo = generate_demo_repo(tmp_path / "repo", bugs=["csv-delimiter", "allocate-remainder"])
    assert repo.planted == ["csv-delimiter", "allocate-remainder"]
    assert len(_git(repo.root, "log", "--format=%H").split()) == 4
    with pytest.raises(KeyError, match="unknown bug"):
        plant_bug(repo.root, "no-such-bug")
    with pytest.raises(ValueError, match="exactly once"):
        plant_bug(repo.root, "csv-delimiter")  # already planted: the original text is gone
