"""The release tool: templates, paired notebooks, --check, expected outputs, marker errors."""

import json
import textwrap

import pytest

from course_utils import notebooks
from course_utils.notebooks import MarkerError, expected_outputs, make_exercise, release

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
        # BEGIN SOLUTION Task 1 (f)
        if y > 0:
            return y + 1
        return y
        # END SOLUTION


    class C:
        def g(self):
            # BEGIN SOLUTION Task 2: C.g
            return 42
            # END SOLUTION

    # %% tags=["nbval-check-output"]
    print(f(1))
    print()
    # Expected output:
    # 3
    #
    """)


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
    namespace = {}
    exec(make_exercise(SOLUTION).split("# %% tags")[0], namespace)  # all but the last cell
    with pytest.raises(NotImplementedError, match=r"^Task 1 \(f\): your code here$"):
        namespace["f"](1)


def test_solved_keeps_the_first_regions():
    namespace = {}
    code = make_exercise(SOLUTION, solved=1)
    exec(code.split("# %% tags")[0], namespace)
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
    assert expected_outputs(SOLUTION) == [None, "3\n\n"]
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
    assert code[0]["outputs"] == []
    assert code[1]["outputs"][0]["text"] in ("3\n\n", ["3\n", "\n"])
    assert code[1]["execution_count"] == 2
    assert "nbval-check-output" in code[1]["metadata"]["tags"]


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
