"""A Sphinx extension for the course's Jupyter Book: the exercise box of each chapter.

Every chapter page is built from ``solutions/NAME.ipynb``. Below its title this extension
puts a box "Exercise" with

* a link "download NAME.ipynb" to the exercise template ``exercises/NAME.ipynb``, which
  Sphinx copies into the HTML output (``_downloads/``), so the link also works from disk;
* when the repository is configured (Jupyter Book's ``repository: url:`` and ``branch:``
  in ``book/_config.yml``, which it passes on as ``html_theme_options["repository_url"]``
  and ``["repository_branch"]``), the links "Open in Colab" and "Launch Binder", which
  open the exercise notebook, never the solution (the theme's own launch buttons stay
  off: they would open the page's source, the solution).

Load it with ``sphinx: extra_extensions: [course_utils.authoring.book]``. A malformed repository
URL stops the build with an error naming the key and the value; a chapter without its
exercise template is a warning (an error with ``-W``). ``import course_utils`` does not
import this module, and the URL logic lives in :mod:`course_utils.authoring.repository`.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from .repository import Repository, binder_url, colab_url, make_repository

__all__ = ["chapter_of", "launch_links", "repository_of", "setup"]

BOX_CLASS = "course-exercise"
URL_KEY = "repository.url in book/_config.yml (html_theme_options['repository_url'])"
BRANCH_KEY = "repository.branch in book/_config.yml (html_theme_options['repository_branch'])"


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


def _check_repository(app) -> None:
    from sphinx.errors import ConfigError

    try:
        repository_of(app.config.html_theme_options)
    except ValueError as error:
        raise ConfigError(str(error)) from None


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
    text = nodes.paragraph("", "", download, nodes.Text(
        ": the notebook to work on, with a cell of your own code for each task. This page "
        "shows the solutions, each behind a \u201cShow solution\u201d button."))
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
    """Register the extension with Sphinx: check the repository configuration when the
    builder starts, add the exercise box to each chapter as it is read (before Sphinx
    collects the files to download), and its launch links as it is written; leave out
    the unused thebe scripts. Returns the extension's metadata (version, parallel
    safety).
    """
    app.connect("builder-inited", _check_repository)
    app.connect("doctree-read", _add_exercise_box, priority=400)
    app.connect("doctree-resolved", _add_launch_links)
    app.connect("html-page-context", _drop_thebe)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
