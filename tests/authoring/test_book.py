"""The book's Sphinx extension (course_utils.authoring.book): the launch links of a chapter's
exercise box, the repository read from the theme options, which pages are chapters, the
release schedule of the solutions (the dates, "today", and a small Sphinx project built
before and after its chapter's date), and that the package loads neither the extension nor
Sphinx. The built book is tested in tests/repository/test_book.py."""

import base64
import os
import re
import struct
import subprocess
import sys
import zlib
from datetime import date, datetime
from html import unescape

import pytest

from course_utils.authoring import book as book_ext
from course_utils.authoring.repository import Repository, binder_url, colab_url
from course_utils.notebook_format import (ANSWER_CLOSE, ANSWER_OPEN, HIDE_SOLUTION, METADATA_KEY,
                                          PLACEHOLDER, placeholder_error)

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


# --- the release schedule -----------------------------------------------------------------

def test_release_dates_are_checked():
    chapters = {"01_a", "02_b"}
    assert book_ext.release_dates(None, chapters) == {}
    assert book_ext.release_dates({}, chapters) == {}
    assert book_ext.release_dates({"01_a": date(2030, 1, 1), "02_b": " 2030-02-03 "},
                                  chapters) == {"01_a": date(2030, 1, 1), "02_b": date(2030, 2, 3)}
    setting = r"course_solutions_release in book/_config\.yml \(sphinx: config:\)"
    with pytest.raises(ValueError, match=rf"^{setting} names '01_A', which is no chapter "
                                         r"\(solutions/NAME\.ipynb: 01_a, 02_b\)$"):
        book_ext.release_dates({"01_A": "2030-01-01"}, chapters)   # would release 01_a
    with pytest.raises(ValueError, match=rf"^{setting} must map chapter names to dates"):
        book_ext.release_dates(["01_a"], chapters)
    for bad in ("2030-02-30", "01.02.2030", "20300101", "2030-01-01T08:00", 20300101,
                datetime(2030, 1, 1, 8), None):
        with pytest.raises(ValueError, match=rf"^{setting}, chapter 01_a must be a date "
                                             rf"YYYY-MM-DD; got {re.escape(repr(bad))}$"):
            book_ext.release_dates({"01_a": bad}, chapters)


def test_build_today_and_the_withheld_chapters():
    assert book_ext.build_today({}) == date.today()
    assert book_ext.build_today({"COURSE_BOOK_TODAY": ""}) == date.today()
    assert book_ext.build_today({"COURSE_BOOK_TODAY": "2030-01-31"}) == date(2030, 1, 31)
    with pytest.raises(ValueError, match=r"^the environment variable COURSE_BOOK_TODAY must "
                                         r"be a date YYYY-MM-DD; got 'tomorrow'$"):
        book_ext.build_today({"COURSE_BOOK_TODAY": "tomorrow"})
    dates = {"02_b": date(2030, 2, 1), "01_a": date(2030, 1, 1)}
    assert book_ext.withheld_chapters(dates, date(2029, 12, 31)) == dates
    assert list(book_ext.withheld_chapters(dates, date(2029, 12, 31))) == ["01_a", "02_b"]
    assert book_ext.withheld_chapters(dates, date(2030, 1, 1)) == {"02_b": date(2030, 2, 1)}
    assert book_ext.withheld_chapters(dates, date(2030, 2, 1)) == {}


# --- a chapter before and after its release date, built by Sphinx -------------------------

RELEASE = "2030-01-01"
SOLUTION = "return 'quokkasolution line'"
TEMPLATE = f"def f():\n    {PLACEHOLDER}\n    {placeholder_error('Task 1 (f)')}"


def _png(red: int, green: int, blue: int) -> str:
    """A 1x1 PNG of one colour, base64 (as a notebook stores it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(bytes([0, red, green, blue])))
           + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


def _chapter(tmp_path):
    """A Sphinx project with one chapter, solutions/demo.ipynb (outputs stored, not run),
    its exercise template, and a release date for it."""
    import nbformat
    from nbformat.v4 import (new_code_cell, new_markdown_cell, new_notebook, new_output)

    def code(source, *outputs, course=None, **metadata):
        cell = new_code_cell(source, outputs=list(outputs), execution_count=1)
        if course:
            cell.metadata[METADATA_KEY] = course
        cell.metadata.update(metadata)
        return cell

    def text(source, course=None):
        cell = new_markdown_cell(source)
        if course:
            cell.metadata[METADATA_KEY] = course
        return cell

    def stream(words):
        return new_output("stream", name="stdout", text=words + "\n")

    def image(png):
        return new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})

    task = {"task": "task1", "title": "Task 1 (f)", "points": 1}
    solution = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}}, cells=[
        text("# Demo chapter\n\nSome text."),
        code("plot_data()", stream("pre-task output 1234"), image(_png(255, 0, 0))),
        text("**Question 1.** Prompt one?\n\n" + ANSWER_OPEN + "\n\nThe quokkaanswer text.\n\n"
             + ANSWER_CLOSE + "\n\nText after the answer.", {"question": "q1"}),
        code(f"def f():\n    {SOLUTION}", stream("task output 5678"), course=task,
             tags=["hide-input"], mystnb=dict(HIDE_SOLUTION)),
        code("check_f(f)", stream("check passed 9012"), course={"check": "task1"}),
        code("plot_result(f())", stream("later output 3456"), image(_png(0, 0, 255))),
        text("**Question 2.** Prompt two?", {"question": "q2"}),
        text("The quokkacell answer, a cell of its own.", {"answer": "q2"}),
        text("**Question 3.** Prompt three, its answer lost?", {"question": "q3"}),
        text("## The end\n\nClosing text."),
    ])
    exercise = new_notebook(cells=[code(TEMPLATE, course=task)])
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    nbformat.write(solution, tmp_path / "solutions" / "demo.ipynb")
    nbformat.write(exercise, tmp_path / "exercises" / "demo.ipynb")
    (tmp_path / "conf.py").write_text(
        'extensions = ["myst_nb", "course_utils.authoring.book"]\n'
        'nb_execution_mode = "off"\nroot_doc = "solutions/demo"\n'
        'exclude_patterns = ["_build", "exercises"]\n'
        f'course_solutions_release = {{"demo": "{RELEASE}"}}\n')
    return tmp_path


def _sphinx(project, today):
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(project),
         str(project / "_build" / "html")], capture_output=True, text=True,
        env={**os.environ, "COURSE_BOOK_TODAY": today})


def test_a_chapter_is_withheld_until_its_release_date(tmp_path):
    project = _chapter(tmp_path)
    html = project / "_build" / "html"
    page = html / "solutions" / "demo.html"

    before = _sphinx(project, "2029-12-31")
    assert before.returncode == 0, before.stderr
    text = page.read_text()
    plain = unescape(re.sub(r"<[^>]+>", "", text))
    assert "The solutions appear on this page on 2030-01-01." in plain   # the exercise box
    assert "download demo.ipynb" in plain
    assert "pre-task output 1234" in plain                 # before the first task: all of it
    assert len(re.findall(r"<img ", text)) == 1
    assert TEMPLATE in plain and "course-withheld" in text  # the task as the template has it
    for gone in ("quokkasolution", "task output 5678", "check passed 9012", "later output 3456",
                 "quokkaanswer", "quokkacell", "Show solution", "Show answer", "course-answer",
                 "tag_hide-input", "_sources"):
        assert gone not in text, gone
    for kept in ("check_f(f)", "plot_result(f())", "Prompt one?", "Text after the answer.",
                 "Prompt two?", "Prompt three", "Closing text."):
        assert kept in plain, kept
    assert "question q3 (cell 8) has no written answer to withhold" in before.stderr
    assert before.stderr.count("WARNING") == 1, before.stderr
    assert len(list((html / "_images").iterdir())) == 1    # the later figure is not copied
    assert not list(html.glob("_sources/solutions/demo*"))   # the solution notebook
    index = (html / "searchindex.js").read_text()
    assert "quokka" not in index and "task" in index

    after = _sphinx(project, RELEASE)             # the same folder: the chapter is read again
    assert after.returncode == 0, after.stderr
    assert after.stderr.count("WARNING") == 0, after.stderr
    text = page.read_text()
    plain = unescape(re.sub(r"<[^>]+>", "", text))
    assert "This page shows the solutions" in plain and "The solutions appear" not in plain
    for shown in ("quokkasolution", "task output 5678", "check passed 9012", "later output 3456",
                  "quokkaanswer", "quokkacell", "Show solution", "course-answer"):
        assert shown in plain or shown in text, shown
    assert TEMPLATE not in plain and "course-withheld" not in text
    assert len(re.findall(r"<img ", text)) == 2
    assert list(html.glob("_sources/solutions/demo*"))
    assert "quokka" in (html / "searchindex.js").read_text()

    bad = _sphinx(project, "31.12.2029")
    assert bad.returncode != 0
    assert ("the environment variable COURSE_BOOK_TODAY must be a date YYYY-MM-DD; "
            "got '31.12.2029'") in bad.stderr
