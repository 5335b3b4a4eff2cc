"""The course's repository (course_utils.authoring.repository): its GitHub URL and branch,
read from book/_config.yml, the launch addresses made from it, and the exercise notebooks'
setup cell, run with course_utils missing or present, on Colab or not."""

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest

from course_utils.authoring.repository import (Repository, binder_url, colab_url,
                                               make_repository, parse_github_url,
                                               pip_requirement, read_repository, setup_cell)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Repository("example-org", "dstml-course", "main")


# --- the repository URL -------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://github.com/example-org/dstml-course", ("example-org", "dstml-course")),
    ("https://github.com/example-org/dstml-course.git", ("example-org", "dstml-course")),
    ("https://github.com/example-org/dstml-course/", ("example-org", "dstml-course")),
    ("https://github.com/a/b.c_d-e", ("a", "b.c_d-e")),
])
def test_parse_github_url(url, expected):
    assert parse_github_url(url) == expected


@pytest.mark.parametrize("url", [
    "https://gitlab.com/example-org/dstml-course", "http://github.com/example-org/dstml-course",
    "git@github.com:example-org/dstml-course.git", "https://github.com/example-org",
    "https://github.com/example-org/dstml-course/tree/main", "github.com/a/b",
    "https://github.com/a/..", "", 42,
])
def test_parse_github_url_rejects_other_urls_naming_key_and_value(url):
    with pytest.raises(ValueError) as info:
        parse_github_url(url, key="repository.url in x.yml")
    assert str(info.value) == ("repository.url in x.yml must be a GitHub repository URL of "
                               f"the form https://github.com/OWNER/REPO; got {url!r}")


def test_make_repository_unset_default_branch_and_bad_branch():
    assert make_repository("") is None and make_repository(None) is None
    assert make_repository("  ", "main") is None
    assert make_repository("https://github.com/o/r") == Repository("o", "r", "master")
    assert make_repository("https://github.com/o/r.git", "dev").url == "https://github.com/o/r"
    for branch in ("", "a b", "x..y", 3):
        with pytest.raises(ValueError, match=f"repository.branch must be a branch name such "
                                             f"as 'main'; got {branch!r}"):
            make_repository("https://github.com/o/r", branch)


def test_read_repository(tmp_path):
    config = tmp_path / "_config.yml"
    assert read_repository(config) is None  # no file
    config.write_text("title: T\n")
    assert read_repository(config) is None
    config.write_text("repository:\n  url: ''\n  branch: main\n")
    assert read_repository(config) is None
    config.write_text("repository:\n  url: https://github.com/example-org/dstml-course\n"
                      "  branch: main\n")
    assert read_repository(config) == EXAMPLE
    config.write_text("repository:\n  url: https://example.org/dstml-course\n")
    with pytest.raises(ValueError, match=f"repository.url in {config} must be a GitHub"):
        read_repository(config)
    config.write_text("repository: https://github.com/example-org/dstml-course\n")
    with pytest.raises(ValueError, match=f"{config}: 'repository' must be a mapping"):
        read_repository(config)


def test_launch_addresses():
    path = "exercises/03_stf_lorenz.ipynb"
    assert colab_url(EXAMPLE, path) == ("https://colab.research.google.com/github/example-org/"
                                        "dstml-course/blob/main/exercises/03_stf_lorenz.ipynb")
    assert binder_url(EXAMPLE, path) == ("https://mybinder.org/v2/gh/example-org/dstml-course/"
                                         "main?labpath=exercises%2F03_stf_lorenz.ipynb")
    assert pip_requirement(EXAMPLE) == ("course-utils @ "
                                        "git+https://github.com/example-org/dstml-course@main")


# --- the exercise notebooks' setup cell ---------------------------------------------------

@pytest.fixture
def cell_world(monkeypatch):
    """Run a setup cell with course_utils missing or present, on Colab or not; records the
    commands it runs instead of running them."""
    calls = []
    real_find_spec = importlib.util.find_spec

    def run(setup, *, installed, colab):
        def find_spec(name, *args):
            return (None if name == "course_utils" and not installed
                    else real_find_spec(name, *args))
        monkeypatch.setattr(importlib.util, "find_spec", find_spec)
        monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)))
        monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        if colab == "module":
            monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
        elif colab == "env":
            monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260101-060000_RC00")
        exec(compile(setup, "<setup cell>", "exec"), {})

    return run, calls


@pytest.mark.parametrize("colab", ["module", "env"])
def test_setup_cell_installs_on_colab_when_missing(cell_world, colab):
    run, calls = cell_world
    run(setup_cell(EXAMPLE), installed=False, colab=colab)
    assert calls == [(([sys.executable, "-m", "pip", "install", "-q",
                        "course-utils @ git+https://github.com/example-org/dstml-course@main"],),
                      {"check": True})]


@pytest.mark.parametrize("colab", [None, "module"])
@pytest.mark.parametrize("repository", [EXAMPLE, None])
def test_setup_cell_does_nothing_when_installed(cell_world, colab, repository):
    run, calls = cell_world
    run(setup_cell(repository), installed=True, colab=colab)
    assert calls == []


@pytest.mark.parametrize("repository", [EXAMPLE, None])
def test_setup_cell_off_colab_says_how_to_install(cell_world, repository):
    run, calls = cell_world
    with pytest.raises(ModuleNotFoundError) as info:
        run(setup_cell(repository), installed=False, colab=None)
    message = str(info.value)
    assert "pip install torch==2.13.0" in message
    assert "pip install -e '.[tf,torch,notebooks]'" in message and "README" in message
    assert calls == []
    readme = (ROOT / "README.md").read_text()
    assert "pip install torch==2.13.0" in readme and 'pip install -e ".[tf,torch,notebooks]"' \
        in readme  # the commands the message repeats


def test_setup_cell_on_colab_without_a_repository_url(cell_world):
    run, calls = cell_world
    with pytest.raises(RuntimeError, match="repository URL is not configured"):
        run(setup_cell(None), installed=False, colab="module")
    assert calls == []
