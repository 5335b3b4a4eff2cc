"""The release tool: templates, paired notebooks, --check, expected outputs, marker errors."""

import json
import textwrap

import pytest

from course_utils import notebooks
from course_utils.notebooks import MarkerError, expected_outputs, make_exercise, release
from course_utils.repository import make_repository, read_repository, setup_cell

HEADER = textwrap.dedent("""\
    # ---
    # jupyter:
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---
    """)

SOLUTION = HEADER + textwrap.dedent("""\

    # %% [markdown]
    # # Title
    #
    # Shown to everyone.
    # <!-- BEGIN SOLUTION -->
    # Only the solution explains this.
    # <!-- END SOLUTION -->

    # %% [markdown]
    # <!-- BEGIN SOLUTION -->
    # A cell that only the solution has.
    # <!-- END SOLUTION -->

    # %%
    def f(x):
        y = 2 * x
        # BEGIN SOLUTION Task 1 (f) [2 points]
        if y > 0:
            return y + 1
        return y
        # END SOLUTION

    # %%
    check_f(f)

    # %%
    class C:
        def g(self):
            # BEGIN SOLUTION Task 2: C.g [1.5 points]
            return 42
            # END SOLUTION

    # %%
    check_g(C)

    # %% tags=["nbval-check-output"]
    print(f(1))
    print()
    # Expected output:
    # 3
    #
    """)


def _code_cells(text):
    """The sources of the code cells of a py:percent text."""
    return ["\n".join(cell.lines) for cell in notebooks.parse_percent(text)[1]
            if cell.kind == "code"]


def _exec_task_cells(text):
    """Run the template's cells that define f and C (not the check cells: check_f is not
    defined; nor the setup cell before them)."""
    namespace = {}
    cells = _code_cells(text)
    for index in (0, 2):
        exec(cells[index + notebooks.SETUP_CELLS], namespace)
    return namespace


def test_template_replaces_regions_keeping_indentation():
    out = make_exercise(SOLUTION)
    assert "\n    # your code here\n    raise NotImplementedError(" \
           "'Task 1 (f): your code here')\n" in out
    assert "\n        # your code here\n        raise NotImplementedError(" \
           "'Task 2: C.g: your code here')\n" in out
    for gone in ("return y + 1", "return 42", "BEGIN SOLUTION", "END SOLUTION"):
        assert gone not in out
    assert "y = 2 * x" in out  # code outside the regions stays


def test_template_drops_solution_markdown_and_empty_cells():
    out = make_exercise(SOLUTION)
    assert "Shown to everyone." in out
    assert "Only the solution explains this." not in out
    assert "A cell that only the solution has." not in out
    assert out.count("# %% [markdown]") == 1


def test_template_is_valid_python_that_raises_the_named_task():
    namespace = _exec_task_cells(make_exercise(SOLUTION))
    with pytest.raises(NotImplementedError, match=r"^Task 1 \(f\): your code here$"):
        namespace["f"](1)


def test_solved_keeps_the_first_regions():
    namespace = _exec_task_cells(make_exercise(SOLUTION, solved=1))
    assert namespace["f"](1) == 3
    with pytest.raises(NotImplementedError, match="Task 2: C.g"):
        namespace["C"]().g()
    assert notebooks.solution_tasks(SOLUTION) == ["Task 1 (f)", "Task 2: C.g"]


@pytest.mark.parametrize("body, line, message", [
    ("# %%\n# BEGIN SOLUTION T\nx = 1\n", 9, "not closed"),
    ("# %%\nx = 1\n# END SOLUTION\n", 10, "without a BEGIN"),
    ("# %%\n# BEGIN SOLUTION A\n# BEGIN SOLUTION B\n# END SOLUTION\n", 10, "nested"),
    ("# %%\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", 9, "needs a task name"),
    ("# %% [markdown]\n# text\n# BEGIN SOLUTION T\n", 10, "code solution marker in a markdown"),
    ("# %%\nx = 1\n# <!-- BEGIN SOLUTION -->\n", 10, "markdown solution marker in a code"),
    ("# %% [markdown]\n# <!-- BEGIN SOLUTION -->\n# hidden\n", 9, "not closed"),
    ("# %% [markdown]\n# <!-- END SOLUTION -->\n", 9, "without a BEGIN"),
    ("# %%\n# BEGIN SOLUTION T\n\n# %%\n# END SOLUTION\n", 9, "not closed within its cell"),
])
def test_malformed_markers_name_file_and_line(body, line, message):
    with pytest.raises(MarkerError, match=message) as info:
        make_exercise(HEADER + body, "solutions/x.py")
    assert info.value.path == "solutions/x.py"
    assert info.value.line == line
    assert str(info.value).startswith(f"solutions/x.py:{line}: ")


def test_expected_outputs_are_parsed_and_required():
    assert expected_outputs(SOLUTION) == [None, None, None, None, "3\n\n"]
    untagged = HEADER + "# %%\nprint(1)\n# Expected output:\n# 1\n"
    with pytest.raises(MarkerError, match="not tagged"):
        expected_outputs(untagged, "s.py")
    missing = HEADER + '# %% tags=["nbval-check-output"]\nprint(1)\n'
    with pytest.raises(MarkerError, match="no '# Expected output:'") as info:
        expected_outputs(missing, "s.py")
    assert info.value.line == 8
    trailing_code = HEADER + '# %% tags=["nbval-check-output"]\n# Expected output:\n# 1\nx=1\n'
    with pytest.raises(MarkerError, match="must be the last thing"):
        expected_outputs(trailing_code, "s.py")


def test_nbval_notebook_carries_expected_output():
    nb = json.loads(notebooks.nbval_ipynb(SOLUTION, "solutions/x"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] for c in code[:4])
    assert code[4]["outputs"][0]["text"] in ("3\n\n", ["3\n", "\n"])
    assert code[4]["execution_count"] == 5
    assert "nbval-check-output" in code[4]["metadata"]["tags"]


def _repo(tmp_path, text=SOLUTION):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_demo.py").write_text(text)
    return tmp_path


def test_release_writes_check_passes_and_is_deterministic(tmp_path):
    repo = _repo(tmp_path)
    written = release(repo)
    names = sorted(p.relative_to(repo).as_posix() for p in written)
    assert names == ["exercises/01_demo.ipynb", "exercises/01_demo.py",
                     "solutions/01_demo.ipynb"]
    assert release(repo, check=True) == []
    before = {p: p.read_bytes() for p in written}
    assert release(repo) == []  # a second run changes nothing
    assert all(p.read_bytes() == content for p, content in before.items())
    nb = json.loads((repo / "solutions" / "01_demo.ipynb").read_text())
    assert all(not c.get("outputs") for c in nb["cells"])
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])


def test_check_names_stale_missing_and_orphaned_files(tmp_path, capsys):
    repo = _repo(tmp_path)
    release(repo)
    source = repo / "solutions" / "01_demo.py"
    source.write_text(source.read_text().replace("return 42", "return 43"))
    (repo / "exercises" / "01_demo.ipynb").unlink()
    (repo / "exercises" / "99_gone.py").write_text("# %%\n")
    assert notebooks.main(["release", "--check", "--root", str(repo)]) == 1
    err = capsys.readouterr().err
    for name in ("solutions/01_demo.ipynb", "exercises/01_demo.ipynb", "exercises/99_gone.py"):
        assert name in err
    assert "exercises/01_demo.py" not in err  # the template does not show the solution
    assert notebooks.main(["release", "--root", str(repo)]) == 0
    assert not (repo / "exercises" / "99_gone.py").exists()
    assert notebooks.main(["release", "--check", "--root", str(repo)]) == 0


def test_malformed_marker_writes_nothing(tmp_path, capsys):
    repo = _repo(tmp_path)
    (repo / "solutions" / "02_bad.py").write_text(HEADER + "# %%\n# BEGIN SOLUTION T\n")
    assert notebooks.main(["release", "--root", str(repo)]) == 2
    err = capsys.readouterr().err
    assert "solutions/02_bad.py:9:" in err and "nothing was written" in err
    assert not (repo / "exercises").exists()
    assert not (repo / "solutions" / "01_demo.ipynb").exists()


def test_release_refuses_a_source_that_is_not_gradable(tmp_path, capsys):
    # The fixture as it was before tasks had to be gradable: f and C share a cell.
    two_in_one = SOLUTION.replace("    # END SOLUTION\n\n# %%\ncheck_f(f)\n\n# %%\n",
                                  "    # END SOLUTION\n\n")
    assert "check_f" not in two_in_one  # f and C now share a cell, and task 1 has no check
    repo = _repo(tmp_path, two_in_one)
    assert notebooks.main(["release", "--root", str(repo)]) == 2
    err = capsys.readouterr().err
    line = _line_of(two_in_one, "# BEGIN SOLUTION Task 2")
    assert f"solutions/01_demo.py:{line}: a code cell may hold only one task" in err
    assert not (repo / "exercises").exists()
    assert not (repo / "solutions" / "01_demo.ipynb").exists()


# --- task_layout: the gradable tasks ------------------------------------------------------

def _line_of(text, fragment):
    """The 1-based number of the only line of ``text`` that contains ``fragment``."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(found) == 1, found
    return found[0]


def test_task_layout_of_the_fixture():
    tasks = notebooks.task_layout(SOLUTION, "solutions/01_demo.py")
    assert [t.id for t in tasks] == ["task1", "task2"]
    assert [t.title for t in tasks] == ["Task 1 (f)", "Task 2: C.g"]
    assert [t.points for t in tasks] == [2, 1.5]
    assert type(tasks[0].points) is int and type(tasks[1].points) is float
    # Code cells: 0 f, 1 check_f(f), 2 C, 3 check_g(C), 4 the printed output.
    assert [(t.code_cell, t.check_cell) for t in tasks] == [(0, 1), (2, 3)]
    assert [t.checks for t in tasks] == [("check_f",), ("check_g",)]
    assert [t.line for t in tasks] == [_line_of(SOLUTION, "BEGIN SOLUTION Task 1"),
                                       _line_of(SOLUTION, "BEGIN SOLUTION Task 2")]
    assert tasks[0].line == 25  # 7 header lines, a blank, two markdown cells, def f, y =
    # The points appear neither in the task names nor in the template's error message.
    assert notebooks.solution_tasks(SOLUTION) == ["Task 1 (f)", "Task 2: C.g"]
    template = make_exercise(SOLUTION)
    assert "raise NotImplementedError('Task 2: C.g: your code here')" in template
    assert "point" not in template


def _one_task(begin, check="check_a(a)"):
    return HEADER + f"# %%\n# BEGIN SOLUTION {begin}\na = 1\n# END SOLUTION\n\n# %%\n{check}\n"


@pytest.mark.parametrize("begin, task_id, title, points", [
    ("Task 1 (a) [1 point]", "task1", "Task 1 (a)", 1),
    ("Task 1 (a) [2.0 points]", "task1", "Task 1 (a)", 2),
    ("Task 3 (a) [ 1.5 points ]", "task3", "Task 3 (a)", 1.5),
    ("Task 03: a [10 points]", "task3", "Task 03: a", 10),
    ("Task 12 [0.25 points]", "task12", "Task 12", 0.25),
])
def test_task_layout_names_and_points(begin, task_id, title, points):
    [task] = notebooks.task_layout(_one_task(begin))
    assert (task.id, task.title, task.points) == (task_id, title, points)
    assert type(task.points) is type(points)
    assert (task.code_cell, task.check_cell, task.checks, task.line) == (0, 1, ("check_a",), 9)


def test_task_layout_collects_every_check_of_the_check_cell_and_skips_plain_cells():
    text = HEADER + textwrap.dedent("""\
        # %%
        # BEGIN SOLUTION Task 1 (a) [1 point]
        a = 1
        # END SOLUTION

        # %%
        print(a)

        # %% [markdown]
        # Text.

        # %%
        check_a(a)
        check_b(a, tol=1)
        """)
    [task] = notebooks.task_layout(text)
    assert (task.code_cell, task.check_cell, task.checks) == (0, 2, ("check_a", "check_b"))


def test_task_layout_reads_the_declarations_beside_the_points():
    text = HEADER + textwrap.dedent("""\
        # %%
        def f(model):
            # BEGIN SOLUTION Task 1 (a) [2 points] [reference: course_utils.x.f]
            #   [reference: course_utils.models.ShallowPLRNN.jacobian,
            #   [allow: torch.autograd.functional.jacobian]
            return 1
            # END SOLUTION

        # %%
        check_a(f)
        """).replace("jacobian,\n", "jacobian]\n")
    [task] = notebooks.task_layout(text)
    assert task.points == 2 and task.title == "Task 1 (a)"
    assert task.references == ("course_utils.x.f", "course_utils.models.ShallowPLRNN.jacobian")
    assert task.allowed == ("torch.autograd.functional.jacobian",)
    exercise = notebooks.make_exercise(text)
    assert "reference" not in exercise and "allow" not in exercise


def test_release_writes_the_packages_table_of_declarations(tmp_path):
    text = _one_task("Task 1 (a) [1 point] [reference: course_utils.x.f]")
    repo = _repo(tmp_path, text)
    (repo / "src" / "course_utils" / "checks").mkdir(parents=True)
    written = release(repo)
    table = repo / "src" / "course_utils" / "checks" / "declared.py"
    assert table in written
    namespace = {}
    exec(table.read_text(), namespace)
    assert namespace["TASKS"] == {"01_demo": [{
        "task": "task1", "title": "Task 1 (a)", "points": 1, "checks": ["check_a"],
        "references": ["course_utils.x.f"], "allowed": []}]}
    assert release(repo, check=True) == []
    table.write_text(table.read_text().replace("course_utils.x.f", "course_utils.x.g"))
    assert release(repo, check=True) == [table]


def test_task_layout_without_tasks_is_empty():
    assert notebooks.task_layout(HEADER + "# %%\nx = 1\n") == []


TWO_TASKS_ONE_CELL = HEADER + textwrap.dedent("""\
    # %%
    # BEGIN SOLUTION Task 1 (a) [1 point]
    a = 1
    # END SOLUTION
    # BEGIN SOLUTION Task 2 (b) [1 point]
    b = 2
    # END SOLUTION

    # %%
    check_a(a)
    """)
MISSING_POINTS = _one_task("Task 1 (a)")
POINTS_NOT_AT_THE_END = _one_task("Task 1 [1 point] (a)")
NOT_TASK_N = _one_task("the a part [1 point]")
TASK_WORD = _one_task("Task one (a) [1 point]")
DUPLICATE = HEADER + textwrap.dedent("""\
    # %%
    # BEGIN SOLUTION Task 1 (a) [1 point]
    a = 1
    # END SOLUTION

    # %%
    check_a(a)

    # %%
    # BEGIN SOLUTION Task 1 (b) [1 point]
    b = 1
    # END SOLUTION

    # %%
    check_b(b)
    """)
CALLS_ITS_CHECK = HEADER + textwrap.dedent("""\
    # %%
    # BEGIN SOLUTION Task 1 (a) [1 point]
    a = 1
    # END SOLUTION
    check_a(a)

    # %%
    check_a(a)
    """)
NO_CHECK_BEFORE_NEXT = HEADER + textwrap.dedent("""\
    # %%
    # BEGIN SOLUTION Task 1 (a) [1 point]
    a = 1
    # END SOLUTION

    # %%
    print(a)

    # %%
    # BEGIN SOLUTION Task 2 (b) [1 point]
    b = 1
    # END SOLUTION

    # %%
    check_a(a)
    check_b(b)
    """)
NO_CHECK_AT_THE_END = HEADER + textwrap.dedent("""\
    # %%
    # BEGIN SOLUTION Task 1 (a) [1 point]
    a = 1
    # END SOLUTION

    # %%
    check_a(a)

    # %%
    # BEGIN SOLUTION Task 2 (b) [1 point]
    b = 1
    # END SOLUTION

    # %%
    print(b)
    """)
INDENTED_CHECK_ONLY = _one_task("Task 1 (a) [1 point]", "if True:\n    check_a(a)")
UNKNOWN_DECLARATION = _one_task("Task 1 (a) [1 point] [forbid: course_utils.x.f]")
FOREIGN_REFERENCE = _one_task("Task 1 (a) [1 point] [reference: numpy.linalg.norm]")
BAD_NAME = _one_task("Task 1 (a) [1 point] [allow: torch.autograd.(jacobian)]")


@pytest.mark.parametrize("text, fragment, message", [
    (TWO_TASKS_ONE_CELL, "BEGIN SOLUTION Task 2", "a code cell may hold only one task"),
    (MISSING_POINTS, "BEGIN SOLUTION", "declare the task's points at the end of its BEGIN "
                                       "line, e.g. '# BEGIN SOLUTION Task 1 (a) [2 points]'"),
    (POINTS_NOT_AT_THE_END, "BEGIN SOLUTION", "declare the task's points"),
    (NOT_TASK_N, "BEGIN SOLUTION", "a gradable task is named 'Task N (...)'; "
                                   "got 'the a part'"),
    (TASK_WORD, "BEGIN SOLUTION", "a gradable task is named 'Task N (...)'"),
    (DUPLICATE, "Task 1 (b)", "a second task numbered 1"),
    (CALLS_ITS_CHECK, None, "Task 1 (a): its cell calls check_a; put the check in a cell "
                            "of its own after the task"),
    (NO_CHECK_BEFORE_NEXT, "Task 1 (a)", "Task 1 (a) has no check: a code cell after the "
                                         "task's (and before the next task) must call"),
    (NO_CHECK_AT_THE_END, "Task 2 (b)", "Task 2 (b) has no check"),
    (INDENTED_CHECK_ONLY, "BEGIN SOLUTION", "Task 1 (a) has no check"),
    (UNKNOWN_DECLARATION, "BEGIN SOLUTION", "unknown declaration [forbid: ...]"),
    (FOREIGN_REFERENCE, "BEGIN SOLUTION", "a task's [reference: ...] names the package's own "
                                          "functions"),
    (BAD_NAME, "BEGIN SOLUTION", "[allow: ...] takes qualified names"),
])
def test_task_layout_errors_name_file_and_line(text, fragment, message):
    # fragment None: the error points at the task cell's "# %%" line (line 8, the first
    # line after the header).
    line = 8 if fragment is None else _line_of(text, fragment)
    with pytest.raises(MarkerError) as info:
        notebooks.task_layout(text, "solutions/x.py")
    assert info.value.path == "solutions/x.py"
    assert info.value.line == line
    assert str(info.value).startswith(f"solutions/x.py:{line}: {message}")


@pytest.mark.parametrize("text", [TWO_TASKS_ONE_CELL, MISSING_POINTS, NO_CHECK_AT_THE_END])
def test_release_refuses_every_task_layout_error(tmp_path, text):
    repo = _repo(tmp_path, text)
    with pytest.raises(MarkerError):
        release(repo)
    assert sorted(p.name for p in repo.rglob("*") if p.is_file()) == ["01_demo.py"]


def test_code_before_the_first_cell_marker_is_an_error():
    """Jupytext makes such code a cell of its own, which parse_percent counts as preamble:
    the task metadata would land on the wrong cells, so the release tool refuses it."""
    text = HEADER + "import math\n\n" + _one_task("Task 1 (a) [1 point]")[len(HEADER):]
    with pytest.raises(MarkerError, match="code before the first") as info:
        notebooks.task_layout(text, "solutions/x.py")
    assert info.value.line == HEADER.count("\n") + 1


# --- the metadata the release writes ------------------------------------------------------

def test_release_writes_the_grading_metadata(tmp_path):
    repo = _repo(tmp_path)
    release(repo)
    for kind in ("solutions", "exercises"):
        nb = json.loads((repo / kind / "01_demo.ipynb").read_text())
        assert nb["metadata"]["course_utils"] == {"chapter": "01_demo"}
        assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
        assert all("course_utils" not in c["metadata"] for c in nb["cells"]
                   if c["cell_type"] != "code")
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        if kind == "exercises":  # the setup cell first, with no metadata of ours
            assert "".join(code[0]["source"]) == setup_cell(None)
            assert not {"course_utils", "tags", "mystnb"} & set(code[0]["metadata"])
            code = code[notebooks.SETUP_CELLS:]
        assert len(code) == 5
        meta = [c["metadata"] for c in code]
        assert meta[0]["course_utils"] == {"task": "task1", "title": "Task 1 (f)", "points": 2}
        assert meta[2]["course_utils"] == {"task": "task2", "title": "Task 2: C.g",
                                           "points": 1.5}
        assert meta[1]["course_utils"] == {"check": "task1"}
        assert meta[3]["course_utils"] == {"check": "task2"}
        assert "course_utils" not in meta[4]
        for task_meta in (meta[0], meta[2]):  # the student edits a task cell, never deletes it
            assert task_meta["deletable"] is False and "editable" not in task_meta
        for check_meta in (meta[1], meta[3]):  # nor edits or deletes a check cell
            assert check_meta["deletable"] is False and check_meta["editable"] is False
        assert "deletable" not in meta[4] and "editable" not in meta[4]
        assert ["".join(code[k]["source"]) for k in (1, 3)] == ["check_f(f)", "check_g(C)"]
        if kind == "exercises":
            assert "raise NotImplementedError('Task 1 (f): your code here')" in "".join(
                code[0]["source"])
        else:
            assert "return y + 1" in "".join(code[0]["source"])
        # The book shows the solution notebook: its task cells, only they, are collapsed.
        hidden = [k for k, m in enumerate(meta) if "hide-input" in m.get("tags", [])]
        assert hidden == ([0, 2] if kind == "solutions" else []), kind
        prompts = [m["mystnb"] for m in meta if "mystnb" in m]
        assert prompts == ([notebooks.HIDE_SOLUTION] * 2 if kind == "solutions" else []), kind


def test_the_repository_notebooks_carry_the_grading_metadata(root):
    import nbformat

    sources = notebooks.solution_sources(root)
    assert len(sources) >= 7
    for source in sources:
        tasks = notebooks.task_layout(source.read_text(encoding="utf-8"), source)
        assert tasks, f"{source.name} has no gradable task"
        for kind in ("solutions", "exercises"):
            path = root / kind / f"{source.stem}.ipynb"
            nb = nbformat.read(path, as_version=4)
            assert nb.metadata["course_utils"] == {"chapter": source.stem}, path
            code = [c for c in nb.cells if c.cell_type == "code"]
            if kind == "exercises":  # the setup cell comes first
                tasks = notebooks.exercise_tasks(tasks)
                assert code[0].source == setup_cell(read_repository(
                    root / "book" / "_config.yml")), path
                first = next(k for k, c in enumerate(nb.cells) if c.cell_type == "code")
                assert first >= 1 and nb.cells[0].source.startswith("# "), path  # the title
            expected = {}
            for task in tasks:
                expected[task.code_cell] = {"task": task.id, "title": task.title,
                                            "points": task.points}
                expected[task.check_cell] = {"check": task.id}
            found = {k: dict(c.metadata["course_utils"]) for k, c in enumerate(code)
                     if "course_utils" in c.metadata}
            assert found == expected, path
            assert not any("course_utils" in c.metadata for c in nb.cells
                           if c.cell_type != "code"), path
            for task in tasks:
                cell, check = code[task.code_cell], code[task.check_cell]
                assert cell.metadata["deletable"] is False, (path, task.id)
                assert check.metadata["deletable"] is False, (path, task.id)
                assert check.metadata["editable"] is False, (path, task.id)
                for name in task.checks:
                    assert any(line.startswith(f"{name}(")
                               for line in check.source.splitlines()), (path, name)
                if kind == "exercises":
                    stub = f"raise NotImplementedError({task.title + ': your code here'!r})"
                    assert stub in cell.source, (path, task.id)
                else:
                    assert f"# BEGIN SOLUTION {task.title} [" in cell.source, (path, task.id)
            # In the book (built from the solutions) exactly the task cells are collapsed.
            hidden = {k for k, c in enumerate(code) if "hide-input" in c.metadata.get("tags", [])}
            prompted = {k for k, c in enumerate(code) if "mystnb" in c.metadata}
            wanted = {t.code_cell for t in tasks} if kind == "solutions" else set()
            assert hidden == prompted == wanted, path
            assert all(code[k].metadata["mystnb"] == notebooks.HIDE_SOLUTION for k in prompted)
            # ... and each written answer is a closed <details>, which the exercise lacks.
            text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            regions = sum(bool(notebooks.MD_BEGIN.match(line))
                          for line in source.read_text(encoding="utf-8").splitlines())
            opened = text.count(notebooks.ANSWER_OPEN)
            assert opened == (regions if kind == "solutions" else 0), path
            assert text.count(notebooks.ANSWER_CLOSE) == opened, path
            assert "BEGIN SOLUTION -->" not in text and "END SOLUTION -->" not in text, path


def test_markdown_answers_become_closed_details_in_the_solution_notebook():
    import nbformat

    text = ("# %% [markdown]\n# Question?\n#\n# <!-- BEGIN SOLUTION -->\n# The *answer*, $x^2$.\n"
            "# <!-- END SOLUTION -->\n#\n# After it.\n")
    (cell,) = nbformat.reads(notebooks.to_ipynb(text, "t", hide_solutions=True), as_version=4).cells
    assert cell.source == ("Question?\n\n" + notebooks.ANSWER_OPEN + "\n\nThe *answer*, $x^2$."
                           "\n\n</details>\n\nAfter it.")
    (plain,) = nbformat.reads(notebooks.to_ipynb(text, "t"), as_version=4).cells
    assert "<details" not in plain.source and "<!-- BEGIN SOLUTION -->" in plain.source


# --- the exercise's setup cell and the repository it installs from -----------------------

def test_template_starts_with_the_setup_cell_after_the_title():
    repository = make_repository("https://github.com/example-org/dstml-course", "dev")
    _, cells = notebooks.parse_percent(make_exercise(SOLUTION, repository=repository))
    assert [c.kind for c in cells[:2]] == ["markdown", "code"]
    assert "# # Title" in cells[0].lines
    assert "\n".join(cells[1].lines).strip() == setup_cell(repository)
    assert notebooks.SETUP_CELLS == 1
    code = ["\n".join(c.lines) for c in cells if c.kind == "code"]
    assert code[1].lstrip().startswith("def f(x):")  # the solution's first code cell next
    assert sum("importlib.util.find_spec" in c for c in code) == 1
    # The solution's notebook has no setup cell.
    assert "find_spec" not in notebooks.to_ipynb(SOLUTION, "solutions/x")


def _config(repo, body):
    (repo / "book").mkdir()
    (repo / "book" / "_config.yml").write_text(body)


def test_release_installs_from_the_configured_repository(tmp_path):
    repo = _repo(tmp_path)
    _config(repo, "title: T\nrepository:\n  url: https://github.com/example-org/dstml-course.git"
                  "\n  branch: dev\n")
    release(repo)
    requirement = '"course-utils @ git+https://github.com/example-org/dstml-course@dev"'
    assert requirement in (repo / "exercises" / "01_demo.py").read_text()
    nb = json.loads((repo / "exercises" / "01_demo.ipynb").read_text())
    setup = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert requirement in "".join(setup["source"])
    assert "pip" not in (repo / "solutions" / "01_demo.ipynb").read_text()


def test_release_rejects_a_malformed_repository_url(tmp_path, capsys):
    repo = _repo(tmp_path)
    _config(repo, "repository:\n  url: https://gitlab.com/example-org/dstml-course\n")
    assert notebooks.main(["release", "--root", str(repo)]) == 2
    err = capsys.readouterr().err
    assert f"repository.url in {repo / 'book' / '_config.yml'} must be a GitHub" in err
    assert "got 'https://gitlab.com/example-org/dstml-course'" in err
    assert not (repo / "exercises").exists()
