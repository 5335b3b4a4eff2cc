"""The book's parallel executor (course_utils.authoring.execution), on tiny books of a few
python3 notebooks in a temporary folder with their own jupyter-cache: the order it starts
notebooks in, its jobs and the kernels' environment (one thread, the notebook's folder),
that a cached notebook is not executed again, that MyST-NB's own cache lookup finds what it
stored, that a failing notebook stops the command with the cell's error, and that no
kernel warns about unencrypted TCP. The real book's settings are read as a check that the
executor and the Makefile agree with book/_config.yml and book/_toc.yml."""

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from course_utils.authoring import execution
from course_utils.authoring.execution import (KERNEL_THREADS, SLOW_FIRST, book_notebooks,
                                              book_settings, execute_notebooks, kernel_config,
                                              read_as_mystnb, recorded_seconds, schedule)

ROOT = Path(__file__).resolve().parents[2]
TCP_WARNING = "running over TCP without encryption"

WAIT_FOR = """\
import pathlib, time
pathlib.Path("{me}.started").touch()
other, deadline = pathlib.Path("{other}.started"), time.time() + 20
while not other.exists() and time.time() < deadline:
    time.sleep(0.05)
print("ran beside {other}:", other.exists())
"""
SHOW_ENVIRONMENT = """\
import json, os
from ipykernel.kernelapp import IPKernelApp
kernel = IPKernelApp.instance()
names = {names!r} + ["COURSE_QUICK"]
print(json.dumps({{"env": {{n: os.environ.get(n) for n in names}}, "cwd": os.getcwd(),
                  "transport": kernel.transport, "ip": kernel.ip}}))
"""


def make_book(folder: Path, notebooks: dict[str, list[str]], *, timeout: int = 60) -> Path:
    """A Jupyter Book in ``folder``: an intro page and the notebooks ``nbs/NAME.ipynb``
    (a markdown title, then one code cell per string), in the given order."""
    (folder / "nbs").mkdir(parents=True)
    (folder / "_config.yml").write_text(
        "title: tiny\nexclude_patterns: [out, _build]\n"
        f"execute:\n  execute_notebooks: cache\n  timeout: {timeout}\n  allow_errors: false\n")
    chapters = "".join(f"  - file: nbs/{name}\n" for name in notebooks)
    (folder / "_toc.yml").write_text(f"format: jb-book\nroot: intro\nchapters:\n{chapters}")
    (folder / "intro.md").write_text("# Tiny book\n")
    for name, cells in notebooks.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}")] +
                                      [nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3",
                                  "language": "python"}
        nbformat.write(nb, folder / "nbs" / f"{name}.ipynb")
    return folder


def options(book: Path) -> dict:
    return {"config": book / "_config.yml", "toc": book / "_toc.yml",
            "path_output": book / "out"}


def cached_outputs(book: Path, name: str) -> str:
    """The text the cached run of ``nbs/NAME.ipynb`` printed (its code cells' streams)."""
    from jupyter_cache import get_cache

    settings, cache = book_settings(book, **options(book))
    item = read_as_mystnb(book / "nbs" / f"{name}.ipynb", settings, book)
    _, merged = get_cache(str(cache)).merge_match_into_notebook(item.notebook)
    return "".join(o.get("text", "") for c in merged.cells if c.cell_type == "code"
                   for o in c.outputs)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """A book of three notebooks executed once in full mode with os.cpu_count() = 2: two
    that wait for each other, and one that prints its kernel's environment."""
    book = make_book(tmp_path_factory.mktemp("book"), {
        "left": [WAIT_FOR.format(me="left", other="right")],
        "right": [WAIT_FOR.format(me="right", other="left")],
        "environment": [SHOW_ENVIRONMENT.format(names=list(KERNEL_THREADS))],
    })
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(execution.os, "cpu_count", lambda: 2)
        patch.delenv("COURSE_QUICK", raising=False)
        for name in KERNEL_THREADS:
            patch.setenv(name, "7")           # the kernels get 1 whatever the caller has
        outcomes = execute_notebooks(book, **options(book), out=out, err=err)
    return book, outcomes, out.getvalue(), err.getvalue()


# --- the order -----------------------------------------------------------------------------

def test_longest_recorded_time_starts_first():
    chapters = ["a", "b", "c", "d"]
    assert schedule(chapters, {"a": 3.0, "b": 50.0, "c": 7.5, "d": 50.0}, first=()) == \
        ["b", "d", "c", "a"]                  # ties in the table's order


def test_without_recorded_times_the_slow_chapters_start_first_then_the_table_order():
    toc = ["01_henon_keras_rnn", "02_keras_rnn_lyapunov", "03_stf_lorenz",
           "04_plrnn_max_lyapunov", "05_single_variable_reconstruction", "06_gtf_lorenz",
           "07_rnn_fixed_points", "08_lru_modal_dynamics"]
    order = schedule(toc, {})
    assert order[:2] == ["03_stf_lorenz", "06_gtf_lorenz"]
    assert order == list(SLOW_FIRST) + [c for c in toc if c not in SLOW_FIRST]
    # a recorded time beats the table, the listed slow chapters beat both
    assert schedule(toc, {"01_henon_keras_rnn": 18.0, "06_gtf_lorenz": 20.0}) == [
        "03_stf_lorenz", "05_single_variable_reconstruction", "06_gtf_lorenz",
        "01_henon_keras_rnn", "02_keras_rnn_lyapunov", "04_plrnn_max_lyapunov",
        "07_rnn_fixed_points", "08_lru_modal_dynamics"]
    assert schedule(["x", "03_stf_lorenz"], {}) == ["03_stf_lorenz", "x"]
    with pytest.raises(ValueError, match=r"seconds\['x'\] must be a finite time >= 0; got -1"):
        schedule(["x"], {"x": -1})


def test_the_slow_chapters_are_notebooks_of_the_book():
    settings, _ = book_settings(ROOT, config=ROOT / "book" / "_config.yml",
                                toc=ROOT / "book" / "_toc.yml")
    notebooks = book_notebooks(ROOT, ROOT / "book" / "_toc.yml", settings)
    chapters = [p.stem for p in notebooks]
    assert set(SLOW_FIRST) <= set(chapters) and len(chapters) >= 8
    assert all(p.parent == ROOT / "solutions" and p.suffix == ".ipynb" for p in notebooks)
    assert chapters == sorted(chapters)       # the table's order


def test_recorded_times_are_read_from_the_cache(executed):
    from jupyter_cache import get_cache

    book, outcomes, _, _ = executed
    _, cache = book_settings(book, **options(book))
    paths = [book / "nbs" / f"{name}.ipynb" for name in ("left", "right", "environment")]
    seconds = recorded_seconds(get_cache(str(cache)), paths)
    ran = {Path(o.name).stem: o.seconds for o in outcomes}
    assert seconds == pytest.approx(ran) and set(seconds) == {"left", "right", "environment"}
    moved = recorded_seconds(get_cache(str(cache)), [Path("/elsewhere/nbs/left.ipynb")])
    assert moved == pytest.approx({"left": ran["left"]})   # found by the file's name


# --- execution -----------------------------------------------------------------------------

def test_notebooks_run_side_by_side_on_every_core_with_one_thread_each(executed):
    book, outcomes, out, err = executed
    assert [o.error for o in outcomes] == [None, None, None], err
    header, *lines, summary = out.strip().splitlines()
    assert header.startswith("executing 3 notebooks (0 cached), 2 at a time, full mode")
    assert len(lines) == 3 and all(line.rstrip().endswith(" s  ok") for line in lines)
    assert {line.split()[1] for line in lines} == {"nbs/left.ipynb", "nbs/right.ipynb",
                                                   "nbs/environment.ipynb"}
    assert summary.startswith("executed 3 notebooks in ") and "0 failed" in summary
    assert "ran beside right: True" in cached_outputs(book, "left")
    assert "ran beside left: True" in cached_outputs(book, "right")
    shown = json.loads(cached_outputs(book, "environment"))
    assert shown["env"] == {**KERNEL_THREADS, "COURSE_QUICK": None}
    assert Path(shown["cwd"]) == (book / "nbs").resolve()
    assert shown["transport"] == "ipc"        # Unix sockets in a private folder, no TCP port
    sockets = Path(shown["ip"])
    assert sockets.name == "kernel" and sockets.parent.name.startswith("kernel-")
    assert not sockets.parent.exists()        # removed after the run


def test_kernels_use_ipc_sockets_in_their_folder_else_curve_encryption(monkeypatch):
    assert kernel_config("/tmp/kernel-x") == {
        "KernelManager": {"transport": "ipc", "ip": "/tmp/kernel-x/kernel"}}
    monkeypatch.setattr(execution.zmq, "has", lambda feature: feature != "ipc")  # Windows
    assert kernel_config("C:/t") == {"KernelManager": {"transport_encryption": "auto"}}


def test_a_cached_notebook_is_not_executed_again(executed):
    book, *_ = executed
    out = io.StringIO()
    assert execute_notebooks(book, **options(book), jobs=2, out=out) == []
    assert out.getvalue().startswith("all 3 notebooks are cached")


def test_mystnb_finds_what_the_executor_cached(executed):
    """MyST-NB's own cache client, given the notebook as its Sphinx parser reads it, uses
    the cached run: it logs "Using cached notebook" and executes nothing."""
    from myst_nb.core.execute import create_client
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig

    class Logger:
        def __init__(self):
            self.lines = []

        def __getattr__(self, level):
            return lambda msg, *args, **kwargs: self.lines.append(f"{level}: {msg}")

    book, *_ = executed
    settings, cache = book_settings(book, **options(book))
    settings = settings.copy(execution_cache_path=str(cache))
    for name in ("left", "environment"):
        path = book / "nbs" / f"{name}.ipynb"
        text = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), MdParserConfig(), settings, text)
        logger = Logger()
        with create_client(reader.read(text), str(path), settings, logger,
                           reader.read_fmt) as client:
            outputs = client.notebook.cells[1].outputs
        assert any(line.startswith("info: Using cached notebook") for line in logger.lines), \
            logger.lines
        assert not any("Executing" in line for line in logger.lines)
        assert outputs and client.exec_metadata["succeeded"]


def test_a_failing_notebook_stops_the_command_with_the_cells_error(tmp_path):
    """Through the command, as `make book` runs it (quick mode passed on): the failing
    notebook is named with its cell and error, the other one still runs and is cached, the
    exit status is 1, and no kernel warns about TCP without encryption."""
    book = make_book(tmp_path, {
        "broken": ["x = 1", "raise ValueError('boom 42: the cell failed')"],
        "fine": ["print('fine')"],
    })
    command = [sys.executable, "-m", "course_utils.authoring.execution", str(book),
               "--config", str(book / "_config.yml"), "--toc", str(book / "_toc.yml"),
               "--path-output", str(book / "out")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COURSE_QUICK": "1"})
    assert result.returncode == 1, result.stdout + result.stderr
    print(result.stdout, result.stderr)
    assert "2 at a time, quick mode" in result.stdout
    assert "nbs/broken.ipynb" in result.stdout and "FAILED" in result.stdout
    assert "nbs/broken.ipynb failed:" in result.stderr
    assert "raise ValueError('boom 42: the cell failed')" in result.stderr
    assert "ValueError: boom 42: the cell failed" in result.stderr
    assert "\x1b[" not in result.stderr           # no terminal colours
    assert "1 notebook(s) failed: nbs/broken.ipynb" in result.stderr
    assert TCP_WARNING not in result.stdout + result.stderr
    assert cached_outputs(book, "fine") == "fine\n"


def test_without_the_kernel_configuration_the_kernel_warns():
    """The control of the test above: a kernel started as MyST-NB starts it, without
    :func:`kernel_config`, prints the warning that the executor's kernels do not."""
    script = textwrap.dedent("""
        import nbformat
        from jupyter_cache.executors.utils import single_nb_execution
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
        nb.metadata.kernelspec = {"name": "python3", "display_name": "P", "language": "python"}
        assert single_nb_execution(nb, cwd=".", timeout=60, allow_errors=False).err is None
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert TCP_WARNING in result.stdout + result.stderr


def test_bad_input_is_named(tmp_path, capsys):
    book = make_book(tmp_path, {"a": ["1"]})
    with pytest.raises(ValueError, match=r"^jobs must be a whole number >= 1; got 0$"):
        execute_notebooks(book, **options(book), jobs=0)
    with pytest.raises(FileNotFoundError, match=r"^--toc: no file .*missing.yml$"):
        execute_notebooks(book, **{**options(book), "toc": book / "missing.yml"})
    (book / "_config.yml").write_text("execute:\n  execute_notebooks: force\n")
    assert execute_notebooks(book, **options(book)) == []      # MyST-NB executes itself
    assert "is 'force', not 'cache'" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        execution.main([str(book), "--jobs", "0"])
    assert "--jobs must be at least 1; got 0" in capsys.readouterr().err


# --- the book ------------------------------------------------------------------------------

def test_the_book_target_executes_before_it_builds_with_the_same_cache(tmp_path):
    settings, cache = book_settings(ROOT, config=ROOT / "book" / "_config.yml",
                                    toc=ROOT / "book" / "_toc.yml", path_output=tmp_path)
    assert cache == tmp_path.resolve() / "_build" / ".jupyter_cache"   # where MyST-NB looks
    assert settings.execution_mode == "cache" and settings.execution_timeout == 1800
    assert settings.execution_allow_errors is False and settings.execution_in_temp is False
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\nbook:")[1].split("\n\n")[0].replace("\\\n", " ")
    commands = [" ".join(line.split()) for line in target.splitlines()[1:] if line.strip()]
    executor = next(i for i, c in enumerate(commands) if "course_utils.authoring.execution" in c)
    build = next(i for i, c in enumerate(commands) if "$(JB)" in c)
    assert executor < build
    for command in (commands[executor], commands[build]):
        assert command.startswith("env -u COURSE_QUICK") and "--path-output book" in command
    assert "--config book/_config.yml --toc book/_toc.yml" in commands[executor]
    jupyter_book = makefile.split("\nJB")[1].split("\n")[0]
    assert "--config book/_config.yml --toc book/_toc.yml" in jupyter_book


def test_a_book_not_executed_from_the_cache_gets_nothing_executed(tmp_path, capsys):
    """With ``execute_notebooks: off`` (or ``force``) MyST-NB does not read the cache:
    the command says so and executes nothing, and ``make book`` goes on to render."""
    import yaml

    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    config["execute"] = {"execute_notebooks": "off"}
    path = tmp_path / "_config.yml"
    path.write_text(yaml.safe_dump(config))
    outcomes = execution.execute_notebooks(ROOT, config=path, toc=ROOT / "book" / "_toc.yml",
                                           path_output=tmp_path / "out")
    assert outcomes == [] and "'off'" in capsys.readouterr().out
    assert not (tmp_path / "out" / "_build" / ".jupyter_cache").exists()
