"""The review of task cells: the package's own answer to a task, introspection and dynamic
code are found, wherever they hide in the syntax; no correct solution of the course is
flagged; the notebook's check says the same as the grader."""

import importlib
import linecache
from pathlib import Path

import pytest

from course_utils.checks.declared import TASKS
from course_utils.checks.review import (Declaration, declaration_of, namespace_of_source,
                                        review, review_objects)
from course_utils.grading.submissions import load_reference
from course_utils.authoring.release import solution_sources
from course_utils.notebook_format import strip_check_calls

ROOT = Path(__file__).resolve().parents[2]
CH04_T1 = declaration_of("04_plrnn_max_lyapunov", "check_plrnn_jacobians")
CH04_T2 = declaration_of("04_plrnn_max_lyapunov", "check_naive_norms")
NAMESPACE = {"torch": "torch", "np": "numpy", "sys": "sys",
             "max_lyapunov": "course_utils.lyapunov.max_lyapunov"}


def _names(findings):
    return [f.split(" (")[0] for f in findings]


@pytest.mark.parametrize("source", solution_sources(ROOT), ids=lambda p: p.stem)
def test_no_reference_solution_is_flagged(source):
    reference = load_reference(source.stem, ROOT / "solutions")
    for task in reference.tasks:
        prefix = "\n".join(reference.code_cells[:task.code_cell])
        declaration = Declaration(task.title, task.references, task.allowed)
        assert task.references, f"{task.title} declares no reference"
        assert review(reference.code_cells[task.code_cell], declaration,
                      namespace=namespace_of_source(prefix)) == [], task.title


def test_every_declared_reference_exists_in_the_package():
    for chapter, tasks in TASKS.items():
        for task in tasks:
            for name in task["references"]:
                parts = name.split(".")
                for k in range(len(parts), 0, -1):
                    try:
                        obj = importlib.import_module(".".join(parts[:k]))
                        break
                    except ImportError:
                        continue
                for attr in parts[k:]:
                    obj = getattr(obj, attr)  # raises if the declaration has a typo
                assert obj is not None, name


@pytest.mark.parametrize("source", [
    "def orbit_jacobians(model, Z):\n"
    "    J = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(0), Z)\n"
    "    return J.permute(1, 0, 2)",
    "from torch.autograd.functional import jacobian\n"
    "def orbit_jacobians(model, Z):\n    return jacobian(lambda Z: model(Z).sum(0), Z)",
    "import torch.autograd.functional as AF\n"
    "def orbit_jacobians(model, Z):\n    return AF.jacobian(model, Z)",
    "F = torch.autograd.functional\n"
    "def orbit_jacobians(model, Z):\n    return F.jacobian(model, Z)",
    "from torch.func import jacrev, vmap\n"
    "def orbit_jacobians(model, Z):\n    return vmap(jacrev(model))(Z)",
    "def orbit_jacobians(model, Z):\n"
    "    jacobian = torch.stack([model.A.diag()] * len(Z))\n    return jacobian",
    "def orbit_jacobians(model, Z):\n"
    "    active = (Z @ model.W2.T + model.h2 > 0).to(Z.dtype)\n"
    "    return torch.diag(model.A) + model.W1 @ (active[:, :, None] * model.W2)",
    "class Helper:\n    def __init__(self):\n        super().__init__()\n"
    "def orbit_jacobians(model, Z):\n    return Helper.__name__",
    "def orbit_jacobians(model, Z):\n    return model.forward(Z)\n"
    "check_plrnn_jacobians(orbit_jacobians)",
])
def test_correct_styles_are_not_flagged(source):
    assert review(source, CH04_T1, namespace=NAMESPACE) == []


def test_same_names_as_the_reference_are_the_students_own():
    ch01 = declaration_of("01_henon_keras_rnn", "check_henon_jacobian")
    own = ("def henon_jacobian(z, a=1.4, b=0.3):\n    return np.stack([z, z], 1)\n"
           "def helper(z):\n    return henon_jacobian(z)")
    assert review(own, ch01, namespace=NAMESPACE) == []
    cell = declaration_of("01_henon_keras_rnn", "check_henon_cell")
    subclass = ("class HenonCell(keras.layers.Layer):\n"
                "    def __init__(self, a=1.4, b=0.3, **kw):\n"
                "        super(HenonCell, self).__init__(**kw)\n")
    assert review(subclass, cell, namespace={"keras": "keras"}) == []


@pytest.mark.parametrize("source, declaration, expected", [
    ("def f(model, Z):\n    return model.jacobian(Z)", CH04_T1, "jacobian"),
    ("f = lambda m, Z: getattr(m, 'jacobian')(Z)", CH04_T1, "jacobian"),
    ("from course_utils.lyapunov import naive_product_log_norms as n", CH04_T2,
     "naive_product_log_norms"),
    ("import course_utils.lyapunov as L\nL.naive_product_log_norms", CH04_T2,
     "naive_product_log_norms"),
    ("import course_utils\ncourse_utils.lyapunov.naive_product_log_norms", CH04_T2,
     "naive_product_log_norms"),
    ("x = [L][0].naive_product_log_norms", CH04_T2, "naive_product_log_norms"),
    ("def naive_norms(J):\n    return naive_product_log_norms(J)", CH04_T2,
     "naive_product_log_norms"),
    ("naive_product_log_norms = naive_product_log_norms", CH04_T2,
     "naive_product_log_norms"),
    ("from course_utils.linearization import Linearization", CH04_T1, "Linearization"),
    ("class C(keras_cells.HenonCell):\n    pass",
     declaration_of("01_henon_keras_rnn", "check_henon_cell"), "HenonCell"),
    ("from course_utils.lyapunov import *", CH04_T2, "from course_utils.lyapunov import *"),
    ("exec('x = 1')", CH04_T2, "exec"),
    ("eval('1')", CH04_T2, "eval"),
    ("c = compile('1', 'x', 'eval')", CH04_T2, "compile"),
    ("m = __import__('course_utils.lyapunov')", CH04_T2, "__import__"),
    ("import importlib\nimportlib.import_module('x')", CH04_T2, "importlib"),
    ("import inspect\ninspect.stack()", CH04_T2, "inspect"),
    ("import gc", CH04_T2, "gc"),
    ("import ctypes", CH04_T2, "ctypes"),
    ("f = sys._getframe(1)", CH04_T2, "sys._getframe"),
    ("m = sys.modules['course_utils.lyapunov']", CH04_T2, "sys.modules"),
    ("def f():\n    try:\n        1 / 0\n    except Exception as e:\n"
     "        return e.__traceback__.tb_frame.f_back.f_locals", CH04_T2,
     "the attribute tb_frame"),
    ("g = (lambda: 0).__globals__", CH04_T2, "the attribute __globals__"),
    ("c = ().__class__.__base__.__subclasses__()", CH04_T2, "the attribute __base__"),
    ("d = vars(np)", CH04_T2, "vars"),
    ("d = globals()['x']", CH04_T2, "globals"),
    ("name = 'jaco' + 'bian'\nf = getattr(model, name)", CH04_T1,
     "getattr with a computed name"),
    ("f = list(map(getattr, [model], ['x']))", CH04_T1, "getattr with a computed name"),
    ("import operator\nop = operator.attrgetter('x')", CH04_T2, "operator.attrgetter"),
    ("import pickle\npickle.loads(b'')", CH04_T2, "pickle"),
    ("import subprocess\nsubprocess.run(['git', 'show'])", CH04_T2, "subprocess"),
    ("import os\nos.system('ls')", CH04_T2, "os.system"),
    ("import os\nos.execv('/bin/sh', [])", CH04_T2, "os.execv"),
    ("from concurrent.futures import ProcessPoolExecutor", CH04_T2,
     "concurrent.futures.ProcessPoolExecutor"),
    ("import timeit\ntimeit.timeit('1')", CH04_T2, "timeit"),
    ("import pydoc\npydoc.locate('x')", CH04_T2, "pydoc"),
    ("w = torch.load('x.pt')", CH04_T2, "torch.load"),
    ("a = np.load('x.npy', allow_pickle=True)", CH04_T2, "numpy.load with allow_pickle"),
    ("ip = get_ipython()", CH04_T2, "get_ipython"),
    ("import IPython", CH04_T2, "IPython"),
    ("%time x = 1", CH04_T2, "an IPython magic or shell command"),
    ("!git log", CH04_T2, "an IPython magic or shell command"),
    ("import course_utils.checks.naive_product as c", CH04_T2, "course_utils.checks"),
    ("from course_utils.grading import worker", CH04_T2, "course_utils.grading"),
    ("class C:\n    __module__ = 'torch'", CH04_T2, "the name __module__"),
    ("from . import x", CH04_T2, "a relative import"),
])
def test_flagged(source, declaration, expected):
    findings = review(source, declaration, namespace=NAMESPACE)
    assert expected in _names(findings), findings
    assert all(", line " in f for f in findings if "IPython magic" not in f)


def test_findings_name_the_line():
    findings = review("x = 1\n\nexec('y')\n", CH04_T2)
    assert findings == ["exec (dynamic code), line 3"]


def test_a_cell_that_does_not_parse_has_no_findings():
    assert review("def f(:\n    exec('x')", CH04_T2) == []


def test_the_students_check_call_is_not_a_finding():
    source = "def naive_norms(J):\n    return J\ncheck_naive_norms(naive_norms)"
    namespace = {"check_naive_norms": "course_utils.checks.naive_product.check_naive_norms"}
    assert review(source, CH04_T2, namespace=namespace) == []
    assert "check_naive_norms" not in strip_check_calls(source)


def _notebook_function(source: str, name: str, namespace: dict):
    """Define ``name`` as a notebook cell would: IPython keeps the cell's source under
    its own file name."""
    filename = "/tmp/ipykernel_4242/123456789.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def test_the_notebooks_check_says_it_before_submission():
    import torch

    from course_utils.checks import check_naive_norms

    cheat = _notebook_function(
        "from course_utils.lyapunov import naive_product_log_norms\n"
        "def naive_norms(J):\n"
        "    return torch.exp(naive_product_log_norms(J, dtype=str(J.dtype)[6:])).to(J.dtype)\n",
        "naive_norms", {"torch": torch})
    with pytest.raises(AssertionError, match=r"Task 2 \(the naive product\) asks you to write "
                                             r"this yourself; naive_product_log_norms is the "
                                             r"course's reference"):
        check_naive_norms(cheat)
    tricky = _notebook_function("def naive_norms(J):\n    return eval('J')\n", "naive_norms",
                                {})
    with pytest.raises(AssertionError, match=r"your task cell uses eval \(dynamic code\), "
                                             r"line 2.*for review by your tutor"):
        check_naive_norms(tricky)


def test_outside_a_notebook_nothing_is_reviewed():
    assert review_objects(CH04_T2, [lambda J: J]) is None


def test_declarations_come_from_the_solution_sources():
    assert CH04_T2.task == "Task 2 (the naive product)"
    assert CH04_T2.references == ("course_utils.lyapunov.naive_product_log_norms",)
    assert CH04_T1.allowed == ("torch.autograd.functional.jacobian",)
    assert declaration_of("04_plrnn_max_lyapunov", "check_unknown") is None
    assert declaration_of("99_nothing", "check_naive_norms") is None


def test_in_a_real_notebook_kernel_the_check_reviews_the_cell():
    """ipykernel keeps each cell's source where cell_source finds it: the check flags a
    cell that calls the reference, and passes a correct one, in a real kernel."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    v4 = nbformat.v4
    setup = v4.new_code_cell("import torch\nfrom course_utils.checks import check_naive_norms")
    cheat = v4.new_code_cell(
        "from course_utils.lyapunov import naive_product_log_norms\n"
        "def naive_norms(J):\n"
        "    dtype = 'float64' if J.dtype == torch.float64 else 'float32'\n"
        "    return torch.exp(naive_product_log_norms(J, dtype=dtype)).to(J.dtype)")
    correct = v4.new_code_cell(
        "def naive_norms(J):\n"
        "    T = J.shape[0]\n"
        "    norms = torch.full((T,), float('inf'), dtype=J.dtype)\n"
        "    P = torch.eye(J.shape[1], dtype=J.dtype)\n"
        "    for n in range(T):\n"
        "        P = P @ J[T - 1 - n]\n"
        "        if not torch.isfinite(P).all():\n"
        "            break\n"
        "        norms[n] = torch.linalg.matrix_norm(P, ord=2)\n"
        "    return norms")
    check = v4.new_code_cell("check_naive_norms(naive_norms)")
    notebook = v4.new_notebook(cells=[setup, cheat, check])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    with pytest.raises(CellExecutionError, match="naive_product_log_norms is the course's "
                                                 "reference"):
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    notebook.cells = [setup, correct, v4.new_code_cell(check.source)]
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    assert notebook.cells[-1].outputs[0]["text"].startswith("✓ naive_norms")


@pytest.mark.parametrize("chapter, check, source, name", [
    ("04_plrnn_max_lyapunov", "check_plrnn_jacobians",
     "def orbit_jacobians(model, Z):\n    return model.jacobian(Z)", "jacobian"),
    ("01_henon_keras_rnn", "check_henon_jacobian",
     "from course_utils.henon import henon_jacobian as hj\n"
     "def henon_jacobian(z, a=1.4, b=0.3):\n    return hj(z, a, b)", "henon_jacobian"),
    ("01_henon_keras_rnn", "check_lyapunov_qr",
     "def lyapunov_qr(jacobians, transient=0):\n"
     "    return lyapunov_from_jacobians(jacobians, transient=transient)",
     "lyapunov_from_jacobians"),
    ("02_keras_rnn_lyapunov", "check_simple_rnn_jacobian",
     "from course_utils import keras_lyapunov\n"
     "def simple_rnn_jacobian(cell, x, h):\n"
     "    return keras_lyapunov.simple_rnn_jacobian(cell, x, h)", "simple_rnn_jacobian"),
    ("06_gtf_lorenz", "check_gtf_forward",
     "import course_utils.training\n"
     "def gtf_forward(model, x, alpha):\n"
     "    return course_utils.training.gtf_forward(model, x, alpha)", "gtf_forward"),
    ("07_rnn_fixed_points", "check_rnn_jacobians",
     "def rnn_jacobians(rnn, u, h):\n    return Linearization(rnn).jacobian(u, h)",
     "Linearization"),
    ("07_rnn_fixed_points", "check_stability_classification",
     "def classify(eigenvalues):\n    return classify_fixed_point(eigenvalues)",
     "classify_fixed_point"),
    ("08_lru_modal_dynamics", "check_scan_operator",
     "from course_utils.lru import scan_operator\n"
     "def combine(e1, e2):\n    return scan_operator(e1, e2)", "scan_operator"),
])
def test_the_package_answers_in_the_check_tests_are_flagged(chapter, check, source, name):
    """The check tests also pass the package's own functions to the checks (they are the
    reference, so they pass); in grading they are the answers a task may not use."""
    findings = review(source, declaration_of(chapter, check), namespace={
        "Linearization": "course_utils.linearization.Linearization",
        "classify_fixed_point": "course_utils.linearization.classify_fixed_point",
        "lyapunov_from_jacobians": "course_utils.lyapunov.lyapunov_from_jacobians"})
    assert name in _names(findings), findings


@pytest.mark.parametrize("source, declaration, expected", [
    ("match sys:\n    case object(modules=m):\n        pass", CH04_T2, "sys.modules"),
    ("import course_utils.lyapunov as L\nmatch L:\n"
     "    case object(naive_product_log_norms=f):\n        pass", CH04_T2,
     "naive_product_log_norms"),
    ("import course_utils.models as M\nmatch M:\n"
     "    case object(ShallowPLRNN=object(jacobian=j)):\n        pass", CH04_T1, "jacobian"),
    ("match thing:\n    case object(naive_product_log_norms=f):\n        pass", CH04_T2,
     "naive_product_log_norms"),                 # whatever it matches: a reference's name
    ("match thing:\n    case [object(__globals__=g)]:\n        pass", CH04_T2,
     "the attribute __globals__"),
    ("match sys:\n    case s:\n        s.modules", CH04_T2, "sys.modules"),   # a capture
    ("import course_utils\nm = getattr(course_utils, 'notebook_format')", CH04_T2,
     "course_utils.notebook_format"),
    ("import course_utils\ng = getattr(course_utils, 'grading')", CH04_T2,
     "course_utils.grading"),
    ("sys.path.insert(0, '.')", CH04_T2, "sys.path"),
])
def test_flagged_through_patterns_and_constant_getattr(source, declaration, expected):
    assert expected in _names(review(source, declaration, namespace=NAMESPACE))


def test_a_plain_match_is_not_flagged():
    source = ("def f(x):\n    match x:\n        case (a, b):\n            return a\n"
              "        case {'k': v}:\n            return v\n        case int(n):\n"
              "            return n\n    return None")
    assert review(source, CH04_T2, namespace=NAMESPACE) == []


@pytest.mark.parametrize("source", [
    "x = 1\n" + "!echo a\n" * 501,                  # IPython gives up after 500 passes
    "%time x = 1\n" + "y = 1\n" * 30_000,            # too large to translate
])
def test_cells_with_magics_that_are_not_translated_are_flagged_for_them(source):
    import time

    start = time.perf_counter()
    assert _names(review(source, CH04_T2)) == ["an IPython magic or shell command"]
    assert time.perf_counter() - start < 5
