"""The book's Sphinx extension (course_utils.authoring.book): the launch links of a chapter's
exercise box, the repository read from the theme options, which pages are chapters, and
that the package loads neither the extension nor Sphinx. The built book is tested in
tests/repository/test_book.py."""

import subprocess
import sys

import pytest

from course_utils.authoring import book as book_ext
from course_utils.authoring.repository import Repository, binder_url, colab_url

EXAMPLE = Repository("example-org", "dstml-course", "main")


def test_launch_links():
    path = "exercises/03_stf_lorenz.ipynb"
    assert book_ext.launch_links("03_stf_lorenz", None) == []
    assert book_ext.launch_links("03_stf_lorenz", EXAMPLE) == [
        ("Open in Colab", colab_url(EXAMPLE, path)), ("Launch Binder", binder_url(EXAMPLE, path))]


def test_extension_reads_the_theme_options():
    assert book_ext.repository_of({}) is None
    assert book_ext.repository_of({"repository_url": "", "repository_branch": "main"}) is None
    assert book_ext.repository_of({"repository_url": EXAMPLE.url,
                                   "repository_branch": "main"}) == EXAMPLE
    with pytest.raises(ValueError, match=r"^repository.url in book/_config.yml "
                                         r"\(html_theme_options\['repository_url'\]\) must be "
                                         r"a GitHub .*; got 'https://gitlab.com/o/r'$"):
        book_ext.repository_of({"repository_url": "https://gitlab.com/o/r"})


def test_chapter_of():
    assert book_ext.chapter_of("solutions/03_stf_lorenz", "/r/solutions/03_stf_lorenz.ipynb") \
        == "03_stf_lorenz"
    assert book_ext.chapter_of("book/intro", "/r/book/intro.md") is None
    assert book_ext.chapter_of("solutions/notes", "/r/solutions/notes.md") is None
    assert book_ext.chapter_of("other/solutions/x", "/r/other/solutions/x.ipynb") is None


def test_importing_the_package_does_not_import_the_extension_or_sphinx():
    code = ("import sys, course_utils, course_utils.authoring.release, "
            "course_utils.authoring.repository; "
            "print([m for m in ('course_utils.authoring.book', 'sphinx', 'docutils') "
            "if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
