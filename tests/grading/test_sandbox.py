"""Where a task runs: the environment it gets, what the bubblewrap sandbox shows it (Python
and the package, not the repository, the home or the host's /tmp), and the limits watched
from outside: the memory of all its processes and the files it writes together, its output,
and the processes it leaves behind."""

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from course_utils.grading import sandbox
from course_utils.grading.sandbox import (HOME, ResourceMonitor, TaskProcess, bwrap_available,
                                          kernel_environment, sandbox_args)

ROOT = Path(__file__).resolve().parents[2]
needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="needs bubblewrap (CI has it)")


def test_bubblewrap_is_there_in_ci():
    """CI installs bubblewrap (.ci/run): there the protection must be real, not skipped."""
    if not os.environ.get("CI"):
        pytest.skip("checks CI's setup: runs under CI (CI set) only")
    assert bwrap_available(), "bubblewrap is missing or cannot run: see .ci/run"


def test_kernel_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "do not pass on")
    monkeypatch.setenv("COURSE_QUICK", "0")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    env = kernel_environment(tmp_path)
    assert env["COURSE_QUICK"] == "1" and env["CI"] == "true"
    assert env["COURSE_DEVICE"] == "cpu" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["HOME"] == env["TMPDIR"] == str(tmp_path)
    assert env["MPLCONFIGDIR"] == f"{tmp_path}/.mpl" and env["MPLBACKEND"] == "Agg"
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS"):
        assert env[name] == "1"
    assert env["PATH"] == os.environ["PATH"] and env["LANG"] == "C.UTF-8"
    assert "SECRET_TOKEN" not in env
    full = kernel_environment(tmp_path, quick=False)
    assert "COURSE_QUICK" not in full and full["CI"] == "true"
    from course_utils import runtime

    for name in ("COURSE_QUICK", "CI"):
        monkeypatch.setenv(name, env[name])
    assert runtime.quick_mode() and runtime._env_flag("CI")


def test_resolve_sandbox(monkeypatch):
    assert sandbox.resolve_sandbox("none") == "none"
    with pytest.raises(ValueError, match="sandbox must be 'auto', 'bwrap' or 'none'; "
                                         "got 'docker'"):
        sandbox.resolve_sandbox("docker")
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    assert sandbox.resolve_sandbox("auto") == "none"
    with pytest.raises(RuntimeError, match="bubblewrap cannot run here"):
        sandbox.resolve_sandbox("bwrap")
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: True)
    assert sandbox.resolve_sandbox("auto") == "bwrap"


def test_sandbox_args_show_python_and_the_package_not_the_repository(tmp_path):
    args = sandbox_args(data=tmp_path)
    binds = {args[k + 1] for k, a in enumerate(args) if a in ("--ro-bind", "--bind")}
    package = str(ROOT / "src" / "course_utils")
    assert package in binds
    assert str(Path(sys.prefix).resolve()) in binds or any(
        str(Path(sys.prefix).resolve()).startswith(b + "/") for b in binds)
    for hidden in (ROOT, ROOT / "solutions", ROOT / ".git", ROOT / "src", Path.home(), "/"):
        assert str(hidden) not in binds, hidden
    assert ("--ro-bind", str(tmp_path.resolve())) in list(zip(args, args[1:]))
    assert args[args.index(str(tmp_path.resolve())) + 1] == "/reference-data"
    for flag in ("--unshare-all", "--die-with-parent", "--new-session"):
        assert flag in args
    assert args[args.index("--cap-drop") + 1] == "ALL"
    assert args[-2:] == ["--chdir", HOME] and ("--tmpfs", HOME) in list(zip(args, args[1:]))
    remounts = [args[k + 1] for k, a in enumerate(args) if a == "--remount-ro"]
    assert remounts == ["/dev", "/"]  # /dev/shm, /tmp and the home stay writable
    last = len(args) - 1 - args[::-1].index("--remount-ro")
    assert last > max(k for k, a in enumerate(args) if a in ("--ro-bind", "--bind", "--tmpfs"))
    assert "PYTHONPATH" not in args


def _run(code: str, *, memory=3 << 30, kill_output=1 << 20, mode="bwrap", tmp_path=None,
         timeout=60.0, **kwargs):
    """Run ``code`` as the task's process; returns (TaskProcess, monitor, seconds)."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    workdir = tmp_path or Path("/tmp")
    task = TaskProcess(command, sandbox=mode, workdir=workdir,
                       env=kernel_environment(HOME if mode == "bwrap" else workdir),
                       kill_output=kill_output, **kwargs)
    monitor = ResourceMonitor(task, memory, interval=0.05)
    monitor.start()
    start = time.perf_counter()
    try:
        task.process.wait(timeout=timeout)
    except Exception:  # noqa: BLE001 - the test's own time limit
        task.kill()
    seconds = time.perf_counter() - start
    task.close()
    monitor.stop()
    return task, monitor, seconds


@needs_bwrap
def test_the_sandbox_hides_the_repository_the_home_and_the_hosts_tmp(tmp_path):
    secret = Path.home() / "grader-test-secret.txt"
    secret.write_text("the tutor's")
    host_tmp = Path("/tmp") / "grader-test-host-file"
    host_tmp.write_text("host")
    try:
        task, _, _ = _run(f"""
            import os, sys
            import course_utils.checks
            for path in {[str(ROOT / 'solutions'), str(ROOT / '.git'), str(ROOT / 'README.md'),
                          str(secret), str(host_tmp), str(ROOT / 'tests')]!r}:
                assert not os.path.exists(path), path
            assert os.path.isdir({str(ROOT / 'src' / 'course_utils')!r})
            assert os.listdir({str(ROOT)!r}) in (["src"], [".venv", "src"], ["src", ".venv"]), \\
                os.listdir({str(ROOT)!r})
            assert os.getcwd() == "/home/student" and os.listdir(".") == []
            for target in ("/usr/x", {str(ROOT / 'src' / 'course_utils' / 'x')!r}, "/x"):
                try:
                    open(target, "w")
                except OSError:
                    pass
                else:
                    raise AssertionError(target)
            open("/tmp/mine", "w").write("ok")
            open("/home/student/mine", "w").write("ok")
            os.write(1, b"SANDBOX OK")
        """)
        assert task.process.returncode == 0, task.output_tail.decode()
        assert b"SANDBOX OK" in task.output_tail
        assert not (Path("/tmp") / "mine").exists()
    finally:
        secret.unlink()
        host_tmp.unlink()


@needs_bwrap
def test_memory_counts_every_process_of_the_sandbox():
    """Three children of 1.2 GB each: 3.6 GB together, over the 3 GB limit, although each
    stays far below it."""
    task, monitor, seconds = _run("""
        import os, time
        for _ in range(3):
            if os.fork() == 0:
                block = bytearray(1200 << 20)
                time.sleep(60)
        time.sleep(60)
    """, memory=3 << 30)
    assert monitor.exceeded and seconds < 30
    assert monitor.peak > 3 << 30


@needs_bwrap
def test_files_in_the_sandboxs_memory_count_too():
    task, monitor, seconds = _run("""
        import time
        chunk = b"x" * (64 << 20)
        for k in range(40):
            for folder in ("/tmp", "/dev/shm", "/home/student"):
                with open(f"{folder}/f{k}", "wb") as handle:
                    handle.write(chunk)
        time.sleep(60)
    """, memory=2 << 30)
    assert monitor.exceeded and seconds < 30


def test_files_count_without_the_sandbox_too(tmp_path):
    task, monitor, seconds = _run("""
        import time
        for k in range(40):
            open(f"f{k}", "wb").write(b"x" * (64 << 20))
        time.sleep(60)
    """, memory=1 << 30, mode="none", tmp_path=tmp_path)
    assert monitor.exceeded and seconds < 30


@pytest.mark.parametrize("mode", ["none", "bwrap"])
def test_output_is_counted_and_stopped(mode, tmp_path):
    if mode == "bwrap" and not bwrap_available():
        pytest.skip("needs bubblewrap")
    task, monitor, seconds = _run("""
        import os
        while True:
            os.write(1, b"y" * 65536)
    """, kill_output=8 << 20, mode=mode, tmp_path=tmp_path)
    assert task.output_exceeded and seconds < 30
    assert len(task.output_tail) <= 8192


@needs_bwrap
def test_processes_left_behind_are_listed():
    command = [sys.executable, "-c", textwrap.dedent("""
        import os, subprocess, sys, time
        subprocess.Popen(["sleep", "60"])
        if os.fork() == 0:
            os.setsid()
            time.sleep(60)
        os.write(1, b"started")
        time.sleep(60)
    """)]
    task = TaskProcess(command, sandbox="bwrap", workdir=Path("/tmp"),
                       env=kernel_environment(HOME), kill_output=1 << 20)
    try:
        deadline = time.time() + 30
        while b"started" not in task.output_tail and time.time() < deadline:
            time.sleep(0.1)
            if len(task.leftover()) >= 2:
                break
        assert len(task.leftover()) == 2
        assert task.worker_pid() not in task.leftover()
    finally:
        task.close()
    time.sleep(0.2)
    assert all(not Path(f"/proc/{pid}").exists() or
               Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
               for pid in sandbox.descendants(task.pid))


@needs_bwrap
def test_the_sandbox_has_no_network():
    task, _, _ = _run("""
        import socket
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=3)
        except OSError:
            raise SystemExit(0)
        raise SystemExit(1)
    """)
    assert task.process.returncode == 0


@needs_bwrap
def test_dev_is_read_only_and_in_memory_files_count():
    task, monitor, seconds = _run("""
        import os, time
        try:
            open("/dev/fill", "wb")
        except OSError:
            pass
        else:
            raise SystemExit(7)
        for k in range(12):
            fd = os.memfd_create(f"m{k}")
            for _ in range(4):
                os.write(fd, b"x" * (64 << 20))
        time.sleep(60)
    """, memory=2 << 30)
    assert task.process.returncode != 7
    assert monitor.exceeded and monitor.reason == "memory" and seconds < 30


@needs_bwrap
def test_too_many_processes_are_stopped():
    task, monitor, seconds = _run("""
        import os, time
        for _ in range(400):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
        time.sleep(60)
    """)
    assert monitor.exceeded and "processes" in monitor.reason and seconds < 30
