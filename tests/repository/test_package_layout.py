"""The package's parts and the rules between them, read from the source's imports.

The parts: the students' toolkit (the top-level modules), the notebook format
(``notebook_format``), the checks (``checks/``), the tutors' grader (``grading/``) and the
authors' tools (``authoring/``). The toolkit imports only itself; the notebook format
nothing of the package; the checks neither the grader nor the authors' tools; the grader
not the authors' tools. No module imports, even inside a function, a module that imports
it back. And the students' install (the core dependencies, with the torch and tf extras)
is enough for everything the toolkit, the notebook format and the checks import.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "course_utils"

#: What each part may import of the package.
ALLOWED = {
    "toolkit": {"toolkit"},
    "format": set(),
    "checks": {"toolkit", "format", "checks"},
    "grading": {"toolkit", "format", "checks", "grading"},
    "authoring": {"toolkit", "format", "checks", "authoring"},
}
#: The import names of distributions whose name differs.
IMPORT_NAMES = {"pyyaml": "yaml", "ipython": "IPython", "tensorflow-cpu": "tensorflow"}
#: What the book extra brings for the Sphinx extension (through jupyter-book).
SPHINX = {"sphinx", "docutils"}


def part(module: str) -> str:
    """The part of a module named ``course_utils.x.y``."""
    names = module.split(".") + [""]
    if names[1] in ("checks", "grading", "authoring"):
        return names[1]
    return "format" if names[1] == "notebook_format" else "toolkit"  # with the package


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _optional(node: ast.AST, parents: dict) -> bool:
    """Whether an import sits in a ``try`` that handles ImportError (an optional import)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError",
                                                               "ModuleNotFoundError")
                for h in node.handlers):
            return True
    return False


def imports_of(source: str, module: str, is_package: bool) -> tuple[set[str], set[str]]:
    """(package modules, third-party top-level names) that ``source`` imports anywhere,
    functions included; optional third-party imports are left out."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    base = module.split(".") if is_package else module.split(".")[:-1]
    internal, external = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = ".".join(base[:len(base) - node.level + 1])
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module
            # the name imported may be a module (resolved below to the longest that exists)
            names = [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "course_utils":
                internal.add(name)
            elif name.split(".")[0] not in sys.stdlib_module_names and not _optional(node, parents):
                external.add(name.split(".")[0])
    return internal, external


def package_graph(package: Path = PACKAGE) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Every module's imports of package modules (resolved to modules that exist) and its
    third-party imports."""
    files = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph, external = {}, {}
    for module, path in files.items():
        internal, outside = imports_of(path.read_text(encoding="utf-8"), module,
                                       path.name == "__init__.py")
        resolved = set()
        for name in internal:
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module and name != "course_utils":
                resolved.add(name)
        graph[module], external[module] = resolved, outside
    return graph, external


def forbidden_imports(graph: dict[str, set[str]]) -> list[str]:
    """The imports that break :data:`ALLOWED`, as ``"a imports b"``."""
    return sorted(f"{a} ({part(a)}) imports {b} ({part(b)})" for a, targets in graph.items()
                  for b in targets if part(b) not in ALLOWED[part(a)])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm), where a
    package's ``__init__`` importing its own modules does not count."""
    def edges(a):
        return {b for b in graph[a] if not b.startswith(a + ".")}
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _allowed_distributions(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    names = set()
    for spec in specs:
        name = spec.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0]
        name = name.strip().lower()
        names.add(IMPORT_NAMES.get(name, name.replace("-", "_")))
    return names


GRAPH, EXTERNAL = package_graph()


def test_every_part_is_there():
    assert {part(m) for m in GRAPH} == set(ALLOWED)
    for package in ("checks", "grading", "authoring"):
        doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
        assert doc and len(doc) > 200, f"course_utils.{package} needs a docstring: who it is for"


def test_no_part_imports_what_it_may_not():
    assert forbidden_imports(GRAPH) == []


def private_imports(package: Path = PACKAGE) -> list[str]:
    """Private names (a leading underscore) that a module takes from another module of the
    package, as ``"module: name from other"``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            internal = isinstance(node, ast.ImportFrom) and (
                node.level or (node.module or "").split(".")[0] == "course_utils")
            if internal:
                found += [f"{module_name(path, package)}: {alias.name} from "
                          f"{'.' * node.level}{node.module or ''}"
                          for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def test_no_module_takes_another_modules_private_names():
    assert private_imports() == []


def test_no_import_cycles():
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("group, extras", [
    ({"toolkit", "checks"}, ("torch", "tf")),
    # copydetect (the `similarity` extra) is optional: without it the similarity report
    # uses its built-in engine (tests/grading/test_similarity.py runs both).
    ({"grading"}, ("torch", "tf", "grading", "similarity")),
    ({"authoring"}, ("authoring",)),
])
def test_each_part_needs_only_its_install(group, extras):
    allowed = _allowed_distributions(*extras) | {"keras"} | (SPHINX if "authoring" in group else set())
    missing = {m: sorted(EXTERNAL[m] - allowed) for m in EXTERNAL
               if part(m) in group and EXTERNAL[m] - allowed}
    assert missing == {}, f"imports that the install of {extras} lacks"


def test_the_notebook_format_needs_the_students_install_until_it_writes_ipynb():
    """The checks import the notebook format; at import it needs only the standard
    library, and only its conversion to ``.ipynb`` (inside the function, for the grader
    and the release tool) needs what both their installs have."""
    tree = ast.parse((PACKAGE / "notebook_format.py").read_text(encoding="utf-8"))
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
           for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    assert top <= set(sys.stdlib_module_names) | {"__future__"}, top
    both = _allowed_distributions("authoring") & _allowed_distributions("grading")
    assert EXTERNAL["course_utils.notebook_format"] <= both


def test_the_students_install_lacks_the_authors_and_graders_packages():
    core = _allowed_distributions()
    assert not core & {"jupytext", "nbformat", "yaml", "IPython"}, core


def test_the_rules_catch_a_forbidden_import_and_a_cycle(tmp_path):
    """The checker itself: a toolkit module that imports the grader, a checks module that
    imports the release tool, and two modules that import each other (in a function)."""
    package = tmp_path / "course_utils"
    for folder in ("", "checks", "grading", "authoring"):
        (package / folder).mkdir(parents=True, exist_ok=True)
        (package / folder / "__init__.py").write_text('"""x"""\n')
    (package / "data.py").write_text("def f():\n    from .grading import runner\n")
    (package / "grading" / "runner.py").write_text("from ..checks import stf\n")
    (package / "checks" / "stf.py").write_text("import course_utils.authoring.release\n")
    (package / "authoring" / "release.py").write_text("from ..data import f\n")
    (package / "lorenz.py").write_text("from . import metrics\n")
    (package / "metrics.py").write_text("def g():\n    from .lorenz import x\n")
    (package / "checks" / "gtf.py").write_text("from .stf import _small_plrnn, public\n")
    graph, _ = package_graph(package)
    assert private_imports(package) == ["course_utils.checks.gtf: _small_plrnn from .stf"]
    assert forbidden_imports(graph) == [
        "course_utils.checks.stf (checks) imports course_utils.authoring.release (authoring)",
        "course_utils.data (toolkit) imports course_utils.grading.runner (grading)"]
    assert sorted(cycles(graph)) == [
        ["course_utils.authoring.release", "course_utils.checks.stf", "course_utils.data",
         "course_utils.grading.runner"],
        ["course_utils.lorenz", "course_utils.metrics"]]


def test_every_checks_module_is_a_chapter_with_its_tasks_checks():
    """Each checks module's CHAPTER is a solution source, and each task's checks (as the
    solutions declare them) are functions of that chapter's checks module."""
    from course_utils.checks import BY_CHAPTER, checks_of
    from course_utils.checks.declared import TASKS

    stems = {p.stem for p in (ROOT / "solutions").glob("*.py") if not p.name.startswith("_")}
    assert set(BY_CHAPTER) <= stems, sorted(set(BY_CHAPTER) - stems)
    assert set(TASKS) <= set(BY_CHAPTER), sorted(set(TASKS) - set(BY_CHAPTER))
    for chapter, tasks in TASKS.items():
        for task in tasks:
            assert set(task["checks"]) <= set(checks_of(chapter)), (chapter, task["task"])
