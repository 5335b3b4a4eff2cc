"""The grader against students who cheat: a corpus of hostile submissions, one class of attack
each, written as a curious student who has read the whole public repository (the grader
included) and wants the points would write them.

Every attack must score 0 on the task it cheats (or the submission is refused), and the
tests assert the status, the feedback (no secret, no reference code, no hidden case's data,
no forged heading in feedback/NAME.md, .html, grades.csv or results.json), and that the
repository (src/, solutions/, exercises/, README.md), the submissions folder and the host
(marker files in /tmp and in the home folder) are unchanged.

Where an attack still scores points or leaks something, that is a HOLE in the grader: its
test keeps asserting the correct outcome and is marked ``xfail(strict=True, reason="HOLE:
...")`` until the grader is fixed (then the test passes, and strict xfail asks for the mark
to go).

Layout: one ``grade()`` call per chapter (module-scoped fixtures ``ch04``, ``ch03``,
``ch01``; tasks not under attack are deleted), a few tasks run with ``run_task`` directly
(``direct``: the review switched off, to show that the sandbox, the judge's separation
and the withholding of the task's references hold by themselves, and limits measured with a
smaller memory limit), and the grader's own memory under a class of hostile submissions
(``python -m course_utils.grading`` in subprocesses). The attack tables say, entry by entry,
what the class of attack is and what the grader does with it now.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import secrets
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from course_utils import grading as grading_package
from course_utils.checks import check_specs
from course_utils.checks.stf import STF_FORWARD
from course_utils.grading import grade
from course_utils.grading.runner import Settings, TaskResult, run_task
from course_utils.grading.sandbox import bwrap_available
from course_utils.grading.status import Status, is_review
from course_utils.grading.submissions import load_reference

from tests.grading.test_grade import (CH04, NORMS_LOOP, STF_CAT, STF_EVERY_STEP, _digest,
                                      _submission, _write)

ROOT = Path(__file__).resolve().parents[2]
CH03 = "03_stf_lorenz"
CH01 = "01_henon_keras_rnn"
TIMEOUT = 20          # seconds per task cell and check
MEMORY_GB = 3
HIDDEN_SEED = 271_828  # the salt of the hidden cases in these gradings (fixed: reproducible)
BWRAP = bwrap_available()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason="needs bubblewrap (CI has it)")

#: One token per test session: the host's secrets and markers carry it, so that a leak is
#: recognised wherever it ends up.
TOKEN = secrets.token_hex(6)
SECRET = f"TUTOR-SECRET-{TOKEN}"           # in a file in the tutor's home, and in the environment
CLASSMATE = f"CLASSMATE-MARKER-{TOKEN}"    # in an honest classmate's notebook
#: Strings that no attacker's feedback, csv row or results entry may contain: the host's
#: secrets, a classmate's code, the solution sources' markers, and what the attacks mark
#: their leaks with.
FORBIDDEN = (SECRET, CLASSMATE, "BEGIN SOLUTION", "END SOLUTION", "LEAK", "ref: refs/heads")


@dataclass
class Attack:
    """One hostile submission: the class of attack (``what``: what it tries, and what the
    grader does with it now), its task cells (a task id mapped to code; None deletes the
    cell), the task under attack and the correct outcome (``status``: one status or a tuple
    of them, "review" for any ``review: ...``; ``contains``: words of the message), strings
    its feedback must not contain, and ``hole``: why the grader gets it wrong now."""

    name: str
    what: str
    codes: dict
    task: str
    status: str | tuple
    contains: tuple = ()
    forbidden: tuple = ()
    rendered_forbidden: tuple = ()  # must not appear in the .md and .html (markup)
    md_forbidden: tuple = ()  # regular expressions: unescaped Markdown markup in the .md
    html_forbidden: tuple = ()  # must not appear in the .html (tags)
    max_message: int | None = None
    hole: str | None = None
    bwrap: bool = False  # only meaningful with the sandbox (without it: skipped)


def _params(attacks):
    out = []
    for attack in attacks:
        marks = []
        if attack.hole:
            marks.append(pytest.mark.xfail(strict=True, reason=f"HOLE: {attack.hole}"))
        if attack.bwrap and not BWRAP:
            marks.append(pytest.mark.skip(reason="needs bubblewrap"))
        out.append(pytest.param(attack, id=attack.name, marks=marks))
    return out


# ------------------------------------------------------------------------ shared pieces

#: A student's tools for the worker's pipes (descriptors 900 and up): which end is which,
#: and a frame as course_utils.checks.observations.pack writes it.
FRAME_TOOLS = '''
import fcntl, json, os, struct


def _pipe(mode):
    """One of the worker's pipes to the grader (descriptors 900 and up)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= 900:
            try:
                if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == mode:
                    return fd
            except OSError:
                pass
    raise LookupError("no pipe of the grader's")


def _frame(message, blobs=()):
    header = json.dumps(message).encode()
    parts = [struct.pack("<II", len(header), len(blobs)), header]
    for blob in blobs:
        parts += [struct.pack("<Q", len(blob)), blob]
    return b"".join(parts)
'''

#: A correct naive_norms under another name (for attacks that need to pass the visible cases).
NORMS_HELPER = NORMS_LOOP.replace("def naive_norms(J):", "def _norms(J):")
STF_HELPER = STF_CAT.replace("def stf_forward(model, x, tau_f):", "def _stf(model, x, tau_f):")
STF_ZEROS = """
def stf_forward(model, x, tau_f):
    return x.new_zeros(x.shape)
"""


def _b64(source: str) -> str:
    return base64.b64encode(source.encode()).decode()


# =========================================================================== chapter 04

# -- paths to the task's own reference past a name-based review (now flagged, and withheld)

REF_OPERATOR_C = """
import _operator
import course_utils.lyapunov as lyapunov


def naive_norms(J):
    # operator.attrgetter is flagged; its C twin _operator.attrgetter is tried instead,
    # with the name put together at run time
    reference = _operator.attrgetter("naive_product_" + "log_norms")(lyapunov)
    dtype = "float64" if J.dtype == torch.float64 else "float32"
    return torch.exp(reference(J, dtype=dtype)).to(J.dtype)
"""

REF_FORMATTER = """
import string


def orbit_jacobians(model, Z):
    # a format field "0.name" is an attribute lookup by a computed name
    method = string.Formatter().get_field("0.jaco" + "bian", (model,), {})[0]
    return method(Z)
"""

REF_TYPING_EVAL = """
import typing


def _reach(model: "model.jaco" "bian"):
    pass


def orbit_jacobians(model, Z):
    # typing evaluates string annotations with eval()
    method = typing.get_type_hints(_reach, localns={"model": model})["model"]
    return method(Z)
"""

REF_MOCK_DOTTED = """
from unittest import mock


def naive_norms(J):
    # mock.patch resolves a dotted name (import + getattr) and hands back the original
    reference, _ = mock.patch("course_utils.lyapunov.naive_product_" + "log_norms").get_original()
    dtype = "float64" if J.dtype == torch.float64 else "float32"
    return torch.exp(reference(J, dtype=dtype)).to(J.dtype)
"""

#: Task 1's reference is in the worker's namespace (compiled, without source) when Task 2
#: runs: its bytecode names its calls and keywords.
EARLIER_BYTECODE = """
import _operator


def _show(function):
    code = _operator.attrgetter("__code__")(function)
    names = _operator.attrgetter("co_names")(code)
    consts = _operator.attrgetter("co_consts")(code)
    inner = [_operator.attrgetter("co_names")(c) for c in consts if type(c).__name__ == "code"]
    return f"{names} {[c for c in consts if type(c).__name__ != 'code']} {inner}"


raise RuntimeError("the reference of Task 1: " + _show(orbit_jacobians))
"""


def _lookup_table_attack() -> str:
    """naive_norms as a table of the answers to the visible cases and to the hidden cases as
    written in the (public) checks, keyed by the sum of J, computed here with the package's
    reference: what a student can precompute at home."""
    import torch

    from course_utils.checks import naive_product as checks
    from course_utils.lyapunov import naive_product_log_norms

    table = {}
    for case in checks._norm_cases(True, None):  # the hidden seeds as written, unsalted
        J = checks._norm_inputs(case)
        dtype = "float64" if J.dtype == torch.float64 else "float32"
        norms = torch.exp(naive_product_log_norms(J, dtype=dtype))
        table[f"{float(J.double().sum()):.9e}"] = [repr(float(v)) for v in norms]
    return f"""
TABLE = {table!r}


def naive_norms(J):
    values = TABLE.get(f"{{float(J.double().sum()):.9e}}")
    if values is None:
        return torch.ones(J.shape[0], dtype=J.dtype)
    return torch.tensor([float(v) for v in values], dtype=J.dtype)
"""


#: The lengths of the naive product's visible cases (a student can read them in the
#: repository); the attacks below do something else on the hidden cases.
NORMS_VISIBLE_T = tuple(sorted({case.params["T"] for case in check_specs(
    "04_plrnn_max_lyapunov")["check_naive_norms"].cases(False, None)}))

HIDDEN_EXCEPTION_NAME = NORMS_HELPER + """

def naive_norms(J):
    T, d = J.shape[0], J.shape[1]
    if T not in %(visible)r:  # hidden: its size, dtype and values in the exception
        name = f"Hidden_T{T}_d{d}_{str(J.dtype).split('.')[-1]}"
        raise type(name, (ValueError,), {})(f"LEAK T={T} d={d} J0={J[0].flatten().tolist()}")
    return _norms(J)
""" % {"visible": NORMS_VISIBLE_T}

HIDDEN_TAMPERED_LEAK = FRAME_TOOLS + NORMS_HELPER + """

def _leak(J):
    data = f"LEAKED-HIDDEN T={J.shape[0]} d={J.shape[1]} {J.dtype} J0={J[0].flatten().tolist()} "
    node = {"t": "ndarray", "dtype": data * 1000, "shape": [], "b": 0}
    os.write(_pipe(os.O_WRONLY), _frame({"kind": "observations", "check": "check_naive_norms",
                                         "value": node}, [b""]))


def naive_norms(J):
    if J.shape[0] not in %r:  # a hidden case
        _leak(J)
    return _norms(J)
""" % (NORMS_VISIBLE_T,)


IMPORT_NAIVE = "from course_utils.lyapunov import naive_product_log_norms as F"
MODULE_TEXT = 'import importlib\nimport course_utils.lyapunov as L\nF = importlib.reload(L).naive_product_log_norms\n'


def _ch04_attacks() -> list[Attack]:
    t1, t2 = "task1", "task2"
    only1 = lambda code: {"task1": code, "task2": None}  # noqa: E731
    only2 = lambda code: {"task1": None, "task2": code}  # noqa: E731
    review = "review"
    return [
        # -- the package's reference for the task, reached past the review ----------------
        Attack("ref_operator_c_twin",
               "the task's reference (naive_product_log_norms) through _operator.attrgetter, "
               "the C module behind operator, with a computed name: the review flags the "
               "import of _operator (introspection), the cell does not run (and were it run, "
               "the worker withholds the reference: see ref_operator_c_review_off)",
               only2(REF_OPERATOR_C), t2, review, ("_operator (introspection)",)),
        Attack("ref_format_field",
               "model.jacobian through string.Formatter().get_field('0.jacobian'), an "
               "attribute lookup by a computed name inside the standard library: the review "
               "flags string.Formatter (and the worker withholds the reference: see "
               "ref_formatter_review_off)",
               only1(REF_FORMATTER), t1, review, ("string.Formatter",)),
        Attack("ref_typing_eval",
               "model.jacobian through typing.get_type_hints, which evals a string "
               "annotation (dynamic code inside the standard library): the review flags "
               "typing.get_type_hints",
               only1(REF_TYPING_EVAL), t1, review, ("typing.get_type_hints",)),
        Attack("ref_mock_dotted_name",
               "naive_product_log_norms by its dotted name through "
               "unittest.mock.patch(...).get_original() (an import and getattr by name): the "
               "review flags unittest.mock (and the worker withholds the reference: see "
               "ref_mock_dotted_review_off)",
               only2(REF_MOCK_DOTTED), t2, review, ("unittest.mock",)),
        # -- the reference of an earlier task, read in the worker ---------------------------
        Attack("earlier_task_bytecode",
               "Task 1's reference (orbit_jacobians, run before Task 2 as compiled code) read "
               "back from its code object (co_names, co_consts via _operator.attrgetter) and "
               "carried out in an exception message: the review flags the import of "
               "_operator (introspection), the cell does not run, nothing of the reference "
               "reaches the feedback",
               only2(EARLIER_BYTECODE), t2, review, ("_operator (introspection)",),
               forbidden=("vectorize", "permute", "'autograd'", "'functional'")),
        # -- hidden cases --------------------------------------------------------------------
        Attack("hidden_lookup_table",
               "a table of the answers to the visible cases and to the hidden cases as written "
               "in the public checks: the grader salts the hidden seeds, so the table misses "
               "and the task fails on a hidden case",
               only2(None), t2, "failed", ("hidden case",)),
        Attack("hidden_exception_name",
               "on a hidden case, an exception of a class whose name and message encode the "
               "case's size, dtype and values: the feedback shows only the nearest built-in "
               "class, ValueError",
               only2(HIDDEN_EXCEPTION_NAME), t2, "failed", ("hidden case", "ValueError"),
               forbidden=("Hidden_T", "T=23", "J0=")),
        Attack("hidden_via_tampered_message",
               "on a hidden case, a forged frame on the results pipe whose array dtype is the "
               "case's data (100 kB): 'tampered', with the grader's fixed message; nothing of "
               "the frame (the decoder's error, the dtype) is quoted",
               only2(HIDDEN_TAMPERED_LEAK), t2, "tampered", (),
               forbidden=("LEAKED-HIDDEN", "J0="), max_message=400),
        # -- flagged by the review, before anything runs ----------------------------------
        Attack("ref_method", "model.jacobian, the reference, called directly: review",
               only1("def orbit_jacobians(model, Z):\n    return model.jacobian(Z)\n"), t1,
               review, ("jacobian (the course's reference",)),
        Attack("ref_function", "naive_product_log_norms imported and called: review",
               only2("from course_utils.lyapunov import naive_product_log_norms\n\n\n"
                     "def naive_norms(J):\n"
                     "    return torch.exp(naive_product_log_norms(J, dtype='float64'))"
                     ".to(J.dtype)\n"), t2,
               review, ("naive_product_log_norms (the course's reference",)),
        Attack("obf_getattr", "getattr(model, 'jaco' + 'bian'): review",
               only1("def orbit_jacobians(model, Z):\n"
                     "    return getattr(model, 'jaco' + 'bian')(Z)\n"), t1,
               review, ("getattr with a computed name",)),
        Attack("obf_operator_attrgetter", "operator.attrgetter with a computed name: review",
               only2(REF_OPERATOR_C.replace("import _operator", "import operator")
                     .replace("_operator.attrgetter", "operator.attrgetter")), t2,
               review, ("operator.attrgetter",)),
        Attack("obf_dunder_import", "__import__ of the reference's module: review",
               only2("def naive_norms(J):\n"
                     "    module = __import__('course_utils.lyap' + 'unov', fromlist=['x'])\n"
                     "    return torch.exp(module.naive_product_log_norms(J)).to(J.dtype)\n"),
               t2, review, ("__import__",)),
        Attack("obf_importlib", "importlib.import_module and a computed name: review",
               only2("import importlib\n\n\ndef naive_norms(J):\n"
                     "    module = importlib.import_module('course_utils.' + 'lyapunov')\n"
                     "    f = module.__dict__['naive_product_' + 'log_norms']\n"
                     "    return torch.exp(f(J)).to(J.dtype)\n"), t2,
               review, ("importlib",)),
        Attack("obf_sys_modules", "sys.modules[...] of the reference's module: review",
               only2("import sys\n\n\ndef naive_norms(J):\n"
                     "    module = sys.modules['course_utils.lyapunov']\n"
                     "    return torch.exp(module.naive_product_log_norms(J)).to(J.dtype)\n"),
               t2, review, ("sys.modules",)),
        Attack("obf_match_pattern", "a match's class pattern reads sys.modules and reloads "
               "the reference's module: review",
               only2("import sys\n\n\ndef naive_norms(J):\n    match sys:\n"
                     "        case object(modules=m):\n"
                     "            L = m['importlib'].reload(m['course_utils.lyapunov'])\n"
                     "    return torch.exp(L.naive_product_log_norms(J)).to(J.dtype)\n"),
               t2, review, ("sys.modules",)),
        Attack("own_module_import", "a module the cell writes into its folder and imports, "
               "which reloads the reference: the folder is not on the task's sys.path",
               only2(f"open('norms_helper.py', 'w').write({MODULE_TEXT!r})\n"
                     "import norms_helper\n\n\ndef naive_norms(J):\n"
                     "    return torch.exp(norms_helper.F(J)).to(J.dtype)\n"),
               t2, "failed", ("ModuleNotFoundError",)),
        Attack("obf_vars", "vars(module)[computed name]: review",
               only2("import course_utils.lyapunov as lyapunov\n\n\ndef naive_norms(J):\n"
                     "    f = vars(lyapunov)['naive_product_' + 'log_norms']\n"
                     "    return torch.exp(f(J)).to(J.dtype)\n"), t2, review, ("vars",)),
        Attack("obf_pickle", "a pickle whose GLOBAL opcode is the reference: review",
               only2("import pickle\n\n_F = pickle.loads(b'ccourse_utils.lyapunov\\n"
                     "naive_product_log_norms\\n.')\n\n\ndef naive_norms(J):\n"
                     "    return torch.exp(_F(J)).to(J.dtype)\n"), t2, review, ("pickle",)),
        Attack("obf_exec_base64", "exec of a base64 string that imports the reference: review",
               only2("import base64\n_ns = {}\n"
                     f"exec(base64.b64decode({_b64(IMPORT_NAIVE)!r}), _ns)\n\n\n"
                     "def naive_norms(J):\n    return torch.exp(_ns['F'](J)).to(J.dtype)\n"),
               t2, review, ("exec",)),
        Attack("obf_metaclass", "a metaclass whose namespace resolves missing names in the "
               "reference's module: review",
               only2("import course_utils.lyapunov as lyapunov\n\n\n"
                     "class _Namespace(dict):\n    def __missing__(self, key):\n"
                     "        return lyapunov.__dict__[key]\n\n\n"
                     "class _Meta(type):\n    @classmethod\n"
                     "    def __prepare__(mcs, name, bases):\n        return _Namespace()\n\n\n"
                     "class _Box(metaclass=_Meta):\n    pass\n\n\n"
                     "def naive_norms(J):\n    return torch.ones(J.shape[0], dtype=J.dtype)\n"),
               t2, review, ("a metaclass",)),
        Attack("obf_mro", "the method looked up in type(model).__mro__ class dicts: review",
               only1("def orbit_jacobians(model, Z):\n"
                     "    for klass in type(model).__mro__:\n"
                     "        if 'jaco' + 'bian' in klass.__dict__:\n"
                     "            return klass.__dict__['jaco' + 'bian'](model, Z)\n"), t1,
               review, ("__mro__",)),
        Attack("introspect_gc", "gc.get_objects() searched for the expected norms: review",
               only2("import gc\n\n\ndef naive_norms(J):\n"
                     "    for obj in gc.get_objects():\n"
                     "        if isinstance(obj, torch.Tensor) and obj.shape == (J.shape[0],):\n"
                     "            return obj\n"), t2, review, ("gc",)),
        Attack("introspect_frames", "the callers' frames searched for expected values: review",
               only2("import sys\n\n\ndef naive_norms(J):\n    frame = sys._getframe(1)\n"
                     "    while frame is not None:\n"
                     "        if 'expected' in frame.f_locals:\n"
                     "            return frame.f_locals['expected']\n"
                     "        frame = frame.f_back\n"), t2, review, ("sys._getframe",)),
        Attack("ipython_hooks", "IPython hooks: a post_run_cell event that clears the check's "
               "error, an input transformer and an AST transformer that rewrite the check: "
               "review (and the worker has no IPython)",
               only2("ip = get_ipython()\n"
                     "ip.events.register('post_run_cell', lambda result: setattr(result, "
                     "'error_in_exec', None))\n"
                     "ip.input_transformers_post.append(lambda lines: [l.replace('check_', "
                     "'print') for l in lines])\n"
                     "ip.ast_transformers.append(object())\n" + NORMS_LOOP), t2,
               review, ("get_ipython",)),
        Attack("grader_state_module", "the grader's modules imported and patched (the judge "
               "replaced by a pass): review",
               only2("import course_utils.grading.runner as runner\n"
                     "runner._verdict = lambda *args, **kwargs: None\n"
                     "def naive_norms(J):\n    return torch.ones(J.shape[0], dtype=J.dtype)\n"),
               t2, review, ("course_utils.grading",)),
        Attack("earlier_task_getsource", "inspect.getsource of Task 1's reference: review",
               only2("import inspect\nraise RuntimeError(inspect.getsource(orbit_jacobians))\n"),
               t2, review, ("inspect",), forbidden=("vectorize",)),
        Attack("git_show", "git show of the solutions from the repository: review",
               only2(f"import subprocess\nraise RuntimeError(subprocess.run(['git', '-C', "
                     f"{str(ROOT)!r}, 'show', 'HEAD:solutions/{CH04}.py'], capture_output="
                     f"True, text=True).stdout[-300:])\n"), t2, review, ("subprocess",),
               forbidden=("overflow: the rest stays inf",)),
        Attack("child_processes", "three child processes of 1.2 GB each (multiprocessing): "
               "review",
               only2("import multiprocessing, time\n\n\ndef _hog():\n"
                     "    block = bytearray(1200 << 20)\n    time.sleep(60)\n\n\n"
                     "for _ in range(3):\n    multiprocessing.Process(target=_hog).start()\n"
                     + NORMS_LOOP), t2, review, ("multiprocessing",)),
    ]


CH04_ATTACKS = _ch04_attacks()


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """The host's side: marker files in /tmp and in the home folder, a secret file in the
    home folder and a secret in the environment, all carrying this session's token."""
    markers = {Path("/tmp") / f"grader-attack-marker-{TOKEN}": f"tmp marker {TOKEN}",
               Path.home() / f"grader-attack-marker-{TOKEN}": f"home marker {TOKEN}"}
    secret = Path.home() / f"grader-attack-secret-{TOKEN}.txt"
    for path, text in markers.items():
        path.write_text(text)
    secret.write_text(SECRET)
    escape = Path("/tmp") / f"grader-attack-escape-{TOKEN}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_ATTACK_SECRET", SECRET)
        yield {"markers": markers, "secret": secret, "escape": escape}
    for path in [*markers, secret, escape]:
        path.unlink(missing_ok=True)


def _state(folder: Path) -> tuple:
    """What must not change: the repository, the submissions, README.md."""
    return (_digest(ROOT / "src", ROOT / "solutions", ROOT / "exercises"), _digest(folder),
            (ROOT / "README.md").read_bytes())


def _grade(chapter, paths, out, folder, host):
    before = _state(folder)
    start = time.perf_counter()
    results = grade(chapter, paths, out, workers=2, timeout=TIMEOUT, memory_gb=MEMORY_GB,
                    solutions=ROOT / "solutions", show_progress=False,
                    hidden_seed=HIDDEN_SEED)
    seconds = time.perf_counter() - start
    return {"out": out, "results": {r.student: r for r in results}, "before": before,
            "after": _state(folder), "folder": folder, "seconds": seconds,
            "markers": {p: p.read_text() if p.exists() else None for p in host["markers"]},
            "escape": host["escape"].exists()}


@pytest.fixture(scope="module")
def ch04(tmp_path_factory, host):
    folder = tmp_path_factory.mktemp("ch04_attacks")
    for attack in CH04_ATTACKS:
        codes = dict(attack.codes)
        if attack.name == "hidden_lookup_table":
            codes["task2"] = _lookup_table_attack()
        _write(folder, attack.name, _submission(CH04, codes))
    return _grade(CH04, [folder], tmp_path_factory.mktemp("ch04_grades"), folder, host)


# ----------------------------------------------------------------------- the assertions

def _texts(out: Path, name: str) -> dict[str, str]:
    """Everything the grader wrote about one student: feedback (.md, .html), the student's
    row of grades.csv, their entry of results.json."""
    rows = [r for r in csv.reader((out / "grades.csv").open(encoding="utf-8"))
            if r and r[0].lstrip("'") == name]
    students = json.loads((out / "results.json").read_text())["students"]
    entry = [s for s in students if s["student"] == name]
    return {"md": (out / "feedback" / f"{name}.md").read_text(encoding="utf-8"),
            "html": (out / "feedback" / f"{name}.html").read_text(encoding="utf-8"),
            "csv": json.dumps(rows), "json": json.dumps(entry, ensure_ascii=False)}


def _assert_refused(run: dict, attack: Attack) -> None:
    """The attacked task scores 0 with the correct status and message, and nothing the
    grader wrote about the student holds a forbidden string or a forged heading."""
    student = run["results"][attack.name]
    task = next(t for t in student.tasks if t.task == attack.task)
    wanted = attack.status if isinstance(attack.status, tuple) else (attack.status,)
    ok = any(task.status == s or (s == Status.REVIEW and is_review(task.status))
             for s in wanted)
    assert ok, (task.status, task.message)
    assert task.points == 0 and student.total == 0, (task.status, task.message)
    for word in attack.contains:
        assert word in task.message, (word, task.message)
    if attack.max_message is not None:
        assert len(task.message) <= attack.max_message, (len(task.message), task.message[:400])
    texts = _texts(run["out"], attack.name)
    for kind, text in texts.items():
        for word in (*FORBIDDEN, *attack.forbidden):
            assert word not in text, (kind, word, text[text.find(word) - 200:][:400])
    for kind in ("md", "html"):
        for word in attack.rendered_forbidden:
            assert word not in texts[kind], (kind, word)
    for pattern in attack.md_forbidden:
        assert not re.search(pattern, texts["md"]), pattern
    for word in attack.html_forbidden:
        assert word not in texts["html"], word
    _assert_no_forged_heading(texts, student)


def _assert_no_forged_heading(texts: dict, student) -> None:
    """The feedback's headings are the grader's: one per task and written question, none
    claiming points that the student did not get."""
    headings = [line for line in texts["md"].splitlines() if line.startswith("#")]
    assert len(headings) == 1 + len(student.tasks) + len(student.questions), headings
    assert texts["html"].count("<h2>") == len(student.tasks) + len(student.questions)
    for task in student.tasks:
        if task.status != "passed":
            assert f"\u2713 {task.title}" not in "\n".join(headings), headings
            assert f"<h2>\u2713 {task.title}" not in texts["html"]
    assert f"**Points:** {student.total:g} of" in texts["md"]


@pytest.mark.parametrize("attack", _params(CH04_ATTACKS))
def test_ch04_attack_scores_nothing(ch04, attack):
    """Chapter 04 (PyTorch), one class of attack each: see the attack's ``what``."""
    _assert_refused(ch04, attack)


@needs_bwrap
def test_ch04_repository_submissions_and_host_unchanged(ch04, host):
    """No attack of chapter 04 changed the repository, the submissions or the host."""
    assert ch04["after"] == ch04["before"], "the repository or the submissions changed"
    assert ch04["markers"] == host["markers"] and not ch04["escape"]


# =========================================================================== chapter 03

REF_UNDECLARED_FUSED = """
import numpy as np
from course_utils.training import _FusedForcing


def stf_forward(model, x, tau_f):
    # the private autograd Function behind stf_forward_fused (declared a reference now)
    weights = (np.arange(x.shape[1]) % tau_f == 0).astype(np.float64)
    return _FusedForcing.apply(x, weights, model.A, model.W1, model.W2, model.h1, model.h2)
"""

REF_UNDECLARED_FORCED_STATES = """
import numpy as np
from course_utils.training import forced_states


def stf_forward(model, x, tau_f):
    # the forced states z~_t of the fused pass (no gradients), one step of the model each
    weights = (np.arange(x.shape[1]) % tau_f == 0).astype(np.float64)
    return model.observe(model(forced_states(model, x, weights).to(x.dtype)))
"""

REF_CPROFILE_EXEC = f"""
import base64, cProfile

_ns = {{}}
# cProfile.runctx executes a string: exec under another name
_code = base64.b64decode({_b64("from course_utils.training import stf_forward_fused as F")!r})
cProfile.runctx(_code.decode(), _ns, _ns)


def stf_forward(model, x, tau_f):
    return _ns["F"](model, x, tau_f)
"""

THREAD_DISGUISED = STF_CAT + """
import threading, time


def _spin():
    while True:
        time.sleep(0.05)


# a thread whose class calls itself tqdm's monitor, a library thread the worker once let live
TMonitor = type("TMonitor", (threading.Thread,), {"__module__": "tqdm._monitor"})
TMonitor(target=_spin, daemon=True).start()
"""

FORGED_ERROR_FRAME = FRAME_TOOLS + """
os.write(_pipe(os.O_WRONLY), _frame({"kind": "error", "step": 0, "raised": {
    "t": "raised", "type": "MemoryError", "names": ["MemoryError"],
    "message": "the grader ran out of memory: give full points by hand"}}))
""" + STF_ZEROS

FORGED_FRAMES = FRAME_TOOLS + """
import numpy as np

# "the cell ran", then the observations of the visible cases: zeros claimed as results
_blobs, _cases = [], []
for _ in range(%d):
    _node = {"t": "torch", "dtype": "float64", "shape": [3, 23, 2], "device": "cpu",
             "grad": True, "b": len(_blobs)}
    _blobs.append(np.zeros((3, 23, 2)).tobytes())
    _cases.append({"t": "dict", "v": [["got", _node]]})
os.write(_pipe(os.O_WRONLY), _frame({"kind": "cell", "task": "task1", "raised": None,
                                     "threads": []})
         + _frame({"kind": "observations", "check": "check_stf_forward",
                   "value": {"t": "list", "v": _cases}, "threads": []}, _blobs))
""" % len(STF_FORWARD.cases(False, None)) + STF_ZEROS

STEAL_COMMANDS = STF_CAT + FRAME_TOOLS + """
import threading

STOLEN = []


def _steal():
    # the grader's next command (the probe, with its cases) read before the worker reads it
    commands = _pipe(os.O_RDONLY)
    size, count = struct.unpack("<II", os.read(commands, 8))
    STOLEN.append(json.loads(os.read(commands, size)))


threading.Thread(target=_steal, daemon=True).start()
"""

TIMER_LEFT_RUNNING = STF_CAT + """
import threading

threading.Timer(300, print, args=("still here",)).start()
"""

RAW_THREAD_LEFT_RUNNING = STF_CAT + """
import _thread, time

_thread.start_new_thread(time.sleep, (300,))
"""

HIDDEN_THREAD_NAME = STF_HELPER + """
import threading, time

VISIBLE = %r  # (T, tau_f) of the visible cases


def stf_forward(model, x, tau_f):
    if (x.shape[1], tau_f) not in VISIBLE:  # hidden: its sizes and data in a thread name
        info = f"LEAK B{x.shape[0]} T{x.shape[1]} tau{tau_f} {float(x[0, 0, 0]):.6f}"
        threading.Thread(target=time.sleep, args=(60,), name=info, daemon=True).start()
    return _stf(model, x, tau_f)
""" % {(c.params["T"], c.params["tau_f"]) for c in STF_FORWARD.cases(False, None)}

KILL_INIT = """
import os, signal

for pid in (1, -1, 0):  # the sandbox's init, every process it may signal, its group
    for sig in (signal.SIGKILL, signal.SIGTERM):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
""" + STF_ZEROS

NETWORK = """
import socket, urllib.request

tried = []
for target in (("1.1.1.1", 53), ("127.0.0.1", 22), ("10.0.2.2", 80)):
    try:
        socket.create_connection(target, timeout=3).close()
        tried.append(f"{target} open")
    except OSError as error:
        tried.append(f"{target[0]}: {type(error).__name__}")
try:
    urllib.request.urlopen("http://example.com/stf_forward.py", timeout=3)
    tried.append("http open")
except OSError as error:
    tried.append(f"http: {type(error).__name__}")
unix = socket.socket(socket.AF_UNIX)
try:
    unix.connect("\\0/tmp/.X11-unix/X0")  # an abstract socket of the host's
    tried.append("abstract socket open")
except OSError as error:
    tried.append(f"abstract socket: {type(error).__name__}")
raise ConnectionError("no network: " + "; ".join(tried))
"""

MONKEYPATCH_COMPARE = """
import numpy as np

torch.allclose = lambda *a, **k: True
torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
""" + STF_EVERY_STEP

FORGED_HEADING = """
def stf_forward(model, x, tau_f):
    raise ValueError(
        "shape mismatch\\n\\n## \\u2713 Task 1 (sparse teacher forcing): 3 of 3 points\\n\\n"
        "Correct: the check passes, on its visible and its hidden cases.\\n"
        "\\u2028## \\u2713 Task 1 (sparse teacher forcing): 3 of 3 points\\r\\x85"
        "# \\u2713 Task 1 (sparse teacher forcing): 3 of 3 points\\x0b"
        "<h2>\\u2713 Task 1 (sparse teacher forcing): 3 of 3 points</h2>")
"""

MARKUP_AND_SIZE = """
def stf_forward(model, x, tau_f):
    raise ValueError("<script>alert('graded')</script> [full marks](http://evil.example) "
                     "![x](http://evil.example/x.png) | a | b | <img src=x onerror=alert(1)> "
                     + "=" * 1_000_000)
"""

PRINTED_VERDICT = """
print("\\u2713 stf_forward: forced at t = 0, tau_f, 2 tau_f, ...; predictions and gradients "
      "match the reference")
print("## \\u2713 Task 1 (sparse teacher forcing): 3 of 3 points")
display("\\u2713 Task 1 (sparse teacher forcing): 3 of 3 points")
""" + STF_EVERY_STEP

ASYNCIO_SUBPROCESS = STF_CAT + """
import asyncio
import asyncio.subprocess as background


async def _start():
    # asyncio.create_subprocess_exec is flagged; the same function of asyncio.subprocess is not
    return await background.create_subprocess_exec("sleep", "300")


asyncio.run(_start())
"""

JUDGE_CRASH = STF_CAT + """
import torch.autograd

_grad = torch.autograd.grad


def _misshapen(outputs, inputs, **kwargs):
    grads = list(_grad(outputs, inputs, **kwargs))
    if len(grads) == 5 and grads[1] is not None and grads[1].dim() == 2:
        grads[1] = torch.zeros(3, 7, dtype=grads[1].dtype)  # W1's gradient, misshapen
    return tuple(grads)


torch.autograd.grad = _misshapen  # the probe's gradients pass through it
"""

DECODER_CRASH = FRAME_TOOLS + """
# a forged 'cell' frame whose exception node is an empty array of an impossible shape
# (NumPy would raise ValueError building it; the decoder bounds shapes)
os.write(_pipe(os.O_WRONLY), _frame({"kind": "cell", "task": "task1", "threads": [],
                                     "raised": {"t": "ndarray", "dtype": "float64",
                                                "shape": [0] + [1 << 39] * 7, "b": 0}},
                                    [b""]))
""" + STF_ZEROS

#: A sum of 2000 ones: Python compiles it, but it is nested too deeply for the review to
#: walk: the review reports that (status review) instead of missing the reference import at
#: the top.
REVIEW_RECURSION = ("from course_utils.training import stf_forward_fused\n\n_ONE = "
                    + " + ".join(["1"] * 2000) + "\n\n\n"
                    "def stf_forward(model, x, tau_f):\n"
                    "    return stf_forward_fused(model, x, tau_f)\n")


TMPFS_FILLER = """
chunk = b"x" * (64 << 20)
for k in range(24):  # 1.5 GB in the sandbox's in-memory folders
    with open(f"{('/tmp', '/dev/shm')[k % 2]}/fill{k}", "wb") as handle:
        handle.write(chunk)
""" + STF_CAT


def _read_classmates(submissions: Path) -> str:
    return f"""
import glob

MARKER = "CLASSMATE-" + "MARKER"
found = []
for pattern in ("/tmp/**/*.ipynb", "/home/**/*.ipynb", "/reference-data/**/*.ipynb",
                "/proc/*/cwd/**/*.ipynb", {str(submissions) + "/**/*.ipynb"!r}):
    for path in glob.glob(pattern, recursive=True):
        try:
            text = open(path, errors="ignore").read()
        except OSError:
            continue
        if MARKER in text:
            found.append(text[text.index(MARKER):][:60])
raise RuntimeError(f"classmates' code: {{found}}" if found else
                   "no classmate's notebook is readable")
"""


def _read_tutor_files(host) -> str:
    paths = [host["secret"], ROOT / "solutions" / f"{CH03}.py", ROOT / ".git" / "HEAD",
             ROOT / "README.md", Path.home() / ".bash_history", "/proc/1/environ",
             "/proc/self/environ"]
    return f"""
import os

seen = []
for path in {[str(p) for p in paths]!r}:
    try:
        with open(path, errors="ignore") as handle:
            text = handle.read()
    except OSError as error:
        seen.append(f"{{os.path.basename(path)}}: {{type(error).__name__}}")
        continue
    for needle in ("BEGIN SOLUTION", "TUTOR-SECRET", "GRADER_ATTACK_SECRET", "ref: "):
        if needle in text:  # the incriminating part first: the message is cut at 300
            text = text[text.index(needle):]
            break
    seen.append(f"{{os.path.basename(path)}}: {{text[:60]!r}}")
raise RuntimeError("; ".join(seen))
"""


def _write_host_files(host, folder: Path) -> str:
    targets = [*host["markers"], host["escape"], ROOT / "README.md",
               ROOT / "solutions" / f"{CH03}.py",
               ROOT / "src" / "course_utils" / "checks" / "stf.py", folder / "honest.ipynb"]
    return f"""
import os

# replace the chapter's checks by ones that pass anything, overwrite and delete the rest
for target in {[str(t) for t in targets]!r}:
    try:
        with open(target, "w") as handle:
            handle.write("def check_stf_forward(*a, **k): pass  # graded by a student")
    except OSError:
        pass
    try:
        os.remove(target)
    except OSError:
        pass
""" + STF_ZEROS


def _ch03_attacks(host, folder: Path) -> list[Attack]:
    t = "task1"
    one = lambda code: {"task1": code}  # noqa: E731
    return [
        Attack("ref_undeclared_fused",
               "the private _FusedForcing.apply behind stf_forward_fused, with hand-made "
               "forcing weights: _FusedForcing is declared among the task's references, so "
               "the review flags it (and the worker withholds every declared reference while "
               "the task is graded: see undeclared_path_review_off)",
               one(REF_UNDECLARED_FUSED), t, "review", ("_FusedForcing",)),
        Attack("ref_undeclared_forced_states",
               "forced_states (undeclared) for the forced states, one model step each: the "
               "predictions are right, but the judge compares gradients through the whole "
               "time loop and they differ",
               one(REF_UNDECLARED_FORCED_STATES), t, ("failed", "review"),
               ("gradient",)),
        Attack("ref_exec_cprofile",
               "exec of a base64 string under another name: cProfile.runctx imports "
               "stf_forward_fused; the review flags cProfile (and profile) as dynamic code",
               one(REF_CPROFILE_EXEC), t, "review", ("cProfile",)),
        Attack("thread_disguised_as_tqdm",
               "a thread left running whose class claims to be tqdm's monitor "
               "(type('TMonitor', ..., {'__module__': 'tqdm._monitor'})): the worker exempts "
               "no thread (tqdm's monitor is switched off in the worker), left running",
               one(THREAD_DISGUISED), t, "left running", ("left a thread running",)),
        Attack("forged_error_frame",
               "a forged 'error' frame (a reference cell failed) written to the results pipe "
               "during the cell: the grader accepts 'error' frames only while the reference "
               "cells run; later it is 'tampered', and the student's text is not quoted",
               one(FORGED_ERROR_FRAME), t, "tampered", forbidden=("give full points",)),
        Attack("forged_frames",
               "forged 'cell' and 'observations' frames claiming zeros as results: the judge "
               "reads them as the student's results and fails them",
               one(FORGED_FRAMES), t, ("failed", "tampered")),
        Attack("steal_commands",
               "a thread waits on the commands pipe to read the grader's next command (the "
               "probe and its cases) before the worker does: the cell's threads are reported "
               "before any case is sent, left running",
               one(STEAL_COMMANDS), t, "left running", ("left a thread running",)),
        Attack("timer_left_running", "a threading.Timer left running: reported",
               one(TIMER_LEFT_RUNNING), t, "left running", ("left a thread running",)),
        Attack("raw_thread_left_running",
               "a thread started with _thread.start_new_thread on a C function (time.sleep): "
               "it has no Python frame (neither threading.enumerate nor sys._current_frames "
               "shows it), but the worker tracks the threads _thread starts: left running",
               one(RAW_THREAD_LEFT_RUNNING), t, "left running", ("left a thread running",)),
        Attack("hidden_data_in_thread_name",
               "on a hidden case, a thread whose name carries the case's sizes and data: "
               "'left running', and the message quotes a thread's name only before the "
               "hidden cases, so none of the data",
               one(HIDDEN_THREAD_NAME), t, "left running", ("left a thread running",),
               forbidden=("LEAK",)),
        Attack("kill_sandbox_init",
               "kill(1), kill(-1) and kill(0) with SIGKILL and SIGTERM from the task cell: "
               "only the sandbox dies, crashed",
               one(KILL_INIT if BWRAP else STF_ZEROS), t, ("crashed", "failed"), bwrap=True),
        Attack("read_classmates",
               "globbing for classmates' notebooks (the grader's scratch folders, the "
               "submissions folder, other processes' folders): none is visible",
               one(_read_classmates(folder) if BWRAP else STF_ZEROS), t, "failed",
               ("no classmate's notebook is readable",), bwrap=True),
        Attack("read_tutor_files",
               "reading the solutions, .git, a secret file in the tutor's home, the tutor's "
               "environment: none is visible (FileNotFoundError)",
               one(_read_tutor_files(host) if BWRAP else STF_ZEROS), t, "failed",
               ("FileNotFoundError",), forbidden=("GRADER_ATTACK_SECRET",),
               bwrap=True),
        Attack("write_host_files",
               "overwriting the chapter's checks with a pass-anything module, the solutions, "
               "README.md, a classmate's notebook and the host's markers: all read-only or "
               "invisible; the wrong answer fails",
               one(_write_host_files(host, folder) if BWRAP else STF_ZEROS), t, "failed",
               bwrap=True),
        Attack("network", "connections out of the sandbox (TCP, HTTP, an abstract unix "
               "socket): no network", one(NETWORK), t, "failed", ("no network",)),
        Attack("monkeypatch_compare",
               "torch.isclose/allclose/equal, Tensor.__eq__ and numpy's comparisons patched "
               "to say 'equal', with a wrong answer: the judge runs in a judge process of the "
               "grader's, untouched, failed",
               one(MONKEYPATCH_COMPARE), t, "failed",
               ("force only when t is a multiple of tau_f",)),
        Attack("forged_heading",
               "line breaks (\\n, \\r, U+2028, U+0085, \\v) and a '## \u2713 Task 1 ... 3 of 3 "
               "points' heading in an exception message: one line, escaped, no heading",
               one(FORGED_HEADING), t, "failed", ("ValueError",)),
        Attack("markup_and_size",
               "HTML, a Markdown link and image and 1 MB in an exception message: escaped in "
               "the .md and .html, cut to 300 characters",
               one(MARKUP_AND_SIZE), t, "failed", ("ValueError",),
               rendered_forbidden=("<script>",), html_forbidden=("<img", "<script"),
               md_forbidden=(r"(?<!\\)<", r"(?<!\\)\]\(http"),
               max_message=400),
        Attack("printed_verdict",
               "the check's \u2713 line and a '3 of 3 points' heading printed and displayed, "
               "with a wrong answer: printed output is not a verdict, failed",
               one(PRINTED_VERDICT), t, "failed", ("force only when t is a multiple",)),
        Attack("asyncio_subprocess",
               "a process started through asyncio.subprocess (the review knows "
               "asyncio.create_subprocess_exec only) and left running: the sandbox reports "
               "what is left, left running",
               one(ASYNCIO_SUBPROCESS), t, "left running"),
        Attack("judge_crash",
               "the probe's gradients replaced by misshapen tensors "
               "(torch.autograd.grad patched): the judge's comparison raises, and any error "
               "of the judge is the student's failure: 'failed: the check could not judge "
               "what your code returned' and the error's class",
               one(JUDGE_CRASH), t, "failed", ("could not judge what your code returned",)),
        Attack("decoder_crash",
               "a forged frame whose array has an impossible shape (0, 2^39, ...): the decoder "
               "bounds shapes and refuses it, 'tampered'",
               one(DECODER_CRASH), t, "tampered"),
        Attack("review_recursion",
               "a cell nested too deeply to walk (a sum of 2000 terms) around a direct use of "
               "stf_forward_fused: the review reports 'code nested too deeply to review', "
               "status review",
               one(REVIEW_RECURSION), t, "review", ("code nested too deeply to review",)),
        Attack("ref_in_namespace", "stf_forward_fused, which the reference cells import: "
               "review", one("def stf_forward(model, x, tau_f):\n"
                            "    return stf_forward_fused(model, x, tau_f)\n"), t,
               "review", ("stf_forward_fused",)),
        Attack("ref_helper", "forcing_times, a declared helper of the reference: review",
               one("from course_utils.training import forcing_times\n" + STF_CAT), t,
               "review", ("forcing_times",)),
    ]


def _symlink_zip(path: Path, entry: str, target: str) -> None:
    """A zip whose one entry is a symbolic link (as zip -y stores it)."""
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(entry)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)


@pytest.fixture(scope="module")
def ch03(tmp_path_factory, host):
    folder = tmp_path_factory.mktemp("ch03_attacks")
    attacks = _ch03_attacks(host, folder)
    # An honest classmate, whose code the attacks look for (and a control: 3 of 3).
    _write(folder, "honest", _submission(CH03, {"task1": STF_CAT + f"\n# {CLASSMATE}\n"}))
    for attack in attacks:
        _write(folder, attack.name, _submission(CH03, attack.codes))
    # Symbolic links: to the solution notebook, to the classmate's notebook, a folder per
    # student holding a link, a zip entry that is a link; and a zip that climbs out.
    (folder / "symlink_solution.ipynb").symlink_to(ROOT / "solutions" / f"{CH03}.ipynb")
    (folder / "symlink_classmate.ipynb").symlink_to(folder / "honest.ipynb")
    (folder / "linked_folder").mkdir()
    (folder / "linked_folder" / f"{CH03}.ipynb").symlink_to(folder / "honest.ipynb")
    zips = tmp_path_factory.mktemp("ch03_zips")
    _symlink_zip(zips / "zipped_symlink.zip", "zipped_symlink.ipynb",
                 f"../../../solutions/{CH03}.ipynb")
    with zipfile.ZipFile(zips / "zip_slip.zip", "w") as zf:
        zf.writestr("../../zip_slip_escaped.ipynb", "{}")
    # A classmate, and a file whose name collapses onto theirs ("victim .ipynb"): tasks
    # deleted (no worker runs).
    _write(folder, "victim", _submission(CH03, {"task1": None}))
    _write(folder, "victim ", _submission(CH03, {"task1": None}))
    # A file name that a spreadsheet reads as a formula; its task cell deleted.
    _write(folder, "@SUM(1+1)", _submission(CH03, {"task1": None}))
    run = _grade(CH03, [folder, zips / "zipped_symlink.zip", zips / "zip_slip.zip"],
                 tmp_path_factory.mktemp("ch03_grades"), folder, host)
    run["attacks"] = {a.name: a for a in attacks}
    return run


def _ch03_params():
    # The table needs the host's paths only inside the code; build it with placeholders.
    placeholder = {"markers": {}, "secret": Path("/nonexistent"), "escape": Path("/x")}
    return _params(_ch03_attacks(placeholder, Path("/nonexistent")))


@pytest.mark.parametrize("attack", _ch03_params())
def test_ch03_attack_scores_nothing(ch03, attack):
    """Chapter 03 (PyTorch), one class of attack each: see the attack's ``what``."""
    _assert_refused(ch03, ch03["attacks"][attack.name])


def test_ch03_honest_classmate_is_graded(ch03):
    """The control: the classmate whose notebook the attacks look for scores 3 of 3."""
    honest = ch03["results"]["honest"]
    assert [t.status for t in honest.tasks] == ["passed"] and honest.total == 3


@pytest.mark.parametrize("name", ["symlink_solution", "symlink_classmate", "linked_folder",
                                  "zipped_symlink"])
def test_ch03_symbolic_links_are_not_graded(ch03, name):
    """A submission that is a symbolic link (to the solution notebook, to a classmate's
    notebook, inside a student's folder, or stored as a link in a zip) is refused: status
    'not graded: symbolic link', 0 points, and nothing of the target in the feedback."""
    student = ch03["results"][name]
    assert student.status == "not graded: symbolic link" and student.total == 0
    assert student.tasks == []
    texts = _texts(ch03["out"], name)
    for text in texts.values():
        assert "z~_t: data in the read-out units" not in text and CLASSMATE not in text


def test_ch03_archive_attacks_are_refused(ch03):
    """A zip whose entry climbs out of the folder (../../) is refused unopened; a file named
    like a spreadsheet formula gets an apostrophe in grades.csv."""
    assert ch03["results"]["zip_slip"].status.startswith("unsafe zip archive")
    assert ch03["results"]["zip_slip"].total == 0
    rows = list(csv.reader((ch03["out"] / "grades.csv").open(encoding="utf-8")))
    formula = [r for r in rows if "SUM" in r[0]]
    assert formula and all(r[0].startswith("'") for r in formula), formula


def test_ch03_a_name_cannot_be_taken_from_a_classmate(ch03):
    """A student who names their notebook after a classmate's, with a character that the
    grader's name cleaning drops ("victim .ipynb" next to "victim.ipynb"), does not get the
    classmate's name (grades.csv, feedback/victim.md): a name written exactly as the file or
    folder name wins, and a name that only cleaning made equal gets a suffix ("victim_2")."""
    victim = ch03["results"]["victim"]
    assert Path(victim.source).name == "victim.ipynb", victim.source
    other = ch03["results"]["victim_2"]
    assert Path(other.source).name == "victim .ipynb", other.source


@needs_bwrap
def test_ch03_repository_submissions_and_host_unchanged(ch03, host):
    """No attack of chapter 03 changed the repository, the submissions or the host: the
    checks module, the solutions, README.md, the classmate's notebook, the markers in /tmp
    and in the home folder are as before, and nothing was written next to them."""
    assert ch03["after"] == ch03["before"], "the repository or the submissions changed"
    assert ch03["markers"] == host["markers"] and not ch03["escape"]
    assert not Path("/tmp/fill0").exists() and not Path("/dev/shm/fill1").exists()


# =========================================================================== chapter 01

def _henon_ready() -> bool:
    """Chapter 01's checks are being converted (the CHECKS table of checks/henon.py)."""
    path = ROOT / "src" / "course_utils" / "checks" / "henon.py"
    return any(line.startswith("CHECKS") for line in path.read_text().splitlines())


REF_LOGGING_RESOLVE = """
import logging.config

# a dotted name resolved the way logging.config resolves handler classes (import + getattr)
_Resolved = logging.config.BaseConfigurator({}).resolve("course_utils.keras_cells." + "HenonCell")


class HenonCell(_Resolved):
    pass
"""

REF_GLOBALS_FIELD = """
import string


def lyapunov_qr(jacobians, transient=0):
    # kaplan_yorke_dimension (imported by the reference cells) lives in the module of the
    # reference: its __globals__ through a format field
    spectrum = string.Formatter().get_field(
        "0.__globals__[lyapunov_from_jacobians]", (kaplan_yorke_dimension,), {})[0]
    return spectrum(np.asarray(jacobians, dtype=np.float64), transient=transient)
"""

REFERENCE_RUN_LEFTOVERS = """
import os

found = []
for root in ("/reference-data", "/home/student", "/tmp"):
    for folder, dirs, files in os.walk(root):
        # (a clone under /tmp has its environment and the public package bound there)
        dirs[:] = [d for d in dirs if d not in (".venv", "site-packages", "course_utils")]
        for name in files:
            try:
                with open(os.path.join(folder, name), errors="ignore") as handle:
                    text = handle.read(1 << 20)  # the first MB: sources are small
            except OSError:
                continue
            for needle in ("z_next", "self.a * x", "log_stretch", "def call", "J[:, 0, 0]"):
                if needle in text:
                    found.append(f"{name}: {text[max(text.index(needle) - 80, 0):][:200]}")
raise RuntimeError(f"reference code found: {found}" if found else
                   "no reference code among the reference run's files")
"""


def _ch01_attacks() -> list[Attack]:
    def only(task, code):
        codes = {"task1": None, "task2": None, "task3": None}
        codes[task] = code
        return codes

    return [
        Attack("ref_logging_resolve",
               "course_utils.keras_cells.HenonCell (the reference) subclassed after resolving "
               "its dotted name with logging.config's resolver (an import and getattr by "
               "name): the review flags logging.config (dynamic code)",
               only("task1", REF_LOGGING_RESOLVE), "task1", "review", ("logging.config",)),
        Attack("ref_globals_field",
               "lyapunov_from_jacobians from kaplan_yorke_dimension.__globals__, through a "
               "format field: the review flags string.Formatter (introspection)",
               only("task3", REF_GLOBALS_FIELD), "task3", "review", ("string.Formatter",)),
        Attack("reference_run_leftovers",
               "the files the reference run left (its home is every task's data folder: "
               "TensorFlow's autograph sources among them) searched for the reference code: "
               "none found",
               only("task2", REFERENCE_RUN_LEFTOVERS if BWRAP else None), "task2", "failed",
               ("no reference code among the reference run's files",),
               forbidden=("z_next", "log_stretch"), bwrap=True),
        Attack("ref_cell_direct", "keras_cells.HenonCell subclassed directly: review",
               only("task1", "from course_utils.keras_cells import HenonCell as _H\n\n\n"
                             "class HenonCell(_H):\n    pass\n"), "task1", "review",
               ("HenonCell",)),
        Attack("ref_jacobian_direct", "course_utils.henon.henon_jacobian called: review",
               only("task2", "import course_utils.henon as h\n\n\n"
                             "def henon_jacobian(z, a=1.4, b=0.3):\n"
                             "    return h.henon_jacobian(z, a, b)\n"), "task2", "review",
               ("henon_jacobian",)),
        Attack("ref_qr_in_namespace", "rnn_lyapunov_spectrum (imported by the reference "
               "cells) in lyapunov_qr: review",
               only("task3", "def lyapunov_qr(jacobians, transient=0):\n"
                             "    return rnn_lyapunov_spectrum(jacobians, transient)\n"),
               "task3", "review", ("rnn_lyapunov_spectrum",)),
    ]


CH01_ATTACKS = _ch01_attacks()


@pytest.fixture(scope="module")
def ch01(tmp_path_factory, host):
    if not _henon_ready():
        pytest.skip("chapter 01's checks are being converted (no CHECKS in checks/henon.py)")
    folder = tmp_path_factory.mktemp("ch01_attacks")
    for attack in CH01_ATTACKS:
        _write(folder, attack.name, _submission(CH01, attack.codes))
    return _grade(CH01, [folder], tmp_path_factory.mktemp("ch01_grades"), folder, host)


@pytest.mark.parametrize("attack", _params(CH01_ATTACKS))
def test_ch01_attack_scores_nothing(ch01, attack):
    """Chapter 01 (Keras), one class of attack each: see the attack's ``what``."""
    _assert_refused(ch01, attack)


@needs_bwrap
def test_ch01_repository_submissions_and_host_unchanged(ch01, host):
    assert ch01["after"] == ch01["before"], "the repository or the submissions changed"
    assert ch01["markers"] == host["markers"]


# ============================================== run_task directly: limits, review off

@dataclass
class Direct:
    """A task run with ``run_task`` directly: the review on or off, a memory limit."""

    name: str
    what: str
    chapter: str
    task: str
    code: str
    status: str | tuple
    contains: tuple = ()
    forbidden: tuple = ()
    review: bool = True
    memory_gb: float = MEMORY_GB
    hole: str | None = None
    bwrap: bool = False
    timeout: float = TIMEOUT  # a memory hog on memory the machine has not touched before
    # can take longer to reach its limit than a task's usual time limit


DEV_TMPFS = """
for k in range(8):  # 1.6 GB in /dev, a writable in-memory folder nobody counts
    with open(f"/dev/fill{k}", "wb") as handle:
        handle.write(b"x" * (200 << 20))
""" + STF_CAT

MEMFD = """
import os

_keep = []
for k in range(8):  # 1.6 GB in anonymous in-memory files, held open
    fd = os.memfd_create(f"fill{k}")
    os.write(fd, b"x" * (200 << 20))
    _keep.append(fd)
""" + STF_CAT

FRAME_WALK = """
import sys


def stf_forward(model, x, tau_f):
    # the expected predictions, if the judge ran in this process, would sit in a caller's frame
    frame, names, candidates = sys._getframe(1), [], []
    while frame is not None:
        for key, value in frame.f_locals.items():
            names.append(key)
            if isinstance(value, torch.Tensor) and value.shape == x.shape \\
                    and not torch.equal(value, x):
                candidates.append(value)
        frame = frame.f_back
    if candidates:
        return candidates[0]
    raise LookupError("nothing to copy in the worker; its frames hold: "
                      + ", ".join(sorted(set(names))))
"""

EARLIER_GETSOURCE = """
import inspect

raise RuntimeError(inspect.getsource(orbit_jacobians))
"""

#: stf_forward_fused (declared) by a path the review would have to be told of: a C
#: attrgetter on the module and a computed name, bound as the student's forward.
UNDECLARED_PATH = """
import _operator
import course_utils.training

stf_forward = _operator.attrgetter("stf_forward_" + "fused")(course_utils.training)
"""


def _git_and_files(secret: Path) -> str:
    return f"""
import os, subprocess

seen = []
for command in (["git", "-C", {str(ROOT)!r}, "show", "HEAD:solutions/{CH03}.py"],
                ["git", "-C", {str(ROOT)!r}, "log", "-p", "-1"],
                ["cat", {str(ROOT / "solutions" / f"{CH03}.py")!r}, {str(secret)!r}]):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        seen.append(f"{{command[0]}}: {{(done.stdout or done.stderr)[:120]!r}}")
    except OSError as error:
        seen.append(f"{{command[0]}}: {{type(error).__name__}}")
raise RuntimeError("; ".join(seen))
"""


CHILDREN = """
import subprocess, sys, time

_children = [subprocess.Popen([sys.executable, "-c",
                               "import time; block = b'x' * (400 << 20); time.sleep(60)"])
             for _ in range(3)]  # 1.2 GB together, each far below the limit
time.sleep(30)
""" + STF_CAT

PROCESS_LEFT_RUNNING = """
import subprocess

subprocess.Popen(["sleep", "300"])
""" + STF_CAT

GRADER_PATCH = """
import course_utils.checks.framework as common
import course_utils.checks.stf as checks
import course_utils.grading.runner as runner

# the judge and the verdict as the worker sees them: replaced by passes
common.judge_case = lambda *args, **kwargs: None
checks._judge_stf = lambda *args, **kwargs: None
runner._verdict = lambda *args, **kwargs: None
runner._judge = lambda *args, **kwargs: None
""" + STF_EVERY_STEP

AMPLIFIER = STF_CAT + """
import torch.autograd

_grad = torch.autograd.grad


def _inflated(outputs, inputs, **kwargs):
    grads = list(_grad(outputs, inputs, **kwargs))
    if len(grads) == 5 and grads[1] is not None and grads[1].dim() == 2:
        # W1's gradient as an 8 MB column that the judge broadcasts against its (M, L) matrix
        grads[1] = torch.zeros(1_000_000, 1, 1, dtype=grads[1].dtype)
    return tuple(grads)


torch.autograd.grad = _inflated
"""


def _direct_cases(host) -> list[Direct]:
    return [
        Direct("dev_tmpfs_files",
               "1.6 GB written to /dev (bubblewrap's --dev, an in-memory folder): /dev is "
               "read-only in the sandbox, the first write fails (OSError), failed",
               CH03, "task1", DEV_TMPFS, "failed", ("Read-only file system",), memory_gb=1,
               bwrap=True),
        Direct("tmpfs_files",
               "1.5 GB of files in /tmp and /dev/shm (the sandbox's in-memory folders) under a "
               "1 GB limit: counted with the processes' memory, memory limit",
               CH03, "task1", TMPFS_FILLER, "memory limit", memory_gb=1, bwrap=True,
               timeout=60),
        Direct("memfd_files",
               "1.6 GB in memfd_create files held open (shared memory that is neither mapped "
               "nor in a folder): the monitor counts the memfd files each process holds "
               "open, under a 1 GB limit: memory limit",
               CH03, "task1", MEMFD, "memory limit", memory_gb=1, timeout=60),
        Direct("frame_walk_review_off",
               "review off: the callers' frames searched for the expected predictions; the "
               "judge runs in a judge process of the grader's, so there are none",
               CH03, "task1", FRAME_WALK, "failed", ("nothing to copy in the worker",),
               forbidden=("expected",), review=False),
        Direct("earlier_getsource_review_off",
               "review off: inspect.getsource of Task 1's reference; it runs as compiled code "
               "without source",
               CH04, "task2", EARLIER_GETSOURCE, "failed", ("could not get source code",),
               forbidden=("vectorize", "permute"), review=False),
        Direct("git_and_files_review_off",
               "review off: git show / git log -p on the repository and cat of the solutions "
               "and of the tutor's secret: the sandbox shows none of them",
               CH03, "task1", _git_and_files(host["secret"]), "failed", ("git",),
               forbidden=("z~_t", SECRET, "BEGIN SOLUTION", "diff --git"), review=False,
               bwrap=True),
        Direct("child_processes_review_off",
               "review off: three child processes of 400 MB each (1.2 GB together, each "
               "below the 1 GB limit): the monitor adds them up, memory limit",
               CH03, "task1", CHILDREN, "memory limit", review=False, memory_gb=1,
               timeout=60),
        Direct("process_left_running_review_off",
               "review off: a subprocess left running after a correct cell: the grader looks "
               "for leftovers before the worker ends, left running",
               CH03, "task1", PROCESS_LEFT_RUNNING, "left running", ("process",),
               review=False),
        Direct("grader_patched_review_off",
               "review off: the checks' judge and the grader's verdict patched in the worker, "
               "with a wrong answer: the judge runs in a judge process of the grader's, "
               "failed",
               CH03, "task1", GRADER_PATCH, "failed",
               ("force only when t is a multiple",), review=False),
        # -- the task's references withheld in the worker, whatever path reaches them -----
        Direct("ref_operator_c_review_off",
               "review off: naive_product_log_norms through _operator.attrgetter and a "
               "computed name (ref_operator_c_twin): the worker has replaced the reference "
               "by a stand-in that raises, failed",
               CH04, "task2", REF_OPERATOR_C, "failed", ("withheld",), review=False),
        Direct("ref_formatter_review_off",
               "review off: model.jacobian through string.Formatter().get_field "
               "(ref_format_field): the class's method is a stand-in that raises, failed",
               CH04, "task1", REF_FORMATTER, "failed", ("withheld",), review=False),
        Direct("ref_mock_dotted_review_off",
               "review off: naive_product_log_norms by its dotted name through "
               "unittest.mock.patch(...).get_original() (ref_mock_dotted_name): the module "
               "holds the stand-in, failed",
               CH04, "task2", REF_MOCK_DOTTED, "failed", ("withheld",), review=False),
        Direct("undeclared_path_review_off",
               "review off: stf_forward_fused reached by a path no review is told of "
               "(_operator.attrgetter on course_utils.training, a computed name) and used as "
               "the student's stf_forward: every reference to it is the stand-in, failed",
               CH03, "task1", UNDECLARED_PATH, "failed", ("withheld",), review=False),
    ]


def _run_direct(case: Direct, scratch: Path) -> TaskResult:
    reference = load_reference(case.chapter, ROOT / "solutions")
    task = next(t for t in reference.tasks if t.id == case.task)
    settings = Settings(timeout=case.timeout, memory=int(case.memory_gb * 2**30),
                        sandbox="bwrap" if BWRAP else "none", salt=HIDDEN_SEED,
                        review=case.review)
    folder = Path(tempfile.mkdtemp(prefix=f"{case.name}-", dir=scratch))
    return run_task(reference, task, case.code, "tagged", settings, folder)


@pytest.fixture(scope="module")
def direct(tmp_path_factory, host):
    """The ``run_task`` cases, two at a time (no data folder: the reference cells make the
    data set in the task's folder)."""
    scratch = tmp_path_factory.mktemp("direct")
    before = _digest(ROOT / "src", ROOT / "solutions", ROOT / "exercises")
    cases = [c for c in _direct_cases(host) if BWRAP or not c.bwrap]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip([c.name for c in cases],
                           pool.map(lambda c: _run_direct(c, scratch), cases)))
    return {"results": results, "before": before,
            "cases": {c.name: c for c in cases},
            "markers": {p: p.read_text() if p.exists() else None for p in host["markers"]}}


def _direct_params():
    placeholder = {"secret": Path("/nonexistent")}
    out = []
    for case in _direct_cases(placeholder):
        marks = []
        if case.hole:
            marks.append(pytest.mark.xfail(strict=True, reason=f"HOLE: {case.hole}"))
        if case.bwrap and not BWRAP:
            marks.append(pytest.mark.skip(reason="needs bubblewrap"))
        out.append(pytest.param(case.name, id=case.name, marks=marks))
    return out


@pytest.mark.parametrize("name", _direct_params())
def test_direct_attack_scores_nothing(direct, name):
    """One class of attack each, through run_task (see the case's ``what``): with the review
    switched off, the sandbox, the judge's separation and the withholding of the task's
    references hold by themselves."""
    case, result = direct["cases"][name], direct["results"][name]
    wanted = case.status if isinstance(case.status, tuple) else (case.status,)
    assert result.status in wanted, (result.status, result.message)
    assert result.points == 0
    for word in case.contains:
        assert word in result.message, (word, result.message)
    for word in (*FORBIDDEN, *case.forbidden):
        assert word not in result.message, (word, result.message)


@needs_bwrap
def test_direct_runs_left_the_repository_and_host_alone(direct, host):
    assert direct["markers"] == host["markers"]
    assert _digest(ROOT / "src", ROOT / "solutions", ROOT / "exercises") == direct["before"]


def _rss_mb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) >> 10
    return 0


def test_judge_does_not_amplify_observations(tmp_path):
    """A correct forward pass whose observed gradient of W1 is a (10^6, 1, 1) column (8 MB,
    torch.autograd.grad patched in the worker), which a comparison with the (M, L) expected
    gradient would broadcast to (10^6, M, L). The judge runs in a separate judge process of
    the grader's (never running student code) under an address-space limit, so whatever it
    allocates, the grader's own memory does not grow by more than 300 MB; the task fails
    (a judge error is "the check could not judge what your code returned (...)")."""
    import torch  # noqa: F401 - loaded before the baseline, as the judge loads it

    case = Direct("amplifier", "", CH03, "task1", AMPLIFIER, "failed")
    peak, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.01)

    base = _rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = _run_direct(case, tmp_path)
    finally:
        stop.set()
        sampler.join()
    assert result.status == "failed" and result.points == 0, (result.status, result.message)
    assert peak[0] - base < 300, f"the grader's memory grew by {peak[0] - base} MB"


@needs_bwrap
def test_tutors_pythonpath_does_not_open_the_sandbox(tmp_path, monkeypatch, host):
    """A tutor whose shell sets PYTHONPATH to the repository and their home (a common
    profile line): the student tries to read the solutions, .git and the secret file in the
    home as in read_tutor_files. The tutor's PYTHONPATH is neither bound into the sandbox
    nor passed on (the task's PYTHONPATH is the package's folder only): none of it is
    visible."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(Path.home())]))
    case = Direct("pythonpath", "", CH03, "task1", _read_tutor_files(host), "failed")
    result = _run_direct(case, tmp_path)
    assert result.status == "failed" and result.points == 0
    for word in (SECRET, "BEGIN SOLUTION", "ref: refs/heads"):
        assert word not in result.message, (word, result.message)


def test_one_malformed_notebook_does_not_stop_the_class(tmp_path, monkeypatch):
    """A notebook with a cell that has no cell_type (nbformat reads it without complaint):
    read_notebook refuses it ("not a notebook (...)"), and grade() guards each notebook, so
    the classmate is graded. The reference run is replaced by a stub here (no task runs)."""
    monkeypatch.setattr(grading_package, "run_reference", lambda reference, settings, workdir: [
        TaskResult(t.id, t.title, t.points, t.points, "passed") for t in reference.tasks])
    folder = tmp_path / "class"
    folder.mkdir()
    notebook = json.loads(nbformat.writes(_submission(CH03, {"task1": None})))
    notebook["cells"][0].pop("cell_type")
    (folder / "malformed.ipynb").write_text(json.dumps(notebook))
    _write(folder, "classmate", _submission(CH03, {"task1": None}))
    results = grade(CH03, [folder], tmp_path / "out", timeout=TIMEOUT,
                    solutions=ROOT / "solutions", show_progress=False, hidden_seed=1)
    statuses = {r.student: r.status for r in results}
    assert statuses["classmate"] == "graded"
    assert statuses["malformed"].startswith("not a notebook")


# ==================================== the grader's own memory under a hostile class

HOSTILE_CLASS = {
    "output_flood": STF_CAT + "\nfor _ in range(2_000):\n    print('x' * 100_000)\n"
                    "    display('y' * 100_000)\n",
    "results_flood": """
def stf_forward(model, x, tau_f):
    return torch.zeros(4_000_000, dtype=torch.float64)  # 32 MB for each of three cases
""",
    "big_message": """
def stf_forward(model, x, tau_f):
    raise ValueError("m" * 100_000_000)
""",
    "deep_nesting": """
def stf_forward(model, x, tau_f):
    nested = []
    for _ in range(200_000):
        nested = [nested, {"k": (nested,)}]
    return nested
""",
}


def _grade_process(folder: Path, out: Path) -> subprocess.Popen:
    """``python -m course_utils.grading 03 FOLDER ...`` (its main), printing the process's own
    peak resident memory (ru_maxrss, KB) and the exit code at the end."""
    argv = ["03", str(folder), "--out", str(out), "--workers", "2", "--timeout", str(TIMEOUT),
            "--memory-gb", str(MEMORY_GB), "--solutions", str(ROOT / "solutions"), "--quiet",
            "--hidden-seed", str(HIDDEN_SEED)]
    script = ("import resource\n"
              "from course_utils.grading.__main__ import main\n"
              f"rc = main({argv!r})\n"
              "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rc)\n")
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=out.parent)


def test_grader_memory_under_a_hostile_class(tmp_path):
    """Output floods (print and display), results floods, a 100 MB exception message and
    deeply nested results, graded with ``python -m course_utils.grading`` in a subprocess:
    the grader's own peak memory stays within 300 MB of its peak for an honest class of the
    same size, and every hostile task scores 0."""
    honest, hostile = tmp_path / "honest", tmp_path / "hostile"
    for folder, codes in ((honest, {f"honest{k}": STF_CAT for k in range(4)}),
                          (hostile, HOSTILE_CLASS)):
        folder.mkdir()
        for name, code in codes.items():
            _write(folder, name, _submission(CH03, {"task1": code}))
    processes = [_grade_process(f, tmp_path / f"{f.name}_out") for f in (honest, hostile)]
    peaks = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-3000:]
        line = [l for l in stdout.splitlines() if l.startswith("MAXRSS")][-1]
        assert line.endswith(" 0"), line
        peaks.append(int(line.split()[1]) >> 10)
    results = {s["student"]: s for s in json.loads(
        (tmp_path / "hostile_out" / "results.json").read_text())["students"]}
    assert {n: s["total"] for n, s in results.items()} == {n: 0 for n in HOSTILE_CLASS}
    assert results["output_flood"]["tasks"][0]["status"] == "output limit"
    assert results["results_flood"]["tasks"][0]["status"] in ("output limit", "tampered")
    assert len(results["big_message"]["tasks"][0]["message"]) < 500
    honest_results = json.loads((tmp_path / "honest_out" / "results.json").read_text())
    assert all(s["total"] == 3 for s in honest_results["students"])
    print(f"grader peak memory: honest {peaks[0]} MB, hostile {peaks[1]} MB")
    assert peaks[1] - peaks[0] < 300, f"honest {peaks[0]} MB, hostile {peaks[1]} MB"
