"""The grader's kernels: each in its own process, working directory and limits, and where
Linux allows it inside a bubblewrap sandbox.

With ``sandbox="bwrap"`` a kernel sees the whole file system read-only, except its own
temporary working directory, and the solutions, the submissions and the grades not at all
(empty folders in their place); it has a private ``/tmp``, no network, its own process
namespace (it can neither see nor signal the grader, and everything it starts dies with
it), and no capabilities, even when the grader runs as root. It talks to the grader over
Unix sockets in its working directory (ZeroMQ's ``ipc`` transport), which cross the
sandbox's boundary where TCP cannot. With ``sandbox="none"`` the same limits hold except
the file-system and network protection (see the README, "For tutors").

Both modes limit the kernel's address space (``MemoryError`` beyond it), the size of the
files it writes, and (in :mod:`course_utils.grading.runner`) the time of each cell and
the size of its output.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

__all__ = ["bwrap_available", "resolve_sandbox", "kernel_environment", "SandboxedKernelManager"]

#: Environment variables passed on to the kernel (everything else is dropped).
_PASSED_ON = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX",
              "COURSE_DEVICE", "CUDA_VISIBLE_DEVICES")


def _bwrap_args(workdir: Path, hide: tuple[str | Path, ...] = ()) -> list[str]:
    """bubblewrap's arguments: everything read-only but ``workdir``; the folders and
    files in ``hide`` (the solutions, the submissions, the grades) made empty."""
    masks: list[str] = []
    keep = [Path(sys.prefix).resolve(), Path(__file__).resolve().parents[1]]
    for path in map(Path, hide):
        path = path.resolve()
        if not path.exists() or any(k == path or k.is_relative_to(path) for k in keep):
            continue  # never hide the Python environment or the package itself
        masks += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null",
                                                               str(path)]
    workdir = str(workdir)
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--tmpfs", "/dev/shm", *_python_under_tmp(), *masks,
            "--bind", workdir, workdir,
            "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--chdir", workdir]


def _python_under_tmp() -> list[str]:
    """Read-only binds, over the sandbox's empty /tmp, of what Python needs from /tmp: the
    environment and the package when they live there (e.g. a CI clone in /tmp)."""
    tmp = Path("/tmp").resolve()
    needed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                          *sys.path)
              if p and Path(p).is_absolute() and Path(p).exists()}  # not the grader's cwd
    needed.add(Path(__file__).resolve().parents[2])  # the folder holding course_utils
    under = sorted(p for p in needed if p.is_relative_to(tmp) and p != tmp)
    top = [p for p in under if not any(p != q and p.is_relative_to(q) for q in under)]
    return [arg for p in top for arg in ("--ro-bind", str(p), str(p))]


@functools.lru_cache(maxsize=None)
def bwrap_available() -> bool:
    """True when ``bwrap`` is installed and can make the grader's sandbox here (user
    namespaces may be switched off, e.g. in some containers)."""
    if not sys.platform.startswith("linux") or shutil.which("bwrap") is None:
        return False
    probe = Path.cwd() if os.access(Path.cwd(), os.W_OK) else Path(os.path.expanduser("~"))
    try:
        result = subprocess.run([*_bwrap_args(probe), "true"], capture_output=True, timeout=30)
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


def kernel_environment(workdir: Path, *, quick: bool = True) -> dict[str, str]:
    """The environment of a grading kernel: quick mode, no progress bars, quiet TensorFlow,
    one BLAS thread, and a home and caches inside its working directory."""
    env = {k: os.environ[k] for k in _PASSED_ON if k in os.environ}
    env.update(HOME=str(workdir), TMPDIR=str(workdir), MPLCONFIGDIR=str(workdir / ".mpl"),
               MPLBACKEND="Agg", CI="true", PYTHONDONTWRITEBYTECODE="1",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", KERAS_BACKEND="tensorflow",
               TF_NUM_INTEROP_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
               JUPYTER_PLATFORM_DIRS="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    if quick:
        env["COURSE_QUICK"] = "1"
    return env


class SandboxedKernelManager(AsyncKernelManager):
    """An (asynchronous, as nbclient needs it to enforce time limits) kernel manager whose
    kernel runs under :mod:`course_utils.grading.launcher`'s
    limits and, with ``sandbox="bwrap"``, inside bubblewrap, talking over ``ipc`` sockets
    in ``workdir``."""

    def __init__(self, workdir: Path, *, sandbox: str = "none", memory: int = 4 << 30,
                 file_size: int = 256 << 20, hide: tuple[str | Path, ...] = (), **kwargs):
        workdir = Path(workdir)
        super().__init__(kernel_name="python3", transport="ipc", ip=str(workdir / "ipc"),
                         connection_file=str(workdir / ".kernel.json"), **kwargs)
        self.workdir, self.sandbox = workdir, sandbox
        self.memory, self.file_size, self.hide = int(memory), int(file_size), tuple(hide)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        connection = ["-f", self.connection_file, *(extra_arguments or [])]
        command = [sys.executable, "-m", "course_utils.grading.launcher",
                   "--memory", str(self.memory), "--file-size", str(self.file_size),
                   "--", *connection]
        if self.sandbox == "bwrap":
            command = [*_bwrap_args(self.workdir, self.hide), *command]
        return command
