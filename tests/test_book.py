"""The book readers can use anywhere: the repository URL logic, the exercise notebooks'
setup cell, the Sphinx extension (course_utils.book), and every chapter checked in a real
browser, opened from disk with the network cut."""

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from course_utils import book as book_ext
from course_utils.notebooks import MD_BEGIN, solution_sources, task_layout
from course_utils.repository import (Repository, binder_url, colab_url, make_repository,
                                     parse_github_url, pip_requirement, read_repository,
                                     setup_cell)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [source.stem for source in solution_sources(ROOT)]
EXAMPLE = Repository("example-org", "dstml-course", "main")
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "_build" / "screenshots"


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
    code = ("import sys, course_utils, course_utils.notebooks, course_utils.repository; "
            "print([m for m in ('course_utils.book', 'sphinx', 'docutils') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


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


def test_exercises_install_from_the_books_repository():
    """One place: the setup cell of every template is made from book/_config.yml."""
    expected = setup_cell(read_repository(ROOT / "book" / "_config.yml"))
    for name in CHAPTERS:
        assert expected in (ROOT / "exercises" / f"{name}.py").read_text(), name
        assert "find_spec" not in (ROOT / "solutions" / f"{name}.ipynb").read_text(), name


# --- the built book -----------------------------------------------------------------------

def test_book_has_no_cdn_assets_and_no_launch_links(book):
    assert book.result.returncode == 0, book.result.stdout[-3000:] + book.result.stderr[-3000:]
    assert (book.html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for page in book.html.rglob("*.html"):
        text = page.read_text()
        for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "require.min.js", "THEBE_JS_URL"):
            assert cdn not in text, (page, cdn)
        assert '<script src="http' not in text and 'src="//' not in text, page
        assert "colab.research.google.com" not in text and "mybinder.org" not in text, page


def _launch_config(tmp_path):
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    config["repository"] = {"url": "https://github.com/example-org/dstml-course",
                            "branch": "main"}
    config["execute"] = {"execute_notebooks": "off"}
    path = tmp_path / "_config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_launch_links_open_the_exercise(build_book, tmp_path):
    """With the repository set, each chapter's box opens exercises/NAME.ipynb in Colab and
    on Binder, and no link anywhere launches a solution (not executed, to be quick)."""
    built = build_book(tmp_path / "out", config=_launch_config(tmp_path))
    assert built.result.returncode == 0, built.result.stdout[-3000:] + built.result.stderr[-3000:]
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found = []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "a" and "course-launch" in (attrs.get("class") or ""):
                self.found.append(attrs["href"])

    for name in CHAPTERS:
        text = (built.html / "solutions" / f"{name}.html").read_text()
        parser = Links()
        parser.feed(text)
        assert parser.found == [colab_url(EXAMPLE, f"exercises/{name}.ipynb"),
                                binder_url(EXAMPLE, f"exercises/{name}.ipynb")], name
        assert f"solutions%2F{name}" not in text and f"solutions/{name}.ipynb" not in "".join(
            href for href in parser.found), name
        assert "blob/main/solutions" not in text, name  # the theme's launch buttons are off


# --- in a browser, from disk, offline -------------------------------------------------------

def _browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        message = (f"no {CHROMIUM} or {CHROMEDRIVER} (Debian packages chromium and "
                   "chromium-driver)")
        if os.environ.get("CI"):
            pytest.fail(message + ": the browser test must run under CI")
        pytest.skip(message)
    os.environ["SE_OFFLINE"] = "true"  # selenium never downloads a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--host-resolver-rules=MAP * ~NOTFOUND",
                     "--proxy-server=127.0.0.1:9"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const started = Date.now();
(function wait() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done("typeset"), (e) => done("error: " + e));
  } else if (Date.now() - started > 20000) {
    done("MathJax did not load");
  } else {
    setTimeout(wait, 50);
  }
})();
"""


def _local_file(href):
    """The file a file:// address names (without its #fragment), or None for others."""
    address = urlparse(href)
    return Path(unquote(address.path)) if address.scheme == "file" else None


def _check_chapter(driver, html, name):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get((html / "solutions" / f"{name}.html").as_uri())
    assert driver.execute_async_script(WAIT_FOR_MATHJAX) == "typeset", name
    # The maths: typeset, no TeX left in the text.
    assert driver.find_elements(By.CSS_SELECTOR, "article mjx-container"), name
    text = driver.find_element(By.CSS_SELECTOR, "article").text
    for raw in ("\\(", "\\[", "$$"):
        assert raw not in text, (name, raw)
    fonts = driver.execute_script("return [...document.fonts].filter(f => "
                                  "f.family.startsWith('MJXTEX')).map(f => f.status)")
    assert "loaded" in fonts and "error" not in fonts, (name, fonts)  # from file://
    # Figures loaded.
    images = driver.execute_script(
        "return [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0])")
    assert images and all(ok for _, ok in images), (name, [s for s, ok in images if not ok])
    # Nothing fetched from the network.
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert [a for a in fetched if not a.startswith("file:")] == [], name
    # Navigation: sidebar and previous / next.
    links = [a.get_attribute("href") for a in driver.find_elements(
        By.CSS_SELECTOR, "nav.bd-docs-nav a, .prev-next-area a")]
    files = [_local_file(href) for href in links if _local_file(href)]
    assert len(files) >= len(CHAPTERS), (name, links)
    assert all(path.is_file() for path in files), (name, [p for p in files if not p.is_file()])
    # The exercise: a link to the template, copied into the output unchanged.
    [download] = driver.find_elements(By.CSS_SELECTOR, ".course-exercise a.download")
    assert download.text == f"download {name}.ipynb"
    assert download.is_displayed()
    target = _local_file(download.get_attribute("href"))
    assert target.read_bytes() == (ROOT / "exercises" / f"{name}.ipynb").read_bytes(), name
    assert not driver.find_elements(By.CSS_SELECTOR, ".course-exercise a.course-launch")
    # Solutions collapsed, one toggle per task; every other code cell shown.
    tasks = task_layout((ROOT / "solutions" / f"{name}.py").read_text())
    toggles = driver.find_elements(By.CSS_SELECTOR, "div.cell.tag_hide-input details")
    assert len(toggles) == len(tasks), name
    for toggle in toggles:
        summary = toggle.find_element(By.TAG_NAME, "summary")
        assert summary.text == "Show solution", name
        code = toggle.find_element(By.CSS_SELECTOR, ".cell_input")
        assert not code.is_displayed(), name
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
        summary.click()  # the code fades in
        WebDriverWait(driver, 5).until(lambda _: code.is_displayed(), f"{name}: still hidden")
        assert summary.text == "Hide solution", name
    # Written answers (markdown solution regions): closed, opened by a click.
    source = (ROOT / "solutions" / f"{name}.py").read_text().splitlines()
    answers = driver.find_elements(By.CSS_SELECTOR, "article details.course-answer")
    assert len(answers) == sum(bool(MD_BEGIN.match(line)) for line in source), name
    for answer in answers:
        summary = answer.find_element(By.TAG_NAME, "summary")
        text = answer.find_element(By.TAG_NAME, "p")
        assert summary.text == "Show answer" and not text.is_displayed(), name
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
        summary.click()
        WebDriverWait(driver, 5).until(lambda _: text.is_displayed(), f"{name}: answer hidden")
    others = driver.find_elements(By.CSS_SELECTOR, "div.cell:not(.tag_hide-input) .cell_input")
    assert others and all(cell.is_displayed() for cell in others), name
    # The chapter ends with its references.
    last = driver.find_elements(By.CSS_SELECTOR, "article section > section")[-1]
    assert last.find_element(By.CSS_SELECTOR, "h2").text.startswith("References"), name
    assert last.find_elements(By.CSS_SELECTOR, ".footnote, .citation, dl.citation > dt, "
                                               ".bibliography li"), name
    # No errors in the browser's console.
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], (name, severe)


def test_chapters_in_an_offline_browser(book):
    assert book.result.returncode == 0, book.result.stdout[-3000:] + book.result.stderr[-3000:]
    driver = _browser()
    try:
        driver.set_script_timeout(30)
        for name in CHAPTERS:
            _check_chapter(driver, book.html, name)
        # A picture of one chapter, for CI's artifacts: the whole page.
        driver.get((book.html / "solutions" / "03_stf_lorenz.html").as_uri())
        driver.execute_async_script(WAIT_FOR_MATHJAX)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(height, 16000))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOTS / "03_stf_lorenz.png"))
    finally:
        driver.quit()
