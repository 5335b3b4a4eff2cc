"""The course's GitHub repository: where the book's launch links and Colab's install go.

The repository is configured in one place, Jupyter Book's ``repository`` section of
``book/_config.yml``::

    repository:
      url: https://github.com/OWNER/REPO
      branch: main

An empty ``url`` means "not published yet": the book then has no launch links, and the
exercise notebooks' setup cell cannot install the package on Colab. From it come

* the links of the book's exercise box (:mod:`course_utils.authoring.book`): :func:`colab_url` and
  :func:`binder_url`, both opening ``exercises/NAME.ipynb``, never the solution;
* the setup cell that the release tool (:mod:`course_utils.authoring.release`) puts first in every
  exercise template: :func:`setup_cell`, which installs ``course_utils`` with
  :func:`pip_requirement` when the notebook runs on Colab without it.

Everything here is pure (no Sphinx, no network); :func:`read_repository` reads the YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = ["Repository", "parse_github_url", "make_repository", "read_repository",
           "colab_url", "binder_url", "pip_requirement", "setup_cell"]

URL_KEY = "repository.url"
BRANCH_KEY = "repository.branch"
DEFAULT_BRANCH = "master"  # Jupyter Book's default for repository.branch
GITHUB_URL = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))"
                        r"/(?P<name>[A-Za-z0-9._-]+?)(?:\.git)?/?$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")


@dataclass(frozen=True)
class Repository:
    """A GitHub repository and the branch the links and installs use."""

    owner: str
    name: str
    branch: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"


def parse_github_url(url: str, *, key: str = URL_KEY) -> tuple[str, str]:
    """Split ``https://github.com/OWNER/REPO`` (optionally ending in ``.git`` or ``/``) into
    ``(owner, name)``, its owner and repository name. Anything else (another host,
    ``http``, a missing or extra path part) raises ``ValueError`` naming the configuration
    ``key`` (default ``"repository.url"``) and the value.
    """
    match = GITHUB_URL.match(url) if isinstance(url, str) else None
    if not match or match.group("name") in (".", ".."):
        raise ValueError(f"{key} must be a GitHub repository URL of the form "
                         f"https://github.com/OWNER/REPO; got {url!r}")
    return match.group("owner"), match.group("name")


def make_repository(url: str | None, branch: str | None = None, *, url_key: str = URL_KEY,
                    branch_key: str = BRANCH_KEY) -> Repository | None:
    """The :class:`Repository` that ``url`` and ``branch`` configure, or None when ``url``
    is empty or None (not configured). ``branch`` None means Jupyter Book's default,
    ``master``. A malformed URL or branch raises ``ValueError`` naming its key
    (``url_key``, default ``"repository.url"``, or ``branch_key``, default
    ``"repository.branch"``) and the value seen.
    """
    if url is None or (isinstance(url, str) and not url.strip()):
        return None
    owner, name = parse_github_url(url.strip() if isinstance(url, str) else url, key=url_key)
    branch = DEFAULT_BRANCH if branch is None else branch
    if not isinstance(branch, str) or not BRANCH.match(branch) or ".." in branch:
        raise ValueError(f"{branch_key} must be a branch name such as 'main'; got {branch!r}")
    return Repository(owner, name, branch)


def read_repository(config: str | Path) -> Repository | None:
    """The :class:`Repository` configured in the Jupyter Book configuration file ``config``
    (its ``repository: url:`` and ``branch:``), or None when the file, the section or the
    URL is missing or empty. Errors name the file and the key.
    """
    import yaml

    path = Path(config)
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = data.get("repository") or {}
    if not isinstance(section, dict):
        raise ValueError(f"{path}: 'repository' must be a mapping with url and branch; "
                         f"got {section!r}")
    return make_repository(section.get("url"), section.get("branch"),
                           url_key=f"{URL_KEY} in {path}", branch_key=f"{BRANCH_KEY} in {path}")


def colab_url(repository: Repository, path: str) -> str:
    """The address that opens the notebook ``path`` (relative to the repository root, e.g.
    ``exercises/03_stf_lorenz.ipynb``) of ``repository``'s branch in Google Colab.
    """
    return (f"https://colab.research.google.com/github/{repository.owner}/{repository.name}"
            f"/blob/{repository.branch}/{path}")


def binder_url(repository: Repository, path: str) -> str:
    """The address that starts ``repository``'s branch on mybinder.org and opens the
    notebook ``path`` (relative to the repository root) in JupyterLab.
    """
    return (f"https://mybinder.org/v2/gh/{repository.owner}/{repository.name}/"
            f"{repository.branch}?labpath={quote(path, safe='')}")


def pip_requirement(repository: Repository) -> str:
    """The pip requirement that installs ``course_utils`` (its core, no extras) from
    ``repository``'s branch: ``course-utils @ git+https://github.com/OWNER/REPO@BRANCH``.
    """
    return f"course-utils @ git+{repository.url}@{repository.branch}"


SETUP_TEMPLATE = '''\
# Setup: makes the course's package course_utils importable. On Google Colab it is
# installed from the course repository (Colab already has PyTorch and TensorFlow);
# anywhere else this cell only checks that it is installed (see the README).
import importlib
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("course_utils") is None:
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
{install}
    else:
        raise ModuleNotFoundError(
            "course_utils is not installed in this environment. In the course repository's "
            "folder run `pip install torch==2.13.0`, then "
            "`pip install -e '.[tf,torch,notebooks]'` (see the README), and restart the kernel.")'''
INSTALL = '''\
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "{requirement}"], check=True)
        importlib.invalidate_caches()'''
NOT_CONFIGURED = '''\
        raise RuntimeError(
            "Cannot install course_utils on Colab: the course's repository URL is not "
            "configured (repository: url in book/_config.yml is empty). Ask the course team.")'''


def setup_cell(repository: Repository | None) -> str:
    """The source of the exercise notebooks' first code cell (standard library only). It
    does nothing where ``course_utils`` is importable; on Colab (``google.colab`` imported,
    or ``COLAB_RELEASE_TAG`` set) it pip-installs :func:`pip_requirement` of ``repository``,
    or, when ``repository`` is None, raises ``RuntimeError`` saying that the repository URL
    is not configured; elsewhere it raises ``ModuleNotFoundError`` with the README's install
    commands.
    """
    install = (NOT_CONFIGURED if repository is None
               else INSTALL.format(requirement=pip_requirement(repository)))
    return SETUP_TEMPLATE.format(install=install)
