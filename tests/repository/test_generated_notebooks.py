"""The repository's generated files: the exercise templates and paired notebooks are those
the release tool makes from solutions/ (release --check), carry the grading metadata, and
install course_utils from the repository that book/_config.yml names."""

import os
import subprocess
import sys
from pathlib import Path

from course_utils import notebook_format
from course_utils.authoring import release as release_tool
from course_utils.authoring.repository import read_repository, setup_cell

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = [source.stem for source in release_tool.solution_sources(ROOT)]


def test_release_check_passes():
    result = subprocess.run([sys.executable, "-m", "course_utils.authoring.release", "release",
                             "--check", "--root", str(ROOT)], capture_output=True, text=True,
                            env={**os.environ, "COURSE_QUICK": "1", "CI": "true"})
    assert result.returncode == 0, result.stderr


def test_the_repository_notebooks_carry_the_grading_metadata(root):
    import nbformat

    sources = release_tool.solution_sources(root)
    assert len(sources) >= 7
    for source in sources:
        tasks = notebook_format.task_layout(source.read_text(encoding="utf-8"), source)
        figures = notebook_format.figure_cells(source.read_text(encoding="utf-8"), source)
        assert tasks, f"{source.name} has no gradable task"
        for kind in ("solutions", "exercises"):
            path = root / kind / f"{source.stem}.ipynb"
            nb = nbformat.read(path, as_version=4)
            assert nb.metadata["course_utils"] == {"chapter": source.stem}, path
            code = [c for c in nb.cells if c.cell_type == "code"]
            if kind == "exercises":  # the setup cell comes first
                tasks = release_tool.exercise_tasks(tasks)
                figures = release_tool.exercise_figures(figures)
                assert code[0].source == setup_cell(read_repository(
                    root / "book" / "_config.yml")), path
                first = next(k for k, c in enumerate(nb.cells) if c.cell_type == "code")
                assert first >= 1 and nb.cells[0].source.startswith("# "), path  # the title
            expected = {}
            for task in tasks:
                expected[task.code_cell] = {"task": task.id, "title": task.title,
                                            "points": task.points}
                expected[task.check_cell] = {"check": task.id}
            for figure, position in figures.items():
                expected[position] = {"figure": figure}
            found = {k: dict(c.metadata["course_utils"]) for k, c in enumerate(code)
                     if "course_utils" in c.metadata}
            assert found == expected, path
            # Markdown cells carry only the questions' metadata (test_questions_... below).
            assert all(set(c.metadata["course_utils"]) & {"question", "answer"}
                       for c in nb.cells if c.cell_type != "code"
                       and "course_utils" in c.metadata), path
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
            assert all(code[k].metadata["mystnb"] == notebook_format.HIDE_SOLUTION for k in prompted)
            # ... and each written answer is a closed <details>, which the exercise lacks.
            text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            regions = sum(bool(notebook_format.MD_BEGIN.match(line))
                          for line in source.read_text(encoding="utf-8").splitlines())
            opened = text.count(notebook_format.ANSWER_OPEN)
            assert opened == (regions if kind == "solutions" else 0), path
            assert text.count(notebook_format.ANSWER_CLOSE) == opened, path
            assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path
            assert "RUBRIC" not in text, path  # the tutors' rubric is in no notebook


def test_exercises_install_from_the_books_repository():
    """One place: the setup cell of every template is made from book/_config.yml."""
    expected = setup_cell(read_repository(ROOT / "book" / "_config.yml"))
    for name in CHAPTERS:
        assert expected in (ROOT / "exercises" / f"{name}.py").read_text(), name
        assert "find_spec" not in (ROOT / "solutions" / f"{name}.ipynb").read_text(), name


def test_every_chapter_asks_written_questions_with_a_rubric():
    """Every chapter has one to three written questions, each with its points (1 to 3), a
    rubric of two or three items adding up to them, a prompt that asks the student and
    tells the points (in bold, "**Question N** (k points)."), a reference answer, and
    figures that exist."""
    for source in release_tool.solution_sources(ROOT):
        text = source.read_text(encoding="utf-8")
        questions = notebook_format.question_layout(text, source)
        figures = notebook_format.figure_cells(text, source)
        assert 1 <= len(questions) <= 3, (source.name, len(questions))
        assert [q.id for q in questions] == [f"q{k}" for k in range(1, len(questions) + 1)]
        for q in questions:
            where = (source.name, q.id)
            assert 1 <= q.points <= 3, where
            assert 2 <= len(q.rubric) <= 3, where
            assert sum(points for _, points in q.rubric) == q.points, where
            assert all(points > 0 and item for item, points in q.rubric), where
            unit = "point" if q.points == 1 else "points"
            assert f"**Question {q.id[1:]}** ({q.points:g} {unit})." in q.prompt, where
            assert "?" in q.prompt, where
            assert len(q.answer.split()) >= 40, where  # a reference answer, not a stub
            assert all(name in figures for name in q.figures), where
        # Every figure cell is one a question is judged from.
        assert set(figures) == {name for q in questions for name in q.figures}, source.name


def test_the_figure_questions_of_chapters_03_and_06():
    """Chapter 03's question on the free-running orbits and chapter 06's on STF or GTF are
    judged from the student's own figure and table."""
    def layout(name):
        text = (ROOT / "solutions" / f"{name}.py").read_text(encoding="utf-8")
        return notebook_format.question_layout(text), notebook_format.figure_cells(text)

    questions, figures = layout("03_stf_lorenz")
    assert questions[0].figures == ("orbits",) and "orbits" in figures
    assert "Lorenz-63" in questions[0].prompt and "figure" in questions[0].prompt
    questions, figures = layout("06_gtf_lorenz")
    assert questions[0].figures == ("table",)
    assert "STF" in questions[0].prompt and "GTF with resets" in questions[0].prompt
    questions, _ = layout("04_plrnn_max_lyapunov")
    assert [q.title for q in questions[:2]] == [
        "Question 1 (why the naive product fails)",
        "Question 2 (the relative error of the QR exponent)"]


def test_the_notebooks_carry_the_questions(root):
    """The exercise has an answer cell per question, right after the prompt's cell, with the
    question's metadata; the solution marks the cell with the prompt and the answer."""
    import nbformat

    for source in release_tool.solution_sources(root):
        questions = notebook_format.question_layout(source.read_text(encoding="utf-8"), source)
        exercise = nbformat.read(root / "exercises" / f"{source.stem}.ipynb", as_version=4)
        solution = nbformat.read(root / "solutions" / f"{source.stem}.ipynb", as_version=4)
        for q in questions:
            where = (source.name, q.id)
            [answer] = [k for k, c in enumerate(exercise.cells)
                        if c.metadata.get("course_utils", {}).get("answer") == q.id]
            cell = exercise.cells[answer]
            assert cell.cell_type == "markdown", where
            assert cell.source == notebook_format.ANSWER_PLACEHOLDER, where
            assert dict(cell.metadata["course_utils"]) == {
                "answer": q.id, "title": q.title, "points": q.points}, where
            assert cell.metadata["deletable"] is False, where
            prompt = exercise.cells[answer - 1]
            assert dict(prompt.metadata["course_utils"]) == {"question": q.id}, where
            assert prompt.source.rstrip().endswith(q.prompt.splitlines()[-1]), where
            [marked] = [c for c in solution.cells
                        if c.metadata.get("course_utils", {}).get("question") == q.id]
            assert dict(marked.metadata["course_utils"]) == {
                "question": q.id, "title": q.title, "points": q.points,
                "figures": list(q.figures)}, where
            assert notebook_format.ANSWER_OPEN in marked.source, where
            assert q.answer.splitlines()[0] in marked.source, where
            for item, _ in q.rubric:
                assert item not in marked.source, where
        answers = [c for c in exercise.cells if c.source == notebook_format.ANSWER_PLACEHOLDER]
        assert len(answers) == len(questions), source.name
