"""Localisation from real pytest failures in the demo repository, and from bare tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from projects.code_assistant.demo_repo import BUGS, generate_demo_repo
from projects.code_assistant.localize import (
    Frame,
    is_test_path,
    localize,
    parse_failure,
    render_regions,
    to_repo_path,
)


def _pytest_output(root: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--maxfail=5"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert done.returncode == 1, done.stdout[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def buggy(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """One demo repository per planted bug, with its real pytest output."""
    out = {}
    for bug_id in BUGS:
        root = generate_demo_repo(tmp_path_factory.mktemp(bug_id) / "repo", bugs=[bug_id]).root
        out[bug_id] = (root, _pytest_output(root))
    return out


@pytest.mark.parametrize("bug_id", list(BUGS))
def test_regions_include_the_planted_bug_within_budget(buggy, bug_id: str):
    root, output = buggy[bug_id]
    bug = BUGS[bug_id]
    regions = localize(root, output, max_lines=120)
    assert sum(r.lines for r in regions) <= 120
    hits = [r for r in regions if r.path == bug.file and r.symbol and r.symbol.split(".")[-1] == bug.function]
    assert hits, [(r.path, r.symbol) for r in regions]
    buggy_line = bug.buggy.splitlines()[-1] if bug.buggy.strip() else bug.original.splitlines()[0]
    lines = (root / bug.file).read_text().splitlines()
    line_no = next(i for i, text in enumerate(lines, 1) if text == buggy_line)
    assert hits[0].start_line <= line_no <= hits[0].end_line
    # no region overlaps another of the same file
    for a in regions:
        for b in regions:
            if a is not b and a.path == b.path:
                assert a.end_line < b.start_line or b.end_line < a.start_line


def test_traceback_frame_outranks_tests_for_a_missing_return(buggy):
    root, output = buggy["subtotal-return"]
    report = parse_failure(output, root)
    assert "tests/test_invoice.py::test_subtotal_sums_lines" in report.tests
    assert Frame("invoicing/invoice.py", 66, None) in report.frames  # pytest's long format names no function
    assert any("NoneType" in e for e in report.errors)
    regions = localize(root, output)
    assert regions[0].path == "invoicing/invoice.py" and regions[0].symbol == "Invoice.total"
    assert "traceback" in regions[0].reason
    rendered = render_regions(root, regions[:1])
    assert "66 |         return apply_coupon(self.subtotal() + self.tax_total(), self.coupon)" in rendered


def test_bare_traceback_from_another_checkout_and_outside_paths(buggy):
    root, _ = buggy["subtotal-return"]
    traceback = """Traceback (most recent call last):
  File "/home/ada/src/shop/invoicing/cli.py", line 29, in main
    print(f"{invoice.number}: {invoice.total()}")
  File "/home/ada/src/shop/invoicing/invoice.py", line 66, in total
    return apply_coupon(self.subtotal() + self.tax_total(), self.coupon)
  File "/usr/lib/python3.11/site-packages/somelib/core.py", line 3, in helper
  File "../../etc/passwd", line 1, in <module>
TypeError: unsupported operand type(s) for +: 'NoneType' and 'Money'
"""
    report = parse_failure(traceback, root)
    assert [f.path for f in report.frames] == ["invoicing/cli.py", "invoicing/invoice.py"]
    assert report.errors == ["TypeError: unsupported operand type(s) for +: 'NoneType' and 'Money'"]
    assert report.tests == []
    calls: list[str] = []

    def find(name: str) -> list[tuple[str, int, int]]:  # the lead's index plugs in here
        calls.append(name)
        return [("invoicing/invoice.py", 54, 58)] if name == "subtotal" else []

    regions = localize(root, traceback, find_definitions=find)
    assert [r.symbol for r in regions[:2]] == ["Invoice.total", "main"]
    assert "subtotal" in calls
    assert any(r.symbol == "Invoice.subtotal" and "called by Invoice.total" in r.reason for r in regions)
    assert to_repo_path(root, "../../etc/passwd") is None
    assert to_repo_path(root, "/etc/passwd") is None


def test_description_identifiers_are_looked_up(buggy):
    root, output = buggy["csv-delimiter"]
    regions = localize(root, output, description="`apply_coupon` looks wrong too", max_lines=200)
    assert any(r.symbol == "apply_coupon" and r.reason == "named in the description" for r in regions)


def test_is_test_path():
    assert is_test_path("tests/test_money.py") and is_test_path("pkg/conftest.py") and is_test_path("a/b_test.go")
    assert not is_test_path("invoicing/money.py")


def test_a_traceback_from_the_users_checkout_maps_into_the_working_copy(tmp_path: Path):
    """The debug loop localises in a sandboxed copy; a pasted traceback names the user's own checkout."""
    from projects.code_assistant.localize import to_repo_path

    user, copy = tmp_path / "srv" / "invoicing", tmp_path / "box" / "copy"
    for root in (user, copy):
        (root / "invoicing").mkdir(parents=True)
        (root / "invoicing" / "money.py").write_text("x = 1\n")
    assert to_repo_path(copy, str(user / "invoicing" / "money.py")) == "invoicing/money.py"  # by its tail
    assert to_repo_path(copy, str(tmp_path / "lib" / "site-packages" / "invoicing" / "money.py")) is None
