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
