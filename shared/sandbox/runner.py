"""Run untrusted code: ``run_command`` (any argv in a directory) and ``run_python`` (a snippet in a fresh box).

The parent only spawns ``launch.py`` (no ``preexec_fn``), pumps the pipes with a byte cap and a deadline, and
classifies the outcome. Isolation, limits and identity are the launcher's job; see README.md for what they
do and do not protect against.
"""

from __future__ import annotations

import marshal
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from pathlib import Path

from shared.observability.metrics import SANDBOX_DURATION, SANDBOX_RUNS
from shared.sandbox.models import SandboxError, SandboxLimits, SandboxResult, Status
from shared.sandbox.workdir import box_of, grant, new_box, remove_box, tmp_root, uid_lease
from shared.settings import get_settings

LAUNCHER = Path(__file__).with_name("launch.py")
_WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # covered by a private tmpfs (root only)
_CHUNK = 65536


def _hidden_ancestor(path: str) -> str | None:
    """The top-most directory on ``path`` that other users cannot traverse (e.g. /root holding pyenv)."""
    current = "/"
    for part in Path(path).parts[1:]:
        current = os.path.join(current, part)
        try:
            if not os.stat(current).st_mode & 0o001:
                return current
        except OSError:
            return None
    return None


def _interpreter_dirs() -> list[str]:
    """Directories the dropped uid needs to start this Python (prefix, base prefix, the real binary's dir)."""
    dirs = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    return sorted(d for d in dirs if os.path.isdir(d))


def _mount_plan(keep_dir: Path) -> tuple[list[dict], list[str]]:
    covers = [{"path": p, "mode": "1777"} for p in _WORLD_WRITABLE if os.path.isdir(p) and not os.path.islink(p)]
    keep = [str(keep_dir)]
    for d in _interpreter_dirs():
        hidden = _hidden_ancestor(d)
        if hidden and hidden not in {c["path"] for c in covers}:
            covers.append({"path": hidden, "mode": "0755"})
        keep.append(d)  # under a hidden dir (/root/.pyenv) or a covered one (a venv in /tmp/checkout/.venv)
    # A hidden dir under another cover (/tmp/pytest-of-root under /tmp) is covered already: mounting it again
    # would target a path the parent's tmpfs just hid.
    covers = [c for c in covers if not any(c["path"].startswith(o["path"] + "/") for o in covers)]
    # Only paths under a cover need binding back; order covers so parents are mounted before children.
    cover_paths = [c["path"] for c in covers]
    keep = [k for k in dict.fromkeys(keep) if any(k == c or k.startswith(c + "/") for c in cover_paths)]
    return sorted(covers, key=lambda c: c["path"].count("/")), keep


def _count_own_processes() -> int:
    uid = os.getuid()
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with suppress(OSError):
                n += entry.stat().st_uid == uid
    return n


def _rlimits(limits: SandboxLimits, own_uid: bool) -> dict[str, tuple[int, int]]:
    cpu = max(1, int(limits.cpu_s + 0.999))
    mib = 1024 * 1024
    rl = {
        "RLIMIT_CPU": (cpu, cpu + 1),
        "RLIMIT_AS": (limits.memory_mb * mib, limits.memory_mb * mib),
        "RLIMIT_FSIZE": (limits.max_file_mb * mib, limits.max_file_mb * mib),
        "RLIMIT_CORE": (0, 0),
        "RLIMIT_NOFILE": (1024, 1024),
    }
    # RLIMIT_NPROC counts every process of the real uid: with a uid of our own that is exactly this run;
    # otherwise allow what this user already runs plus the run's budget.
    nproc = limits.max_processes if own_uid else _count_own_processes() + limits.max_processes
    rl["RLIMIT_NPROC"] = (nproc, nproc)
    return rl


def _base_env(cwd: Path, private_tmp: bool) -> dict[str, str]:
    """No secrets from the parent: only what programs need to behave."""
    path = os.pathsep.join(dict.fromkeys([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]))
    return {
        "PATH": path,
        "HOME": str(cwd),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": "/tmp" if private_tmp else str(cwd),
    }


def _kill_uid(uid: int, deadline_s: float = 2.0) -> None:
    """Last resort when the namespace could not be relied on: SIGKILL every process of the run's uid."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    found = True
                    os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass
        if not found:
            return
        time.sleep(0.01)


class _Pump:
    """Read stdout/stderr together (and feed stdin) until EOF, the deadline, or the byte cap."""

    def __init__(self, proc: subprocess.Popen, stdin: bytes | None, cap: int) -> None:
        self.proc, self.cap = proc, cap
        self.out_fd, self.err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        self.buffers: dict[int, bytearray] = {self.out_fd: bytearray(), self.err_fd: bytearray()}
        self.total = 0
        self.truncated = False
        self.sel = selectors.DefaultSelector()
        for stream in (proc.stdout, proc.stderr):
            os.set_blocking(stream.fileno(), False)
            self.sel.register(stream.fileno(), selectors.EVENT_READ)
        self.stdin = memoryview(stdin) if stdin else None
        if self.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            self.sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE)

    def run(self, deadline: float) -> str | None:
        """Returns None at EOF on both pipes, or "timeout" / "output_limit"."""
        while self.sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            for key, _ in self.sel.select(remaining):
                if key.events & selectors.EVENT_WRITE:
                    self._write(key.fd)
                elif self._read(key.fd):
                    return "output_limit"
        return None

    def _write(self, fd: int) -> None:
        try:
            self.stdin = self.stdin[os.write(fd, self.stdin[:_CHUNK]) :]
        except BlockingIOError:
            return
        except BrokenPipeError:  # the program stopped reading: drop the rest
            self.stdin = self.stdin[:0]
        if not self.stdin:
            self.sel.unregister(fd)
            self.proc.stdin.close()

    def _read(self, fd: int) -> bool:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return False
        if not data:
            self.sel.unregister(fd)
            return False
        room = self.cap - self.total
        self.buffers[fd] += data[: max(room, 0)]
        self.total += len(data)
        if self.total > self.cap:
            self.truncated = True
            return True
        return False

    def text(self, fd: int) -> str:
        return self.buffers[fd].decode("utf-8", errors="replace")

    def close(self) -> None:
        self.sel.close()


def _classify(outcome: str | None, wait_status: int | None, stderr: str) -> tuple[Status, int | None, int | None]:
    if wait_status is None:
        return ("timeout" if outcome == "timeout" else outcome or "killed"), None, None  # type: ignore[return-value]
    sig = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None
    code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else None
    if outcome in ("timeout", "output_limit"):
        return outcome, code, sig  # type: ignore[return-value]
    if sig is not None:
        return ("timeout" if sig == signal.SIGXCPU else "killed"), None, sig
    if code == 0:
        return "ok", 0, None
    if "MemoryError" in stderr[-4000:]:
        return "memory", code, None
    return "error", code, None


def _stop(proc: subprocess.Popen) -> None:
    """Ask the launcher to kill the namespace (it SIGKILLs pid 1 and waits); SIGKILL it if it does not."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    limits: SandboxLimits | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> SandboxResult:
    """Run ``argv`` in ``cwd`` under the limits; never raises for what the code does, only for sandbox failures.

    When ``cwd`` is inside a sandbox box (``working_copy``, ``run_python``), the run may write there; elsewhere it
    can write nothing the filesystem permissions protect. Extra ``env`` is added to a minimal environment.
    """
    if not argv:
        raise SandboxError("empty argv")
    limits = limits or SandboxLimits()
    cfg = get_settings().sandbox
    workdir = Path(cwd).resolve()
    if not workdir.is_dir():
        raise SandboxError(f"cwd is not a directory: {cwd}")
    is_root = os.geteuid() == 0
    start = time.monotonic()
    with ExitStack() as stack:
        uid = stack.enter_context(uid_lease()) if is_root else None
        box = box_of(workdir)
        if uid is not None and box is not None:
            grant(box, uid)
        covers, keep = _mount_plan(box or workdir) if is_root else ([], [])
        spec = {
            "argv": list(argv),
            "cwd": str(workdir),
            "env": {**_base_env(workdir, private_tmp=is_root), **(env or {})},
            "uid": uid,
            "gid": uid,
            "rlimits": _rlimits(limits, own_uid=uid is not None),
            "network": limits.network,
            "mounts": is_root,
            "userns": not is_root,
            "require_isolation": cfg.require_isolation,
            "cover": covers,
            "keep": keep,
            "tmpfs_mb": cfg.tmpfs_mb,
        }
        status_r, status_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(LAUNCHER), marshal.dumps(spec).hex(), str(status_w)],
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(status_w,),
                start_new_session=True,
                cwd="/",
                env={"PATH": "/usr/bin:/bin"},
            )
        finally:
            os.close(status_w)
        pump = _Pump(proc, stdin.encode() if stdin is not None else None, limits.max_output_bytes)
        try:
            outcome = pump.run(start + limits.wall_s)
            if outcome is None:  # pipes closed: the main process ended (or closed them); wait for the rest
                try:
                    proc.wait(timeout=max(0.05, start + limits.wall_s - time.monotonic()))
                except subprocess.TimeoutExpired:
                    outcome = "timeout"
        finally:
            _stop(proc)
            pump.close()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        with os.fdopen(status_r, "rb") as f:
            raw = f.read()
        report = marshal.loads(raw) if raw else None
        if uid is not None and (report is None or not report["isolated"]["pid"]):  # no namespace: sweep by uid
            _kill_uid(uid)
    if report and report.get("error"):
        raise SandboxError(f"sandbox could not isolate the run: {report['error']}")
    if report is None and outcome is None:
        raise SandboxError(f"sandbox launcher failed (exit {proc.returncode}): {pump.text(pump.err_fd)[-2000:]}")
    stderr = pump.text(pump.err_fd)
    status, code, sig = _classify(outcome, report["status"] if report else None, stderr)
    duration = time.monotonic() - start
    SANDBOX_RUNS.labels(status=status).inc()
    SANDBOX_DURATION.observe(duration)
    return SandboxResult(
        status=status,
        exit_code=code,
        signal=sig,
        stdout=pump.text(pump.out_fd),
        stderr=stderr,
        truncated=pump.truncated,
        duration_s=round(duration, 4),
        network_isolated=bool(report and report["isolated"]["net"]),
    )


def run_python(
    code: str,
    *,
    limits: SandboxLimits | None = None,
    files: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> SandboxResult:
    """Write ``code`` to ``main.py`` (plus ``files``, relative paths) in a fresh box, run it, delete the box.

    ``-E -s`` (not ``-I``) so that ``main.py`` can import the helper ``files`` next to it; the environment is
    minimal anyway. ``settings.sandbox.python_site=False`` adds ``-S`` (stdlib only, ~10 ms faster).
    """
    box = new_box("py-")
    try:
        for rel, content in {**(files or {}), "main.py": code}.items():
            target = (box / rel).resolve()
            if box_of(target) != box or target == box:
                raise SandboxError(f"file path escapes the sandbox: {rel!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        flags = ["-E", "-s"] + ([] if get_settings().sandbox.python_site else ["-S"])
        return run_command([sys.executable, *flags, "main.py", *args], cwd=box, limits=limits)
    finally:
        remove_box(box)


__all__ = ["run_command", "run_python", "tmp_root"]
