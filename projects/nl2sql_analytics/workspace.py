"""Where each connection's files live: its semantic layer (YAML) and its row-level security policy (YAML).

One place for the lookup rule, because the service (which edits them), the pipeline (which reads them on every
question) and the demo loader (which installs them) must agree. Semantic layers edited in the UI are written
to the writable workspace ``data_dir/semantic/``; a layer shipped with the code (``semantic_dir``) is the
fallback, so a fresh checkout works and a user's edit never rewrites a tracked file. Policies are operator
configuration (``policies_dir``), never edited through the API.
"""

from __future__ import annotations

from pathlib import Path

from projects.nl2sql_analytics.policies import PolicySet
from projects.nl2sql_analytics.settings import Nl2SqlSettings


def edited_semantic_path(settings: Nl2SqlSettings, connection: str) -> Path:
    """Where a semantic layer saved through the API/UI is written."""
    return settings.data_dir / "semantic" / f"{connection}.yaml"


def semantic_path(settings: Nl2SqlSettings, connection: str) -> Path | None:
    """The layer in effect: the edited one if saved, else the shipped one, else None (no layer yet)."""
    for path in (edited_semantic_path(settings, connection), settings.semantic_dir / f"{connection}.yaml"):
        if path.is_file():
            return path
    return None


def policies_path(settings: Nl2SqlSettings, connection: str) -> Path:
    return settings.policies_dir / f"{connection}.yaml"


def load_policies(settings: Nl2SqlSettings, connection: str) -> PolicySet:
    """The connection's policy set; a connection without a policy file governs no table (every row readable)."""
    path = policies_path(settings, connection)
    return PolicySet.from_yaml(path) if path.is_file() else PolicySet()
