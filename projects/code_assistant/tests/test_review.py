"""Diff review: anchors, rules and rendering with a scripted model; one real-model review of an obvious bug."""

from __future__ import annotations

import json

import pytest

from projects.code_assistant.review import (
    InvalidDiff,
    ModelComments,
    Reviewer,
    is_test_path,
    render_github,
    render_markdown,
)
from projects.code_assistant.settings import CodeSettings
from shared.testing.doubles import RecordingChat

DIFF = """diff --git a/app/util.py b/app/util.py
--- a/app/util.py
+++ b/app/util.py
@@ -10,4 +10,9 @@ def last_items(a, n):
 def last_items(a, n):
-    return a[-n:]
+    try:
+        print(a)
+        return a[-n:]
+    except:
+        return []
+    # TODO handle n == 0
\x20
\x20
@@ -40,3 +45,3 @@ def other():
 def other():
-    return 1
+    return 2
\x20
"""


def _reply(*comments: dict) -> str:
    return json.dumps({"comments": list(comments)})


def _comment(line: int, message: str, category: str = "bug", severity: str = "warning") -> dict:
    return {"line": line, "severity": severity, "category": category, "message": message}


def test_anchors_validated_and_reanchored_to_nearest_added_line() -> None:
    chat = RecordingChat(
        _reply(
            _comment(12, "returns the wrong slice when n is 0"),  # an added line: kept
            _comment(10, "the signature lacks type hints", "style", "info"),  # a context line: valid, kept
            _comment(30, "swallows errors"),  # outside the hunk: moved to the nearest added line (16)
            _comment(14, "   "),  # empty message: dropped
        ),
        _reply(_comment(3, "changed return value")),  # second hunk: line 3 is outside -> nearest added (46)
    )
    review = Reviewer(chat, CodeSettings(review_concurrency=1)).review(DIFF)  # one at a time: replies in order
    model = [c for c in review.comments if c.source == "model"]
    assert {(c.line, c.message, c.reanchored_from) for c in model} == {
        (12, "returns the wrong slice when n is 0", None),
        (10, "the signature lacks type hints", None),
        (16, "swallows errors", 30),
        (46, "changed return value", 3),
    }
    assert (review.reanchored, review.dropped, review.model_calls) == (2, 1, 2)
    assert all(c.side == "new" for c in review.comments)
    request = chat.calls[0]
    assert request.response_schema == ModelComments.model_json_schema()
    prompt = request.messages[-1].content
    assert "   12 +         print(a)" in prompt and "      -     return a[-n:]" in prompt
    assert "\n        def last_items(a, n):" in prompt  # context lines carry no number


def test_rules_flag_print_bare_except_todo_and_missing_tests() -> None:
    review = Reviewer(RecordingChat(_reply()), CodeSettings()).review(DIFF)
    rules = {(c.line, c.category, c.severity) for c in review.comments if c.source == "rule"}
    assert (12, "style", "warning") in rules  # print(
    assert (14, "risk", "warning") in rules  # bare except:
    assert (16, "risk", "info") in rules  # TODO
    assert (11, "missing_test", "warning") in rules  # first added line of a source file, no tests in the diff
    assert sum(1 for c in review.comments if c.category == "missing_test") == 1
    assert "from rules" in review.summary and review.files == ["app/util.py"]


def test_no_missing_test_comment_when_a_test_changes_and_removed_test_is_flagged() -> None:
    diff = DIFF + (
        "--- a/tests/test_util.py\n+++ b/tests/test_util.py\n@@ -1,5 +1,2 @@\n import util\n"
        "-def test_last_items():\n-    assert util.last_items([1], 1) == [1]\n-\n x = 1\n"
    )
    review = Reviewer(RecordingChat(_reply()), CodeSettings()).review(diff)
    assert not any(c.category == "missing_test" and c.path == "app/util.py" for c in review.comments)
    removed = [c for c in review.comments if c.path == "tests/test_util.py"]
    assert len(removed) == 1 and "'test_last_items' removed" in removed[0].message
    assert removed[0].line == 1 and removed[0].side == "new"  # anchored on the nearest line the new file has


def test_debugger_and_secret_rules_and_masking() -> None:
    key = "AKIA" + "ABCDEFGHIJKLMNOP"
    diff = (
        "--- a/svc/run.py\n+++ b/svc/run.py\n@@ -1,1 +1,4 @@\n import os\n"
        f'+AWS_KEY = "{key}"\n+import pdb; pdb.set_trace()\n+breakpoint()\n'
    )
    review = Reviewer(RecordingChat(_reply()), CodeSettings(review_max_hunks=0)).review(diff)
    by_line = {(c.line, c.category): c for c in review.comments}
    assert "AWS access key" in by_line[(2, "risk")].message and key not in render_markdown(review)
    assert by_line[(3, "bug")].severity == "error" and by_line[(4, "bug")].severity == "error"
    assert review.model_calls == 0 and "over the model budget" in review.skipped[0]


@pytest.mark.parametrize(
    ("diff", "match"),
    [
        ("", "empty"),
        ("just some text\nwith no hunks\n", "no file changes"),
        ("--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,5 @@\n a\n+b\n", "malformed"),
        ("--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", "outside the repository"),
    ],
)
def test_malformed_diff_is_invalid(diff: str, match: str) -> None:
    with pytest.raises(InvalidDiff, match=match):
        Reviewer(RecordingChat(_reply()), CodeSettings()).review(diff)
    assert issubclass(InvalidDiff, ValueError)


def test_size_cap_and_binary_files_skipped() -> None:
    with pytest.raises(InvalidDiff, match="limit is 1000"):
        Reviewer(RecordingChat(_reply()), CodeSettings(review_max_diff_chars=1000)).review(DIFF * 10)
    binary = "diff --git a/img.png b/img.png\nindex 1..2 100644\nBinary files a/img.png and b/img.png differ\n"
    chat = RecordingChat(_reply())
    review = Reviewer(chat, CodeSettings()).review(binary + DIFF)
    assert "img.png (binary)" in review.skipped and "img.png" not in review.files
    assert len(chat.calls) == 2  # the two text hunks only


def test_model_failure_keeps_rule_comments_and_duplicates_merge() -> None:
    chat = RecordingChat("not json at all")
    review = Reviewer(chat, CodeSettings(review_structured_retries=0)).review(DIFF)
    assert len(review.model_errors) == 2 and any(c.source == "rule" for c in review.comments)
    assert "model failed on 2 hunk(s)" in review.summary

    same = _comment(12, "Debug print left in.", "style")
    review = Reviewer(RecordingChat(_reply(same, same)), CodeSettings()).review(DIFF)
    on_12 = [c for c in review.comments if c.line == 12 and c.category == "style"]
    assert len(on_12) == 1 and on_12[0].source == "rule"  # the rule's wording wins on the same line and category


def test_enclosing_definition_from_files_goes_into_the_prompt() -> None:
    new_file = "\n" * 9 + "def last_items(a, n):\n    try:\n        print(a)\n        return a[-n:]\n"
    chat = RecordingChat(_reply())
    Reviewer(chat, CodeSettings()).review(DIFF, files={"app/util.py": new_file})
    prompts = [call.messages[-1].content for call in chat.calls]
    assert any("Inside: last_items: def last_items(a, n):" in prompt for prompt in prompts), prompts


def test_renderers() -> None:
    chat = RecordingChat(_reply(_comment(12, "off by one", "bug", "error")), _reply())
    review = Reviewer(chat, CodeSettings(review_concurrency=1)).review(DIFF)
    markdown = render_markdown(review)
    assert markdown.startswith("### Review\n\n") and "#### `app/util.py`" in markdown
    assert "- **L12** · error · bug — off by one _(model)_" in markdown
    github = render_github(review, commit_id="abc123")
    assert github["event"] == "REQUEST_CHANGES" and github["commit_id"] == "abc123"
    assert {"path": "app/util.py", "line": 12, "side": "RIGHT", "body": "**bug** (error): off by one"} in github[
        "comments"
    ]
    assert json.loads(json.dumps(review.to_dict()))["summary"] == review.summary


def test_test_paths() -> None:
    for path in ("tests/a.py", "pkg/test_a.py", "a_test.go", "web/a.spec.ts", "src/test/java/ATest.java"):
        assert is_test_path(path), path
    for path in ("app/util.py", "src/main/java/Contest.java", "latest.py"):
        assert not is_test_path(path), path


# -- the real local model -------------------------------------------------------------------------------------

BUGGY = """--- a/app/stats.py
+++ b/app/stats.py
@@ -1,5 +1,6 @@
 def total(values):
     result = 0
-    for i in range(len(values)):
+    for i in range(len(values) + 1):
         result += values[i]
     return result
+
"""


def test_real_model_comments_on_the_changed_line() -> None:
    from shared.serving import get_chat_model

    settings = CodeSettings(review_max_tokens=120, review_structured_retries=0)
    review = Reviewer(get_chat_model(), settings).review(BUGGY)
    assert review.model_calls == 1
    model = [c for c in review.comments if c.source == "model"]
    assert model, (review.model_errors, review.summary)
    assert any(c.line == 3 for c in model), [(c.line, c.message) for c in model]
