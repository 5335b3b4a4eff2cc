"""A Sphinx extension for the course's Jupyter Book: the exercise box of each chapter, and
the solutions published on a schedule.

Every chapter page is built from ``solutions/NAME.ipynb``. Below its title this extension
puts a box "Exercise" with

* a link "download NAME.ipynb" to the exercise template ``exercises/NAME.ipynb``, which
  Sphinx copies into the HTML output (``_downloads/``), so the link also works from disk;
* when the repository is configured (Jupyter Book's ``repository: url:`` and ``branch:``
  in ``book/_config.yml``, which it passes on as ``html_theme_options["repository_url"]``
  and ``["repository_branch"]``), the links "Open in Colab" and "Launch Binder", which
  open the exercise notebook, never the solution (the theme's own launch buttons stay
  off: they would open the page's source, the solution).

It also publishes the solutions on a schedule. The Sphinx configuration value
``course_solutions_release`` (``sphinx: config:`` in ``book/_config.yml``) maps chapter names
to dates ``YYYY-MM-DD``; a chapter not named there is released. Until its date (while
"today", the build machine's date or the environment variable ``COURSE_BOOK_TODAY``, is
earlier) a chapter's page is built as the exercise: its text, the outputs of the code cells
before its first task, every code cell's source, except that each task cell shows the
exercise template's cell (``# your code here`` and the ``NotImplementedError``), and no
outputs from the first task on; the written answers (the ``<details class="course-answer">``
blocks of :func:`course_utils.notebook_format.to_ipynb`, and markdown cells marked as answers)
are left out, and so is the page's source download. The solutions are removed from the
document that Sphinx reads, after MyST-NB has run the notebook (:func:`withhold_solutions`),
so the execution cache stays valid and nothing withheld reaches the HTML, the search index
or the copied images. A chapter whose release state changes is read again on the next build.

Load it with ``sphinx: extra_extensions: [course_utils.authoring.book]``. A malformed repository
URL, release date or ``COURSE_BOOK_TODAY``, or a release date for no chapter, stops the build
with an error naming the key and the value; a chapter without its exercise template is a
warning (an error with ``-W``), and so is a question whose written answer cannot be found to
withhold. ``import course_utils`` does not import this module, and the URL logic lives in
:mod:`course_utils.authoring.repository`.
"""

from __future__ import annotations

import json
import os
import re
from bisect import bisect_right
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path, PurePosixPath

from ..notebook_format import ANSWER_CLOSE, ANSWER_OPEN, METADATA_KEY, PLACEHOLDER, \
    placeholder_error
from .repository import Repository, binder_url, colab_url, make_repository

__all__ = ["RELEASE_KEY", "TODAY_VARIABLE", "chapter_of", "launch_links", "repository_of",
           "parse_date", "release_dates", "build_today", "withheld_chapters", "template_tasks",
           "withhold_solutions", "setup"]

BOX_CLASS = "course-exercise"
WITHHELD_CLASS = "course-withheld"  # a task cell showing the template instead of the solution
URL_KEY = "repository.url in book/_config.yml (html_theme_options['repository_url'])"
BRANCH_KEY = "repository.branch in book/_config.yml (html_theme_options['repository_branch'])"
RELEASE_KEY = "course_solutions_release"
RELEASE_SETTING = f"{RELEASE_KEY} in book/_config.yml (sphinx: config:)"
TODAY_VARIABLE = "COURSE_BOOK_TODAY"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ENV_WITHHELD = "course_solutions_withheld"  # on Sphinx's environment: the last build's state
_APP_WITHHELD = "_course_solutions_withheld"  # on the Sphinx application: this build's


def chapter_of(docname: str, source: str | Path) -> str | None:
    """The chapter name ``NAME`` of the page ``docname`` when it is built from
    ``solutions/NAME.ipynb`` (its ``source`` file), else None.
    """
    path = PurePosixPath(docname)
    if path.parent.as_posix() == "solutions" and Path(source).suffix == ".ipynb":
        return path.name
    return None


def repository_of(theme_options: dict) -> Repository | None:
    """The :class:`~course_utils.authoring.repository.Repository` configured in Sphinx's
    ``html_theme_options`` (``repository_url``, ``repository_branch``), or None when the URL
    is unset or empty. A malformed value raises ``ValueError`` naming ``repository.url`` /
    ``repository.branch`` and the value.
    """
    return make_repository(theme_options.get("repository_url"),
                           theme_options.get("repository_branch"),
                           url_key=URL_KEY, branch_key=BRANCH_KEY)


def launch_links(name: str, repository: Repository | None) -> list[tuple[str, str]]:
    """The launch links of chapter ``name``'s exercise notebook, a list of
    ``(label, address)`` pairs: "Open in Colab" and "Launch Binder", or none when
    ``repository`` is None (not configured).
    """
    if repository is None:
        return []
    path = f"exercises/{name}.ipynb"
    return [("Open in Colab", colab_url(repository, path)),
            ("Launch Binder", binder_url(repository, path))]


# --- the release schedule (pure) -------------------------------------------------------------

def parse_date(value: object, *, key: str) -> date:
    """The date ``value`` gives: a :class:`datetime.date` (YAML reads an unquoted
    ``2026-05-04`` as one) or a string ``YYYY-MM-DD``. Anything else (a time of day, another
    format, an impossible date) raises ``ValueError`` naming ``key`` and the value.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{key} must be a date YYYY-MM-DD; got {value!r}")


def release_dates(value: object, chapters: set[str] | None = None) -> dict[str, date]:
    """The release date of each chapter named in ``value``, the configuration value
    ``course_solutions_release`` (a mapping chapter name -> date; None or empty: every
    chapter is released). With ``chapters`` (the names of ``solutions/NAME.ipynb``), a name
    that is not among them raises ``ValueError``, as a misspelt name would otherwise release
    its chapter; so does a value that is no mapping, or a malformed date (naming the key).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{RELEASE_SETTING} must map chapter names to dates YYYY-MM-DD, "
                         f"e.g. {{02_keras_rnn_lyapunov: 2026-05-04}}; got {value!r}")
    dates = {}
    for name, when in value.items():
        if not isinstance(name, str) or (chapters is not None and name not in chapters):
            known = ", ".join(sorted(chapters or ()))
            raise ValueError(f"{RELEASE_SETTING} names {name!r}, which is no chapter "
                             f"(solutions/NAME.ipynb: {known})")
        dates[name] = parse_date(when, key=f"{RELEASE_SETTING}, chapter {name}")
    return dates


def build_today(environ: Mapping[str, str] | None = None) -> date:
    """The build's "today": the environment variable ``COURSE_BOOK_TODAY`` (``YYYY-MM-DD``)
    of ``environ`` (default ``os.environ``) when it is set and not empty, else the machine's
    local date. A malformed value raises ``ValueError`` naming the variable.
    """
    value = (os.environ if environ is None else environ).get(TODAY_VARIABLE, "")
    if not value.strip():
        return date.today()
    return parse_date(value, key=f"the environment variable {TODAY_VARIABLE}")


def withheld_chapters(dates: Mapping[str, date], today: date) -> dict[str, date]:
    """The chapters whose solutions are withheld on ``today``, each with its release date:
    those of ``dates`` whose date is later than ``today`` (on the date itself a chapter is
    released).
    """
    return {name: when for name, when in sorted(dates.items()) if today < when}


# --- withholding a chapter's solutions ----------------------------------------------------

def _course(metadata: object) -> dict:
    value = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _text(source: object) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def template_tasks(path: str | Path) -> dict[str, str]:
    """The source of each task cell of the exercise template at ``path`` (an ``.ipynb``),
    by task id (the cell's ``course_utils`` metadata ``task``); empty when the file does not
    exist.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return {_course(cell.get("metadata"))["task"]: _text(cell.get("source")).rstrip("\n")
            for cell in notebook.get("cells", [])
            if cell.get("cell_type") == "code" and _course(cell.get("metadata")).get("task")}


def _cell_starts(notebook: Mapping) -> list[int]:
    """The line before each cell's first line as MyST-NB numbers a notebook's lines: its
    ``source_map``, else ``(index + 1) * 10000`` (myst_nb.core.nb_to_tokens)."""
    source_map = notebook.get("metadata", {}).get("source_map")
    return list(source_map) if source_map else [
        (index + 1) * 10000 for index in range(len(notebook.get("cells", [])))]


def _show_template(cell, source: str) -> None:
    """A task cell's container showing ``source``, open, in place of the solution's code."""
    from docutils import nodes

    for literal in cell.findall(nodes.literal_block):
        literal.rawsource = source  # what Sphinx highlights
        del literal[:]
        literal += nodes.Text(source)
        literal.get("highlight_args", {}).pop("hl_lines", None)
    for key in ("hide_mode", "prompt_show", "prompt_hide"):
        cell.attributes.pop(key, None)
    cell["classes"] = [c for c in cell["classes"] if c != "tag_hide-input"] + [WITHHELD_CLASS]


def withhold_solutions(doctree, notebook: Mapping, template: Mapping[str, str]) -> list[str]:
    """Remove the solutions from ``doctree``, a chapter's document as MyST-NB read the
    executed ``notebook`` (its JSON, as a dict): from the first task cell on, every code
    cell loses its outputs and each task cell shows ``template[task id]`` (the exercise's
    cell, see :func:`template_tasks`; else ``# your code here`` and the placeholder's
    ``NotImplementedError``), open; the code cells before keep their outputs. Every written
    answer goes: each ``<details class="course-answer">`` block and each markdown cell
    marked ``{"answer": id}``. Returns the problems found, one sentence each: a question
    (a markdown cell marked ``{"question": id}``) whose answer was not found, an answer
    block that is not closed.
    """
    from docutils import nodes

    problems: list[str] = []
    cells = notebook.get("cells", [])
    starts = _cell_starts(notebook)

    def cell_of(node) -> int | None:
        return bisect_right(starts, node.line - 1) - 1 if node.line else None

    code = [node for node in doctree.findall(nodes.container)
            if node.get("nb_element") == "cell_code"]
    first = min((node["cell_index"] for node in code
                 if _course(node.get("cell_metadata")).get("task")), default=None)
    for cell in code:
        if first is None or cell["cell_index"] < first:
            continue
        for output in [child for child in cell.children if isinstance(child, nodes.Element)
                       and child.get("nb_element") == "cell_code_output"]:
            cell.remove(output)
        task = _course(cell.get("cell_metadata"))
        if task.get("task"):
            title = str(task.get("title") or task["task"])
            _show_template(cell, template.get(task["task"])
                           or f"{PLACEHOLDER}\n{placeholder_error(title)}")

    answered: set[int | None] = set()  # the cells whose answer blocks went
    while True:
        opening = next((node for node in doctree.findall(nodes.raw)
                        if node.astext().lstrip().startswith(ANSWER_OPEN)), None)
        if opening is None:
            break
        parent, start = opening.parent, opening.parent.index(opening)
        end = start if ANSWER_CLOSE in opening.astext().lstrip()[len(ANSWER_OPEN):] else next(
            (k for k in range(start + 1, len(parent)) if isinstance(parent[k], nodes.raw)
             and parent[k].astext().strip() == ANSWER_CLOSE), None)
        if end is None:
            problems.append(f"the answer block at line {opening.line} is not closed; "
                            "everything after it is left out")
            end = len(parent) - 1
        answered.add(cell_of(opening))
        del parent[start:end + 1]

    answer_cells = {index: _course(cell.get("metadata"))["answer"]
                    for index, cell in enumerate(cells) if cell.get("cell_type") == "markdown"
                    and _course(cell.get("metadata")).get("answer")}
    doomed = [node for node in doctree.findall(nodes.Element)
              if not isinstance(node, (nodes.document, nodes.section))
              and node.line and cell_of(node) in answer_cells]
    marked = {id(node) for node in doomed}
    for node in doomed:
        ancestor = node.parent
        while ancestor is not None and id(ancestor) not in marked:
            ancestor = ancestor.parent
        if ancestor is None and node.parent is not None:
            node.parent.remove(node)

    for index, cell in enumerate(cells):
        question = _course(cell.get("metadata")).get("question")
        if (cell.get("cell_type") == "markdown" and question and index not in answered
                and question not in answer_cells.values()):
            problems.append(f"question {question} (cell {index}) has no written answer to "
                            "withhold (no answer block in its cell, no answer cell)")
    return problems


# --- the Sphinx side ---------------------------------------------------------------------

def _check_repository(app) -> None:
    from sphinx.errors import ConfigError

    try:
        repository_of(app.config.html_theme_options)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _withheld(app) -> dict[str, date]:
    """The chapters withheld in this build (name -> release date), worked out once, so that
    a build running past midnight treats every page alike; ``ValueError`` on a malformed
    configuration or ``COURSE_BOOK_TODAY``."""
    withheld = getattr(app, _APP_WITHHELD, None)
    if withheld is None:
        chapters = {path.stem for path in (Path(app.srcdir) / "solutions").glob("*.ipynb")}
        withheld = withheld_chapters(release_dates(app.config[RELEASE_KEY], chapters),
                                     build_today())
        setattr(app, _APP_WITHHELD, withheld)
    return withheld


def _check_release(app) -> None:
    from sphinx.errors import ConfigError

    try:
        _withheld(app)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _release_changed(app, env, added, changed, removed) -> list[str]:
    """The chapters to read again: those whose release state (or date) differs from the
    last build's, which Sphinx's environment remembers."""
    now = {name: when.isoformat() for name, when in _withheld(app).items()}
    before = getattr(env, _ENV_WITHHELD, None)
    setattr(env, _ENV_WITHHELD, now)
    if before == now:
        return []
    flipped = (None if before is None  # an environment from before: every chapter
               else {name for name, _ in set(before.items()) ^ set(now.items())})
    return sorted(doc for doc in env.found_docs
                  if (name := chapter_of(doc, env.doc2path(doc))) is not None
                  and (flipped is None or name in flipped))


def _withhold(app, doctree) -> None:
    """At reading: an unreleased chapter's document without its solutions."""
    from sphinx.util import logging

    docname = app.env.docname
    source = app.env.doc2path(docname)
    name = chapter_of(docname, source)
    if name is None or name not in _withheld(app):
        return
    notebook = json.loads(Path(source).read_text(encoding="utf-8"))
    template = template_tasks(Path(app.srcdir) / "exercises" / f"{name}.ipynb")
    for problem in withhold_solutions(doctree, notebook, template):
        logging.getLogger(__name__).warning(f"chapter {docname}: {problem}", location=docname)


def _without_sources(buttons: list) -> list:
    kept = []
    for button in buttons:
        if isinstance(button, dict) and "_sources" in str(button.get("url", "")):
            continue
        if isinstance(button, dict) and isinstance(button.get("buttons"), list):
            button = {**button, "buttons": _without_sources(button["buttons"])}
        kept.append(button)
    return kept


def _drop_source_download(app, pagename, templatename, context, doctree) -> None:
    """An unreleased chapter's page neither copies its source (the solution notebook) into
    ``_sources/`` nor links to it (the theme's download buttons)."""
    if pagename not in app.env.found_docs:
        return
    name = chapter_of(pagename, app.env.doc2path(pagename))
    if name is None or name not in _withheld(app):
        return
    if context.get("sourcename"):
        (Path(app.outdir) / "_sources" / context["sourcename"]).unlink(missing_ok=True)
        context["sourcename"] = ""
    context["header_buttons"] = _without_sources(context.get("header_buttons") or [])


def _add_exercise_box(app, doctree) -> None:
    """At reading: the box, with the download link (Sphinx collects and copies the file)."""
    from docutils import nodes
    from sphinx import addnodes
    from sphinx.util import logging

    docname = app.env.docname
    name = chapter_of(docname, app.env.doc2path(docname))
    if name is None:
        return
    target = f"exercises/{name}.ipynb"
    if not (Path(app.srcdir) / target).is_file():
        logging.getLogger(__name__).warning(
            f"chapter {docname} has no exercise template {target} (run the release tool)",
            location=docname)
        return
    title = next(iter(doctree.findall(nodes.title)), None)
    if title is None or not isinstance(title.parent, nodes.section):
        logging.getLogger(__name__).warning(f"chapter {docname} has no title", location=docname)
        return
    download = addnodes.download_reference(
        "", "", nodes.Text("download "), nodes.literal("", f"{name}.ipynb"), reftarget=f"/{target}",
        refdoc=docname, refdomain="", reftype="download", refexplicit=True)
    release = _withheld(app).get(name)
    shown = ("This page shows the solutions, each behind a \u201cShow solution\u201d button."
             if release is None else
             f"The solutions appear on this page on {release.isoformat()}.")
    text = nodes.paragraph("", "", download, nodes.Text(
        ": the notebook to work on, with a cell of your own code for each task. " + shown))
    box = nodes.admonition("", nodes.title("", "Exercise"), text, classes=["tip", BOX_CLASS])
    section = title.parent
    section.insert(section.index(title) + 1, box)


def _add_launch_links(app, doctree, docname) -> None:
    """At writing: the launch links, from the configuration of this build."""
    from docutils import nodes

    name = chapter_of(docname, app.env.doc2path(docname))
    links = launch_links(name, repository_of(app.config.html_theme_options)) if name else []
    if not links:
        return
    for box in doctree.findall(nodes.admonition):
        if BOX_CLASS in box["classes"]:
            row = nodes.paragraph()
            for k, (label, address) in enumerate(links):
                if k:
                    row += nodes.Text(" \u00b7 ")
                row += nodes.reference("", label, refuri=address, classes=["course-launch"])
            box += row


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    """Without thebe (``launch_buttons: thebe: false``), leave out sphinx-thebe's scripts,
    which Jupyter Book adds to every page: they name thebe's CDN, and declare a constant
    twice (an error in the browser's console)."""
    if app.config.html_theme_options.get("launch_buttons", {}).get("thebe"):
        return
    context["script_files"] = [
        script for script in context.get("script_files", [])
        if not str(getattr(script, "filename", script) or "").endswith("sphinx-thebe.js")
        and "THEBE_JS_URL" not in getattr(script, "attributes", {}).get("body", "")]


def setup(app) -> dict:
    """Register the extension with Sphinx: the configuration value ``course_solutions_release``
    (a change re-reads every page); check it, ``COURSE_BOOK_TODAY`` and the repository
    configuration when the builder starts; read again the chapters whose release state
    changed since the last build; add the exercise box to each chapter and withhold an
    unreleased chapter's solutions as it is read (before Sphinx collects the files to
    download and the images to copy), add the box's launch links as it is written; leave out
    the unused thebe scripts, and an unreleased chapter's source download. Returns the
    extension's metadata (version, parallel safety).
    """
    app.add_config_value(RELEASE_KEY, {}, "env", types=[dict])
    app.connect("builder-inited", _check_repository)
    app.connect("builder-inited", _check_release)
    app.connect("env-get-outdated", _release_changed)
    app.connect("doctree-read", _add_exercise_box, priority=400)
    app.connect("doctree-read", _withhold, priority=400)
    app.connect("doctree-resolved", _add_launch_links)
    app.connect("html-page-context", _drop_thebe)
    app.connect("html-page-context", _drop_source_download, priority=600)  # after the theme's
    return {"version": "1.1", "parallel_read_safe": True, "parallel_write_safe": True}
