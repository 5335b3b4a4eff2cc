"""The authors' tools: what turns the solution sources into the course's notebooks and book.

For whoever writes or changes a chapter. :mod:`~course_utils.authoring.release` generates
the exercise templates and paired notebooks from ``solutions/*.py`` (``make release``,
``python -m course_utils.authoring.release``); :mod:`~course_utils.authoring.citations`
checks the chapters' citations against ``book/references.bib`` and writes them as plain
text in the templates; :mod:`~course_utils.authoring.book` is the Sphinx extension that
gives each chapter of the book its exercise box; :mod:`~course_utils.authoring.repository`
turns the book's repository settings into Colab, Binder and install links;
:mod:`~course_utils.authoring.execution` executes the book's notebooks in parallel into
its execution cache before Sphinx renders them (``make book``). Students and the grader
never import this package; it needs the ``authoring`` extra (Jupytext, nbformat, PyYAML),
and the Sphinx extension and the executor the ``book`` extra.
"""
