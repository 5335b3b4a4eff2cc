"""The repository's citations against book/references.bib: every key the chapters and the
book's pages cite is in the file, every entry is cited, every chapter ends with its
references, and the exercise templates carry plain-text citations only."""

import re
from pathlib import Path

from course_utils.authoring.citations import check_citations, find_citations, load_bibliography
from course_utils.authoring.release import solution_sources

ROOT = Path(__file__).resolve().parents[2]
BIB = ROOT / "book" / "references.bib"


def _cited_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for source in solution_sources(ROOT):
        keys = {k for c in find_citations(source.read_text(encoding="utf-8"), source)
                for k in c.keys}
        found[source.name] = keys
    for page in (ROOT / "book").glob("*.md"):
        found[page.name] = {k.strip() for m in re.finditer(
            r"\{(?:foot)?cite(?::\w+)?\}`([^`]*)`", page.read_text(encoding="utf-8"))
            for k in m.group(1).split(",")}
    return found


def test_every_cited_key_is_in_the_bib_file():
    entries = load_bibliography(BIB)
    for source in solution_sources(ROOT):
        check_citations(source.read_text(encoding="utf-8"), entries, source, BIB)
    for name, keys in _cited_keys().items():
        assert keys <= set(entries), f"{name} cites {sorted(keys - set(entries))}, not in {BIB}"


def test_every_entry_of_the_bib_file_is_cited():
    cited = set().union(*_cited_keys().values())
    unused = sorted(set(load_bibliography(BIB)) - cited)
    assert not unused, f"entries of {BIB} that no chapter cites: {unused}"


def test_every_chapter_cites_and_ends_with_its_references():
    for source in solution_sources(ROOT):
        text = source.read_text(encoding="utf-8")
        assert find_citations(text, source), f"{source.name} cites nothing"
        tail = text.rstrip().rsplit("# %%", 1)[1]
        assert tail.startswith(" [markdown]") and "# ## References" in tail \
            and "```{footbibliography}" in tail, f"{source.name} does not end with its references"


def test_exercise_templates_have_no_citation_roles_or_directives():
    templates = sorted([*(ROOT / "exercises").glob("*.py"), *(ROOT / "exercises").glob("*.ipynb")])
    assert templates
    for template in templates:
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\{(foot)?cite", text), f"{template.name} has a citation role"
        assert not re.search(r"\{(foot)?bibliography\}", text), \
            f"{template.name} has a bibliography directive"
