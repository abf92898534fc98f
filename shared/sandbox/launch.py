"""The sandbox launcher: isolate, drop privileges, set rlimits, then exec the target.

Runs as its own short-lived process (``python -I -S launch.py SPEC STATUS_FD``, SPEC = hex of a marshalled
dict) so the parent never needs ``preexec_fn`` (not fork-safe in a threaded server). Standard library only,
run by path, and it avoids costly imports (json, signal's enums, socket): it is on every run's critical path.
Process tree::

    launcher (host pid namespace, new session; waits, forwards SIGTERM as SIGKILL to init)
      └─ init   (pid 1 of a new pid namespace; reaps orphans; its exit makes the kernel kill the namespace)
           └─ target (rlimits, own uid, no_new_privs, execs argv)

The launcher writes one marshalled dict to STATUS_FD: which isolation it got and the target's wait status.
"""

from __future__ import annotations

import _signal as signal  # the C module: the ``signal`` wrapper imports enum (~3 ms)
import ctypes
import marshal
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if v is None else v.encode() for v in (src, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")


def _loopback_up() -> None:
    """A fresh network namespace has only ``lo``, and it is down: bring it up so code may talk to itself."""
    sock = _libc.socket(2, 2, 0)  # AF_INET, SOCK_DGRAM
    if sock < 0:
        _check(-1, "socket")
    try:
        ifreq = ctypes.create_string_buffer(b"lo", 40)  # struct ifreq: name[16], then ifr_flags (short)
        _check(_libc.ioctl(sock, SIOCGIFFLAGS, ifreq), "ioctl(SIOCGIFFLAGS)")
        flags = ctypes.c_short.from_buffer(ifreq, 16)
        flags.value |= IFF_UP
        _check(_libc.ioctl(sock, SIOCSIFFLAGS, ifreq), "ioctl(SIOCSIFFLAGS)")
    finally:
        os.close(sock)


def _private_mounts(spec: dict) -> None:
    """Cover world-writable and private dirs with tmpfs, then bind back the few paths the run needs.

    Paths to keep (the working dir, the interpreter's prefix) are opened before they get covered and
    bound back from ``/proc/self/fd``, so they reappear at the same path on top of the tmpfs.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep_fds = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in spec["keep"]}
    for cover in spec["cover"]:
        _mount("tmpfs", cover["path"], "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['tmpfs_mb']}m,mode={cover['mode']}")
    for path, fd in keep_fds.items():
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)


def _unshare(spec: dict) -> dict[str, bool]:
    """Enter new namespaces; returns what was isolated (nothing when the kernel refuses and it is allowed)."""
    got = {"net": False, "pid": False, "mnt": False}
    flags = CLONE_NEWPID | (0 if spec["network"] else CLONE_NEWNET)
    if spec["mounts"]:
        flags |= CLONE_NEWNS
    if spec["userns"]:
        flags |= CLONE_NEWUSER
    uid, gid = os.getuid(), os.getgid()
    try:
        _check(_libc.unshare(flags), "unshare")
    except OSError:
        if spec["require_isolation"]:
            raise
        return got
    if spec["userns"]:  # map ourselves to root inside, so we may configure the namespaces we own
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"0 {gid} 1")
    got["pid"] = True
    if not spec["network"]:
        _loopback_up()
        got["net"] = True
    if spec["mounts"]:
        _private_mounts(spec)
        got["mnt"] = True
    return got


def _exec_target(spec: dict) -> None:
    """In the target process: limits, identity, then exec. Never returns."""
    try:
        # Python ignores SIGPIPE and SIGXFSZ and exec keeps ignored signals: give the target the defaults.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        for name, (soft, hard) in spec["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (soft, hard))
        if spec["uid"] is not None:
            os.setgroups([])
            os.setgid(spec["gid"])
            os.setuid(spec["uid"])
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        os.chdir(spec["cwd"])
        os.umask(0o022)
        argv = spec["argv"]
        os.execvpe(argv[0], argv, spec["env"])
    except BaseException as exc:
        os.write(2, f"sandbox: cannot start {spec['argv'][0]!r}: {exc}\n".encode())
    os._exit(127)


def _init(spec: dict, status_w: int, in_pidns: bool) -> None:
    """pid 1 of the namespace: start the target, reap everything, report the target's status. Never returns."""
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the launcher died: take the namespace down
        if in_pidns and spec["mounts"]:  # a /proc that shows this namespace only
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        target = os.fork()
        if target == 0:
            _exec_target(spec)
        while True:
            pid, status = os.wait()
            if pid == target:
                break
        os.write(status_w, str(status).encode())
    except BaseException as exc:
        os.write(2, f"sandbox: init failed: {exc}\n".encode())
    os._exit(0)


def main() -> None:
    spec = marshal.loads(bytes.fromhex(sys.argv[1]))
    status_fd = int(sys.argv[2])
    os.set_inheritable(status_fd, False)
    report: dict = {"isolated": {"net": False, "pid": False, "mnt": False}, "status": None, "error": None}
    init_pid = 0

    def _stop(signum, frame):  # the parent gave up (timeout, output cap): kill the whole namespace
        if init_pid:
            os.kill(init_pid, signal.SIGKILL)
        else:
            os._exit(1)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        report["isolated"] = _unshare(spec)
    except OSError as exc:
        report["error"] = str(exc)
        os.write(status_fd, marshal.dumps(report))
        os._exit(0)
    status_r, status_w = os.pipe()
    init_pid = os.fork()
    if init_pid == 0:
        os.close(status_r)
        _init(spec, status_w, report["isolated"]["pid"])
    os.close(status_w)
    os.waitpid(init_pid, 0)
    raw = os.read(status_r, 64)
    report["status"] = int(raw) if raw else None
    os.write(status_fd, marshal.dumps(report))
    os._exit(0)


if __name__ == "__main__":
    main()
