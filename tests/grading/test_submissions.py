"""The submissions (course_utils.grading.submissions): collecting a class's notebooks from
folders and zips (symbolic links are not graded), reading a notebook, the reference of a
chapter (load_reference), and finding the code of each task in a student's notebook
(task_code). No task is run here: the end-to-end grading is tested in test_grade.py and
test_attacks.py, the sandbox in test_sandbox.py."""

import copy
import json
import stat
import zipfile

import nbformat
import pytest

from course_utils.grading.status import NOT_GRADED_SYMLINK as SYMLINK
from course_utils.grading.submissions import (Submission, collect, load_reference,
                                              read_notebook, task_code)
from course_utils.notebook_format import parse_percent

CHAPTER = "04_plrnn_max_lyapunov"
NOTEBOOK = json.dumps(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))


@pytest.fixture(scope="module")
def reference(root):
    return load_reference(CHAPTER, root / "solutions")


@pytest.fixture(scope="module")
def _template(root):
    return nbformat.read(root / "exercises" / f"{CHAPTER}.ipynb", as_version=4)


@pytest.fixture
def template(_template):
    """A fresh copy of the chapter's exercise template, as a student starts from it."""
    return copy.deepcopy(_template)


def _index_of_task(notebook, task_id):
    [index] = [i for i, c in enumerate(notebook.cells)
               if c.metadata.get("course_utils", {}).get("task") == task_id]
    return index


# --- collect --------------------------------------------------------------------------------

def _rows(submissions, base):
    """(student, path relative to base or None, problem) of each submission."""
    return [(s.student, s.path.relative_to(base).as_posix() if s.path else None, s.problem)
            for s in submissions]


def _write(path, text=NOTEBOOK):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_collect_a_folder_of_notebooks(tmp_path):
    folder = tmp_path / "in"
    _write(folder / "alice.ipynb")
    _write(folder / "Bob Smith (1).ipynb")
    _write(folder / "notes.txt", "not a notebook")
    _write(folder / ".DS_Store", "x")
    _write(folder / ".ipynb_checkpoints" / "alice-checkpoint.ipynb")
    _write(folder / "__MACOSX" / "._alice.ipynb", "x")
    found = collect([folder], tmp_path / "scratch")
    assert _rows(found, folder) == [
        ("Bob_Smith_1", "Bob Smith (1).ipynb", None),
        ("alice", "alice.ipynb", None),
        ("notes", "notes.txt", None),  # still a student: read_notebook says what is wrong
    ]
    assert all(isinstance(s, Submission) for s in found)
    assert read_notebook(found[2].path, CHAPTER) == (None, "not a notebook (JSONDecodeError)")


def _student_folders(base):
    _write(base / "alice" / "sheet04.ipynb")
    _write(base / "bob" / "work" / "deep" / "mine.ipynb")  # found recursively
    _write(base / "bob" / ".ipynb_checkpoints" / "mine-checkpoint.ipynb")
    _write(base / "bob" / "__MACOSX" / "._mine.ipynb", "x")
    _write(base / "carol" / "readme.txt", "I forgot")
    _write(base / "dave" / "a.ipynb")
    _write(base / "dave" / "b.ipynb")
    _write(base / "erin" / ".ipynb_checkpoints" / "x-checkpoint.ipynb")  # only a checkpoint


STUDENT_FOLDERS = [
    ("alice", "alice/sheet04.ipynb", None),
    ("bob", "bob/work/deep/mine.ipynb", None),
    ("carol", None, "no notebook"),
    ("dave", None, "several notebooks (2)"),
    ("erin", None, "no notebook"),
]


def test_collect_a_folder_of_student_folders(tmp_path):
    folder = tmp_path / "in"
    _student_folders(folder)
    _write(folder / "__MACOSX" / "alice" / "._sheet04.ipynb", "x")
    assert _rows(collect([folder], tmp_path / "scratch"), folder) == STUDENT_FOLDERS


def _zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def test_collect_a_zip_of_notebooks(tmp_path):
    archive = _zip(tmp_path / "group.zip", {"alice.ipynb": NOTEBOOK, "bob.ipynb": NOTEBOOK,
                                            "__MACOSX/._bob.ipynb": "x"})
    scratch = tmp_path / "scratch"
    found = collect([archive], scratch)
    assert _rows(found, scratch) == [("alice", "zip0/alice.ipynb", None),
                                     ("bob", "zip0/bob.ipynb", None)]
    assert json.loads(found[0].path.read_text()) == json.loads(NOTEBOOK)


def test_a_zip_entry_keeps_its_time_and_a_bad_time_is_no_problem(tmp_path):
    """Unpacked notebooks carry their entry's time (for late penalties); an entry whose
    DOS date is no date (month 0) is unpacked all the same, with the time of unpacking."""
    archive = tmp_path / "group.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("alice.ipynb", (2026, 11, 20, 18, 0, 0)), NOTEBOOK)
        zf.writestr(zipfile.ZipInfo("bob.ipynb", (1980, 0, 0, 0, 0, 0)), NOTEBOOK)
    found = {s.student: s for s in collect([archive], tmp_path / "scratch")}
    assert found["alice"].submitted.isoformat() == "2026-11-20T18:00:00+00:00"
    assert found["bob"].problem is None and found["bob"].submitted.year >= 2026


@pytest.mark.parametrize("top", ["", "Abgaben Blatt 4/"])
def test_collect_a_zip_of_student_folders(tmp_path, top):
    """The folders at the top of the zip, or in its single top-level folder."""
    source = tmp_path / "source"
    _student_folders(source)
    files = {f"{top}{p.relative_to(source).as_posix()}": p.read_text()
             for p in source.rglob("*") if p.is_file()}
    files[f"__MACOSX/{top}._alice"] = "x"
    archive = _zip(tmp_path / "group.zip", files)
    scratch = tmp_path / "scratch"
    expected = [(s, p and f"zip0/{top}{p}", problem) for s, p, problem in STUDENT_FOLDERS]
    assert _rows(collect([archive], scratch), scratch) == expected


def test_collect_an_unsafe_zip_is_a_problem_not_an_exception(tmp_path):
    evil = _zip(tmp_path / "evil.zip", {"ok.ipynb": NOTEBOOK, "../evil.ipynb": NOTEBOOK})
    fake = _write(tmp_path / "fake.zip", "this is no zip")
    single = _write(tmp_path / "zoe.ipynb")
    scratch = tmp_path / "scratch"
    found = collect([evil, fake, single], scratch)
    assert [(s.student, s.path) for s in found] == [("evil", None), ("fake", None),
                                                    ("zoe", single)]
    assert found[0].problem == (f"unsafe zip archive ({evil}: unsafe path '../evil.ipynb')")
    assert found[1].problem == "not a zip archive"
    assert found[2].problem is None
    assert not (scratch / "evil.ipynb").exists() and not (tmp_path / "evil.ipynb").exists()
    assert not list((scratch / "zip0").iterdir())  # nothing of the unsafe zip is extracted


def test_collect_numbers_duplicate_students(tmp_path):
    for k in range(3):
        _write(tmp_path / f"group{k}" / "alice.ipynb")
    _write(tmp_path / "group2" / "bob.ipynb")
    found = collect([tmp_path / f"group{k}" for k in range(3)], tmp_path / "scratch")
    assert [s.student for s in found] == ["alice", "alice_2", "alice_3", "bob"]
    assert [s.path.parent.name for s in found] == ["group0", "group1", "group2", "group2"]


def test_collect_duplicate_suffix_does_not_collide_with_a_real_name(tmp_path):
    folder = tmp_path / "in"
    _write(folder / "alice.ipynb")
    _write(folder / "alice_2.ipynb")
    _write(folder / "alice" / "sheet.ipynb")
    names = [s.student for s in collect([folder], tmp_path / "scratch")]
    assert len(set(names)) == 3, names


def test_collect_a_missing_path_stops_with_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect([tmp_path / "nowhere.zip"], tmp_path / "scratch")


# --- read_notebook --------------------------------------------------------------------------

@pytest.mark.parametrize("content, problem", [
    (b"not json", "not a notebook (JSONDecodeError)"),
    (b"", "not a notebook (JSONDecodeError)"),
    (b"\xff\xfe\x00", "not a notebook (UnicodeDecodeError)"),
    (b'{"a": 1}', "not a notebook (ValidationError)"),
    (b"[1, 2]", "not a notebook (AttributeError)"),
    (b'"text"', "not a notebook (AttributeError)"),
    (json.dumps(nbformat.v4.new_notebook()).encode(), "empty notebook"),
    (json.dumps(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hi")]))
     .encode(), "empty notebook"),
])
def test_read_notebook_problems(tmp_path, content, problem):
    path = tmp_path / "student.ipynb"
    path.write_bytes(content)
    assert read_notebook(path, CHAPTER) == (None, problem)


def test_read_notebook_of_another_chapter(tmp_path, template):
    template.metadata["course_utils"]["chapter"] = "03_stf_lorenz"
    path = tmp_path / "student.ipynb"
    nbformat.write(template, path)
    assert read_notebook(path, CHAPTER) == (None, "wrong chapter (03_stf_lorenz)")


def test_read_notebook_valid(tmp_path, template, root):
    path = tmp_path / "student.ipynb"
    nbformat.write(template, path)
    notebook, problem = read_notebook(path, CHAPTER)
    assert problem is None
    assert notebook == nbformat.read(root / "exercises" / f"{CHAPTER}.ipynb", as_version=4)
    del template.metadata["course_utils"]  # no chapter in the metadata: accepted
    nbformat.write(template, path)
    assert read_notebook(path, CHAPTER)[1] is None


# --- load_reference -------------------------------------------------------------------------

@pytest.mark.parametrize("name", [CHAPTER, "04", "4", "004"])
def test_load_reference_by_name_and_number(root, name):
    assert load_reference(name, root / "solutions").chapter == CHAPTER


def test_load_reference_unknown_chapter_names_the_chapters(root):
    from course_utils.authoring.release import solution_sources

    with pytest.raises(ValueError) as info:
        load_reference("99", root / "solutions")
    stems = [p.stem for p in solution_sources(root)]
    assert str(info.value) == f"unknown chapter '99'; the chapters are: {', '.join(stems)}"
    with pytest.raises(ValueError, match="unknown chapter 'plrnn'"):
        load_reference("plrnn", root / "solutions")


def test_load_reference_tasks_and_names(reference, root):
    assert [(t.id, t.title, t.points) for t in reference.tasks] == [
        ("task1", "Task 1 (Jacobians along the orbit)", 2),
        ("task2", "Task 2 (the naive product)", 2)]
    assert [(t.code_cell, t.check_cell, t.checks) for t in reference.tasks] == [
        (3, 4, ("check_plrnn_jacobians",)), (5, 6, ("check_naive_norms",))]
    assert [(q.id, q.points) for q in reference.questions] == [("q1", 3), ("q2", 3)]
    assert reference.max_points == 4 + 6  # the tasks and the written answers
    assert reference.defined_names == {"task1": {"orbit_jacobians"}, "task2": {"naive_norms"}}
    _, cells = parse_percent((root / "solutions" / f"{CHAPTER}.py").read_text())
    assert len(reference.code_cells) == sum(c.kind == "code" for c in cells)  # all of them
    assert reference.code_cells[4].startswith("check_plrnn_jacobians(orbit_jacobians)\n")
    assert "# END SOLUTION" in reference.code_cells[3]  # the solution itself
    exercise = nbformat.read(root / "exercises" / f"{CHAPTER}.ipynb", as_version=4)
    assert reference.template_ids == {c.id for c in exercise.cells}


# --- task_code ------------------------------------------------------------------------------

def test_task_code_of_the_template(template, reference):
    task1, task2 = reference.tasks
    for task in reference.tasks:
        cell = template.cells[_index_of_task(template, task.id)]
        assert task_code(template, reference, task) == (cell.source, "tagged")
    assert "raise NotImplementedError('Task 1 (Jacobians along the orbit): your code here')" \
        in task_code(template, reference, task1)[0]


def test_task_code_after_the_task_cell_was_moved(template, reference):
    task1 = reference.tasks[0]
    index = _index_of_task(template, "task1")
    cell = template.cells.pop(index)
    cell.source = "def orbit_jacobians(model, Z):\n    return 1"
    template.cells.append(cell)  # after the last markdown cell
    assert task_code(template, reference, task1) == (cell.source, "tagged")
    # Next to a code cell of the template (the plot): that cell is not taken with it.
    template.cells.pop()
    [plot] = [i for i, c in enumerate(template.cells) if c.source.startswith("fig, (ax_naive")]
    template.cells.insert(plot + 1, cell)
    assert template.cells[plot].cell_type == "code"
    assert task_code(template, reference, task1) == (cell.source, "tagged")


def test_task_code_template_cells_beside_the_task_are_not_taken(template, reference):
    task1 = reference.tasks[0]
    index = _index_of_task(template, "task1")
    assert template.cells[index - 1].cell_type == "markdown"
    del template.cells[index - 1]  # the template's code cell before it is now its neighbour
    index -= 1
    assert template.cells[index - 1].cell_type == "code"
    assert "course_utils" not in template.cells[index - 1].metadata
    del template.cells[index + 1].metadata["course_utils"]  # an untagged check cell
    assert task_code(template, reference, task1) == (template.cells[index].source, "tagged")


@pytest.mark.parametrize("added_first", [False, True])
def test_task_code_joins_a_split_task_cell(template, reference, added_first):
    task2 = reference.tasks[1]
    index = _index_of_task(template, "task2")
    helper = "def _norm(P):\n    return torch.linalg.matrix_norm(P, ord=2)"
    main = "def naive_norms(J):\n    return torch.stack([_norm(j) for j in J])"
    template.cells[index].source = main
    added = nbformat.v4.new_code_cell(helper)  # a new cell: a new id, no metadata
    assert added.id not in reference.template_ids
    template.cells.insert(index if added_first else index + 1, added)
    parts = [helper, main] if added_first else [main, helper]
    assert task_code(template, reference, task2) == (
        "\n\n".join(parts), "tagged, with 1 cell added beside it")


def test_task_code_joins_cells_added_on_both_sides(template, reference):
    task2 = reference.tasks[1]
    index = _index_of_task(template, "task2")
    template.cells.insert(index + 1, nbformat.v4.new_code_cell("c = 3"))
    template.cells.insert(index + 1, nbformat.v4.new_code_cell("b = 2"))
    template.cells.insert(index, nbformat.v4.new_code_cell("a = 1"))
    code, how = task_code(template, reference, task2)
    assert code == "\n\n".join(["a = 1", template.cells[index + 1].source, "b = 2", "c = 3"])
    assert how == "tagged, with 3 cells added beside it"


def test_task_code_without_the_tag_is_found_by_name(template, reference):
    task1 = reference.tasks[0]
    index = _index_of_task(template, "task1")
    del template.cells[index].metadata["course_utils"]
    assert task_code(template, reference, task1) == (
        template.cells[index].source,
        "by name (orbit_jacobians): the task tag is missing")
    # Defined twice: the last definition in the notebook is the one that counts.
    template.cells.append(nbformat.v4.new_code_cell("def orbit_jacobians(model, Z):\n    "
                                                    "return 2"))
    assert task_code(template, reference, task1)[0].endswith("return 2")


def test_task_code_of_a_deleted_task_cell(template, reference):
    task1 = reference.tasks[0]
    del template.cells[_index_of_task(template, "task1")]
    assert task_code(template, reference, task1) == (None, "task cell not found")
    # A cell that only uses the name does not count as defining it.
    template.cells.append(nbformat.v4.new_code_cell("J = orbit_jacobians(model, Z)"))
    assert task_code(template, reference, task1) == (None, "task cell not found")


def test_task_code_without_cell_ids_does_not_take_template_cells(tmp_path, template,
                                                                  reference):
    task1 = reference.tasks[0]
    index = _index_of_task(template, "task1")
    del template.cells[index - 1]  # the markdown cell: a template code cell is its neighbour
    raw = json.loads(nbformat.writes(template))
    raw["nbformat_minor"] = 4
    for cell in raw["cells"]:
        del cell["id"]
    path = tmp_path / "student.ipynb"
    path.write_text(json.dumps(raw))
    notebook, problem = read_notebook(path, CHAPTER)
    assert problem is None
    assert task_code(notebook, reference, task1) == (notebook.cells[index - 1].source, "tagged")


# --- symbolic links -------------------------------------------------------------------------

def test_a_linked_notebook_is_not_graded(tmp_path):
    target = _write(tmp_path / "elsewhere" / "solution.ipynb")
    group = tmp_path / "group"
    _write(group / "alice.ipynb")
    (group / "bob.ipynb").symlink_to(target)
    (group / "carol").mkdir()
    (group / "carol" / "sheet.ipynb").symlink_to(group / "alice.ipynb")
    (group / "dora").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (group / "emil").mkdir()
    (group / "emil" / "work").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    found = {s.student: (s.path, s.problem) for s in collect([group], tmp_path / "scratch")}
    assert found["alice"][1] is None
    for name in ("bob", "carol", "dora", "emil"):
        assert found[name] == (None, SYMLINK), name
    single = tmp_path / "me.ipynb"
    single.symlink_to(target)
    [me] = collect([single], tmp_path / "scratch2")
    assert (me.student, me.path, me.problem) == ("me", None, SYMLINK)
    assert read_notebook(single, CHAPTER) == (None, SYMLINK)


def test_a_symbolic_link_in_a_zip_is_not_graded(tmp_path):
    archive = tmp_path / "group.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice.ipynb", NOTEBOOK)
        link = zipfile.ZipInfo("bob.ipynb")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/work/solutions/04_plrnn_max_lyapunov.ipynb")
        folder = zipfile.ZipInfo("carol")
        folder.create_system = 3
        folder.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(folder, "/etc")
        zf.writestr("carol/x.ipynb", NOTEBOOK)
    found = {s.student: s for s in collect([archive], tmp_path / "scratch")}
    assert found["alice"].problem is None and found["alice"].digest
    assert found["bob"].problem == SYMLINK and found["bob"].path is None
    assert found["carol"].problem == SYMLINK
    assert not list((tmp_path / "scratch").rglob("x.ipynb"))


def test_submissions_carry_the_digest_of_their_bytes(tmp_path):
    a = _write(tmp_path / "a.ipynb")
    b = _write(tmp_path / "b.ipynb")
    c = _write(tmp_path / "c.ipynb", NOTEBOOK + " ")
    digests = {s.student: s.digest for s in collect([a, b, c], tmp_path / "s")}
    assert digests["a"] == digests["b"] != digests["c"]
