"""Start an IPython kernel under resource limits (the grader's kernel command).

    python -m course_utils.grading.launcher --memory BYTES --file-size BYTES -- ARGS...

sets the limits of this process (which the kernel inherits), then replaces itself with
``python -m ipykernel_launcher ARGS...``:

* ``RLIMIT_AS`` = ``--memory``: an allocation beyond it raises ``MemoryError`` in the
  student's code instead of pushing the machine into swap or the OOM killer;
* ``RLIMIT_FSIZE`` = ``--file-size``: no file written larger than that;
* ``RLIMIT_CORE`` = 0: no core dumps.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading.launcher")
    parser.add_argument("--memory", type=int, required=True, help="address-space limit, bytes")
    parser.add_argument("--file-size", type=int, required=True, help="largest file, bytes")
    parser.add_argument("kernel_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    kernel_args = args.kernel_args[1:] if args.kernel_args[:1] == ["--"] else args.kernel_args
    for limit, value in ((resource.RLIMIT_AS, args.memory),
                         (resource.RLIMIT_FSIZE, args.file_size),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    if os.getppid() == 1:
        # Inside the sandbox's process namespace the parent is its init, which ipykernel
        # would take for a dead grader; the kernel dies with the sandbox anyway.
        os.environ.pop("JPY_PARENT_PID", None)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *kernel_args])


if __name__ == "__main__":
    main()
