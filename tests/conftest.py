import os
from pathlib import Path

import pytest

# Quiet TensorFlow before any test imports it; tests run the notebooks in quick mode.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tf():
    from course_utils.runtime import import_tensorflow

    return import_tensorflow(floatx="float64")  # as the notebooks do
