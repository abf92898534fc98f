from pathlib import Path

import pytest

from shared.guardrails import offline


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, "enable_metrics=false\n"),
        ("id=abc", "id=abc\nenable_metrics=false\n"),
        ("enable_metrics=true\n", "enable_metrics=true\n"),  # an explicit opt-in is respected
    ],
)
def test_ensure_offline_writes_guardrailsrc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: str | None, expected: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(offline, "_done", False)
    if existing is not None:
        (tmp_path / ".guardrailsrc").write_text(existing)
    offline.ensure_offline()
    assert (tmp_path / ".guardrailsrc").read_text() == expected
    from guardrails.settings import settings

    assert settings.rc.enable_metrics is (existing == "enable_metrics=true\n")
    monkeypatch.undo()
    offline._done = False
    offline.ensure_offline()  # restore the process-wide settings from the real home


def test_importing_guardrails_does_not_download_nltk_data() -> None:
    """guardrails-ai calls nltk.download("punkt") at import; ensure_offline must keep that off the network."""
    import subprocess
    import sys

    code = (
        "import nltk\n"
        "calls = []\n"
        "nltk.download = lambda *a, **k: calls.append(a)\n"
        "from shared.guardrails.offline import ensure_offline\n"
        "ensure_offline()\n"
        "import guardrails, guardrails.utils.docs_utils\n"
        "print('downloads', len(calls))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "downloads 0" in out.stdout and "Error loading punkt" not in out.stderr
