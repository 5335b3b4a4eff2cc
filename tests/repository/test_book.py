"""The repository's book, built as `make book` builds it (quick mode): without warnings,
every chapter rendered with its results, the API page complete, nothing fetched from a CDN,
launch links to the exercises when a repository is configured, and every chapter checked
in a real browser, opened from disk with the network cut. The Sphinx extension's parts are
tested in tests/authoring/test_book.py."""

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from course_utils.authoring.release import solution_sources
from course_utils.authoring.repository import Repository, binder_url, colab_url
from course_utils.notebook_format import MD_BEGIN, task_layout

ROOT = Path(__file__).resolve().parents[2]
SOURCES = solution_sources(ROOT)
CHAPTERS = [source.stem for source in SOURCES]
EXAMPLE = Repository("example-org", "dstml-course", "main")
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "_build" / "screenshots"


# --- the built book -----------------------------------------------------------------------

def test_book_builds_without_warnings(book, record_property):
    """The book (the session's one build, tests/conftest.py, shared with the tests below)."""
    record_property("notebook_seconds", book.seconds)
    record_property("notebook_label", "book build, all chapters")
    result, html = book.result, book.html
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
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
