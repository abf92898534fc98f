"""Run untrusted code (generated solutions, a repository's tests) with limits and without network.

``run_python`` for a snippet, ``run_command`` for any argv in a directory, ``working_copy`` for a throw-away
copy of a repository to run it in. What is and is not isolated: README.md next to this file.
"""

from shared.sandbox.models import SandboxError, SandboxLimits, SandboxResult
from shared.sandbox.runner import run_command, run_python
from shared.sandbox.workdir import default_ignore, working_copy

__all__ = [
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "default_ignore",
    "run_command",
    "run_python",
    "working_copy",
]
