"""The repository's book, built as `make book` builds it (quick mode): without warnings,
every chapter rendered with its results, the API page complete, nothing fetched from a CDN,
launch links to the exercises when a repository is configured, and every chapter checked
in a real browser, opened from disk with the network cut; and two chapters with a release
date for their solutions, built the day before it (checked in the browser too) and on it.
The Sphinx extension's parts are tested in tests/authoring/test_book.py."""

import json
import re
import shutil
from dataclasses import dataclass
from datetime import date
from html import unescape
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from course_utils.authoring.release import solution_sources
from course_utils.authoring.repository import Repository, binder_url, colab_url
from course_utils.notebook_format import ANSWER_OPEN, MD_BEGIN, placeholder_error, task_layout
from tests.browser import offline_chromium

ROOT = Path(__file__).resolve().parents[2]
SOURCES = solution_sources(ROOT)
CHAPTERS = [source.stem for source in SOURCES]
EXAMPLE = Repository("example-org", "dstml-course", "main")
SCREENSHOTS = ROOT / "_build" / "screenshots"


# --- the built book -----------------------------------------------------------------------

def test_book_builds_without_warnings(book, record_property):
    """The book (the session's one build, tests/conftest.py, shared with the tests below)."""
    record_property("notebook_seconds", book.seconds)
    record_property("notebook_label", "book build, all chapters")
    result, html = book.result, book.html
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "without encryption" not in result.stdout + result.stderr   # the kernels' transport
    assert (html / "book" / "intro.html").exists()
    for source in SOURCES:
        page = (html / "solutions" / f"{source.stem}.html").read_text()
        assert "<img" in page, f"{source.stem}: no figure rendered"
        assert "Traceback" not in page
    henon = (html / "solutions" / "01_henon_keras_rnn.html").read_text()
    assert "lambda_1 = 0.4" in henon and "ln b = ln 0.3 = -1.203973" in henon
    chapter2 = (html / "solutions" / "02_keras_rnn_lyapunov.html").read_text()
    assert "equal to batch_jacobian: True" in chapter2 and "Kaplan-Yorke dimension" in chapter2
    stf = (html / "solutions" / "03_stf_lorenz.html").read_text()
    assert "same gradients: True" in stf and "PLRNN vs test data" in stf
    naive_qr = (html / "solutions" / "04_plrnn_max_lyapunov.html").read_text()
    assert "within 5 % of the truth: True" in naive_qr and "predicted overflow" in naive_qr
    assert "Argument." in naive_qr          # the solution's answer to the question
    single = (html / "solutions" / "05_single_variable_reconstruction.html").read_text()
    assert "lambda_max = " in single and "per time unit" in single
    fixed = (html / "solutions" / "07_rnn_fixed_points.html").read_text()
    assert "linearization error ~ eps^" in fixed and "Lorenz-63 fixed point" in fixed
    lru = (html / "solutions" / "08_lru_modal_dynamics.html").read_text()
    assert "scan vs loop, T = 10,000" in lru and "teacher mode" in lru
    api = (html / "book" / "api.html").read_text()
    for name in ("lyapunov_spectrum", "max_lyapunov", "naive_product_log_norms",
                 "predicted_overflow_step", "kaplan_yorke_dimension", "rnn_lyapunov_spectrum",
                 "ShallowPLRNN", "make_lorenz_dataset", "train_stf", "stf_forward_fused",
                 "state_space_divergence", "power_spectrum_distance", "load_pretrained_plrnn",
                 "Linearization", "find_fixed_points", "plrnn_fixed_points",
                 "linear_recurrence_scan", "LRU", "DeepGRU", "flipflop_batch",
                 "orbit_fates", "OrbitFates", "runtime.device"):
        # Sphinx anchors each documented object at its qualified name.
        assert re.search(rf'id="course_utils\.(\w+\.)*{re.escape(name)}"', api), \
            f"API page lacks {name}"
    assert "Benettin" in api and "per time unit" in api


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
    return offline_chromium()


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


# --- solutions published on a date --------------------------------------------------------

# Two quick chapters: 02 has a figure before its first task, 04 a written answer.
SCHEDULED = ["02_keras_rnn_lyapunov", "04_plrnn_max_lyapunov"]
RELEASE = date(2030, 1, 1)


@dataclass
class Scheduled:
    before: object       # BookBuild, the day before the release date
    before_html: Path    # its HTML, copied before the second build
    after: object        # BookBuild, on the release date, into the same folder


@pytest.fixture(scope="module")
def scheduled(build_book, tmp_path_factory) -> Scheduled:
    """The SCHEDULED chapters, with a release date for both, built the day before it and
    then on it into the same folder (the chapters are read again, their execution cached)."""
    tmp = tmp_path_factory.mktemp("scheduled")
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    config["sphinx"]["config"]["course_solutions_release"] = dict.fromkeys(SCHEDULED, RELEASE)
    (tmp / "_config.yml").write_text(yaml.safe_dump(config))   # dates unquoted, as authors write
    (tmp / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": f"solutions/{SCHEDULED[0]}",
        "chapters": [{"file": f"solutions/{name}"} for name in SCHEDULED[1:]]}))
    paths = {"config": tmp / "_config.yml", "toc": tmp / "_toc.yml"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_BOOK_TODAY", "2029-12-31")
        before = build_book(tmp / "out", **paths)
        if before.result.returncode == 0:
            shutil.copytree(before.html, tmp / "before")
        patch.setenv("COURSE_BOOK_TODAY", RELEASE.isoformat())
        after = build_book(tmp / "out", **paths)
    return Scheduled(before, tmp / "before", after)


def _plain(html: str) -> str:
    """The text of HTML (tags removed, entities decoded), e.g. highlighted code as written."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_solutions_are_withheld_until_their_release_date(scheduled, record_property):
    record_property("notebook_seconds", scheduled.before.seconds + scheduled.after.seconds)
    record_property("notebook_label", "book build, two chapters before and on their release")
    for built in (scheduled.before, scheduled.after):
        result = built.result
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = answers = 0
    for name in SCHEDULED:
        before = (scheduled.before_html / "solutions" / f"{name}.html").read_text()
        after = (scheduled.after.html / "solutions" / f"{name}.html").read_text()
        text = _plain(before)
        source = (ROOT / "solutions" / f"{name}.py").read_text()
        template = (ROOT / "exercises" / f"{name}.py").read_text()
        tasks = task_layout(source)
        # On the date: the page as always, each task's code behind "Show solution" ...
        solutions = re.findall(r'<details class="[^"]*hide above-input">(.*?)</details>', after,
                               re.S)
        assert len(solutions) == len(tasks) > 0, name
        for code in solutions:
            lines = {line.strip() for line in _plain(code).splitlines()
                     if len(line.strip()) >= 20 and line.strip() not in template}
            assert lines, name                   # the solution's own lines ...
            assert [line for line in lines if line in text] == [], name  # ... absent before
        for task in tasks:                       # before: the template's cell instead
            assert placeholder_error(task.title) in text, (name, task.title)
        # ... and each written answer behind "Show answer", absent before.
        shown = re.findall(r'<details class="course-answer">(.*?)</details>', after, re.S)
        notebook = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text())
        assert len(shown) == sum("".join(cell["source"]).count(ANSWER_OPEN)
                                 for cell in notebook["cells"] if cell["cell_type"] == "markdown")
        for answer in shown:
            lines = [line.strip() for line in _plain(answer).splitlines()
                     if len(line.strip()) >= 30]
            assert lines and [line for line in lines if line in text] == [], name
        answers += len(shown)
        for gone in ("Show solution", "course-answer", "tag_hide-input", "_sources/"):
            assert gone not in before, (name, gone)
        # Outputs only before the first task; those figures kept, the later ones not.
        first = before.index("course-withheld")
        assert all(m.start() < first for m in re.finditer('class="cell_output', before)), name
        kept = re.findall(r'<img [^>]*src="([^"]+)"', before)
        assert set(kept) < set(re.findall(r'<img [^>]*src="([^"]+)"', after)), name
        figures += len(kept)
        assert f"The solutions appear on this page on {RELEASE.isoformat()}." in text
        assert "download " in text and "This page shows the solutions" in _plain(after)
        assert not list((scheduled.before_html / "_sources").rglob(f"{name}*")), name
        assert list((scheduled.after.html / "_sources").rglob(f"{name}*")), name
    assert figures > 0 and answers > 0   # the two chapters between them have both


def test_a_withheld_chapter_in_an_offline_browser(scheduled):
    """The chapter before its release date, from disk, offline: the figure before its first
    task, the exercise download, each task cell open with the template's code, and neither
    "Show solution" nor "Show answer"."""
    from selenium.webdriver.common.by import By

    assert scheduled.before.result.returncode == 0, scheduled.before.result.stderr[-3000:]
    name = SCHEDULED[0]
    driver = _browser()
    try:
        driver.set_script_timeout(30)
        driver.get((scheduled.before_html / "solutions" / f"{name}.html").as_uri())
        assert driver.execute_async_script(WAIT_FOR_MATHJAX) == "typeset"
        images = driver.execute_script(
            "return [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0])")
        assert images and all(ok for _, ok in images), images
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert [a for a in fetched if not a.startswith("file:")] == []
        [box] = driver.find_elements(By.CSS_SELECTOR, ".course-exercise")
        assert f"The solutions appear on this page on {RELEASE.isoformat()}." in box.text
        [download] = box.find_elements(By.CSS_SELECTOR, "a.download")
        assert download.text == f"download {name}.ipynb" and download.is_displayed()
        target = _local_file(download.get_attribute("href"))
        assert target.read_bytes() == (ROOT / "exercises" / f"{name}.ipynb").read_bytes()
        assert not driver.find_elements(By.CSS_SELECTOR, "article details, div.tag_hide-input")
        tasks = task_layout((ROOT / "solutions" / f"{name}.py").read_text())
        cells = driver.find_elements(By.CSS_SELECTOR, "div.cell.course-withheld .cell_input")
        assert len(cells) == len(tasks)
        for cell, task in zip(cells, tasks):
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
            assert cell.is_displayed() and placeholder_error(task.title) in cell.text, task.title
        severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
    finally:
        driver.quit()
