"""The release tool (course_utils.authoring.release): the paired notebooks and templates it
writes, --check, expected outputs, the grading metadata, and the errors that make it write
nothing. The notebook format it applies is tested in tests/test_notebook_format.py, the
real repository's release in tests/repository/test_generated_notebooks.py."""

import json
import textwrap

import pytest

from course_utils import notebook_format
from course_utils.authoring import release as release_tool
from course_utils.authoring.release import expected_outputs, release
from course_utils.authoring.repository import setup_cell
from course_utils.notebook_format import MarkerError

from tests.percent_sources import (HEADER, MISSING_POINTS, NO_CHECK_AT_THE_END, SOLUTION,
                                   TWO_TASKS_ONE_CELL, line_of, one_task)


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
    nb = json.loads(release_tool.nbval_ipynb(SOLUTION, "solutions/x"))
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
    assert release_tool.main(["release", "--check", "--root", str(repo)]) == 1
    err = capsys.readouterr().err
    for name in ("solutions/01_demo.ipynb", "exercises/01_demo.ipynb", "exercises/99_gone.py"):
        assert name in err
    assert "exercises/01_demo.py" not in err  # the template does not show the solution
    assert release_tool.main(["release", "--root", str(repo)]) == 0
    assert not (repo / "exercises" / "99_gone.py").exists()
    assert release_tool.main(["release", "--check", "--root", str(repo)]) == 0


def test_malformed_marker_writes_nothing(tmp_path, capsys):
    repo = _repo(tmp_path)
    (repo / "solutions" / "02_bad.py").write_text(HEADER + "# %%\n# BEGIN SOLUTION T\n")
    assert release_tool.main(["release", "--root", str(repo)]) == 2
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
    assert release_tool.main(["release", "--root", str(repo)]) == 2
    err = capsys.readouterr().err
    line = line_of(two_in_one, "# BEGIN SOLUTION Task 2")
    assert f"solutions/01_demo.py:{line}: a code cell may hold only one task" in err
    assert not (repo / "exercises").exists()
    assert not (repo / "solutions" / "01_demo.ipynb").exists()


def test_release_writes_the_packages_table_of_declarations(tmp_path):
    text = one_task("Task 1 (a) [1 point] [reference: course_utils.x.f]")
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


@pytest.mark.parametrize("text", [TWO_TASKS_ONE_CELL, MISSING_POINTS, NO_CHECK_AT_THE_END])
def test_release_refuses_every_task_layout_error(tmp_path, text):
    repo = _repo(tmp_path, text)
    with pytest.raises(MarkerError):
        release(repo)
    assert sorted(p.name for p in repo.rglob("*") if p.is_file()) == ["01_demo.py"]


# --- the metadata the release writes ------------------------------------------------------

def test_release_writes_the_grading_metadata(tmp_path):
    repo = _repo(tmp_path)
    release(repo)
    for kind in ("solutions", "exercises"):
        nb = json.loads((repo / kind / "01_demo.ipynb").read_text())
        assert nb["metadata"]["course_utils"] == {"chapter": "01_demo"}
        assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
        # The question: its prompt's (and, in the solution, its answer's) cell, the
        # template's answer cell; no other markdown cell is marked, no rubric is left.
        marked = [c["metadata"]["course_utils"] for c in nb["cells"]
                  if c["cell_type"] != "code" and "course_utils" in c["metadata"]]
        title = {"title": "Question 1 (why)", "points": 2}
        assert marked == ([{"question": "q1", **title, "figures": []}] if kind == "solutions"
                          else [{"question": "q1"}, {"answer": "q1", **title}]), kind
        assert "RUBRIC" not in json.dumps(nb) and "names the reason" not in json.dumps(nb)
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        if kind == "exercises":  # the setup cell first, with no metadata of ours
            assert "".join(code[0]["source"]) == setup_cell(None)
            assert not {"course_utils", "tags", "mystnb"} & set(code[0]["metadata"])
            code = code[notebook_format.SETUP_CELLS:]
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
        assert prompts == ([notebook_format.HIDE_SOLUTION] * 2 if kind == "solutions" else []), kind


# --- the repository the exercise's setup cell installs from --------------------------------

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
    assert release_tool.main(["release", "--root", str(repo)]) == 2
    err = capsys.readouterr().err
    assert f"repository.url in {repo / 'book' / '_config.yml'} must be a GitHub" in err
    assert "got 'https://gitlab.com/example-org/dstml-course'" in err
    assert not (repo / "exercises").exists()


FIGURE_AND_QUESTION = one_task("Task 1 (a) [1 point]") + textwrap.dedent("""\

    # %%
    # Figure: plot
    print(a)

    # %% [markdown]
    # **Question 1.** What does the plot show?
    # <!-- BEGIN SOLUTION Question 1 (the plot) [1 point] [figures: plot] -->
    # One.
    # <!-- RUBRIC
    # [1 point] reads the plot
    # -->
    # <!-- END SOLUTION -->
    """)


def test_release_marks_the_figure_cells_in_both_notebooks(tmp_path):
    repo = _repo(tmp_path, FIGURE_AND_QUESTION)
    release(repo)
    assert release(repo, check=True) == []
    assert release_tool.exercise_figures({"plot": 2}) == {"plot": 2 + notebook_format.SETUP_CELLS}
    for kind in ("solutions", "exercises"):
        nb = json.loads((repo / kind / "01_demo.ipynb").read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        figures = {k: c["metadata"]["course_utils"]["figure"] for k, c in enumerate(code)
                   if "figure" in c["metadata"].get("course_utils", {})}
        offset = notebook_format.SETUP_CELLS if kind == "exercises" else 0
        assert figures == {2 + offset: "plot"}, kind
        assert "".join(code[2 + offset]["source"]).startswith("# Figure: plot")
        answer = [c for c in nb["cells"] if c["metadata"].get("course_utils", {}).get("answer")]
        assert len(answer) == (1 if kind == "exercises" else 0)


def test_release_refuses_a_question_whose_figure_is_missing(tmp_path, capsys):
    text = FIGURE_AND_QUESTION.replace("# Figure: plot", "# The plot")
    repo = _repo(tmp_path, text)
    assert release_tool.main(["release", "--root", str(repo)]) == 2
    err = capsys.readouterr().err
    line = line_of(text, "BEGIN SOLUTION Question 1")
    assert (f"solutions/01_demo.py:{line}: Question 1 (the plot) names the figure 'plot', but "
            "no code cell starts with '# Figure: plot'") in err
    assert not (repo / "exercises").exists()
