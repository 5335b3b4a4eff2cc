"""Which task cells are not scored automatically: a task's own answer taken from the
package, introspection, and dynamic code.

:func:`review` reads a task cell's source (its syntax tree; nothing is run) and returns
what in it keeps the cell from being graded by its check, as short findings such as
``"naive_product_log_norms (the course's reference for this task)"`` or ``"exec (dynamic
code)"``. The grader marks such a cell ``review: ...`` with 0 points, for the tutor to
decide; the notebook's own check (:func:`review_objects`) says the same before the
student submits. One rule, two uses.

What it finds:

* the package names that a task declares as its reference, next to its points in the
  solution source (``[reference: course_utils.lyapunov.naive_product_log_norms]``), by
  their qualified name, by an attribute of that name (``model.jacobian``), or by a bare
  name that the cell does not define itself; names the declaration allows
  (``[allow: ...]``) are exempt;
* the checks and the grader (``course_utils.checks``, ``course_utils.grading``);
* dynamic code: ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``, pickles
  and other loaders of code, other processes (``subprocess``, ``os.system``, ...);
* introspection: ``inspect``, ``gc``, ``ctypes``, ``globals()``, ``vars()``,
  ``sys._getframe``, ``sys.modules``, frame and code attributes, most double-underscore
  attributes, ``getattr`` with a computed name, and IPython itself (``get_ipython``,
  magics, shell commands).
"""

from __future__ import annotations

import ast
import linecache
import re
import types
from dataclasses import dataclass

from ..notebook_format import parse_python, strip_check_calls, top_level_definitions

__all__ = ["Declaration", "declaration_of", "review", "namespace_of", "namespace_of_source", "cell_source",
           "review_objects", "review_message"]


#: Modules a task cell may not import or use, and what they are.
_MODULES = {
    "inspect": "introspection", "gc": "introspection", "ctypes": "introspection",
    "_ctypes": "introspection", "cffi": "introspection", "dis": "introspection",
    "traceback": "introspection", "tracemalloc": "introspection", "trace": "introspection",
    "pdb": "introspection", "bdb": "introspection", "faulthandler": "introspection",
    "builtins": "introspection", "__builtin__": "introspection", "__main__": "introspection",
    "importlib": "dynamic code", "imp": "dynamic code", "pkgutil": "dynamic code",
    "runpy": "dynamic code", "zipimport": "dynamic code", "code": "dynamic code",
    "codeop": "dynamic code", "marshal": "dynamic code", "pickle": "dynamic code",
    "_pickle": "dynamic code", "copyreg": "dynamic code", "shelve": "dynamic code",
    "dill": "dynamic code", "cloudpickle": "dynamic code", "joblib": "dynamic code",
    "subprocess": "another process", "multiprocessing": "another process",
    "pty": "another process", "concurrent.futures.process": "another process",
    "concurrent.futures.ProcessPoolExecutor": "another process",
    "asyncio.create_subprocess_exec": "another process",
    "asyncio.create_subprocess_shell": "another process", "webbrowser": "another process",
    "torch.multiprocessing": "another process",
    "IPython": "IPython", "ipykernel": "IPython", "jupyter_client": "IPython",
    "zmq": "IPython", "timeit": "dynamic code", "doctest": "dynamic code",
    "pydoc": "dynamic code", "pkg_resources": "dynamic code", "site": "dynamic code",
    "linecache": "introspection", "_operator": "introspection",
    "cProfile": "dynamic code", "profile": "dynamic code", "unittest.mock": "introspection",
    "logging.config": "dynamic code", "_string": "introspection",
    "course_utils.checks": "the checks", "course_utils.grading": "the grader",
    "course_utils.authoring": "the authors' tools",
    "course_utils.notebook_format": "the notebook format",
}
#: Qualified names (and everything under them) a task cell may not use.
_NAMES = {
    "sys._getframe": "introspection", "sys._current_frames": "introspection",
    "sys.modules": "introspection", "sys.path": "dynamic code",
    "sys.settrace": "introspection",
    "sys.setprofile": "introspection", "sys.gettrace": "introspection",
    "sys.getprofile": "introspection", "sys.meta_path": "introspection",
    "sys.path_hooks": "introspection", "sys.path_importer_cache": "introspection",
    "sys.addaudithook": "introspection", "sys.audit": "introspection",
    "sys.call_tracing": "introspection", "sys.exc_info": "introspection",
    "sys.exception": "introspection", "sys.last_traceback": "introspection",
    "sys.last_value": "introspection", "sys.displayhook": "introspection",
    "sys.excepthook": "introspection", "sys.breakpointhook": "introspection",
    "threading.settrace": "introspection", "threading.setprofile": "introspection",
    "types.FunctionType": "dynamic code", "types.LambdaType": "dynamic code",
    "types.CodeType": "dynamic code", "types.FrameType": "introspection",
    "types.TracebackType": "introspection",
    "os.system": "another process", "os.popen": "another process",
    "os.fork": "another process", "os.forkpty": "another process",
    "os.posix_spawn": "another process", "os.posix_spawnp": "another process",
    "torch.load": "dynamic code (a pickle)", "torch.jit.load": "dynamic code",
    "torch.package": "dynamic code", "torch.hub": "dynamic code",
    "torch.utils.cpp_extension": "dynamic code", "torch.ops.load_library": "dynamic code",
    "operator.attrgetter": "introspection", "operator.methodcaller": "introspection",
    "typing.get_type_hints": "dynamic code", "typing.ForwardRef": "dynamic code",
    "string.Formatter": "introspection",
    "tensorflow.autograph": "introspection",
    "numpy.ctypeslib": "introspection", "numpy.f2py": "dynamic code",
    "tensorflow.load_op_library": "dynamic code", "tensorflow.load_library": "dynamic code",
}
_OS_PREFIXES = ("exec", "spawn")
#: Built-in functions (bare names) a task cell may not use.
_BUILTINS = {
    "exec": "dynamic code", "eval": "dynamic code", "compile": "dynamic code",
    "__import__": "dynamic code", "breakpoint": "introspection", "globals": "introspection",
    "locals": "introspection", "vars": "introspection", "get_ipython": "IPython",
    "__builtins__": "introspection", "__loader__": "introspection",
    "__spec__": "introspection",
}
_ATTRIBUTE_BUILTINS = ("getattr", "setattr", "delattr", "hasattr")
#: Attributes of frames, tracebacks, generators and code objects.
_FRAME_ATTRS = {
    "f_back", "f_builtins", "f_code", "f_globals", "f_locals", "f_lasti", "f_lineno",
    "f_trace", "tb_frame", "tb_next", "tb_lasti", "tb_lineno", "gi_frame", "gi_code",
    "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code",
    "co_code", "co_consts", "co_names", "co_varnames", "co_filename", "co_freevars",
    "co_cellvars", "co_lines", "co_positions", "co_qualname",
}
#: The double-underscore attributes that ordinary code uses.
_DUNDERS = {
    "__init__", "__call__", "__name__", "__qualname__", "__doc__", "__class__", "__len__",
    "__iter__", "__next__", "__getitem__", "__setitem__", "__delitem__", "__contains__",
    "__enter__", "__exit__", "__repr__", "__str__", "__format__", "__eq__", "__ne__",
    "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__", "__add__", "__sub__",
    "__mul__", "__matmul__", "__truediv__", "__floordiv__", "__mod__", "__pow__",
    "__neg__", "__pos__", "__abs__", "__radd__", "__rsub__", "__rmul__", "__rmatmul__",
    "__rtruediv__", "__array__", "__float__", "__int__", "__index__", "__new__",
    "__post_init__", "__version__",
}
_DUNDER_STORES = {"__slots__", "__all__", "__doc__"}
#: A format field that reads an attribute of introspection: "{0.__globals__}".
_FORMAT_FIELD = re.compile(r"\{[^{}]*\.(?:__\w+__|co_\w+|f_\w+|tb_\w+|gi_\w+|cr_\w+|ag_\w+)")


@dataclass(frozen=True)
class Declaration:
    """What a task declares beside its points in the solution source: the package names
    that implement it (qualified: ``course_utils.lyapunov.naive_product_log_norms``,
    ``course_utils.models.ShallowPLRNN.jacobian``), and the names a correct solution may
    use although a rule would flag them."""

    task: str = ""
    references: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()


def declaration_of(chapter: str, check: str) -> Declaration | None:
    """The declaration of the task whose check is ``check`` in ``chapter`` (from the
    solution sources, :mod:`course_utils.checks.declared`), or None."""
    from .declared import TASKS

    for task in TASKS.get(chapter, ()):
        if check in task["checks"]:
            return Declaration(task["title"], tuple(task["references"]),
                               tuple(task["allowed"]))
    return None


def _dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _qualified(node: ast.AST, env: dict[str, str]) -> str | None:
    """The qualified name of a name or attribute chain whose root ``env`` knows
    (``np.linalg.norm`` -> ``numpy.linalg.norm``), else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in env:
        return ".".join([env[node.id], *reversed(parts)])
    return None


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


class _Reviewer(ast.NodeVisitor):
    def __init__(self, declaration: Declaration, env: dict[str, str], defined: set[str]):
        self.declaration = declaration
        self.env = dict(env)
        self.defined = defined  # names the cell defines by def/class at its top level
        self.findings: dict[str, int] = {}  # finding -> first line
        self.references = {ref.rsplit(".", 1)[-1]: ref for ref in declaration.references}
        # References that a bare name can reach: functions and classes, not methods.
        self.functions = {ref.rsplit(".", 1)[-1] for ref in declaration.references
                          if not ref.rsplit(".", 2)[-2][:1].isupper()}
        self.scopes: list[set[str]] = []  # the local names of the enclosing functions

    def add(self, finding: str, node: ast.AST) -> None:
        self.findings.setdefault(finding, getattr(node, "lineno", 0))

    def allowed(self, qualified: str | None) -> bool:
        return qualified is not None and any(_under(qualified, a)
                                             for a in self.declaration.allowed)

    # -- names ----------------------------------------------------------------------
    def check_qualified(self, qualified: str, node: ast.AST) -> None:
        if self.allowed(qualified):
            return
        for module, what in _MODULES.items():
            if _under(qualified, module):
                self.add(f"{module} ({what})", node)
                return
        for name, what in _NAMES.items():
            if _under(qualified, name):
                self.add(f"{name} ({what})", node)
                return
        if qualified.startswith("os.") and qualified[3:].startswith(_OS_PREFIXES):
            self.add(f"{qualified} (another process)", node)
            return
        last = qualified.rsplit(".", 1)[-1]
        if _under(qualified, "course_utils") and last in self.references:
            self.add(f"{last} (the course's reference for this task)", node)
        for ref in self.declaration.references:
            if _under(qualified, ref):
                self.add(f"{ref.rsplit('.', 1)[-1]} (the course's reference for this task)",
                         node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.check_qualified(alias.name, node)
            if alias.asname:
                self.env[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                self.env[root] = root

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.add("a relative import (dynamic code)", node)
            return
        self.check_qualified(module, node)
        for alias in node.names:
            if alias.name == "*":
                if _under(module, "course_utils"):
                    self.add(f"from {module} import * (hides which names it uses)", node)
                continue
            qualified = f"{module}.{alias.name}"
            self.check_qualified(qualified, node)
            self.env[alias.asname or alias.name] = qualified

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if isinstance(node.ctx, ast.Load):
            if name in _BUILTINS and not self.local(name):
                self.add(f"{name} ({_BUILTINS[name]})", node)
            if name in _ATTRIBUTE_BUILTINS and not self.local(name) and name not in self.env:
                # Passed on as a value (map(getattr, ...)): the name it reads is unknown.
                self.add(f"{name} with a computed name (introspection)", node)
            if name in self.env:
                self.check_qualified(self.env[name], node)
            elif name in self.functions and not self.local(name) \
                    and name not in self.defined:
                self.add(f"{name} (the course's reference for this task)", node)
        elif _dunder(name) and name not in _DUNDER_STORES:
            self.add(f"the name {name} (introspection)", node)

    def local(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        qualified = _qualified(node, self.env)
        if qualified is not None:
            self.check_qualified(qualified, node)
        elif attr in self.references and not self.allowed(qualified):
            self.add(f"{attr} (the course's reference for this task)", node)
        if attr in _FRAME_ATTRS:
            self.add(f"the attribute {attr} (introspection)", node)
        elif _dunder(attr) and attr not in _DUNDERS:
            self.add(f"the attribute {attr} (introspection)", node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in _ATTRIBUTE_BUILTINS \
                and not self.local(func.id) and func.id not in self.env:
            name = node.args[1] if len(node.args) >= 2 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str) \
                    and not node.keywords and not any(isinstance(a, ast.Starred)
                                                      for a in node.args):
                owner = _qualified(node.args[0], self.env)
                if owner is not None:  # getattr(course_utils, "grading") is an attribute
                    self.check_qualified(f"{owner}.{name.value}", node)
                self.check_attribute_name(name.value, node)
            else:
                self.add(f"{func.id} with a computed name (introspection)", node)
            for argument in [*node.args, *node.keywords]:
                self.visit(argument)
            return
        qualified = _qualified(func, self.env)
        if qualified == "numpy.load" and any(
                k.arg == "allow_pickle" and not (isinstance(k.value, ast.Constant)
                                                 and not k.value.value)
                for k in node.keywords):
            self.add("numpy.load with allow_pickle (dynamic code: a pickle)", node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _FORMAT_FIELD.search(node.value):
            self.add("a format string that reads attributes (introspection)", node)

    def check_attribute_name(self, attr: str, node: ast.AST) -> None:
        if attr in self.references:
            self.add(f"{attr} (the course's reference for this task)", node)
        if attr in _FRAME_ATTRS or (_dunder(attr) and attr not in _DUNDERS):
            self.add(f"the attribute {attr} (introspection)", node)

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        subject = _qualified(node.subject, self.env)
        for case in node.cases:
            self.check_pattern(case.pattern, subject)
            if case.guard is not None:
                self.visit(case.guard)
            for statement in case.body:
                self.visit(statement)

    def check_pattern(self, pattern: ast.pattern, subject: str | None) -> None:
        """A pattern of a ``match`` on ``subject`` (its qualified name, or None): a class
        pattern's keyword reads an attribute of what it matches (``case object(modules=m)``
        on ``sys`` reads ``sys.modules``), and a capture binds it as an alias."""
        if isinstance(pattern, ast.MatchClass):
            self.visit(pattern.cls)
            for attr, inner in zip(pattern.kwd_attrs, pattern.kwd_patterns):
                qualified = f"{subject}.{attr}" if subject is not None else None
                if qualified is not None:
                    self.check_qualified(qualified, pattern)
                self.check_attribute_name(attr, pattern)
                self.check_pattern(inner, qualified)
            for inner in pattern.patterns:
                self.check_pattern(inner, None)
        elif isinstance(pattern, ast.MatchAs):
            if pattern.pattern is not None:
                self.check_pattern(pattern.pattern, subject)
            if pattern.name is not None:
                if subject is not None:
                    self.env[pattern.name] = subject
                else:
                    self.env.pop(pattern.name, None)
        elif isinstance(pattern, ast.MatchOr):
            for inner in pattern.patterns:
                self.check_pattern(inner, subject)
        elif isinstance(pattern, ast.MatchSequence):
            for inner in pattern.patterns:
                self.check_pattern(inner, None)
        elif isinstance(pattern, ast.MatchMapping):
            for key in pattern.keys:
                self.visit(key)
            for inner in pattern.patterns:
                self.check_pattern(inner, None)
            if pattern.rest is not None:
                self.env.pop(pattern.rest, None)
        elif isinstance(pattern, ast.MatchStar):
            if pattern.name is not None:
                self.env.pop(pattern.name, None)
        elif isinstance(pattern, ast.MatchValue):
            self.visit(pattern.value)

    # -- aliases and scopes -----------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        qualified = _qualified(node.value, self.env) if isinstance(
            node.value, (ast.Name, ast.Attribute)) else None
        for target in node.targets:
            if isinstance(target, ast.Name):
                if qualified is not None:
                    self.env[target.id] = qualified
                else:
                    self.env.pop(target.id, None)

    def visit_FunctionDef(self, node) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.visit(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.scopes.append(_local_names(node))
        for statement in node.body:
            self.visit(statement)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.args)
        self.scopes.append({a.arg for a in _all_args(node.args)})
        self.visit(node.body)
        self.scopes.pop()

    def visit_Global(self, node: ast.Global) -> None:
        for scope in self.scopes[-1:]:
            scope.difference_update(node.names)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                self.add("a metaclass (dynamic code)", node)
        self.generic_visit(node)


def _all_args(args: ast.arguments):
    return [*args.posonlyargs, *args.args, *args.kwonlyargs,
            *([args.vararg] if args.vararg else []), *([args.kwarg] if args.kwarg else [])]


def _local_names(function) -> set[str]:
    """The names local to a function: its parameters and what it binds, without the
    names it declares global or nonlocal."""
    names = {a.arg for a in _all_args(function.args)}
    declared: set[str] = set()
    for node in _walk_own(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
    return names - declared


def _walk_own(function):
    """The nodes of a function's body, without those of nested functions and classes
    (whose own names are still yielded)."""
    stack = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))


_MAGIC = re.compile(r"^\s*(%|!)", re.M)


#: The most a cell with magics may hold and still be translated to be reviewed: IPython's
#: translation reads the whole cell again for each magic. A larger one is flagged for its
#: magics alone (it scores nothing either way).
_TRANSLATE_CHARS, _TRANSLATE_MAGICS = 100_000, 50
_MAGIC_FINDING = "an IPython magic or shell command (IPython)"


def python_tree(source: str) -> tuple[ast.Module, list[str]]:
    """The cell parsed as Python, with IPython's magics and shell commands translated (as
    IPython does) where it has any; and the findings that translation brings. A cell too
    large to translate, or that IPython does not translate, is flagged for its magics with
    nothing else to review. Raises SyntaxError where the cell is not Python either way."""
    try:
        return parse_python(source), []
    except SyntaxError as error:
        if not _MAGIC.search(source):
            raise
        try:
            from IPython.core.inputtransformer2 import TransformerManager
        except ImportError:  # pragma: no cover - the grading extra installs IPython
            raise error from None
    if len(source) > _TRANSLATE_CHARS or len(_MAGIC.findall(source)) > _TRANSLATE_MAGICS:
        return ast.Module(body=[], type_ignores=[]), [_MAGIC_FINDING]
    try:
        translated = TransformerManager().transform_cell(source)
    except (RuntimeError, ValueError, RecursionError):  # "still changing after 500 ..."
        return ast.Module(body=[], type_ignores=[]), [_MAGIC_FINDING]
    return parse_python(translated), [_MAGIC_FINDING]


def review(source: str, declaration: Declaration | None = None, *,
           namespace: dict[str, str] | None = None) -> list[str]:
    """The findings in the task cell ``source`` (see the module's docstring), each with
    the first line it occurs on: ``["exec (dynamic code), line 3", ...]``. An empty
    list: the cell is graded by its check. ``namespace`` maps the names the cell finds
    already defined (the notebook's earlier cells) to their qualified names
    (:func:`namespace_of_source`, :func:`namespace_of`). A cell that does not parse has
    no findings: running it reports the syntax error."""
    declaration = declaration or Declaration()
    try:
        tree, extra = python_tree(strip_check_calls(source))
    except SyntaxError:
        return []
    except (RecursionError, MemoryError, ValueError):
        return ["code nested too deeply to review (dynamic code)"]
    reviewer = _Reviewer(declaration, namespace or {}, top_level_definitions(tree))
    try:
        reviewer.visit(tree)
    except (RecursionError, MemoryError):
        return extra + ["code nested too deeply to review (dynamic code)"]
    found = [f"{finding}, line {line}" for finding, line in
             sorted(reviewer.findings.items(), key=lambda item: item[1])]
    return extra + found


def namespace_of_source(source: str) -> dict[str, str]:
    """The names that the imports of ``source`` (the reference cells before a task) bind,
    with their qualified names."""
    env: dict[str, str] = {}
    try:
        tree = parse_python(source)
    except SyntaxError:
        return env
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    env[alias.asname] = alias.name
                else:
                    env[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    env[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return env


def namespace_of(values: dict) -> dict[str, str]:
    """The qualified names of the modules, functions and classes in a namespace (a
    notebook's globals)."""
    env = {}
    for name, value in list(values.items()):
        if isinstance(value, types.ModuleType):
            env[name] = value.__name__
        elif isinstance(value, (types.FunctionType, type)) and getattr(
                value, "__module__", None) not in (None, "__main__"):
            env[name] = f"{value.__module__}.{value.__qualname__}"
    return env


def cell_source(obj) -> tuple[str, dict] | None:
    """The source of the notebook cell that defined the student's function or class
    ``obj``, and that cell's globals; None outside a notebook (IPython keeps each cell's
    source under its own file name)."""
    functions = [obj] if isinstance(obj, types.FunctionType) else [
        v for v in vars(obj).values() if isinstance(v, types.FunctionType)
    ] if isinstance(obj, type) else []
    for function in functions:
        code = function.__code__
        name = code.co_filename
        if not (name.startswith("<ipython-input-") or "/ipykernel_" in name
                or "\\ipykernel_" in name):
            continue
        lines = linecache.getlines(name)
        if lines:
            return "".join(lines), function.__globals__
    return None


def review_message(findings: list[str], declaration: Declaration) -> str:
    """What the student's check says about findings (the grader's status is
    ``review: ...``)."""
    references = [f.split(" (")[0] for f in findings
                  if "the course's reference" in f]
    if references:
        task = declaration.task or "This task"
        return (f"{task} asks you to write this yourself; {references[0]} is the course's "
                "reference, so the grader does not score a task cell that uses it (it marks "
                "the task for review by your tutor, with 0 points). Write the computation "
                f"out. Found: {'; '.join(findings)}")
    return ("your task cell uses " + "; ".join(findings) + ". The grader does not score task "
            "cells that use introspection, dynamic code or other processes (it marks the task "
            "for review by your tutor, with 0 points): write the computation out plainly")


def review_objects(declaration: Declaration | None, objects) -> None:
    """The notebook's side of the rule: raise ``AssertionError`` if the cell that defined
    one of the student's ``objects`` has findings (:func:`review`). Outside a notebook
    (no cell source) nothing is reviewed."""
    if declaration is None:
        return
    for obj in objects:
        found = cell_source(obj)
        if found is None:
            continue
        source, namespace = found
        findings = review(source, declaration, namespace=namespace_of(namespace))
        if findings:
            raise AssertionError(review_message(findings, declaration))
