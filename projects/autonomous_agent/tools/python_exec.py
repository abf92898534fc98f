"""``python``: model-written code, run in ``shared.sandbox`` with the run's workspace as its working directory.

Code actions (smolagents): the model writes a program, what it prints is the observation. The code runs without
network, as its own uid, under CPU/memory/process/file-size/output limits (see shared/sandbox/README.md).

Why a copy of the workspace: the sandbox lets a run write only inside a sandbox *box* (chowned to the run's uid),
and the workspace lives elsewhere (``AGENT__WORKSPACE_ROOT``). So each call copies the workspace into a fresh box,
runs there, and copies back what the code created, changed or deleted — regular files only: symlinks, hard
links, devices and files over ``workspace_max_file_bytes`` stay behind (and the observation says so). The code
therefore changes only its own run's workspace, and only with plain files.

Users find code executors' restrictions confusing, so when a limit stops the code the observation names the
limit and its value ("killed: wall-clock limit of 30 s ..."), and hints at what to do instead.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.tools.files import workspace_root
from projects.autonomous_agent.types import Permission, ToolContext, ToolResult
from shared.sandbox import SandboxError, SandboxLimits, SandboxResult, run_command
from shared.sandbox.workdir import copy_tree, new_box, remove_box
from shared.settings import get_settings

_SCRIPT = "main.py"  # lives next to the working directory, not in it: it is not part of the workspace
_WORK = "ws"
_OVERHEAD_S = 15.0  # copy in/out and sandbox start on a busy machine: the registry waits this much longer


@dataclass
class SyncReport:
    """What copying the box back into the workspace did."""

    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns) of every regular file: what the code found before it ran."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode):
                out[os.path.relpath(full, root)] = (st.st_size, st.st_mtime_ns)
    return out


def _sync_back(
    box_ws: Path, workspace: Path, before: dict[str, tuple[int, int]], settings: AgentSettings
) -> SyncReport:
    """Copy new/changed regular files from the box to the workspace; delete what the code deleted."""
    report = SyncReport()
    total = 0
    seen: set[str] = set()
    for dirpath, dirnames, files in os.walk(box_ws, followlinks=False):
        rel_dir = os.path.relpath(dirpath, box_ws)
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                report.skipped.append(f"{os.path.normpath(os.path.join(rel_dir, name))} (symbolic link)")
        for name in files:
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(full)
            if not stat.S_ISREG(st.st_mode):
                kind = "symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
                report.skipped.append(f"{rel} ({kind})")
                continue
            seen.add(rel)
            if before.get(rel) == (st.st_size, st.st_mtime_ns):
                continue  # unchanged by the code
            if st.st_nlink != 1:
                report.skipped.append(f"{rel} (hard link)")
                continue
            if st.st_size > settings.workspace_max_file_bytes:
                report.skipped.append(f"{rel} ({st.st_size} bytes > {settings.workspace_max_file_bytes} per file)")
                continue
            total += st.st_size
            if total > settings.workspace_max_bytes:
                report.skipped.append(f"{rel} (workspace limit of {settings.workspace_max_bytes} bytes reached)")
                continue
            dest = workspace / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_symlink() or not dest.resolve().is_relative_to(workspace):
                report.skipped.append(f"{rel} (the workspace path is a link)")
                continue
            src_fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
            dst_fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(src_fd, "rb") as src, os.fdopen(dst_fd, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            report.written.append(rel)
    for rel in sorted(set(before) - seen):
        target = workspace / rel
        if target.is_file() and not target.is_symlink():
            target.unlink()
            report.deleted.append(rel)
    return report


def _limit_message(result: SandboxResult, limits: SandboxLimits) -> str | None:
    """One sentence naming the limit that stopped the code, with its value and what to do; None if none did."""
    tail = result.stderr[-3000:]
    if result.status == "timeout":
        if result.signal == 24 or result.duration_s < limits.wall_s * 0.9:  # SIGXCPU
            return (
                f"killed: CPU time limit of {limits.cpu_s:g} s per process reached. Make the computation cheaper "
                "or ask for a larger timeout_s."
            )
        return (
            f"killed: wall-clock limit of {limits.wall_s:g} s reached (the code was still running). For long work "
            "pass a larger timeout_s (up to the maximum in the tool description), or make the code faster; "
            "nothing waits for input here."
        )
    if result.status == "memory":
        return (
            f"stopped: memory limit of {limits.memory_mb} MB (address space per process) reached — MemoryError. "
            "Process the data in chunks or use smaller arrays."
        )
    if result.status == "output_limit":
        return (
            f"killed: output limit of {limits.max_output_bytes} bytes (stdout+stderr) reached. Print a summary "
            "(counts, head, tail) or write large results to a file in the workspace."
        )
    if result.status == "killed":
        if result.signal == 25:  # SIGXFSZ
            return f"killed: file size limit of {limits.max_file_mb} MB per file reached."
        return f"killed by signal {result.signal}."
    if result.status == "error":
        if "Resource temporarily unavailable" in tail and ("fork" in tail or "Thread" in tail or "spawn" in tail):
            return f"process limit of {limits.max_processes} processes per run reached (fork/threads refused)."
        if any(s in tail for s in ("Network is unreachable", "NameResolutionError", "Temporary failure in name")):
            return "no network: code runs without network access (use http_get for allow-listed hosts)."
        if "Connection refused" in tail and ("socket" in tail or "connect" in tail):
            return "no network: code runs in its own network namespace; nothing outside it can be reached."
    return None


def _error_line(result: SandboxResult) -> str:
    """The last line of the traceback: usually 'ValueError: ...'."""
    for line in reversed(result.stderr.strip().splitlines()):
        if line.strip():
            return line.strip()[:300]
    return ""


class PythonTool:
    name = "python"
    permission: Permission = "compute"

    def __init__(self, settings: AgentSettings | None = None) -> None:
        self.settings = settings or get_agent_settings()
        s = self.settings
        self.description = (
            "Run a Python 3 program and return what it prints (stdout, stderr, exit status). The working directory "
            "is the run's workspace: files written there persist between calls and are visible to read_file. "
            f"No network. Limits: {s.python_wall_s:g} s wall clock by default (timeout_s raises it up to "
            f"{s.python_max_wall_s:g} s), {s.python_memory_mb} MB memory, {s.python_max_processes} processes, "
            f"{s.python_max_output_bytes} bytes of output. Print the values you need."
        )
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "code": {"type": "string", "minLength": 1, "description": "the Python program; print results"},
                "timeout_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": s.python_max_wall_s,
                    "description": f"wall-clock limit in seconds (default {s.python_wall_s:g})",
                },
            },
            "required": ["code"],
            "additionalProperties": False,
        }

    def limits(self, arguments: dict[str, Any]) -> SandboxLimits:
        s = self.settings
        wall = min(float(arguments.get("timeout_s") or s.python_wall_s), s.python_max_wall_s)
        return SandboxLimits(
            wall_s=wall,
            cpu_s=wall,
            memory_mb=s.python_memory_mb,
            max_processes=s.python_max_processes,
            max_file_mb=max(1, s.workspace_max_file_bytes // (1024 * 1024)),
            max_output_bytes=s.python_max_output_bytes,
            network=False,
        )

    def timeout_for(self, arguments: dict[str, Any]) -> float:
        """The registry's backstop: the sandbox's own wall clock plus copying; the sandbox stops the code first."""
        return self.limits(arguments).wall_s + _OVERHEAD_S

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        limits = self.limits(arguments)
        workspace = workspace_root(ctx)
        box = new_box("agent-")
        try:
            box_ws = box / _WORK
            box_ws.mkdir(mode=0o755)
            copy_tree(workspace, box_ws, ignore=None, max_bytes=self.settings.workspace_max_bytes)
            before = _snapshot(box_ws)
            (box / _SCRIPT).write_text(arguments["code"], encoding="utf-8")
            flags = ["-E", "-s"] + ([] if get_settings().sandbox.python_site else ["-S"])
            result = run_command([sys.executable, *flags, str(box / _SCRIPT)], cwd=box_ws, limits=limits)
            sync = _sync_back(box_ws, workspace, before, self.settings)
        except SandboxError as exc:  # the sandbox could not run it (workspace too large, isolation unavailable)
            return ToolResult(ok=False, error=f"the code was not run: {exc}")
        finally:
            remove_box(box)
        # Tracebacks name the script by its box path; the model only needs "main.py".
        prefix = f"{box}/"
        result = result.model_copy(
            update={"stdout": result.stdout.replace(prefix, ""), "stderr": result.stderr.replace(prefix, "")}
        )
        return self._result(result, limits, sync)

    @staticmethod
    def _result(result: SandboxResult, limits: SandboxLimits, sync: SyncReport) -> ToolResult:
        limit = _limit_message(result, limits)
        parts = [f"exit status: {result.exit_code if result.exit_code is not None else 'killed'}"]
        if limit:
            parts.append(f"LIMIT: {limit}")
        if result.stdout:
            parts.append("--- stdout ---\n" + result.stdout.rstrip("\n"))
        if result.stderr:
            parts.append("--- stderr ---\n" + result.stderr.rstrip("\n"))
        if not result.stdout and not result.stderr:
            parts.append("(no output: print() the values you need)")
        if sync.written or sync.deleted:
            changed = [f"+{p}" for p in sync.written] + [f"-{p}" for p in sync.deleted]
            parts.append("workspace changes: " + ", ".join(changed[:50]))
        if sync.skipped:
            parts.append("not kept in the workspace: " + ", ".join(sync.skipped[:20]))
        ok = result.status == "ok"
        error = None
        if not ok:
            error = limit or f"exit status {result.exit_code}: {_error_line(result)}"
        data = {
            "status": result.status,
            "exit_code": result.exit_code,
            "limit": limit,
            "duration_s": result.duration_s,
            "network_isolated": result.network_isolated,
            "files_written": sync.written[:50],
            "files_deleted": sync.deleted[:50],
        }
        return ToolResult(ok=ok, output="\n".join(parts), error=error, data=data, truncated=result.truncated)
