"""Where a student's task runs: its own process, under limits, and where Linux allows it
inside a bubblewrap sandbox that shows only what Python needs.

With ``sandbox="bwrap"`` the task's process (:mod:`course_utils.grading.worker`) sees

* the system's programs and libraries (``/usr`` and its links), a few files of ``/etc``
  that the dynamic linker and Python read, ``/sys/devices/system/cpu``, a private
  ``/proc`` and a minimal ``/dev``;
* the Python environment (its prefixes and ``sys.path``, read-only) and the installed
  ``course_utils`` package folder (read-only), but not the repository around it: no
  ``solutions/``, no ``.git``, not the tutor's home, the submissions or the grades;
* its working folder ``/home/student``, an empty ``/tmp`` and ``/dev/shm``, all three
  in-memory file systems that vanish with it, and the reference run's data files
  read-only in ``/reference-data`` (the worker copies them into its folder).

It has no network, its own process namespace (it can neither see nor signal the grader
or other students' tasks, and everything it starts dies with it), and no capabilities,
even when the grader runs as root. It talks to the grader only through two pipes.

The grader's side (:class:`TaskProcess`) watches it from outside: a
:class:`ResourceMonitor` adds up the memory of every process in the sandbox (their
proportional set size) and the bytes in its three in-memory file systems, and stops
everything when the sum passes the limit; the output of all its processes is counted
and stopped at a limit; and at the end every process still running in it is listed.

With ``sandbox="none"`` the same limits hold (the files counted in the task's folder),
but the task runs with the tutor's rights (see the book's page "Grading").
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

__all__ = ["bwrap_available", "resolve_sandbox", "kernel_environment", "sandbox_args",
           "TaskProcess", "ResourceMonitor", "HOME", "DATA"]

#: The task's working folder and the reference data inside the sandbox.
HOME = "/home/student"
DATA = "/reference-data"
#: Environment variables passed on to the task (everything else is dropped).
_PASSED_ON = ("PATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "CONDA_PREFIX")
#: The few files of /etc that the dynamic linker, Python and its libraries read.
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
        "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/fonts")
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def _python_paths() -> list[Path]:
    """The folders Python needs: its prefixes and site-packages, and the package folder
    itself (an editable install's ``src/`` sits in the repository). Other entries of
    ``sys.path`` (the current folder, ``PYTHONPATH``, a test runner's folders) stay
    hidden: the task finds the package through its own ``PYTHONPATH``
    (:func:`kernel_environment`)."""
    import site

    package = _package_dir()
    roots = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    extra = [*site.getsitepackages(), site.getusersitepackages()]
    roots |= {Path(p).resolve() for p in extra if p and Path(p).is_absolute()}
    paths = {p for p in roots if p.exists()}
    for entry in sys.path:
        if not entry or not Path(entry).is_absolute() or not Path(entry).exists():
            continue
        path = Path(entry).resolve()
        if any(path == r or path.is_relative_to(r) for r in roots):
            paths.add(path)
    paths.add(package)
    system = [Path(s).resolve() for s in _SYSTEM if Path(s).exists()]
    paths = {p for p in paths if not any(p == s or p.is_relative_to(s) for s in system)}
    return sorted(p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths))


def sandbox_args(*, data: Path | None = None, home: Path | None = None) -> list[str]:
    """bubblewrap's arguments (see the module's docstring). ``data``: a folder shown
    read-only at ``/reference-data``; ``home``: a host folder bound read-write as the
    working folder instead of an empty one (the reference run, whose files the students'
    runs reuse)."""
    args = ["bwrap"]
    for name in _SYSTEM:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for name in _ETC:
        if Path(name).exists():
            args += ["--ro-bind", name, name]
    if Path("/sys/devices/system/cpu").is_dir():
        args += ["--ro-bind", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
             "--tmpfs", "/tmp"]
    for path in _python_paths():
        args += ["--ro-bind", str(path), str(path)]
    if data is not None:
        args += ["--ro-bind", str(Path(data).resolve()), DATA]
    if home is not None:
        args += ["--bind", str(Path(home).resolve()), HOME]
    else:
        args += ["--tmpfs", HOME]
    args += ["--remount-ro", "/", "--unshare-all", "--die-with-parent", "--new-session",
             "--cap-drop", "ALL", "--chdir", HOME]
    return args


@functools.lru_cache(maxsize=None)
def bwrap_available() -> bool:
    """True when ``bwrap`` is installed and can make the grader's sandbox here (user
    namespaces may be switched off, e.g. in some containers)."""
    if not sys.platform.startswith("linux") or shutil.which("bwrap") is None:
        return False
    try:
        result = subprocess.run([*sandbox_args(), sys.executable, "-c", "pass"],
                                capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def resolve_sandbox(sandbox: str) -> str:
    """``"bwrap"`` or ``"none"`` for the requested ``"auto"``, ``"bwrap"`` or ``"none"``;
    raises ``RuntimeError`` when bwrap is requested but unavailable."""
    if sandbox not in ("auto", "bwrap", "none"):
        raise ValueError(f"sandbox must be 'auto', 'bwrap' or 'none'; got {sandbox!r}")
    if sandbox == "none":
        return "none"
    if bwrap_available():
        return "bwrap"
    if sandbox == "bwrap":
        raise RuntimeError("sandbox='bwrap' but bubblewrap cannot run here: install it "
                           "(Debian: apt-get install bubblewrap) or allow user namespaces")
    return "none"


def kernel_environment(workdir: str | Path, *, quick: bool = True) -> dict[str, str]:
    """The environment of a task's process: quick mode, no progress bars, quiet
    TensorFlow, one BLAS thread, the CPU, and a home and caches inside its working
    folder."""
    env = {k: os.environ[k] for k in _PASSED_ON if k in os.environ}
    workdir = str(workdir)
    env.update(PYTHONPATH=str(_package_dir().parent),  # where course_utils is, only that
               HOME=workdir, TMPDIR=workdir, MPLCONFIGDIR=f"{workdir}/.mpl",
               MPLBACKEND="Agg", CI="true", PYTHONDONTWRITEBYTECODE="1",
               PYTHONUNBUFFERED="1", COURSE_DEVICE="cpu", CUDA_VISIBLE_DEVICES="",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", KERAS_BACKEND="tensorflow",
               TF_NUM_INTEROP_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    if quick:
        env["COURSE_QUICK"] = "1"
    return env


# ------------------------------------------------------------------------ the processes

def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found += [int(c) for c in handle.read().split()]
        except (OSError, ValueError):
            continue
    return found


def descendants(pid: int) -> list[int]:
    """``pid``'s descendants, breadth first (Linux: ``/proc/PID/task/TID/children``)."""
    out, queue = [], deque([pid])
    seen = {pid}
    while queue:
        for child in _children(queue.popleft()):
            if child not in seen and len(seen) < 100_000:
                seen.add(child)
                out.append(child)
                queue.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _memory(pid: int) -> int:
    """The proportional set size of a process in bytes (its resident size where the
    kernel gives no PSS)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _folder_bytes(folder: Path, limit: int = 20_000) -> int:
    """Bytes of the files under ``folder``; a folder with more than ``limit`` entries
    counts as infinitely large."""
    total, count = 0, 0
    for root, dirs, files in os.walk(folder):
        for name in files:
            count += 1
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
        count += len(dirs)
        if count > limit:
            return 1 << 62
    return total


def _memfd_bytes(pid: int) -> int:
    """Bytes in the anonymous in-memory files (``memfd_create``) a process holds open."""
    total = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in fds[:4096]:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/memfd:"):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_blocks * 512
        except OSError:
            continue
    return total


class ResourceMonitor(threading.Thread):
    """Polls the memory of every process of a task (their proportional set size and the
    in-memory files they hold open) and the files it wrote, and stops them all when the
    sum passes ``limit`` bytes, or when there are more than ``max_processes``.
    ``exceeded`` is then set, with ``reason``; ``peak`` holds the largest sum seen."""

    def __init__(self, task: "TaskProcess", limit: int, interval: float = 0.1,
                 max_processes: int = 256):
        super().__init__(daemon=True)
        self.task, self.limit, self.interval = task, int(limit), interval
        self.max_processes = max_processes
        self.exceeded = False
        self.reason = ""
        self.peak = 0
        self._stop = threading.Event()

    def usage(self, pids: list[int] | None = None) -> int:
        pids = pids if pids is not None else [self.task.pid, *descendants(self.task.pid)]
        total = sum(_memory(p) + _memfd_bytes(p) for p in pids)
        return total + self.task.file_bytes(pids)

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.task.returncode() is not None:
                return
            pids = [self.task.pid, *descendants(self.task.pid)]
            if len(pids) > self.max_processes + 3:  # bubblewrap's two, and the worker
                self.exceeded, self.reason = True, f"more than {self.max_processes} processes"
                self.task.kill()
                return
            used = self.usage(pids)
            self.peak = max(self.peak, used)
            if used > self.limit:
                self.exceeded, self.reason = True, "memory"
                self.task.kill()
                return

    def stop(self) -> None:
        self._stop.set()


class TaskProcess:
    """The task's process, started by the grader: ``command`` (the worker) run inside
    bubblewrap (``sandbox="bwrap"``) or directly in ``workdir`` (``"none"``), in a
    session of its own, with two pipes (commands to it, frames from it), its output
    counted (``output_bytes``, the last 8 kB kept in ``output_tail``) and stopped after
    ``kill_output`` bytes (``output_exceeded``)."""

    def __init__(self, command: list[str], *, sandbox: str, workdir: Path,
                 env: dict[str, str], kill_output: int, data: Path | None = None,
                 home: Path | None = None):
        self.sandbox, self.workdir = sandbox, Path(workdir)
        self.home_bound = home is not None
        command_read, self.commands = os.pipe()
        self.results, results_write = os.pipe()
        argv = [*command, "--commands-fd", str(command_read), "--results-fd",
                str(results_write)]
        if data is not None:  # the worker copies the files into its folder
            argv += ["--data", DATA if sandbox == "bwrap" else str(data)]
        if sandbox == "bwrap":
            argv = [*sandbox_args(data=data, home=home), *argv]
        self.output_bytes = 0
        self.output_exceeded = False
        self.output_tail = b""
        self._kill_output = kill_output
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=(command_read, results_write), env=env,
            cwd=str(workdir) if sandbox == "none" else None, start_new_session=True)
        os.close(command_read)
        os.close(results_write)
        self.pid = self.process.pid
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()

    def _drain_output(self) -> None:
        stream = self.process.stdout
        tail = bytearray()
        while True:
            chunk = stream.read1(1 << 16) if hasattr(stream, "read1") else stream.read(1 << 16)
            if not chunk:
                break
            self.output_bytes += len(chunk)
            tail += chunk
            del tail[:-8192]
            if self.output_bytes > self._kill_output and not self.output_exceeded:
                self.output_exceeded = True
                self.kill()
        self.output_tail = bytes(tail)

    def returncode(self):
        return self.process.poll()

    def namespace_pid(self) -> int | None:
        """The process that holds the sandbox's namespaces (bubblewrap's child), or None
        without the sandbox."""
        if self.sandbox != "bwrap":
            return None
        children = _children(self.pid)
        return children[0] if children else None

    def worker_pid(self) -> int | None:
        """The worker process (inside the sandbox: the child of its namespace's init)."""
        if self.sandbox != "bwrap":
            return self.pid
        inner = self.namespace_pid()
        children = _children(inner) if inner else []
        return children[0] if children else None

    def file_bytes(self, pids: list[int]) -> int:
        """Bytes in the sandbox's in-memory file systems (or, without the sandbox, in the
        task's folder)."""
        if self.sandbox != "bwrap":
            return _folder_bytes(self.workdir)
        inner = self.namespace_pid()
        if inner is None:
            return 0
        total = 0
        mounts = ["tmp", "dev", "dev/shm"] + ([] if self.home_bound else [HOME.lstrip("/")])
        for mount in mounts:
            try:
                stat = os.statvfs(f"/proc/{inner}/root/{mount}")
            except OSError:
                continue
            total += (stat.f_blocks - stat.f_bfree) * stat.f_frsize
        return total

    def leftover(self) -> list[int]:
        """Processes still running in the sandbox besides the worker (or, without it, the
        worker's descendants)."""
        worker = self.worker_pid()
        if self.sandbox == "bwrap":
            inner = self.namespace_pid()
            pids = descendants(inner) if inner else []
        else:
            pids = descendants(self.pid)
        return [p for p in pids if p != worker and _alive(p)]

    def kill(self) -> None:
        """Stop the task and everything it started."""
        pids = descendants(self.pid)
        for pid in [self.pid, *pids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def close(self) -> None:
        self.kill()
        for fd in (self.commands, self.results):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent
            pass
        self._drain.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        time.sleep(0)
