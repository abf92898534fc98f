"""The sandbox against the real thing: fork bombs, 10 GB allocations, sockets, sleepers, floods, big files.

Every test runs real processes under the real launcher (namespaces, per-run uid, rlimits). The uid range is
moved to one of this module's own, so "nothing survives" can be checked by scanning /proc for those uids
without seeing other sandboxes that may run on the machine at the same time.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.observability.metrics import SANDBOX_RUNS
from shared.sandbox import SandboxError, SandboxLimits, run_command, run_python, working_copy
from shared.settings import get_settings

UID_COUNT = 1000


@pytest.fixture(scope="module", autouse=True)
def own_uid_range() -> Iterator[range]:
    base = 1_900_000_000 + random.randrange(1000) * UID_COUNT
    saved = {k: os.environ.get(k) for k in ("SANDBOX__UID_BASE", "SANDBOX__UID_COUNT")}
    os.environ.update({"SANDBOX__UID_BASE": str(base), "SANDBOX__UID_COUNT": str(UID_COUNT)})
    get_settings.cache_clear()
    yield range(base, base + UID_COUNT)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


def survivors(uids: range) -> list[int]:
    """Processes still alive under this module's sandbox uids."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_ok_captures_stdout_and_runs_as_an_unprivileged_uid(own_uid_range: range) -> None:
    result = run_python("import os, sys\nprint('hello', os.getuid(), os.getpid())\nprint('warn', file=sys.stderr)")
    assert result.status == "ok" and result.exit_code == 0 and result.signal is None
    word, uid, pid = result.stdout.split()
    assert word == "hello" and int(uid) in own_uid_range
    assert int(pid) < 10  # its own pid namespace: pid 1 is the sandbox's init
    assert result.stderr == "warn\n" and not result.truncated and result.network_isolated


def test_exit_1_and_traceback_are_errors_with_stderr() -> None:
    result = run_python("raise ValueError('boom')")
    assert result.status == "error" and result.exit_code == 1
    assert "ValueError: boom" in result.stderr and "Traceback" in result.stderr
    assert run_python("import sys; sys.exit(3)").exit_code == 3


def test_fork_bomb_is_capped_by_the_process_limit_and_fully_reaped(tmp_path: Path, own_uid_range: range) -> None:
    bomb = (
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            with open('pids', 'a') as f: f.write(f'{os.getpid()}\\n')\n"
        "    except OSError:\n"
        "        time.sleep(0.01)\n"
    )
    (tmp_path / "bomb.py").write_text(bomb)
    with working_copy(tmp_path) as copy:
        result = run_command(
            ["python3", "bomb.py"], cwd=copy, limits=SandboxLimits(wall_s=3, max_processes=16, cpu_s=5)
        )
        pids = set((copy / "pids").read_text().split())
    assert result.status == "timeout"
    assert 1 < len(pids) < 16  # it forked, and never beyond RLIMIT_NPROC (the main process counts too)
    assert survivors(own_uid_range) == []
    assert run_python("print(1)").stdout == "1\n"  # the machine still forks


def test_allocating_10_gb_is_a_memory_error_not_a_hang() -> None:
    result = run_python("x = bytearray(10 * 2**30)", limits=SandboxLimits(wall_s=30, memory_mb=512))
    assert result.status == "memory" and "MemoryError" in result.stderr


def test_no_route_to_the_internet() -> None:
    code = "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)"
    result = run_python(code)
    assert result.status == "error" and "Network is unreachable" in result.stderr
    assert result.network_isolated


def test_cannot_reach_a_server_of_the_parent_on_localhost() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        result = run_python(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)")
    finally:
        server.close()
    assert result.status == "error" and "ConnectionRefusedError" in result.stderr


def test_a_port_bound_inside_is_unreachable_from_outside_but_loopback_works_inside(tmp_path: Path) -> None:
    code = (
        "import socket, time\n"
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(); srv.settimeout(3)\n"
        "port = srv.getsockname()[1]\n"
        "c = socket.create_connection(('127.0.0.1', port)); c.sendall(b'ping'); peer, _ = srv.accept()\n"
        "print('inside', peer.recv(4).decode())\n"
        "open('port', 'w').write(str(port))\n"
        "try:\n"
        "    srv.accept(); print('outside connected')\n"
        "except socket.timeout:\n"
        "    print('nobody came')\n"
    )
    (tmp_path / "server.py").write_text(code)
    with working_copy(tmp_path) as copy:
        box: dict = {}
        runner = threading.Thread(target=lambda: box.update(r=run_command(["python3", "server.py"], cwd=copy)))
        runner.start()
        deadline = time.monotonic() + 10
        while not (copy / "port").exists() or not (copy / "port").read_text():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        port = int((copy / "port").read_text())
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
        runner.join()
    assert box["r"].stdout == "inside ping\nnobody came\n"


def test_sleep_forever_times_out_at_wall_s() -> None:
    result = run_python("import time\nprint('started', flush=True)\ntime.sleep(10**6)", limits=SandboxLimits(wall_s=1))
    assert result.status == "timeout" and result.stdout == "started\n"


def test_sigterm_ignoring_and_setsid_escaping_children_do_not_survive(tmp_path: Path, own_uid_range: range) -> None:
    code = (
        "import os, signal, time\n"
        "if os.fork() == 0:\n"  # child ignoring SIGTERM
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(10**6)\n"
        "if os.fork() == 0:\n"  # double fork + setsid: a daemon
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        open('daemon', 'w').write(str(os.getpid())); time.sleep(10**6)\n"
        "    os._exit(0)\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "time.sleep(10**6)\n"
    )
    (tmp_path / "escape.py").write_text(code)
    with working_copy(tmp_path) as copy:
        result = run_command(["python3", "escape.py"], cwd=copy, limits=SandboxLimits(wall_s=1.5))
        assert (copy / "daemon").exists()
    assert result.status == "timeout"
    assert survivors(own_uid_range) == []


def test_a_daemon_left_behind_by_a_finished_run_is_killed(own_uid_range: range) -> None:
    code = "import os, time\nif os.fork() == 0:\n    os.setsid(); time.sleep(10**6)\nprint('bye')"
    result = run_python(code, limits=SandboxLimits(wall_s=20))
    assert result.status == "ok" and result.stdout == "bye\n"
    assert survivors(own_uid_range) == []


def test_printing_100_mb_hits_the_output_limit() -> None:
    code = "import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 100_000)"
    result = run_python(code, limits=SandboxLimits(max_output_bytes=10_000, wall_s=20))
    assert result.status == "output_limit" and result.truncated
    assert len(result.stdout) + len(result.stderr) <= 10_000


def test_a_1_gb_file_is_stopped_by_rlimit_fsize(tmp_path: Path) -> None:
    code = "with open('big', 'wb') as f:\n    for _ in range(1024):\n        f.write(b'x' * 2**20)"
    with working_copy(tmp_path) as copy:
        result = run_command(["python3", "-c", code], cwd=copy, limits=SandboxLimits(max_file_mb=8))
        size = (copy / "big").stat().st_size
    assert result.status == "error" and "File too large" in result.stderr
    assert size <= 8 * 2**20
    with working_copy(tmp_path) as copy:  # a program that does not ignore SIGXFSZ is killed by it
        result = run_command(["dd", "if=/dev/zero", "of=big", "bs=1M", "count=1024"], cwd=copy)
    assert result.status == "killed" and result.signal == 25


def test_working_copy_is_writable_and_the_original_is_not(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("VALUE = 1\n")
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(repo, 0o777)  # even a world-writable original is out of reach (hidden behind a private /tmp)
    here = Path(__file__).resolve().parent
    code = (
        "import pathlib, sys\n"
        "print(open('pkg/mod.py').read().strip())\n"
        "open('pkg/mod.py', 'w').write('VALUE = 2\\n'); open('new.txt', 'w').write('n')\n"
        "for target in sys.argv[1:]:\n"
        "    try:\n"
        "        open(target, 'w').write('x'); print('WROTE', target)\n"
        "    except OSError as exc:\n"
        "        print('denied', type(exc).__name__)\n"
    )
    with working_copy(repo) as copy:
        assert not (copy / ".git").exists()
        targets = [str(repo / "pkg" / "mod.py"), str(repo / "evil.txt"), str(here / "evil.txt"), "/etc/evil"]
        result = run_command(["python3", "-c", code, *targets], cwd=copy)
        assert (copy / "pkg" / "mod.py").read_text() == "VALUE = 2\n" and (copy / "new.txt").exists()
    assert not copy.exists()
    assert result.status == "ok", result.stderr
    assert result.stdout.splitlines()[0] == "VALUE = 1"
    assert "WROTE" not in result.stdout and result.stdout.count("denied") == 4
    assert (repo / "pkg" / "mod.py").read_text() == "VALUE = 1\n" and not (repo / "evil.txt").exists()
    assert not (here / "evil.txt").exists()


def test_working_copy_skips_links_out_of_the_repo_and_survives_loops(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "a.py").write_text("A = 1\n")
    (repo / "inside").symlink_to("src/a.py")
    (repo / "passwd").symlink_to("/etc/passwd")
    (repo / "up").symlink_to("..")
    (repo / "loop1").symlink_to("loop2")
    (repo / "loop2").symlink_to("loop1")
    with working_copy(repo) as copy:
        assert (copy / "inside").read_text() == "A = 1\n" and (copy / "inside").is_symlink()
        assert not (copy / "passwd").exists() and not (copy / "passwd").is_symlink()
        assert not (copy / "up").is_symlink()
    with pytest.raises(SandboxError), working_copy(repo, max_bytes=3):
        pass


def test_concurrent_sandboxes_do_not_disturb_each_other(own_uid_range: range) -> None:
    results: dict[int, object] = {}

    def job(i: int) -> None:
        if i == 0:  # a bomb next to the others: its process limit is its own uid's
            code = "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass"
            results[i] = run_python(code, limits=SandboxLimits(wall_s=2, max_processes=16))
        else:
            probe = f"import time, os\ntime.sleep(0.5)\nprint({i}, len(os.listdir(os.path.dirname(os.getcwd()))))"
            results[i] = run_python(probe)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0].status == "timeout"
    for i in range(1, 5):
        assert results[i].status == "ok" and results[i].stdout == f"{i} 1\n"  # only its own box is visible
    assert survivors(own_uid_range) == []


def test_environment_is_minimal_and_stdin_is_fed(tmp_path: Path) -> None:
    os.environ["SANDBOX_TEST_SECRET"] = "hunter2"
    try:
        with working_copy(tmp_path) as copy:
            result = run_command(
                ["python3", "-c", "import os, sys; print(sorted(os.environ), os.environ['HOME'], sys.stdin.read())"],
                cwd=copy,
                env={"EXTRA": "1"},
                stdin="from stdin",
            )
    finally:
        del os.environ["SANDBOX_TEST_SECRET"]
    assert result.status == "ok"
    assert "SANDBOX_TEST_SECRET" not in result.stdout and "hunter2" not in result.stdout
    assert "'EXTRA'" in result.stdout and str(copy) in result.stdout and result.stdout.endswith("from stdin\n")


def test_run_python_files_are_importable_and_cannot_escape() -> None:
    result = run_python("import helper\nprint(helper.f())", files={"helper.py": "def f():\n    return 42\n"})
    assert result.stdout == "42\n"
    with pytest.raises(SandboxError):
        run_python("pass", files={"../escape.py": "x"})


def test_runs_are_counted_by_status() -> None:
    before = SANDBOX_RUNS.labels(status="error")._value.get()
    run_python("raise SystemExit(2)")
    assert SANDBOX_RUNS.labels(status="error")._value.get() == before + 1


def test_an_interpreter_under_tmp_still_starts_inside() -> None:
    """/tmp is covered by a private tmpfs inside the box; a checkout (and its venv) under /tmp must be bound back,
    or nothing runs at all (a CI checkout in /tmp did exactly that)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    checkout = Path(tempfile.mkdtemp(prefix="checkout-"))  # directly in /tmp and traversable, like a CI checkout
    checkout.chmod(0o755)
    venv = checkout / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    repo = Path(__file__).resolve().parents[2]
    probe = "from shared.sandbox import run_python; r = run_python('print(6 * 7)'); print(r.status, r.stdout.strip())"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), *sys.path[1:]])},
    )  # fmt: skip
    shutil.rmtree(checkout)
    assert out.stdout.split() == ["ok", "42"], out.stderr[-2000:]
