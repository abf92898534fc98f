"""Where sandboxed code may write: per-run "boxes" under one root, per-run uids, and repository working copies.

Every box is a directory ``<tmp root>/<prefix>XXXX`` (mode 0700). Before a run the box is handed to the run's
uid (chown), so that uid can write there and nowhere else the filesystem permissions protect; the root of the
boxes is 0711, so one run cannot list or enter another's box.
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.sandbox.models import SandboxError
from shared.settings import get_settings

Ignore = Callable[[str, list[str]], set[str] | list[str]]
_leased: set[int] = set()
_lease_lock = threading.Lock()


def default_ignore(directory: str, names: list[str]) -> set[str]:
    """``shutil.copytree``-style ignore: the VCS metadata is not part of the working copy."""
    return {n for n in names if n == ".git"}


def tmp_root() -> Path:
    """The root of all boxes (created 0711 root-owned on first use)."""
    configured = get_settings().sandbox.tmp_dir
    root = Path(configured) if configured else Path(tempfile.gettempdir()) / "genai-sandbox"
    root.mkdir(mode=0o711, parents=True, exist_ok=True)
    if os.geteuid() == 0 and stat.S_IMODE(root.stat().st_mode) != 0o711:
        os.chmod(root, 0o711)
    return root


def new_box(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=tmp_root())).resolve()


def remove_box(box: Path) -> None:
    """Delete a box even where the run chmod-ed things read-only (matters when not root)."""

    def _retry(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
            func(path)
        except OSError:
            pass

    shutil.rmtree(box, onerror=_retry)


def box_of(path: Path) -> Path | None:
    """The box that ``path`` lies in, or None when it is not under the sandbox root."""
    root = tmp_root().resolve()
    try:
        rel = path.resolve().relative_to(root)
    except ValueError:
        return None
    return root / rel.parts[0] if rel.parts else None


@contextmanager
def uid_lease() -> Iterator[int]:
    """An otherwise unused uid for one run, exclusive across threads and processes (flock on a lock file).

    A uid of its own is what makes RLIMIT_NPROC count only this run's processes, and means one run can never
    signal or write the files of another.
    """
    cfg = get_settings().sandbox
    locks = tmp_root() / ".locks"
    locks.mkdir(mode=0o700, exist_ok=True)
    for _ in range(64):
        uid = cfg.uid_base + random.randrange(cfg.uid_count)
        with _lease_lock:
            if uid in _leased:
                continue
            _leased.add(uid)
        fd = os.open(locks / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            with _lease_lock:
                _leased.discard(uid)
            continue
        try:
            yield uid
        finally:
            os.close(fd)
            with _lease_lock:
                _leased.discard(uid)
        return
    raise SandboxError("no free sandbox uid (uid_count too small for the concurrency?)")


def grant(box: Path, uid: int) -> None:
    """Hand the box to ``uid`` (chown, symlinks themselves only, never files with other hard links).

    Skipping multiply-linked files matters: a previous run could have hard-linked a file from elsewhere into the
    box, and a recursive chown would then give that outside file away.
    """

    def _own(path: str, st: os.stat_result) -> None:
        if st.st_uid != uid or st.st_gid != uid:
            os.chown(path, uid, uid, follow_symlinks=False)

    _own(str(box), os.lstat(box))
    stack = [str(box)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    _own(entry.path, st)
                    stack.append(entry.path)
                elif stat.S_ISLNK(st.st_mode) or st.st_nlink == 1:
                    _own(entry.path, st)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def copy_tree(src: Path, dest: Path, *, ignore: Ignore | None, max_bytes: int) -> None:
    """Copy regular files and directories; keep a symlink only when it points inside ``src`` (as a relative
    link inside the copy); skip links that leave the tree, loops, devices, fifos and sockets."""
    root = os.path.realpath(src)
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = os.path.relpath(dirpath, root)
        out_dir = dest if rel == "." else dest / rel
        ignored = set(ignore(dirpath, dirnames + filenames)) if ignore else set()
        dirnames[:] = [d for d in dirnames if d not in ignored]
        names = [n for n in filenames if n not in ignored]
        for name in dirnames + names:
            source = os.path.join(dirpath, name)
            st = os.lstat(source)
            if stat.S_ISLNK(st.st_mode):
                target = os.path.realpath(source)
                if _inside(target, root) and os.path.lexists(target):
                    os.symlink(os.path.relpath(target, dirpath), out_dir / name)
            elif stat.S_ISDIR(st.st_mode):
                (out_dir / name).mkdir(mode=0o755)
            elif stat.S_ISREG(st.st_mode):
                total += st.st_size
                if total > max_bytes:
                    raise SandboxError(f"{src} is larger than the working-copy limit of {max_bytes} bytes")
                shutil.copyfile(source, out_dir / name, follow_symlinks=False)
                os.chmod(out_dir / name, stat.S_IMODE(st.st_mode) & 0o755 | 0o600)
        # os.walk lists symlinks to directories among dirnames but does not descend: nothing else to prune


@contextmanager
def working_copy(src: Path, *, ignore: Ignore | None = default_ignore, max_bytes: int | None = None) -> Iterator[Path]:
    """A temporary copy of the repository ``src``, removed afterwards. Runs with ``cwd`` inside it may write
    there (only); the original is never touched. ``ignore`` replaces the default (which drops ``.git``)."""
    source = Path(src)
    if not source.is_dir():
        raise SandboxError(f"not a directory: {src}")
    limit = max_bytes if max_bytes is not None else get_settings().sandbox.working_copy_max_mb * 1024 * 1024
    box = new_box("wc-")
    try:
        copy_tree(source, box, ignore=ignore, max_bytes=limit)
        yield box
    finally:
        remove_box(box)
