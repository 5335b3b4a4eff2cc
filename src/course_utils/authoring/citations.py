"""Citations in the chapters, and their plain-text form in the exercise templates.

The chapters cite the works in ``book/references.bib`` with MyST roles in the markdown
cells of the solution sources, and end with a ``## References`` cell whose
``{footbibliography}`` directive lists the works cited in that chapter::

    # The QR method {footcite:p}`benettin1980a,benettin1980b` keeps ...
    # {footcite:t}`sussillo2013` found such points ...

    # %% [markdown]
    # ## References
    #
    # ```{footbibliography}
    # ```

The book (Sphinx with sphinxcontrib-bibtex) renders them as footnotes, local to each
chapter. The exercise templates are read in plain Jupyter, where roles show raw, so the
release tool (:mod:`course_utils.authoring.release`) rewrites them with :func:`plain_citations`:
``{footcite:t}`henon1976``` becomes "Hénon (1976)", ``{footcite:p}`henon1976,lorenz1963```
becomes "(Hénon 1976; Lorenz 1963)", and the bibliography directive becomes a markdown list
of the works the template cites, formatted from the ``.bib`` file.

:func:`parse_bibtex` reads the subset of BibTeX that ``references.bib`` uses (see the
comment at its top), without a dependency: one entry per work, ``name = {value}`` fields
(or ``"value"``, or a bare number), ``%`` comments between entries, names as ``Last, First
and Last, First``, UTF-8 characters rather than LaTeX commands. Anything else, and every
citation of a key that the file lacks, raises :class:`CitationError` naming the file and
the line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..notebook_format import parse_percent

__all__ = [
    "CitationError",
    "BibEntry",
    "Citation",
    "parse_bibtex",
    "load_bibliography",
    "author_year",
    "format_reference",
    "format_citation",
    "find_citations",
    "check_citations",
    "plain_citations",
]

#: A citation role: ``{cite:p}`a,b```, ``{footcite:t}`a```, ``{cite}`a``` ...
ROLE = re.compile(r"\{(?P<role>(?:foot)?cite)(?::(?P<form>[a-z]+))?\}`(?P<keys>[^`]*)`")
#: Anything that starts like a citation role (to catch malformed ones).
ROLE_START = re.compile(r"\{(?:foot)?cite\b")
#: The opening fence of a bibliography directive, after the cell's "# " prefix.
DIRECTIVE = re.compile(
    r"^(?P<prefix>#\s?)(?P<fence>`{3,}|:{3,})\{(?P<name>(?:foot)?bibliography)\}")
#: Roles the plain-text form knows: parenthetical and textual, short or full author list.
FORMS = {None: "p", "p": "p", "t": "t", "ps": "ps", "ts": "ts"}
TYPES = ("article", "book", "inproceedings", "incollection", "techreport")


class CitationError(ValueError):
    """A citation, a bibliography directive or the ``.bib`` file is malformed, or a key is
    missing; the message names the file and the line."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.path = str(path)
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


@dataclass(frozen=True)
class BibEntry:
    """One work of the ``.bib`` file: its key, its type, its fields (names in lower case,
    values with the case-protecting braces removed and ``--`` as an en dash) and the line
    where it starts."""

    key: str
    type: str
    fields: dict[str, str] = field(default_factory=dict)
    line: int = 0

    @property
    def authors(self) -> list[tuple[str, str]]:
        """The authors as ``(last, first)`` pairs, in order."""
        return _names(self.fields.get("author", ""))


@dataclass(frozen=True)
class Citation:
    """One citation role in a text: where it is, which form (``"p"``, ``"t"``, ``"ps"`` or
    ``"ts"``) and which keys it cites."""

    line: int
    start: int
    end: int
    form: str
    keys: tuple[str, ...]


# ----------------------------------------------------------------------------- reading


def parse_bibtex(text: str, path: str | Path = "<bib>") -> dict[str, BibEntry]:
    """A dict mapping each key to its :class:`BibEntry`, read from the BibTeX ``text``.

    Reads the BibTeX subset described in the module's docstring, in file order. ``path``
    only names the file in errors: a :class:`CitationError` with the line of an unknown
    entry type, a duplicate key or field, a missing ``author``, ``title`` or ``year``, an
    unbalanced brace, a LaTeX command, or text outside an entry that is not a ``%`` comment.
    """
    entries: dict[str, BibEntry] = {}
    pos, n = 0, len(text)

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    while pos < n:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char == "%":
            end = text.find("\n", pos)
            if "@" in text[pos:None if end < 0 else end]:
                raise CitationError(path, line_of(pos), "'@' in a comment: BibTeX (and so the "
                                    "book) reads it as the start of an entry")
            pos = n if end < 0 else end + 1
        elif char == "@":
            start = pos
            match = re.compile(r"@(\w+)\s*\{\s*([^,\s{}]+)\s*,").match(text, pos)
            if not match:
                raise CitationError(path, line_of(pos), "expected '@type{key,' to start an entry")
            kind, key = match.group(1).lower(), match.group(2)
            if kind not in TYPES:
                raise CitationError(path, line_of(pos), f"entry type @{kind} is not read here; "
                                    f"use one of {', '.join('@' + t for t in TYPES)}")
            if key in entries:
                raise CitationError(path, line_of(pos), f"duplicate key {key!r} (first on line "
                                    f"{entries[key].line})")
            fields, pos = _parse_fields(text, match.end(), path, line_of)
            for required in ("author", "title", "year"):
                if required not in fields:
                    raise CitationError(path, line_of(start), f"entry {key!r} has no {required}")
            entries[key] = BibEntry(key, kind, fields, line_of(start))
        else:
            raise CitationError(path, line_of(pos), f"unexpected {char!r} outside an entry "
                                "(comments start with '%')")
    return entries


def _parse_fields(text, pos, path, line_of) -> tuple[dict[str, str], int]:
    """The fields of one entry from ``pos`` (after ``@type{key,``) to its closing brace."""
    fields: dict[str, str] = {}
    name_re = re.compile(r"\s*(?:(\})|([A-Za-z][\w-]*)\s*=\s*)")
    while True:
        match = name_re.match(text, pos)
        if not match:
            raise CitationError(path, line_of(pos), "expected 'name = {value}' or the entry's "
                                "closing '}'")
        if match.group(1):
            return fields, match.end()
        name, pos = match.group(2).lower(), match.end()
        if name in fields:
            raise CitationError(path, line_of(pos), f"duplicate field {name!r}")
        if pos < len(text) and text[pos] == "{":
            depth, end = 0, pos
            while end < len(text):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                if depth == 0:
                    break
                end += 1
            if depth:
                raise CitationError(path, line_of(pos), f"unbalanced braces in field {name!r}")
            raw, pos = text[pos + 1:end], end + 1
        elif pos < len(text) and text[pos] == '"':
            end = text.find('"', pos + 1)
            if end < 0:
                raise CitationError(path, line_of(pos), f"unclosed quote in field {name!r}")
            raw, pos = text[pos + 1:end], end + 1
        else:
            number = re.compile(r"\d+").match(text, pos)
            if not number:
                raise CitationError(path, line_of(pos), f"field {name!r}: write the value in "
                                    "braces, {...}")
            raw, pos = number.group(0), number.end()
        if "\\" in raw:
            raise CitationError(path, line_of(pos), f"field {name!r} holds a LaTeX command; "
                                "write the character itself (UTF-8)")
        fields[name] = " ".join(raw.replace("{", "").replace("}", "").replace("--", "\u2013")
                                .split())
        after = re.compile(r"\s*(,|(?=\}))").match(text, pos)
        if not after:
            raise CitationError(path, line_of(pos), f"expected ',' or '}}' after field {name!r}")
        pos = after.end()


def _names(value: str) -> list[tuple[str, str]]:
    """``"Last, First and Last, First"`` (or ``"First Last"``) as ``(last, first)`` pairs."""
    people = []
    for name in re.split(r"\s+and\s+", value.strip()) if value.strip() else []:
        if "," in name:
            last, first = (part.strip() for part in name.split(",", 1))
        else:
            *first_names, last = name.split()
            first = " ".join(first_names)
        people.append((last, first))
    return people


def load_bibliography(path: str | Path) -> dict[str, BibEntry]:
    """The entries of the ``.bib`` file at ``path`` (see :func:`parse_bibtex`, whose errors
    name this path)."""
    path = Path(path)
    return parse_bibtex(path.read_text(encoding="utf-8"), path)


# -------------------------------------------------------------------------- formatting


def author_year(entries: Mapping[str, BibEntry]) -> dict[str, tuple[str, str, str]]:
    """For each key of ``entries``, ``(short, full, year)`` for author-year text.

    ``short`` is "Hénon", "Sussillo and Barak" or "Benettin et al."; ``full`` names every
    author ("Benettin, Galgani, Giorgilli and Strelcyn"). Works whose short name and year
    coincide get the letters a, b, ... after the year, in the order of the file.
    """
    names: dict[str, tuple[str, str, str]] = {}
    for key, entry in entries.items():
        lasts = [last for last, _ in entry.authors]
        full = lasts[0] if len(lasts) == 1 else ", ".join(lasts[:-1]) + " and " + lasts[-1]
        short = full if len(lasts) <= 2 else lasts[0] + " et al."
        names[key] = (short, full, entry.fields["year"])
    groups: dict[tuple[str, str], list[str]] = {}
    for key, (short, _, year) in names.items():
        groups.setdefault((short, year), []).append(key)
    for keys in groups.values():
        if len(keys) > 1:
            for letter, key in zip("abcdefghijklmnopqrstuvwxyz", keys):
                short, full, year = names[key]
                names[key] = (short, full, year + letter)
    return names


def format_citation(form: str, keys: tuple[str, ...] | list[str],
                    names: Mapping[str, tuple[str, str, str]]) -> str:
    """The plain text of one citation of ``keys``.

    ``form`` is ``"p"`` (parenthetical: "(Hénon 1976; Lorenz 1963)"), ``"t"`` (textual:
    "Hénon (1976) and Lorenz (1963)"), or ``"ps"`` / ``"ts"`` (the same with every author
    named); ``names`` is :func:`author_year` of the bibliography.
    """
    who = 1 if form.endswith("s") else 0
    parts = [(names[k][who], names[k][2]) for k in keys]
    if form.startswith("p"):
        return "(" + "; ".join(f"{name} {year}" for name, year in parts) + ")"
    texts = [f"{name} ({year})" for name, year in parts]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


def format_reference(entry: BibEntry, year: str | None = None) -> str:
    """One markdown line for a reference list, for ``entry``.

    For example "Sussillo, D. and Barak, O. (2013). Opening the black box: ... *Neural
    Computation*, 25(3), 626–649." ``year`` overrides the entry's year (to carry the
    letter of :func:`author_year`); a ``doi`` field adds its link.
    """
    f = entry.fields
    people = [f"{last}, {_initials(first)}".rstrip(", ") for last, first in entry.authors]
    authors = people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]
    text = f"{authors} ({year or f['year']}). {f['title'].rstrip('.')}."
    if entry.type == "article":
        venue = [f"*{f['journal']}*"] if "journal" in f else []
        if "volume" in f:
            venue.append(f["volume"] + (f"({f['number']})" if "number" in f else ""))
        venue += [f["pages"]] if "pages" in f else []
        text += f" {', '.join(venue)}." if venue else ""
    elif entry.type in ("inproceedings", "incollection"):
        editors = [f"{_initials(first)} {last}".strip()
                   for last, first in _names(f.get("editor", ""))]
        text += " In "
        if editors:
            text += (editors[0] if len(editors) == 1 else ", ".join(editors[:-1]) + " and "
                     + editors[-1]) + (" (ed.), " if len(editors) == 1 else " (eds.), ")
        text += f"*{f.get('booktitle', '')}*"
        if "series" in f:
            text += f", {f['series']}" + (f" {f['volume']}" if "volume" in f else "")
        text += f", pp. {f['pages']}" if "pages" in f else ""
        text += f". {f['publisher']}." if "publisher" in f else "."
    elif entry.type == "book":
        if "series" in f:
            text += f" {f['series']}" + (f" {f['volume']}" if "volume" in f else "") + "."
        text += f" {f['publisher']}." if "publisher" in f else ""
    else:  # techreport
        text += " Technical report" + (f" {f['number']}" if "number" in f else "")
        text += f", {f['institution']}." if "institution" in f else "."
    if "doi" in f:
        text += f" https://doi.org/{f['doi']}"
    return text


def _ascii(text: str) -> str:
    """Lower-case ASCII for sorting: "Hénon" sorts with "Henon"."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _initials(first: str) -> str:
    """"Jean-Marie" -> "J.-M.", "Max Ingo" -> "M. I.", "Edward N." -> "E. N."."""
    return " ".join("-".join(part[0] + "." for part in word.split("-") if part)
                    for word in first.split())


# ---------------------------------------------------------------------------- citations


def _markdown_lines(text: str):
    """The markdown cells of a py:percent text, each as a list of (line number, line)."""

    _, cells = parse_percent(text)
    return [[(cell.first_line + offset, line) for offset, line in enumerate(cell.lines, 1)]
            for cell in cells if cell.kind == "markdown"]


def _line_citations(line: str, number: int, path) -> list[Citation]:
    found = []
    for match in ROLE.finditer(line):
        form = FORMS.get(match.group("form"), "")
        if not form:
            raise CitationError(path, number, f"citation role {{{match.group('role')}:"
                                f"{match.group('form')}}} is not supported here; use :p, :t, "
                                ":ps or :ts")
        keys = tuple(k.strip() for k in match.group("keys").split(","))
        if not all(keys):
            raise CitationError(path, number, f"empty citation key in {match.group(0)!r}")
        found.append(Citation(number, match.start(), match.end(), form, keys))
    starts = [m.start() for m in ROLE_START.finditer(line)]
    if len(starts) != len(found):
        raise CitationError(path, number, "malformed citation role: write {footcite:p}`key` "
                            "(or :t), on one line, keys separated by commas")
    return found


def find_citations(text: str, path: str | Path = "<solution>") -> list[Citation]:
    """The citation roles of a py:percent ``text``, as :class:`Citation` objects.

    Only markdown cells are searched. A malformed or unsupported role raises
    :class:`CitationError` with ``path`` and its line.
    """
    return [citation for cell in _markdown_lines(text) for number, line in cell
            for citation in _line_citations(line, number, path)]


def check_citations(text: str, entries: Mapping[str, BibEntry],
                    path: str | Path = "<solution>", bib: str | Path = "references.bib") -> None:
    """Check the citations of a py:percent ``text`` against the bibliography ``entries``.

    Raises :class:`CitationError` (naming ``path`` and the line) when a citation in the
    markdown of ``text`` is malformed or cites a key that ``entries`` (read from ``bib``)
    lacks, when a chapter that cites has no bibliography directive, or when a directive
    is not closed within its cell.
    """
    citations = find_citations(text, path)
    _require_keys(citations, entries, path, bib)
    directives = [number for cell in _markdown_lines(text)
                  for number, _ in _directive_blocks(cell, path)]
    if citations and not directives:
        raise CitationError(path, citations[0].line, "the chapter cites works but has no "
                            "reference list: end it with a '## References' cell holding "
                            "```{footbibliography}```")


def _require_keys(citations, entries, path, bib) -> None:
    """Raise :class:`CitationError` at the first citation of a key that ``entries`` (the
    works of ``bib``) lacks."""
    for citation in citations:
        for key in citation.keys:
            if key not in entries:
                raise CitationError(path, citation.line, f"cites {key!r}, which is not in {bib}")


def _directive_blocks(cell, path) -> list[tuple[int, tuple[int, int]]]:
    """The bibliography directives of a markdown cell (from :func:`_markdown_lines`): for
    each, the line number of its opening fence and the indices in ``cell`` of its opening
    and closing fences, ``(number, (open, close))``."""
    blocks = []
    index = 0
    while index < len(cell):
        number, line = cell[index]
        match = DIRECTIVE.match(line)
        if match:
            fence = match.group("fence")
            close = next((j for j in range(index + 1, len(cell))
                          if cell[j][1][len(match.group("prefix")):].strip() == fence), None)
            if close is None:
                raise CitationError(path, number, f"the {{{match.group('name')}}} directive "
                                    f"is not closed with {fence} within its cell")
            blocks.append((number, (index, close)))
            index = close
        index += 1
    return blocks


def plain_citations(text: str, entries: Mapping[str, BibEntry],
                    path: str | Path = "<exercise>") -> str:
    """``text`` without MyST citations: their plain-text form, and reference lists.

    In every markdown cell of the py:percent ``text``, each citation role becomes its plain
    text (:func:`format_citation`; a parenthetical one gets a space before it if it follows
    a word directly) and each ``{footbibliography}`` or ``{bibliography}`` block becomes a
    markdown list, ``# * ...``, of the works cited anywhere in ``text``, sorted by author
    and year (:func:`format_reference`). Code cells and everything else stay as they are.
    Raises :class:`CitationError` for a malformed role or an unknown key.
    """
    lines = text.split("\n")
    citations = find_citations(text, path)
    _require_keys(citations, entries, path, "the bibliography")
    names = author_year(entries)
    cited = sorted({key for c in citations for key in c.keys},
                   key=lambda k: (_ascii(names[k][1]), names[k][2]))
    for citation in sorted(citations, key=lambda c: (c.line, -c.start)):
        line = lines[citation.line - 1]
        plain = format_citation(citation.form, citation.keys, names)
        before = line[:citation.start]
        if citation.form.startswith("p") and before and not before[-1].isspace() \
                and before[-1] not in "([":
            plain = " " + plain
        lines[citation.line - 1] = before + plain + line[citation.end:]
    for cell in reversed(_markdown_lines(text)):
        for number, (open_, close) in reversed(_directive_blocks(cell, path)):
            prefix = DIRECTIVE.match(cell[open_][1]).group("prefix")
            listing = [f"{prefix}* {format_reference(entries[key], names[key][2])}"
                       for key in cited] or [f"{prefix}(No works are cited.)"]
            first, last = cell[open_][0], cell[close][0]
            lines[first - 1:last] = listing
    return "\n".join(lines)
