import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from course_utils.runtime import silence_tensorflow_environment

# Quiet TensorFlow before any test imports it (the notebook kernels inherit this too).
silence_tensorflow_environment()

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tf():
    from course_utils.runtime import import_tensorflow

    return import_tensorflow(floatx="float64")  # as the notebooks do


@dataclass
class BookBuild:
    """A Jupyter Book build: the process's result, its HTML folder and how long it took."""

    result: subprocess.CompletedProcess
    html: Path
    seconds: float


@pytest.fixture(scope="session")
def build_book():
    """build_book(out, *, config=book/_config.yml, toc=book/_toc.yml) -> BookBuild

    Build the book from the repository root into ``out`` (quick mode, ``-W -n
    --keep-going``), as ``make book`` does: the notebooks executed in parallel into the
    execution cache, then rendered. The result's output is both steps' output."""

    def build(out: Path, *, config: Path = ROOT / "book" / "_config.yml",
              toc: Path = ROOT / "book" / "_toc.yml") -> BookBuild:
        start = time.perf_counter()
        env = {**os.environ, "COURSE_QUICK": "1"}
        paths = ["--config", str(config), "--toc", str(toc), "--path-output", str(out)]
        execution = subprocess.run(
            [sys.executable, "-m", "course_utils.authoring.execution", str(ROOT), *paths],
            capture_output=True, text=True, env=env, cwd=ROOT)
        result = subprocess.run(
            [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT),
             *paths, "-W", "-n", "--keep-going", "-q"],
            capture_output=True, text=True, env=env, cwd=ROOT)
        if execution.returncode:
            result.returncode = execution.returncode
        result.stdout = execution.stdout + result.stdout
        result.stderr = execution.stderr + result.stderr
        return BookBuild(result, Path(out) / "_build" / "html", time.perf_counter() - start)

    return build


@pytest.fixture(scope="session")
def book(build_book, tmp_path_factory) -> BookBuild:
    """The whole book, every chapter executed, built once per test session (quick mode)."""
    return build_book(tmp_path_factory.mktemp("book"))
