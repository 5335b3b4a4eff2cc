"""The notebook format (course_utils.notebook_format): exercise templates made from a
solution source, marker errors, the gradable tasks' layout, and the notebooks written from
a source."""

import textwrap

import pytest

from course_utils import notebook_format
from course_utils.authoring.repository import make_repository, setup_cell
from course_utils.notebook_format import MarkerError, make_exercise, strip_check_calls

from tests.percent_sources import (HEADER, MISSING_POINTS, NO_CHECK_AT_THE_END, SOLUTION,
                                   TWO_TASKS_ONE_CELL, line_of, one_task)


def _code_cells(text):
    """The sources of the code cells of a py:percent text."""
    return ["\n".join(cell.lines) for cell in notebook_format.parse_percent(text)[1]
            if cell.kind == "code"]


def _exec_task_cells(text):
    """Run the template's cells that define f and C (not the check cells: check_f is not
    defined; nor the setup cell before them)."""
    namespace = {}
    cells = _code_cells(text)
    for index in (0, 2):
        exec(cells[index + notebook_format.SETUP_CELLS], namespace)
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


def test_template_puts_an_answer_cell_in_place_of_the_written_answer():
    out = make_exercise(SOLUTION)
    assert "Shown to everyone. **Question 1.** Why?" in out
    for gone in ("Only the solution explains this.", "RUBRIC", "names the reason", "point]"):
        assert gone not in out
    _, cells = notebook_format.parse_percent(out)
    assert [c.kind for c in cells[:3]] == ["markdown", "markdown", "code"]
    assert [line for line in cells[1].lines if line] == [f"# {notebook_format.ANSWER_PLACEHOLDER}"]
    assert out.count("# %% [markdown]") == 2


def test_template_is_valid_python_that_raises_the_named_task():
    namespace = _exec_task_cells(make_exercise(SOLUTION))
    with pytest.raises(NotImplementedError, match=r"^Task 1 \(f\): your code here$"):
        namespace["f"](1)


def test_solved_keeps_the_first_regions():
    namespace = _exec_task_cells(make_exercise(SOLUTION, solved=1))
    assert namespace["f"](1) == 3
    with pytest.raises(NotImplementedError, match="Task 2: C.g"):
        namespace["C"]().g()
    assert notebook_format.solution_tasks(SOLUTION) == ["Task 1 (f)", "Task 2: C.g"]


@pytest.mark.parametrize("body, line, message", [
    ("# %%\n# BEGIN SOLUTION T\nx = 1\n", 9, "not closed"),
    ("# %%\nx = 1\n# END SOLUTION\n", 10, "without a BEGIN"),
    ("# %%\n# BEGIN SOLUTION A\n# BEGIN SOLUTION B\n# END SOLUTION\n", 10, "nested"),
    ("# %%\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", 9, "needs a task name"),
    ("# %% [markdown]\n# text\n# BEGIN SOLUTION T\n", 10, "code solution marker in a markdown"),
    ("# %%\nx = 1\n# <!-- BEGIN SOLUTION -->\n", 10, "markdown solution marker in a code"),
    ("# %% [markdown]\n# Why?\n# <!-- BEGIN SOLUTION Question 1 (a) [1 point] -->\n# hidden\n",
     10, "not closed"),
    ("# %% [markdown]\n# Why?\n# <!-- BEGIN SOLUTION -->\n# hidden\n# <!-- END SOLUTION -->\n",
     10, "every written answer is a question: name it and declare its points"),
    ("# %% [markdown]\n# <!-- END SOLUTION -->\n", 9, "without a BEGIN"),
    ("# %%\n# BEGIN SOLUTION T\n\n# %%\n# END SOLUTION\n", 9, "not closed within its cell"),
])
def test_malformed_markers_name_file_and_line(body, line, message):
    with pytest.raises(MarkerError, match=message) as info:
        make_exercise(HEADER + body, "solutions/x.py")
    assert info.value.path == "solutions/x.py"
    assert info.value.line == line
    assert str(info.value).startswith(f"solutions/x.py:{line}: ")


# --- task_layout: the gradable tasks ------------------------------------------------------

def test_task_layout_of_the_fixture():
    tasks = notebook_format.task_layout(SOLUTION, "solutions/01_demo.py")
    assert [t.id for t in tasks] == ["task1", "task2"]
    assert [t.title for t in tasks] == ["Task 1 (f)", "Task 2: C.g"]
    assert [t.points for t in tasks] == [2, 1.5]
    assert type(tasks[0].points) is int and type(tasks[1].points) is float
    # Code cells: 0 f, 1 check_f(f), 2 C, 3 check_g(C), 4 the printed output.
    assert [(t.code_cell, t.check_cell) for t in tasks] == [(0, 1), (2, 3)]
    assert [t.checks for t in tasks] == [("check_f",), ("check_g",)]
    assert [t.line for t in tasks] == [line_of(SOLUTION, "BEGIN SOLUTION Task 1"),
                                       line_of(SOLUTION, "BEGIN SOLUTION Task 2")]
    assert tasks[0].line == 24  # 7 header lines, a blank, the question's cell, def f, y =
    # The points appear neither in the task names nor in the template's error message.
    assert notebook_format.solution_tasks(SOLUTION) == ["Task 1 (f)", "Task 2: C.g"]
    template = make_exercise(SOLUTION)
    assert "raise NotImplementedError('Task 2: C.g: your code here')" in template
    assert "point" not in template


@pytest.mark.parametrize("begin, task_id, title, points", [
    ("Task 1 (a) [1 point]", "task1", "Task 1 (a)", 1),
    ("Task 1 (a) [2.0 points]", "task1", "Task 1 (a)", 2),
    ("Task 3 (a) [ 1.5 points ]", "task3", "Task 3 (a)", 1.5),
    ("Task 03: a [10 points]", "task3", "Task 03: a", 10),
    ("Task 12 [0.25 points]", "task12", "Task 12", 0.25),
])
def test_task_layout_names_and_points(begin, task_id, title, points):
    [task] = notebook_format.task_layout(one_task(begin))
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
    [task] = notebook_format.task_layout(text)
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
    [task] = notebook_format.task_layout(text)
    assert task.points == 2 and task.title == "Task 1 (a)"
    assert task.references == ("course_utils.x.f", "course_utils.models.ShallowPLRNN.jacobian")
    assert task.allowed == ("torch.autograd.functional.jacobian",)
    exercise = notebook_format.make_exercise(text)
    assert "reference" not in exercise and "allow" not in exercise


def test_task_layout_without_tasks_is_empty():
    assert notebook_format.task_layout(HEADER + "# %%\nx = 1\n") == []


POINTS_NOT_AT_THE_END = one_task("Task 1 [1 point] (a)")
NOT_TASK_N = one_task("the a part [1 point]")
TASK_WORD = one_task("Task one (a) [1 point]")
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
INDENTED_CHECK_ONLY = one_task("Task 1 (a) [1 point]", "if True:\n    check_a(a)")
UNKNOWN_DECLARATION = one_task("Task 1 (a) [1 point] [forbid: course_utils.x.f]")
FOREIGN_REFERENCE = one_task("Task 1 (a) [1 point] [reference: numpy.linalg.norm]")
BAD_NAME = one_task("Task 1 (a) [1 point] [allow: torch.autograd.(jacobian)]")


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
    line = 8 if fragment is None else line_of(text, fragment)
    with pytest.raises(MarkerError) as info:
        notebook_format.task_layout(text, "solutions/x.py")
    assert info.value.path == "solutions/x.py"
    assert info.value.line == line
    assert str(info.value).startswith(f"solutions/x.py:{line}: {message}")


def test_code_before_the_first_cell_marker_is_an_error():
    """Jupytext makes such code a cell of its own, which parse_percent counts as preamble:
    the task metadata would land on the wrong cells, so the release tool refuses it."""
    text = HEADER + "import math\n\n" + one_task("Task 1 (a) [1 point]")[len(HEADER):]
    with pytest.raises(MarkerError, match="code before the first") as info:
        notebook_format.task_layout(text, "solutions/x.py")
    assert info.value.line == HEADER.count("\n") + 1


# --- the notebooks: written answers, the exercise's setup cell ---------------------------

def test_markdown_answers_become_closed_details_in_the_solution_notebook():
    import nbformat

    text = ("# %% [markdown]\n# Question?\n#\n"
            "# <!-- BEGIN SOLUTION Question 1 (a) [1 point] -->\n# The *answer*, $x^2$.\n"
            "# <!-- RUBRIC\n# [1 point] says $x^2$\n# -->\n"
            "# <!-- END SOLUTION -->\n#\n# After it.\n")
    (cell,) = nbformat.reads(notebook_format.to_ipynb(text, "t", hide_solutions=True), as_version=4).cells
    assert cell.source == ("Question?\n\n" + notebook_format.ANSWER_OPEN + "\n\nThe *answer*, $x^2$."
                           "\n\n</details>\n\nAfter it.")
    (plain,) = nbformat.reads(notebook_format.to_ipynb(text, "t"), as_version=4).cells
    assert "<details" not in plain.source
    assert "<!-- BEGIN SOLUTION Question 1 (a) [1 point] -->" in plain.source
    assert "RUBRIC" not in plain.source and "says $x^2$" not in plain.source  # never in a notebook


def test_template_starts_with_the_setup_cell_after_the_title():
    repository = make_repository("https://github.com/example-org/dstml-course", "dev")
    _, cells = notebook_format.parse_percent(make_exercise(SOLUTION, setup=setup_cell(repository)))
    assert [c.kind for c in cells[:3]] == ["markdown", "markdown", "code"]  # the answer cell
    assert "# # Title" in cells[0].lines
    assert "\n".join(cells[2].lines).strip() == setup_cell(repository)
    assert notebook_format.SETUP_CELLS == 1
    code = ["\n".join(c.lines) for c in cells if c.kind == "code"]
    assert code[1].lstrip().startswith("def f(x):")  # the solution's first code cell next
    assert sum("importlib.util.find_spec" in c for c in code) == 1
    # The solution's notebook has no setup cell.
    assert "find_spec" not in notebook_format.to_ipynb(SOLUTION, "solutions/x")


# --- the students' own check calls, taken out before grading -------------------------------

@pytest.mark.parametrize("source, stripped", [
    ("x = 1\ncheck_f(f)\ny = 2", "x = 1\ny = 2"),
    ("check_f(\n    f,\n    tol=1e-3,\n)\nz = 3", "z = 3"),
    ("check_a(a)\ncheck_b(b)", ""),
    ("def t():\n    check_f(f)\nif True:\n    check_g(g)",
     "def t():\n    check_f(f)\nif True:\n    check_g(g)"),
    ("result = check_f(f)\nprint(check_f(f))\nchecker(f)\nobj.check_f(f)\ncheck_f",
     "result = check_f(f)\nprint(check_f(f))\nchecker(f)\nobj.check_f(f)\ncheck_f"),
    ("def check_mine(x):\n    return x\n", "def check_mine(x):\n    return x\n"),
    # A syntax error: the check calls are removed line by line.
    ("%matplotlib inline\ncheck_f(f)\nx = (", "%matplotlib inline\nx = ("),
    ("x = (\ncheck_f(f)\n  check_g(g)", "x = (\n  check_g(g)"),
])
def test_strip_check_calls(source, stripped):
    assert strip_check_calls(source) == stripped


def test_strip_check_calls_keeps_other_statements_on_the_line():
    assert strip_check_calls("x = 1; check_f(f)\ny = x") == "x = 1; None\ny = x"


def test_strip_check_calls_with_a_form_feed_in_a_string():
    source = 's = "a\x0cb"\ncheck_f(f)\nx = 1'
    assert strip_check_calls(source) == 's = "a\x0cb"\nx = 1'


# ------------------------------------------------- check calls, one rule for all users

@pytest.mark.parametrize("source, names", [
    ("check_f(f)", ["check_f"]),
    ("x = 1\ncheck_f(f)\ncheck_g(g, 2)", ["check_f", "check_g"]),
    ("check_f(\n    f,\n    2)\n", ["check_f"]),
    ("x = 1; check_f(f)", ["check_f"]),
    ("%matplotlib inline\ncheck_f(f)", ["check_f"]),            # a magic line: blank
    ("!pip list\ncheck_f(f)", ["check_f"]),
    ("if True:\n    check_f(f)", []),                             # not at the top level
    ("y = check_f(f)", []),                                       # not a statement of its own
    ("s = '''\ncheck_f(f)\n'''", []),                             # inside a string
    ("checks.check_f(f)", []),                                    # an attribute, not a name
    ("def f(:\ncheck_f(f)", ["check_f"]),                         # no parse: read by line
])
def test_check_calls_are_found_by_one_rule(source, names):
    assert notebook_format.check_call_names(source) == names


def test_the_release_and_the_grader_ask_the_same_rule():
    """A task's check cell is the one whose calls the grader takes out of a student's copy:
    both come from find_check_calls, so a call inside a string is neither."""
    cell = "s = '''\ncheck_f(f)\n'''\ncheck_g(g)"
    assert notebook_format.check_call_names(cell) == ["check_g"]
    assert notebook_format.strip_check_calls(cell) == "s = '''\ncheck_f(f)\n'''"
    assert notebook_format.strip_check_calls("x = 1; check_g(g)\ny") == "x = 1; None\ny"
    assert notebook_format.strip_check_calls("def f(:\ncheck_g(g)\nz") == "def f(:\nz"


def test_a_task_whose_only_check_call_is_in_a_string_has_no_check():
    text = SOLUTION.replace("check_f(f)", "'''\ncheck_f(f)\n'''")
    with pytest.raises(MarkerError, match="has no check"):
        notebook_format.task_layout(text, "solutions/x.py")


def test_the_placeholder_rule_is_the_templates_and_the_graders():
    line = notebook_format.placeholder_error("Task 3 (the norms)")
    namespace = {}
    with pytest.raises(NotImplementedError) as info:
        exec(line, namespace)
    assert notebook_format.is_placeholder_message(str(info.value))
    assert not notebook_format.is_placeholder_message("index out of range")
    template = make_exercise(SOLUTION)
    for task in notebook_format.solution_tasks(SOLUTION):
        assert notebook_format.PLACEHOLDER in template
        assert notebook_format.placeholder_error(task) in template


def test_continuation_lines_that_start_with_an_operator_are_not_magics():
    """A line inside brackets may start with ``%`` or ``!=``: the cell parses as written,
    so a multi-line check call after it is found whole and taken out whole."""
    cell = "ok = (n\n      != 0)\nr = (n\n     % 2)\ncheck_f(\n    f)\ny = 1"
    calls = notebook_format.find_check_calls(cell)
    assert [(c.name, c.first_line, c.last_line) for c in calls] == [("check_f", 5, 6)]
    assert calls[0].node is not None
    assert strip_check_calls(cell) == "ok = (n\n      != 0)\nr = (n\n     % 2)\ny = 1"


def test_a_magic_line_is_read_as_blank_and_the_call_keeps_its_arguments():
    calls = notebook_format.find_check_calls("%time x = 1\ncheck_f(f, 2)")
    assert [(c.name, c.first_line) for c in calls] == [("check_f", 2)]
    assert [a.value if hasattr(a, "value") else a.id for a in calls[0].node.args] == ["f", 2]


def test_parsing_is_one_thread_at_a_time():
    """The grader parses in several threads; parse_python waits for another thread's parse
    (CPython 3.11's AST conversion is not safe in two threads at once)."""
    import threading

    done = threading.Event()
    thread = threading.Thread(target=lambda: (notebook_format.parse_python("x = 1"),
                                              done.set()))
    with notebook_format._PARSE_LOCK:
        thread.start()
        assert not done.wait(0.3)          # blocked while another parse holds the lock
    thread.join(5)
    assert done.is_set()


def test_top_level_definitions_are_the_unconditional_defs_and_classes():
    tree = notebook_format.parse_python(
        "import math\nx = 1\ndef f():\n    def inner(): pass\nasync def g(): pass\n"
        "class C: pass\nif x:\n    def h(): pass\n")
    assert notebook_format.top_level_definitions(tree) == {"f", "g", "C"}


def test_a_lone_carriage_return_ends_a_line_as_python_reads_it():
    cell = "x = 1\rcheck_f(f)\r\ny = 2"
    assert [(c.name, c.first_line) for c in notebook_format.find_check_calls(cell)] == [
        ("check_f", 2)]
    assert strip_check_calls(cell) == "x = 1\ny = 2"


# --- written questions: the layout, the template's answer cells, the notebooks' metadata ----

QUESTIONS = HEADER + textwrap.dedent("""\

    # %% [markdown]
    # # Title
    #
    # **Question 1.** Do the orbits follow the attractor? Judge from your figure.
    #
    # <!-- BEGIN SOLUTION Question 1 (free-running orbits) [2 points] [figures: orbits] -->
    # Yes: *two wings*.
    #
    # <!-- RUBRIC
    # [1 point] says whether the orbits stay on the attractor
    #
    # [1 point] tells divergence from statistics
    # -->
    # More of the answer.
    # <!-- END SOLUTION -->
    #
    # ## After the question

    # %%
    x = 1

    # %%

    # Figure: orbits
    plot(x)

    # %% [markdown]
    # **Question 2.** Why?
    # <!-- BEGIN SOLUTION Question 2: why [1.5 points] [figures: orbits, table] -->
    # Because.
    # <!-- RUBRIC
    # [0.5 points] says because
    # [1 point] says why
    # -->
    # <!-- END SOLUTION -->

    # %%
    # Figure: table
    # Figure: not-this-one (only the first line names a figure)
    print(x)

    # %%
    y = 2  # Figure: nor this
    """)


def test_question_layout_of_the_fixture():
    q1, q2 = notebook_format.question_layout(QUESTIONS, "solutions/01_demo.py")
    assert (q1.id, q1.title, q1.points, q1.figures) == (
        "q1", "Question 1 (free-running orbits)", 2, ("orbits",))
    assert (q2.id, q2.title, q2.points, q2.figures) == (
        "q2", "Question 2: why", 1.5, ("orbits", "table"))
    assert type(q1.points) is int and type(q2.points) is float
    assert q1.prompt == ("# Title\n\n**Question 1.** Do the orbits follow the attractor? "
                         "Judge from your figure.")
    assert q1.answer == "Yes: *two wings*.\n\nMore of the answer."  # without the rubric
    assert q1.rubric == (("says whether the orbits stay on the attractor", 1),
                         ("tells divergence from statistics", 1))
    assert q2.prompt == "**Question 2.** Why?" and q2.answer == "Because."
    assert q2.rubric == (("says because", 0.5), ("says why", 1))
    assert [q1.line, q2.line] == [line_of(QUESTIONS, "Question 1 (free"),
                                  line_of(QUESTIONS, "Question 2: why")]
    assert notebook_format.question_layout(SOLUTION)[0].rubric == (
        ("names the reason", 1), ("gives the evidence", 1))
    assert notebook_format.question_layout(HEADER + "# %%\nx = 1\n") == []


def test_figure_cells_are_the_code_cells_whose_first_line_names_them():
    # Code cells: 0 x = 1, 1 the orbits (after a blank line), 2 the table, 3 y = 2.
    assert notebook_format.figure_cells(QUESTIONS) == {"orbits": 1, "table": 2}
    assert notebook_format.figure_cells(SOLUTION) == {}


def test_the_template_has_an_answer_cell_where_the_region_was():
    import nbformat

    template = make_exercise(QUESTIONS, "solutions/01_demo.py")
    for gone in ("two wings", "More of the answer", "RUBRIC", "says because", "BEGIN", "END",
                 "[2 points]", "figures:"):
        assert gone not in template, gone
    cells = nbformat.reads(notebook_format.to_ipynb(template, "t"), as_version=4).cells
    answer = notebook_format.ANSWER_PLACEHOLDER
    assert [(c.cell_type, c.source) for c in cells[:4]] == [
        ("markdown", "# Title\n\n**Question 1.** Do the orbits follow the attractor? "
                     "Judge from your figure."),
        ("markdown", answer),
        ("markdown", "## After the question"),   # the text after the region, a cell of its own
        ("code", ""),                           # the setup cell
    ]
    assert [(c.cell_type, c.source) for c in cells[6:8]] == [
        ("markdown", "**Question 2.** Why?"), ("markdown", answer)]
    assert sum(c.source == answer for c in cells) == 2
    assert "# Figure: orbits" in cells[5].source   # figure cells stay as they are


def test_a_question_at_the_end_of_its_cell_gets_no_empty_cell_after_its_answer():
    _, cells = notebook_format.parse_percent(make_exercise(SOLUTION))
    assert [c.kind for c in cells[:3]] == ["markdown", "markdown", "code"]
    assert "\n".join(cells[0].lines).rstrip().endswith("**Question 1.** Why?")


def _notebook(text, **kwargs):
    import nbformat

    return nbformat.reads(notebook_format.to_ipynb(text, "t", **kwargs), as_version=4)


def test_the_notebooks_carry_the_questions_and_figures():
    questions = notebook_format.question_layout(QUESTIONS)
    figures = notebook_format.figure_cells(QUESTIONS)
    key = notebook_format.METADATA_KEY
    # The solution: the cell of the prompt and the region; the figure cells.
    solution = _notebook(QUESTIONS, questions=questions, figures=figures, hide_solutions=True)
    marked = {k: dict(c.metadata[key]) for k, c in enumerate(solution.cells) if key in c.metadata}
    assert marked == {
        0: {"question": "q1", "title": "Question 1 (free-running orbits)", "points": 2,
            "figures": ["orbits"]},
        2: {"figure": "orbits"},
        3: {"question": "q2", "title": "Question 2: why", "points": 1.5,
            "figures": ["orbits", "table"]},
        4: {"figure": "table"}}
    text = "\n".join(c.source for c in solution.cells)
    assert "two wings" in text and notebook_format.ANSWER_OPEN in text
    assert "RUBRIC" not in text and "says whether" not in text and "[1 point]" not in text
    # The exercise: the prompt's cell, the answer cell after it, the figure cells (one setup
    # cell more before them).
    template = make_exercise(QUESTIONS)
    exercise = _notebook(template, questions=questions,
                         figures={n: k + notebook_format.SETUP_CELLS for n, k in figures.items()})
    marked = {k: dict(c.metadata[key]) for k, c in enumerate(exercise.cells) if key in c.metadata}
    assert marked == {
        0: {"question": "q1"},
        1: {"answer": "q1", "title": "Question 1 (free-running orbits)", "points": 2},
        5: {"figure": "orbits"},
        6: {"question": "q2"},
        7: {"answer": "q2", "title": "Question 2: why", "points": 1.5},
        8: {"figure": "table"}}
    assert exercise.cells[5].source.lstrip().startswith("# Figure: orbits")
    assert exercise.cells[8].source.startswith("# Figure: table")
    assert [exercise.cells[k].metadata.get("deletable") for k in (0, 1, 7)] == [None, False, False]
    assert "two wings" not in "\n".join(c.source for c in exercise.cells)


def test_to_ipynb_refuses_questions_that_do_not_fit_the_notebook():
    questions = notebook_format.question_layout(QUESTIONS)
    no_answers = HEADER + "# %% [markdown]\n# Text.\n\n# %%\nx = 1\n"
    with pytest.raises(ValueError, match="t: 0 answer cells .* for 2 questions"):
        notebook_format.to_ipynb(no_answers, "t", questions=questions)
    with pytest.raises(ValueError, match="no region of Question 2: why"):
        notebook_format.to_ipynb(SOLUTION, "t", questions=questions)
    with pytest.raises(ValueError, match="figure cell 'f' is code cell 9, but the notebook has 5"):
        notebook_format.to_ipynb(SOLUTION, "t", figures={"f": 9})
    tasks = notebook_format.task_layout(SOLUTION)
    with pytest.raises(ValueError, match="figure cell 'f' .* is also marked"):
        notebook_format.to_ipynb(SOLUTION, "t", tasks=tasks, figures={"f": tasks[0].check_cell})


def _question(begin="Question 1 (a) [2 points]", rubric="# [1 point] x\n# [1 point] y\n",
              prompt="# **Question 1.** Why?\n", answer="# The answer.\n", after=""):
    return (HEADER + "# %% [markdown]\n" + prompt + f"# <!-- BEGIN SOLUTION {begin} -->\n"
            + answer + "# <!-- RUBRIC\n" + rubric + "# -->\n# <!-- END SOLUTION -->\n" + after)


FIGURE = "\n# %%\n# Figure: orbits\nplot()\n"
SECOND = ("\n# %% [markdown]\n# **Question 2.** And?\n"
          "# <!-- BEGIN SOLUTION Question 1 (b) [1 point] -->\n# B.\n"
          "# <!-- RUBRIC\n# [1 point] b\n# -->\n# <!-- END SOLUTION -->\n")


@pytest.mark.parametrize("text, fragment, message", [
    (_question(begin="Why (a) [2 points]"), "BEGIN SOLUTION",
     "a written answer's region is named 'Question N (...)'"),
    (_question(begin="Question 1 (a)"), "BEGIN SOLUTION",
     "declare the question's points at the end of its BEGIN line, e.g. '<!-- BEGIN SOLUTION "
     "Question 1 (a) [2 points] -->'"),
    (_question(begin="Question 1 [2 points] (a)"), "BEGIN SOLUTION", "declare the question's"),
    (_question(after=SECOND), "Question 1 (b)", "a second question numbered 1"),
    (_question(rubric="# [1 point] x\n# [2 points] y\n"), "<!-- RUBRIC",
     "the rubric of Question 1 (a) gives 3 points in all, the question 2"),
    (_question(rubric=""), "<!-- RUBRIC", "the rubric of Question 1 (a) gives 0 points"),
    (_question(rubric="# [1 point] x\n# y [1 point]\n"), "# y [1 point]",
     "a rubric line is '[k points] what earns them', e.g. '[1 point] names the overflow'; "
     "got 'y [1 point]'"),
    (_question(rubric="# [1 point] x\n# [one point] y\n"), "[one point]", "a rubric line is"),
    (_question(rubric="# [2 points]\n"), "# [2 points]", "a rubric line is"),
    (_question(begin="Question 1 (a) [2 points] [figures: orbits]"), "BEGIN SOLUTION",
     "Question 1 (a) names the figure 'orbits', but no code cell starts with "
     "'# Figure: orbits'"),
    (_question(begin="Question 1 (a) [2 points] [figures: Orbits]", after=FIGURE),
     "BEGIN SOLUTION", "[figures: ...] takes figure names"),
    (_question(begin="Question 1 (a) [2 points] [figure: orbits] [see: x]", after=FIGURE),
     "BEGIN SOLUTION", "unknown declaration [see: ...]; a question declares [figures: name, ...]"),
    (_question(after="\n# %%\n# Figure: Big Plot\nplot()\n"), "# Figure: Big",
     "a figure's name is lower-case letters, digits, '_' and '-'"),
    (_question(after=FIGURE + FIGURE.replace(": orbits", ":  orbits")), "Figure:  orbits",
     "a second figure cell named 'orbits'"),
    (_question(after="\n# %%\n# Figure: orbits\ncheck_a(a)\n"), "# Figure: orbits",
     "the figure cell 'orbits' holds a task or calls a check"),
    (_question(prompt=""), "BEGIN SOLUTION", "Question 1 (a) has no prompt"),
    (_question(prompt="#\n"), "BEGIN SOLUTION", "Question 1 (a) has no prompt"),
    (_question(answer="#\n"), "BEGIN SOLUTION", "Question 1 (a) has no reference answer"),
    (_question().replace("# <!-- RUBRIC\n# [1 point] x\n# [1 point] y\n# -->\n", ""),
     "BEGIN SOLUTION", "Question 1 (a) has no rubric"),
    (_question().replace("# -->\n", ""), "<!-- RUBRIC", "the rubric is not closed"),
    (_question(answer="# A.\n# <!--  RUBRIC\n# [2 points] x\n# -->\n"), "<!-- RUBRIC",
     "a second rubric in the region"),
    (_question(after="# <!--  RUBRIC\n# [1 point] z\n# -->\n"), "<!--  RUBRIC",
     "a rubric belongs inside a question's region"),
    (_question(answer="# <!-- RUBRIC [2 points] all -->\n"), "RUBRIC [2",
     "write '<!-- RUBRIC' on a line of its own"),
    (_question(answer="# A. <!-- END SOLUTION -->\n"), "# A. <!--",
     "a solution marker is a line of its own"),
    (_question(after=SECOND.replace("\n# %% [markdown]\n", "")), "Question 1 (b)",
     "a markdown cell may hold only one question"),
    (HEADER + "# %% [raw]\n# Why?\n# <!-- BEGIN SOLUTION Question 1 (a) [1 point] -->\n# A.\n"
     "# <!-- RUBRIC\n# [1 point] x\n# -->\n# <!-- END SOLUTION -->\n", "BEGIN SOLUTION",
     "a question belongs in a markdown cell"),
])
def test_question_errors_name_file_and_line(text, fragment, message):
    line = line_of(text, fragment)
    for function in (notebook_format.question_layout, make_exercise):
        with pytest.raises(MarkerError) as info:
            function(text, "solutions/x.py")
        assert info.value.path == "solutions/x.py"
        assert info.value.line == line, (function, str(info.value))
        assert str(info.value).startswith(f"solutions/x.py:{line}: {message}"), str(info.value)


def test_a_well_formed_question_passes_the_checks_above():
    """The texts the error cases vary are valid with the defaults (so each case fails for
    its own reason)."""
    [question] = notebook_format.question_layout(_question(after=FIGURE), "solutions/x.py")
    assert (question.id, question.points, question.answer) == ("q1", 2, "The answer.")
    begin = "Question 1 (a) [2 points] [figures: orbits]"
    assert notebook_format.question_layout(_question(begin=begin, after=FIGURE))[0].figures == (
        "orbits",)
    assert make_exercise(_question()).count(notebook_format.ANSWER_PLACEHOLDER) == 1


def test_utf8_safe_replaces_lone_surrogates_only():
    from course_utils.notebook_format import utf8_safe

    text = "x \ud800 y \udfff é 😀"
    safe = utf8_safe(text)
    assert safe == "x \ufffd y \ufffd é 😀"
    safe.encode("utf-8")  # writable as UTF-8
    assert utf8_safe("plain") == "plain"
