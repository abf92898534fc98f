"""Workspace file tools: ``read_file``, ``write_file``, ``list_files``, confined to the run's own workspace.

Each run has a private directory (``ToolContext.workspace``); these tools take paths *relative* to it and refuse
anything that would reach outside: absolute paths, ``..`` components, and symlinks whose target lies elsewhere
(the check runs on the resolved path, and writes open with ``O_NOFOLLOW`` so a link swapped in afterwards is not
followed either). Two runs have two workspaces, so the same relative path in each is two different files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.types import Permission, ToolContext, ToolResult

_MAX_LIST = 500


class WorkspaceError(ValueError):
    """A path the tools refuse; the message says why (the model sees it)."""


def workspace_root(ctx: ToolContext) -> Path:
    """The run's workspace, created on first use (a fresh run has none yet)."""
    root = Path(ctx.workspace)
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def resolve_in_workspace(ctx: ToolContext, relative: str) -> Path:
    """``relative`` as a path inside the workspace, or :class:`WorkspaceError`."""
    text = (relative or "").strip()
    if not text or text == ".":
        return workspace_root(ctx)
    if "\x00" in text:
        raise WorkspaceError("path contains a NUL byte")
    pure = PurePosixPath(text)
    if pure.is_absolute() or text.startswith("~"):
        raise WorkspaceError(f"{relative!r} is absolute; use a path relative to the workspace, e.g. 'data/out.csv'")
    if ".." in pure.parts:
        raise WorkspaceError(f"{relative!r} contains '..'; paths must stay inside the workspace")
    root = workspace_root(ctx)
    target = (root / pure).resolve()
    if target != root and root not in target.parents:
        raise WorkspaceError(f"{relative!r} leads outside the workspace (through a symbolic link)")
    return target


def _rel(ctx: ToolContext, path: Path) -> str:
    rel = path.relative_to(workspace_root(ctx)).as_posix()
    return rel or "."


class ReadFileTool:
    name = "read_file"
    description = (
        "Read a text file from the run's workspace. 'path' is relative to the workspace. Large files: pass "
        "'offset' (characters to skip) and 'max_chars'."
    )
    permission: Permission = "read"

    def __init__(self, settings: AgentSettings | None = None) -> None:
        self.settings = settings or get_agent_settings()
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1, "description": "file path relative to the workspace"},
                "offset": {"type": "integer", "minimum": 0, "description": "characters to skip (default 0)"},
                "max_chars": {"type": "integer", "minimum": 1, "description": "characters to return at most"},
            },
            "required": ["path"],
            "additionalProperties": False,
        }

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            path = resolve_in_workspace(ctx, arguments["path"])
        except WorkspaceError as exc:
            return ToolResult(ok=False, error=str(exc))
        if not path.exists():
            return ToolResult(ok=False, error=f"no such file: {arguments['path']!r} (list_files shows what exists)")
        if path.is_dir():
            return ToolResult(ok=False, error=f"{arguments['path']!r} is a directory; use list_files")
        cap = self.settings.workspace_max_file_bytes
        offset = int(arguments.get("offset", 0))
        max_chars = min(int(arguments.get("max_chars", cap)), cap)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            raw = f.read(cap + 1)
        text = raw[:cap].decode("utf-8", errors="replace")
        chunk = text[offset : offset + max_chars]
        more = size > cap or offset + max_chars < len(text)
        note = f"\n[file is {size} bytes; showing characters {offset}..{offset + len(chunk)}]" if more else ""
        return ToolResult(ok=True, output=chunk + note, truncated=more, data={"path": _rel(ctx, path), "bytes": size})


class WriteFileTool:
    name = "write_file"
    description = (
        "Write a text file in the run's workspace (parent directories are created). 'path' is relative to the "
        "workspace; 'append': true adds to the end instead of replacing."
    )
    permission: Permission = "write_scratch"

    def __init__(self, settings: AgentSettings | None = None) -> None:
        self.settings = settings or get_agent_settings()
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1, "description": "file path relative to the workspace"},
                "content": {"type": "string", "description": "the text to write"},
                "append": {"type": "boolean", "description": "append instead of overwrite (default false)"},
            },
            "required": ["path", "content"],
            "additionalProperties": False,
        }

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            path = resolve_in_workspace(ctx, arguments["path"])
        except WorkspaceError as exc:
            return ToolResult(ok=False, error=str(exc))
        if path == workspace_root(ctx) or path.is_dir():
            return ToolResult(ok=False, error=f"{arguments['path']!r} is a directory; give a file path")
        data = arguments["content"].encode("utf-8")
        append = bool(arguments.get("append", False))
        existing = path.stat().st_size if append and path.exists() else 0
        cap = self.settings.workspace_max_file_bytes
        if existing + len(data) > cap:
            return ToolResult(
                ok=False, error=f"file would be {existing + len(data)} bytes; the limit is {cap} bytes per file"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent.resolve() != path.parent or not path.parent.is_relative_to(workspace_root(ctx)):
            return ToolResult(ok=False, error=f"{arguments['path']!r} leads outside the workspace")
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:  # ELOOP: the final component became a symlink
            return ToolResult(ok=False, error=f"cannot write {arguments['path']!r}: {exc.strerror}")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        rel = _rel(ctx, path)
        verb = "appended" if append else "wrote"
        return ToolResult(ok=True, output=f"{verb} {len(data)} bytes to {rel}", data={"path": rel, "bytes": len(data)})


class ListFilesTool:
    name = "list_files"
    description = "List files in the run's workspace (or a sub-directory of it), with sizes."
    permission: Permission = "read"

    def __init__(self, settings: AgentSettings | None = None) -> None:
        self.settings = settings or get_agent_settings()
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "directory relative to the workspace (default '.')"},
                "recursive": {"type": "boolean", "description": "include sub-directories (default true)"},
            },
            "additionalProperties": False,
        }

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            base = resolve_in_workspace(ctx, arguments.get("path", "."))
        except WorkspaceError as exc:
            return ToolResult(ok=False, error=str(exc))
        if not base.is_dir():
            return ToolResult(ok=False, error=f"not a directory: {arguments.get('path')!r}")
        recursive = bool(arguments.get("recursive", True))
        root = workspace_root(ctx)
        entries: list[dict[str, Any]] = []
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames.sort()
            for name in dirnames + sorted(filenames):
                full = Path(dirpath) / name
                st = full.lstat()
                kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
                entries.append({"path": full.relative_to(root).as_posix(), "type": kind, "bytes": st.st_size})
            if not recursive:
                break
        entries.sort(key=lambda e: e["path"])
        shown = entries[:_MAX_LIST]
        lines = [f"{e['path']}{'/' if e['type'] == 'dir' else ''}\t{e['bytes']}" for e in shown]
        if len(entries) > len(shown):
            lines.append(f"[... {len(entries) - len(shown)} more entries]")
        output = "\n".join(lines) if lines else "(empty)"
        return ToolResult(ok=True, output=output, data={"entries": shown}, truncated=len(entries) > len(shown))
