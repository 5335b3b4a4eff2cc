"""The tutors' page manual.html in a real browser (Debian's chromium and chromedriver,
headless, the network cut, as tests/repository/test_book.py runs the book): opened from
disk, two questions graded with the mouse and the keyboard (rubric items, a comment typed
and reused from the comment bank, points typed), the grades kept over a reload, the export
(in the text box and as the downloaded manual.csv) merged into grades.csv, and the
summary's table of students sorted by a click."""

import csv
import io
import re
import time

from course_utils.grading.manual import merge_manual, write_manual_page
from course_utils.grading.report import write_reports
from tests.grading.test_answers import QUESTIONS
from tests.grading.test_manual import HOSTILE, TASKS, class_answers, class_results, page_data


class Page:
    """The manual page in the browser, driven as a tutor does."""

    def __init__(self, driver, order):
        from selenium.webdriver.common.by import By

        self.driver, self.order, self.by = driver, order, By

    def find(self, css):
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    def text(self, css):
        return self.find(css).text

    def keys(self, *keys):
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).send_keys(*keys).perform()

    def position(self) -> int:
        return int(re.match(r"(\d+) of \d+", self.text("#a-position")).group(1)) - 1

    def question(self) -> str:
        return self.text("#q-title")

    def go(self, name):
        """To ``name``'s answer with j and k."""
        target = self.order.index(name)
        while self.position() != target:
            self.keys("j" if self.position() < target else "k")

    def checked(self, css) -> bool:
        return self.find(css).is_selected()


def test_grading_two_questions_in_the_browser(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    answers = class_answers()
    out = tmp_path / "grades"
    write_reports(class_results(answers), "09_written", TASKS, out, questions=QUESTIONS)
    page_path = write_manual_page(out, "09_written", QUESTIONS, answers, seed=5)
    order = [s["name"] for s in page_data(page_path.read_text())["students"]]
    browser.get(page_path.as_uri())
    page = Page(browser, order)

    # The first question, the first submission; names hidden; 2 answers missing (0 points).
    assert page.question() == "Question 1 (orbits) (2 points)"
    assert page.text("#a-title") == "Submission 1" and page.text("#a-position") == "1 of 4"
    assert page.text("#overall") == "2 of 8 answers graded, all questions"
    assert page.text("#q-progress") == "1 of 4 graded"
    body = browser.find_element(page.by.TAG_NAME, "body").text
    assert not [name for name in order if name in body]
    assert "Yes: they stay on the attractor" in page.text("#q-answer")
    # A student's text is text: the hostile answer is shown as written, no markup made.
    page.go("bob")
    assert page.find("#a-text").get_attribute("textContent") == HOSTILE
    assert browser.execute_script("return document.querySelectorAll('#a-text *').length") == 0
    assert browser.execute_script("return document.scripts.length") == 2
    assert page.text("#a-title") == f"Submission {order.index('bob') + 1}"

    # Question 1. alice: both rubric items clicked, a comment typed (it joins the bank).
    page.go("alice")
    assert browser.execute_script(
        "return document.querySelector('#a-figures img').naturalWidth") == 2
    assert page.text("#a-figures figcaption") == "Figure: orbits"
    page.find("#item-1").click()
    page.find("#item-2").click()
    assert page.find("#points").get_attribute("value") == "2"
    page.keys("c")
    assert browser.switch_to.active_element == page.find("#comment")
    page.keys("Cite the figure.", Keys.ESCAPE)
    assert browser.switch_to.active_element != page.find("#comment")
    assert page.text("#bank-1") == "Cite the figure."
    # bob: marked graded with nothing ticked: 0 points.
    page.go("bob")
    page.keys("g")
    assert page.checked("#graded") and page.find("#points").get_attribute("value") == "0"
    # dora: item 1 by its key, the comment from the bank with one click.
    page.go("dora")
    page.keys("1")
    assert page.checked("#item-1") and not page.checked("#item-2")
    page.find("#bank-1").click()
    assert page.find("#comment").get_attribute("value") == "Cite the figure."
    assert page.text("#q-progress") == "4 of 4 graded"  # carol's answer is missing

    # Question 2. alice: item 1 clicked; bob: points typed; carol: item 1 by its key.
    page.keys("n")
    assert page.question() == "Question 2 (chaos) (1 point)"
    assert page.text("#q-progress") == "1 of 4 graded"
    page.go("alice")
    page.find("#item-1").click()
    page.go("bob")
    field = page.find("#points")
    field.click()
    field.send_keys("0.5", Keys.ESCAPE)
    assert page.checked("#graded")
    page.go("carol")
    page.keys("1")
    assert page.text("#q-progress") == "4 of 4 graded"
    assert page.text("#overall") == "8 of 8 answers graded, all questions"

    # Reload: everything is still there.
    browser.refresh()
    page = Page(browser, order)
    assert page.question() == "Question 2 (chaos) (1 point)"
    assert page.position() == order.index("carol") and page.checked("#item-1")
    assert page.text("#overall") == "8 of 8 answers graded, all questions"
    page.go("bob")
    assert page.find("#points").get_attribute("value") == "0.5"
    page.keys("p")
    page.go("alice")
    assert page.checked("#item-1") and page.checked("#item-2")
    assert page.find("#comment").get_attribute("value") == "Cite the figure."
    page.go("dora")
    assert page.checked("#item-1") and not page.checked("#item-2")
    assert page.text("#bank-1") == "Cite the figure."

    # Export: the CSV in the text box and downloaded, with the real names; names shown now.
    page.find("#export").click()
    exported = page.find("#csv").get_attribute("value")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows == [
        ["student", "item", "points", "rubric", "comment"],
        ["alice", "q1", "2", "says whether the orbits stay on the attractor, citing the figure\n"
                             "distinguishes short-term divergence from long-term statistics",
         "Cite the figure."],
        ["alice", "q2", "1", "names the positive largest exponent", ""],
        ["bob", "q1", "0", "", ""],
        ["bob", "q2", "0.5", "", ""],
        ["carol", "q2", "1", "names the positive largest exponent", ""],
        ["dora", "q1", "1", "says whether the orbits stay on the attractor, citing the figure",
         "Cite the figure."],
    ]
    assert page.text("#export-note").startswith("6 graded answers exported.")
    assert page.text("#a-title") == f"Submission {order.index('dora') + 1} (dora)"
    downloaded = browser.downloads / "manual.csv"
    for _ in range(100):
        if downloaded.exists():
            break
        time.sleep(0.1)
    raw = downloaded.read_bytes().decode("utf-8")
    assert raw.startswith("student,item,points,rubric,comment\r\nalice,q1,2,")
    assert raw.replace("\r\n", "\n") == exported.replace("\r\n", "\n")

    # Nothing went wrong in the page, and nothing was fetched.
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == []

    # Merged: the totals in grades.csv.
    assert merge_manual(out, downloaded) == []
    totals = {row["student"]: row["total"]
              for row in csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}
    assert totals == {"alice": "5", "bob": "0.5", "carol": "3", "dora": "3", "emil": "0"}
    assert "> Cite the figure." in (out / "feedback" / "dora.md").read_text()

    # The summary's table sorts by the column whose head is clicked.
    browser.get((out / "summary.html").as_uri())
    names = ("return [...document.querySelectorAll('#students tbody tr')]"
             ".map(r => r.cells[0].textContent)")
    assert browser.execute_script(names) == ["alice", "bob", "carol", "dora", "emil"]
    [total] = [th for th in browser.find_elements(page.by.CSS_SELECTOR, "#students th")
               if th.text == "total"]
    total.click()
    assert browser.execute_script(names) == ["emil", "bob", "carol", "dora", "alice"]
    total.click()
    assert browser.execute_script(names)[0] == "alice"
    link = browser.find_element(page.by.LINK_TEXT, "dora")
    assert link.get_attribute("href") == (out / "feedback" / "dora.html").as_uri()
