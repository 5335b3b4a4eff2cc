"""Citations (course_utils.authoring.citations): the BibTeX reader, the plain-text citations
of the exercise templates, and references formatted from book/references.bib. The
repository's sources are checked against that file in tests/repository/test_citations.py."""

import re
from pathlib import Path

import pytest

from course_utils.authoring.release import release
from course_utils.authoring.citations import (
    CitationError,
    author_year,
    check_citations,
    find_citations,
    format_citation,
    format_reference,
    load_bibliography,
    parse_bibtex,
    plain_citations,
)

ROOT = Path(__file__).resolve().parents[2]
BIB = ROOT / "book" / "references.bib"

SMALL_BIB = """\
% a comment
@article{henon1976,
  author  = {Hénon, Michel},
  title   = {A two-dimensional mapping with a strange attractor},
  journal = {Communications in Mathematical Physics},
  volume  = {50}, number = {1}, pages = {69--77},
  year    = 1976,
}
@article{lorenz1963,
  author = "Edward N. Lorenz",
  title  = {Deterministic nonperiodic flow},
  year   = {1963},
  doi    = {10.1000/example},
}
@inproceedings{two2020a,
  author = {Sussillo, David and Barak, Omri}, title = {First {RNN} paper}, year = {2020},
  booktitle = {Some Conference},
}
@inproceedings{two2020b,
  author = {Sussillo, David and Barak, Omri}, title = {Second}, year = {2020},
  booktitle = {Some Conference},
}
@techreport{many1990,
  author = {Blelloch, Guy E. and Two, B. and Three, C.}, title = {Prefix sums}, year = {1990},
  institution = {CMU}, number = {CMU-CS-90-190},
}
"""
ENTRIES = parse_bibtex(SMALL_BIB, "small.bib")
HEADER = "# ---\n# jupyter:\n#   jupytext:\n#     formats: py:percent\n# ---\n\n"


def _chapter(*markdown: str) -> str:
    cells = [f"# %% [markdown]\n{m}\n" for m in markdown]
    return HEADER + "\n".join(cells + ["# %%\nx = 1  # {footcite:p}`in_code_stays`\n"])


# ------------------------------------------------------------------------- the reader


def test_parse_bibtex_reads_fields_names_and_lines():
    henon = ENTRIES["henon1976"]
    assert henon.type == "article" and henon.line == 2
    assert henon.fields["pages"] == "69\u201377"  # -- is an en dash
    assert henon.fields["year"] == "1976"  # a bare number
    assert henon.authors == [("Hénon", "Michel")]
    assert ENTRIES["lorenz1963"].authors == [("Lorenz", "Edward N.")]  # "First Last" form
    assert ENTRIES["two2020a"].fields["title"] == "First RNN paper"  # braces removed
    assert list(ENTRIES) == ["henon1976", "lorenz1963", "two2020a", "two2020b", "many1990"]


@pytest.mark.parametrize("text, line, message", [
    ("@misc{a, author = {A, B}, title = {T}, year = {1}}", 1, "@misc is not read"),
    ("@article{a, author = {A, B}, title = {T}}", 1, "has no year"),
    ("\n\n@article{a, author = {A, B},\n title = {T {x}, year = {1}", 4, "unbalanced"),
    ("% see @article below\n", 1, "'@' in a comment"),
    ("@article{a, author = {H\\'enon, M.}, title = {T}, year = {1}}", 1, "LaTeX command"),
    ("@article{a, author = {A, B}, title = {T}, year = {1}}\n"
     "@article{a, author = {A, B}, title = {T}, year = {1}}", 2, "duplicate key 'a'"),
    ("@article{a, author = {A, B}, title = {T}, title = {U}, year = {1}}", 1, "duplicate field"),
    ("text\n", 1, "outside an entry"),
])
def test_parse_bibtex_errors_name_file_and_line(text, line, message):
    with pytest.raises(CitationError, match=message) as info:
        parse_bibtex(text, "refs.bib")
    assert (info.value.path, info.value.line) == ("refs.bib", line)
    assert str(info.value).startswith(f"refs.bib:{line}: ")


# ----------------------------------------------------------------- the plain citations


def test_author_year_short_full_and_letters():
    names = author_year(ENTRIES)
    assert names["henon1976"] == ("Hénon", "Hénon", "1976")
    assert names["two2020a"] == ("Sussillo and Barak", "Sussillo and Barak", "2020a")
    assert names["two2020b"][2] == "2020b"
    assert names["many1990"][:2] == ("Blelloch et al.", "Blelloch, Two and Three")


@pytest.mark.parametrize("role, plain", [
    ("{cite:t}`henon1976`", "Hénon (1976)"),
    ("{footcite:t}`henon1976`", "Hénon (1976)"),
    ("{cite:p}`henon1976,lorenz1963`", "(Hénon 1976; Lorenz 1963)"),
    ("{footcite:p}`henon1976, lorenz1963`", "(Hénon 1976; Lorenz 1963)"),
    ("{cite}`two2020a`", "(Sussillo and Barak 2020a)"),
    ("{footcite}`many1990`", "(Blelloch et al. 1990)"),
    ("{cite:ps}`many1990`", "(Blelloch, Two and Three 1990)"),
    ("{cite:ts}`many1990`", "Blelloch, Two and Three (1990)"),
    ("{footcite:t}`henon1976,lorenz1963,many1990`",
     "Hénon (1976), Lorenz (1963) and Blelloch et al. (1990)"),
])
def test_each_role_form_becomes_plain_text(role, plain):
    out = plain_citations(_chapter(f"# See {role} here."), ENTRIES)
    assert f"# See {plain} here." in out


def test_parenthetical_citation_after_a_word_gets_a_space():
    text = _chapter("# The map{footcite:p}`henon1976`, then (as{cite:p}`lorenz1963`)")
    out = plain_citations(text, ENTRIES)
    assert "# The map (Hénon 1976), then (as (Lorenz 1963))" in out


def test_several_roles_on_one_line_and_code_cells_untouched():
    out = plain_citations(_chapter("# {cite:t}`henon1976` and {cite:t}`lorenz1963`."), ENTRIES)
    assert "# Hénon (1976) and Lorenz (1963)." in out
    assert "x = 1  # {footcite:p}`in_code_stays`" in out


def test_bibliography_directive_becomes_the_cited_works_sorted():
    text = _chapter("# {cite:t}`lorenz1963` and {footcite:p}`henon1976,two2020b`.",
                    "# ## References\n#\n# ```{footbibliography}\n# ```")
    out = plain_citations(text, ENTRIES)
    listing = re.findall(r"^# \* (.*)$", out, flags=re.M)
    assert listing == [
        "Hénon, M. (1976). A two-dimensional mapping with a strange attractor. "
        "*Communications in Mathematical Physics*, 50(1), 69\u201377.",
        "Lorenz, E. N. (1963). Deterministic nonperiodic flow. "
        "https://doi.org/10.1000/example",
        "Sussillo, D. and Barak, O. (2020b). Second. In *Some Conference*.",
    ]
    assert "footbibliography" not in out and "```" not in out
    assert out.count("\n") == text.count("\n") + 1  # two fence lines became three items


def test_bibliography_directive_with_options_is_replaced():
    text = _chapter("# {cite:p}`many1990`",
                    "# ```{bibliography}\n# :filter: docname in docnames\n# ```")
    out = plain_citations(text, ENTRIES)
    assert "# * Blelloch, G. E., Two, B. and Three, C. (1990). Prefix sums. Technical report " \
           "CMU-CS-90-190, CMU." in out
    assert "filter" not in out


def test_unknown_key_names_file_and_line():
    text = _chapter("# fine", "# also {cite:p}`henon1976,nobody2000`")
    line = text.splitlines().index("# also {cite:p}`henon1976,nobody2000`") + 1
    with pytest.raises(CitationError, match="cites 'nobody2000'") as info:
        plain_citations(text, ENTRIES, "exercises/x.py")
    assert (info.value.path, info.value.line) == ("exercises/x.py", line)
    with pytest.raises(CitationError, match=rf"solutions/x.py:{line}: cites 'nobody2000', "
                                            r"which is not in book/references.bib"):
        check_citations(text, ENTRIES, "solutions/x.py", "book/references.bib")


@pytest.mark.parametrize("markdown, message", [
    ("# {cite:alp}`henon1976`", "not supported"),
    ("# {cite:p}`henon1976", "malformed citation role"),
    ("# {cite:p}`henon1976,`", "empty citation key"),
])
def test_malformed_roles_are_errors(markdown, message):
    with pytest.raises(CitationError, match=message):
        find_citations(_chapter(markdown), "solutions/x.py")


def test_check_citations_wants_a_reference_list_and_a_closed_directive():
    with pytest.raises(CitationError, match="no reference list"):
        check_citations(_chapter("# {cite:t}`henon1976`"), ENTRIES)
    with pytest.raises(CitationError, match="not closed"):
        check_citations(_chapter("# {cite:t}`henon1976`", "# ```{footbibliography}"), ENTRIES)
    check_citations(_chapter("# {cite:t}`henon1976`", "# ```{footbibliography}\n# ```"), ENTRIES)


def test_release_reports_an_unknown_key_and_writes_nothing(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "references.bib").write_text(SMALL_BIB, encoding="utf-8")
    source = tmp_path / "solutions" / "01_x.py"
    source.write_text(_chapter("# {footcite:t}`henon1976`", "# {footcite:p}`missing1999`",
                               "# ```{footbibliography}\n# ```"), encoding="utf-8")
    with pytest.raises(CitationError, match=r"solutions/01_x.py:\d+: cites 'missing1999'"):
        release(tmp_path)
    assert not (tmp_path / "exercises").exists()
    source.write_text(source.read_text().replace("missing1999", "lorenz1963"))
    release(tmp_path)
    template = (tmp_path / "exercises" / "01_x.py").read_text(encoding="utf-8")
    assert "Hénon (1976)" in template and "# * Lorenz, E. N. (1963)." in template
    assert "{footcite" in (tmp_path / "solutions" / "01_x.ipynb").read_text()  # the book's


# ------------------------------------------------------------ the real bib file

def test_format_citation_of_the_real_bib_file():
    names = author_year(load_bibliography(BIB))
    assert format_citation("t", ["henon1976"], names) == "Hénon (1976)"
    assert format_citation("p", ["benettin1980a", "benettin1980b"], names) == \
        "(Benettin et al. 1980a; Benettin et al. 1980b)"


def test_a_book_is_listed_with_its_series_publisher_and_doi():
    entry = load_bibliography(BIB)["lai2011"]
    assert format_reference(entry) == (
        "Lai, Y.-C. and Tél, T. (2011). Transient Chaos: Complex Dynamics on Finite-Time "
        "Scales. Applied Mathematical Sciences 173. Springer. "
        "https://doi.org/10.1007/978-1-4419-6987-3")
