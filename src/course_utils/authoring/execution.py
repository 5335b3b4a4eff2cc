"""Execute the book's notebooks in parallel into its jupyter-cache, before Sphinx renders them.

The book executes its chapters in MyST-NB's ``cache`` mode (``execute_notebooks: cache``
in ``book/_config.yml``): while Sphinx reads a notebook, MyST-NB looks it up in the
jupyter-cache ``<path-output>/_build/.jupyter_cache`` and executes it only when no cached
run matches, one notebook after another. ``make book`` therefore first runs

    python -m course_utils.authoring.execution . --config book/_config.yml \\
        --toc book/_toc.yml --path-output book [--jobs N]

which executes every notebook of the table of contents that the cache lacks, ``--jobs``
at a time (default ``os.cpu_count()``), and stores each run as MyST-NB does: the notebook
read and staged the way MyST-NB reads and stages it (its reader, its kernel aliases, the
notebook's ``mystnb`` metadata), executed by jupyter-cache's ``single_nb_execution`` with
the book's ``timeout`` and ``allow_errors`` in the notebook's folder, and cached with
jupyter-cache's own hashing (the code cells and the kernelspec). ``jupyter-book build``
then finds every notebook cached and executes none. A notebook the cache already holds is
not executed again.

Each kernel runs with one BLAS/OpenMP thread (:data:`KERNEL_THREADS`: OpenMP, OpenBLAS,
MKL and TensorFlow's thread pools), so that the notebooks running side by side do not
fight over the cores, and in the caller's mode (``make book`` unsets ``COURSE_QUICK``:
full mode). The executor talks to each kernel over ZeroMQ's IPC transport, Unix sockets in
a private temporary folder (:func:`kernel_config`), instead of TCP ports on localhost: no
port can be taken by a kernel starting at the same moment, and ipykernel has no reason to
warn that the kernel "is running over TCP without encryption" (where ZeroMQ lacks IPC, on
Windows, the kernel manager encrypts TCP with CurveZMQ keys instead). The longest
notebooks start first: by the execution time jupyter-cache recorded for a notebook's
earlier run, else in the order :data:`SLOW_FIRST` (then the table of contents' order).
One line is printed per notebook when it finishes and a summary at the end; a failed
notebook's error (the failing cell and its traceback) is printed once all have finished,
and the command exits with status 1. Requires the ``book`` extra (Jupyter Book brings
MyST-NB, jupyter-cache and nbclient).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path, PurePosixPath
from tempfile import TemporaryDirectory
from typing import Mapping, Sequence, TextIO

try:  # the book extra
    import nbformat
    import zmq
    from jupyter_book.config import get_final_config
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.cache.db import NbProjectRecord
    from jupyter_cache.executors.utils import single_nb_execution
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.nb_to_tokens import nb_node_to_dict
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig
    from sphinx_external_toc.parsing import parse_toc_yaml
    from traitlets.config import Config
except ImportError as missing:  # pragma: no cover - the book extra installs them
    raise ImportError(f"course_utils.authoring.execution needs the book extra "
                      f"(pip install -e '.[book]'): {missing}") from missing

__all__ = ["KERNEL_THREADS", "kernel_config", "SLOW_FIRST", "BookNotebook", "Outcome",
           "book_settings", "book_notebooks", "read_as_mystnb", "recorded_seconds",
           "schedule", "execute_notebooks", "main"]

#: The environment of every kernel: one thread for OpenMP (PyTorch's intra-op pool), the
#: BLAS libraries and TensorFlow's intra- and inter-op pools.
KERNEL_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
#: The chapters that start first when jupyter-cache has recorded no earlier run of them,
#: slowest first: chapter 03 trains the STF model that chapter 06 takes from the model
#: cache after training its GTF model, so both start at once. Names that are not in the
#: table of contents are ignored.
SLOW_FIRST = ("03_stf_lorenz", "06_gtf_lorenz", "05_single_variable_reconstruction")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")   # the colours of IPython's tracebacks


@dataclass(frozen=True)
class BookNotebook:
    """A notebook of the book as MyST-NB stages it in ``cache`` mode."""

    path: Path                        # absolute, as Sphinx names the document's source
    name: str                         # the path relative to the book's source folder
    notebook: nbformat.NotebookNode   # as MyST-NB reads it, kernel aliases applied
    read_fmt: dict | None             # MyST-NB's reader data for jupyter-cache
    config: NbParserConfig            # the book's MyST-NB settings, with the notebook's own

    @property
    def chapter(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class Outcome:
    """How a notebook's execution ended: its name, the seconds it ran, and for a failure
    the error message (the failing cell and its traceback) and jupyter-cache's traceback
    string; ``error`` is None when it succeeded."""

    name: str
    seconds: float
    error: str | None = None
    traceback: str | None = None


def book_settings(source: str | Path = ".", *, config: str | Path = "book/_config.yml",
                  toc: str | Path = "book/_toc.yml",
                  path_output: str | Path = "book") -> tuple[NbParserConfig, Path]:
    """The MyST-NB settings of the book in the folder ``source`` (default ``"."``) with
    the Jupyter Book configuration ``config`` and table of contents ``toc`` (defaults
    ``book/_config.yml`` and ``book/_toc.yml``, relative to the current folder as
    ``jupyter-book build`` takes them), translated by Jupyter Book itself, and the
    jupyter-cache folder that MyST-NB uses for an HTML build into ``path_output`` (default
    ``book``): the configuration's ``execute: cache:`` when set, else
    ``<path_output>/_build/.jupyter_cache``, made absolute from the current folder. A
    missing file raises ``FileNotFoundError`` naming the option.
    """
    source, config, toc = Path(source), Path(config), Path(toc)
    for option, path, is_dir in (("source", source, True), ("--config", config, False),
                                 ("--toc", toc, False)):
        if not (path.is_dir() if is_dir else path.is_file()):
            raise FileNotFoundError(f"{option}: no {'folder' if is_dir else 'file'} {path}")
    sphinx_config, _ = get_final_config(
        user_yaml=config, sourcedir=source.absolute(),
        cli_config={"external_toc_path": toc.as_posix(), "latex_individualpages": False})
    values = {name: sphinx_config[f"nb_{name}"] for name, _, field in
              NbParserConfig().as_triple()
              if not field.metadata.get("sphinx_exclude") and f"nb_{name}" in sphinx_config}
    settings = NbParserConfig(**values)
    cache = settings.execution_cache_path or Path(path_output) / "_build" / ".jupyter_cache"
    return settings, Path(cache).resolve()


def book_notebooks(source: str | Path, toc: str | Path,
                   settings: NbParserConfig | None = None) -> list[Path]:
    """The notebooks of the table of contents ``toc`` (a ``_toc.yml``) of the book in the
    folder ``source``, in the order of the table, as absolute paths: the documents whose
    source is a ``.ipynb`` file, or has a suffix of MyST-NB's ``custom_formats`` in
    ``settings`` (default: none); the table's globs are expanded as Sphinx sorts them.
    """
    source = Path(source).resolve()
    suffixes = [".ipynb", *(settings.custom_formats if settings else {})]
    site_map = parse_toc_yaml(toc)
    docnames = list(site_map)
    for pattern in sorted(site_map.globs()):
        docnames += sorted(str(p.relative_to(source).with_suffix("")).replace(os.sep, "/")
                           for suffix in suffixes for p in source.glob(pattern + suffix))
    found: list[Path] = []
    for docname in docnames:
        for suffix in suffixes:
            path = source / (docname + suffix)
            if path.is_file() and path not in found:
                found.append(path)
                break
    return found


def read_as_mystnb(path: str | Path, settings: NbParserConfig,
                   source: str | Path = ".") -> BookNotebook:
    """The notebook at ``path`` as MyST-NB's Sphinx parser (``myst_nb.sphinx_.Parser``)
    prepares it before its cache lookup: the file's text (UTF-8) read by the reader that
    ``myst_nb.core.read.create_nb_reader`` picks for its suffix, the kernel name replaced by
    the first of ``settings.kernel_rgx_aliases`` that matches it, and ``settings`` updated
    from the notebook's own metadata (``settings.metadata_key``, ``mystnb``); ``source``
    (default ``"."``) is the book's folder, which its name is relative to.
    """
    path = Path(path).resolve()
    text = path.read_text(encoding="utf-8-sig")   # Sphinx's source_encoding
    reader = create_nb_reader(str(path), MdParserConfig(), settings, text)
    if reader is None:
        raise ValueError(f"path: {path} is not a notebook that MyST-NB reads")
    notebook = reader.read(text)
    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    if kernel is not None:
        for pattern, alias in (settings.kernel_rgx_aliases or {}).items():
            if re.fullmatch(pattern, kernel):
                notebook.metadata["kernelspec"]["name"] = alias
                break
    if settings.metadata_key in notebook.metadata:
        overrides = nb_node_to_dict(notebook.metadata[settings.metadata_key])
        overrides.pop("output_folder", None)
        settings = settings.copy(**overrides)
    try:
        name = path.relative_to(Path(source).resolve()).as_posix()
    except ValueError:
        name = path.as_posix()
    return BookNotebook(path, name, notebook, reader.read_fmt, settings)


def recorded_seconds(cache, paths: Sequence[str | Path]) -> dict[str, float]:
    """The execution time in seconds that the jupyter-cache ``cache`` recorded for the
    newest cached run of each notebook in ``paths`` (by its absolute path, else by its file
    name, as when the repository was checked out elsewhere), keyed by chapter name (the
    file's stem); notebooks without a recorded run are left out."""
    newest_by_uri: dict[str, tuple[int, float]] = {}
    newest_by_name: dict[str, tuple[int, float]] = {}
    for record in cache.list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if not isinstance(seconds, (int, float)):
            continue
        for table, key in ((newest_by_uri, record.uri), (newest_by_name, Path(record.uri).name)):
            if key not in table or table[key][0] < record.pk:
                table[key] = (record.pk, float(seconds))
    found = {}
    for path in map(Path, paths):
        hit = newest_by_uri.get(str(path)) or newest_by_name.get(path.name)
        if hit is not None:
            found[path.stem] = hit[1]
    return found


def schedule(chapters: Sequence[str], seconds: Mapping[str, float], *,
             first: Sequence[str] = SLOW_FIRST) -> list[str]:
    """The order in which to start the notebooks ``chapters`` (chapter names, in the table
    of contents' order), longest first: those without a recorded time that ``first``
    (default :data:`SLOW_FIRST`) names, in its order; then those with a recorded time in
    ``seconds`` (chapter name to seconds), the longest first (ties in the table's order);
    then the rest in the table's order. A negative or non-finite time raises ``ValueError``
    naming the chapter.
    """
    for chapter, value in seconds.items():
        if not (isinstance(value, (int, float)) and 0 <= value < float("inf")):
            raise ValueError(f"seconds[{chapter!r}] must be a finite time >= 0; got {value!r}")
    chapters = list(chapters)
    unknown = [c for c in chapters if c not in seconds]
    slow = [c for c in first if c in unknown]
    timed = sorted((c for c in chapters if c in seconds),
                   key=lambda c: (-seconds[c], chapters.index(c)))
    return slow + timed + [c for c in unknown if c not in slow]


def kernel_config(folder: str | Path) -> dict:
    """The kernel manager's configuration (traitlets, as a dict) for a kernel whose ZeroMQ
    sockets live in the private folder ``folder``: the IPC transport with the sockets
    ``<folder>/kernel-1`` to ``-5`` where ZeroMQ supports it (Linux, macOS), else TCP with
    CurveZMQ keys provisioned by the kernel manager for a kernelspec that declares
    ``supported_encryption: curve`` (ipykernel's does). Either way ipykernel has no reason
    to warn that the kernel "is running over TCP without encryption".
    """
    if zmq.has("ipc"):
        return {"KernelManager": {"transport": "ipc", "ip": str(Path(folder, "kernel"))}}
    return {"KernelManager": {"transport_encryption": "auto"}}


def _execute(notebook: str, cwd: str, timeout: int | None, allow_errors: bool,
             in_temp: bool) -> tuple[str, float, str | None, str | None]:
    """In a worker process: execute the notebook (nbformat JSON text) as MyST-NB does, with
    one thread per kernel and its sockets in a private folder; return the executed
    notebook's JSON, the seconds, and for a failure its message and traceback."""
    os.environ.update(KERNEL_THREADS)          # the kernel inherits this process's environment
    nb = nbformat.reads(notebook, as_version=4)
    start = time.perf_counter()
    try:
        with TemporaryDirectory(prefix="kernel-") as sockets, \
                TemporaryDirectory() if in_temp else nullcontext(cwd) as folder:
            result = single_nb_execution(nb, cwd=os.path.abspath(folder), timeout=timeout,
                                         allow_errors=allow_errors, meta_override=True,
                                         config=Config(kernel_config(sockets)))
    except Exception as error:  # the kernel died or did not start: not a cell's error
        return "", time.perf_counter() - start, f"{type(error).__name__}: {error}", \
            traceback.format_exc()
    message = None if result.err is None else _ANSI.sub("", str(result.err)).strip()
    return nbformat.writes(result.nb), result.time, message, result.exc_string


def execute_notebooks(source: str | Path = ".", *, config: str | Path = "book/_config.yml",
                      toc: str | Path = "book/_toc.yml", path_output: str | Path = "book",
                      jobs: int | None = None, out: TextIO | None = None,
                      err: TextIO | None = None) -> list[Outcome]:
    """Execute the notebooks of the book (``source``, ``config``, ``toc`` and
    ``path_output`` as for :func:`book_settings`) that its jupyter-cache lacks, ``jobs`` at
    a time (default ``os.cpu_count()``), longest first (:func:`schedule`), and cache every
    successful run as MyST-NB does; a failed run is recorded on the notebook's project
    record, as MyST-NB records it. Prints one line per notebook to ``out`` (default
    stdout) as it finishes, then a summary with the wall time, and each failure's error to
    ``err`` (default stderr). Returns the outcomes of the executed notebooks, in the order
    they finished (empty when every notebook was cached, or when the book's
    ``execute_notebooks`` is not ``cache``: then MyST-NB does not read the cache, and this
    says so and executes nothing). A ``jobs`` below 1 raises ``ValueError``.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1; got {jobs!r}")
    settings, cache_path = book_settings(source, config=config, toc=toc, path_output=path_output)
    if settings.execution_mode != "cache":
        print(f"execute.execute_notebooks in {config} is {settings.execution_mode!r}, not "
              f"'cache': MyST-NB does not read the jupyter-cache, nothing to execute here",
              file=out, flush=True)
        return []
    cache = get_cache(str(cache_path))
    staged: dict[str, BookNotebook] = {}
    cached = 0
    for path in book_notebooks(source, toc, settings):
        item = read_as_mystnb(path, settings, source)
        if item.config.execution_mode != "cache" or any(
                PurePosixPath(path.as_posix()).match(p)
                for p in item.config.execution_excludepatterns):
            continue                          # MyST-NB does not execute it into the cache
        try:
            cache.match_cache_notebook(item.notebook)
            cached += 1
            continue
        except KeyError:
            if item.chapter in staged:
                raise ValueError(f"toc: two notebooks named {item.chapter}: "
                                 f"{staged[item.chapter].name} and {item.name}") from None
            staged[item.chapter] = item
    mode = "quick" if os.environ.get("COURSE_QUICK") else "full"
    if not staged:
        print(f"all {cached} notebooks are cached ({cache_path}): nothing to execute",
              file=out, flush=True)
        return []
    order = schedule(list(staged), recorded_seconds(cache, [i.path for i in staged.values()]))
    jobs = min(jobs, len(order))
    print(f"executing {len(order)} notebooks ({cached} cached), {jobs} at a time, {mode} "
          f"mode, into {cache_path}", file=out, flush=True)
    for item in staged.values():              # staged as MyST-NB stages it, tracebacks reset
        record = cache.add_nb_to_project(str(item.path), **(
            {"read_data": item.read_fmt} if item.read_fmt is not None else {}))
        NbProjectRecord.remove_tracebacks([record.pk], cache.db)
    start = time.perf_counter()
    outcomes: list[Outcome] = []
    width = max(len(staged[c].name) for c in order)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = {}
        for chapter in order:                 # the pool starts them in this order
            item = staged[chapter]
            futures[pool.submit(_execute, nbformat.writes(item.notebook),
                                str(item.path.parent), item.config.execution_timeout,
                                item.config.execution_allow_errors,
                                item.config.execution_in_temp)] = item
        try:
            for future in as_completed(futures):
                item = futures[future]
                executed, seconds, message, trace = future.result()
                if message is None:
                    cache.cache_notebook_bundle(
                        CacheBundleIn(nbformat.reads(executed, as_version=4), str(item.path),
                                      data={"execution_seconds": seconds}),
                        check_validity=False, overwrite=True)
                else:
                    NbProjectRecord.set_traceback(str(item.path), trace, cache.db)
                outcomes.append(Outcome(item.name, seconds, message, trace))
                print(f"[{len(outcomes)}/{len(order)}] {item.name:<{width}} {seconds:8.1f} s  "
                      f"{'ok' if message is None else 'FAILED'}", file=out, flush=True)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    wall = time.perf_counter() - start
    failed = [o for o in outcomes if o.error is not None]
    print(f"executed {len(outcomes)} notebooks in {wall:.0f} s ({wall / 60:.1f} minutes) "
          f"wall time, {jobs} at a time; {len(failed)} failed", file=out, flush=True)
    for outcome in failed:
        print(f"\n{outcome.name} failed:\n{outcome.error}", file=err, flush=True)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.authoring.execution",
        description="Execute the book's notebooks that its jupyter-cache lacks, in parallel, "
                    "into that cache (then `jupyter-book build` executes none).")
    parser.add_argument("source", nargs="?", default=".",
                        help="the book's source folder, as for jupyter-book build (default: .)")
    parser.add_argument("--config", default="book/_config.yml",
                        help="Jupyter Book configuration (default: book/_config.yml)")
    parser.add_argument("--toc", default="book/_toc.yml",
                        help="table of contents (default: book/_toc.yml)")
    parser.add_argument("--path-output", default="book",
                        help="jupyter-book's --path-output, whose _build/.jupyter_cache is "
                             "the cache (default: book)")
    parser.add_argument("--jobs", type=int, default=None,
                        help=f"notebooks at a time (default: the number of cores, "
                             f"{os.cpu_count()})")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be at least 1; got {args.jobs}")
    try:
        outcomes = execute_notebooks(args.source, config=args.config, toc=args.toc,
                                     path_output=args.path_output, jobs=args.jobs)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = [o.name for o in outcomes if o.error is not None]
    if failed:
        print(f"\nerror: {len(failed)} notebook(s) failed: {', '.join(failed)} "
              "(their errors are above); the book is not built", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from course_utils.authoring.execution import main as _main  # the workers' module

    sys.exit(_main())
