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
        assert tasks, f"{source.name} has no gradable task"
        for kind in ("solutions", "exercises"):
            path = root / kind / f"{source.stem}.ipynb"
            nb = nbformat.read(path, as_version=4)
            assert nb.metadata["course_utils"] == {"chapter": source.stem}, path
            code = [c for c in nb.cells if c.cell_type == "code"]
            if kind == "exercises":  # the setup cell comes first
                tasks = release_tool.exercise_tasks(tasks)
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
            assert all(code[k].metadata["mystnb"] == notebook_format.HIDE_SOLUTION for k in prompted)
            # ... and each written answer is a closed <details>, which the exercise lacks.
            text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            regions = sum(bool(notebook_format.MD_BEGIN.match(line))
                          for line in source.read_text(encoding="utf-8").splitlines())
            opened = text.count(notebook_format.ANSWER_OPEN)
            assert opened == (regions if kind == "solutions" else 0), path
            assert text.count(notebook_format.ANSWER_CLOSE) == opened, path
            assert "BEGIN SOLUTION -->" not in text and "END SOLUTION -->" not in text, path


def test_exercises_install_from_the_books_repository():
    """One place: the setup cell of every template is made from book/_config.yml."""
    expected = setup_cell(read_repository(ROOT / "book" / "_config.yml"))
    for name in CHAPTERS:
        assert expected in (ROOT / "exercises" / f"{name}.py").read_text(), name
        assert "find_spec" not in (ROOT / "solutions" / f"{name}.ipynb").read_text(), name
