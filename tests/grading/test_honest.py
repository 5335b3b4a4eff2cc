"""Correct solutions written in other ways than the reference score full marks, in the
notebook's self-check and in grading alike.

For every task of every chapter, three of the correct variants of the check tests
(tests/checks/test_*.py, their "correct variants pass" lists), none of them calling the
package's reference for the task (the review refuses those), are written out as whole task
cells, as a student would hand them in. Per chapter two tests:

* the fast one runs each cell in a namespace like the notebook's (the imports of the
  reference cells before the task, and the reference's earlier task cells), reviews it as
  the grader does, runs the task's check with the hidden cases under three salts, as the
  notebook does (``run_check``), and probes it once more with the task's references
  withheld, as the grader's worker does (neither the probe nor a correct solution needs
  them), judging with the references back;
* the grading one grades three notebooks (notebook k holds variant k of every task) in one
  ``grade()`` call, under a random hidden seed that the failure message names: every task
  passed, with all its points.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import secrets
import textwrap
import time
from pathlib import Path

import pytest

from course_utils.checks import check_specs
from course_utils.checks.framework import judge_shown, observe, run_check
from course_utils.checks.observations import roundtrip
from course_utils.grading import grade
from course_utils.grading.runner import review_task

from tests.checks.support import references_withheld
from tests.notebook_cells import (cell, defined_name, namespace_at, reference_of, run_cell,
                                 variant_name)
from tests.grading.test_grade import _submission, _write

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60  # seconds per task cell and check
MEMORY_GB = 3
SALTS = (3, 2024, 987_654_321)  # the fast tests' hidden-case salts

# Each source is a whole task cell; its first line names the variant of the check test it is.

# ------------------------------------------------------------------ 01 the Henon map (Keras)

def _from(module: str, function: str, name: str, what: str) -> str:
    """A correct variant of the check tests (``module``'s ``function``), as the task cell a
    student would hand in: the same code, under the name the task defines, after the
    test module's imports that it uses."""
    test_module = importlib.import_module(module)
    source = textwrap.dedent(inspect.getsource(getattr(test_module, function)))
    source = re.sub(rf"^def {re.escape(function)}\(", f"def {name}(", source, count=1,
                    flags=re.M)
    used = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    imports = []
    for node in ast.parse(inspect.getsource(test_module)).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and used & {
                (a.asname or a.name).split(".")[0] for a in node.names}:
            imports.append(ast.unparse(node))
    return "\n".join([f"# {function}: {what}", *imports, source])


_HENON_CELL = '''
# {name}
class HenonCell(keras.layers.Layer):
    """One step of the Hénon map as a Keras RNN cell; the state is z = (x, y)."""

    def __init__(self, a=1.4, b=0.3, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = a, b
        self.state_size = 2   # dimension of z
        self.output_size = 2  # the cell outputs its state

    def call(self, inputs, states):
{body}'''


def _henon_cell(name: str, body: str) -> str:
    return _HENON_CELL.format(name=name, body=textwrap.indent(
        textwrap.dedent(body).lstrip("\n"), " " * 8))


CH01 = {
    "task1": [
        _henon_cell("cell_concat: column slices kept 2-D, joined by tf.concat", """
            (z,) = states
            x, y = z[:, :1], z[:, 1:]
            z_next = tf.concat([1 - self.a * tf.square(x) + y, self.b * x], axis=-1)
            return z_next, (z_next,)
            """),
        _henon_cell("cell_matrix: the linear part as a matrix product", """
            z = states[0]
            x = tf.unstack(z, axis=1)[0]
            linear = z @ tf.constant([[0.0, self.b], [1.0, 0.0]], dtype=z.dtype)  # (y, b x)
            quadratic = tf.stack([1.0 - self.a * x ** 2, tf.zeros_like(x)], axis=1)
            z_next = linear + quadratic
            return z_next, [z_next]
            """),
        _henon_cell("cell_transpose: rows built first and transposed", """
            z = states[0]
            x, y = tf.unstack(z, axis=-1)
            z_next = tf.transpose(tf.convert_to_tensor([tf.ones_like(x) - self.a * x * x + y,
                                                        self.b * x]))
            return z_next, [z_next]
            """),
    ],
    "task2": [
        '''
# jac_stack: blocks stacked, then the batch axis moved to the front
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    x = z[:, 0]
    one, zero = np.ones_like(x), np.zeros_like(x)
    return np.moveaxis(np.array([[-2 * a * x, one], [b * one, zero]]), -1, 0)
''',
        '''
# jac_loop: one matrix per state, a list of arrays
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    return [np.array([[-2.0 * a * x, 1.0], [b, 0.0]]) for x, _ in z]
''',
        '''
# jac_tf: in TensorFlow, a float64 tensor
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    x = tf.constant(z[:, 0], dtype=tf.float64)
    one = tf.ones_like(x)
    return tf.stack([tf.stack([-2 * a * x, one], -1), tf.stack([b * one, 0 * x], -1)], 1)
''',
    ],
    "task3": [
        _from('tests.checks.test_henon', 'qr_two_loops', 'lyapunov_qr',
              'transient and counted steps in two loops, logs averaged'),
        _from('tests.checks.test_henon', 'qr_signs_fixed', 'lyapunov_qr',
          'Householder signs normalised so that diag R > 0'),
        '''
# qr_tf: with tf.linalg.qr, returned as a NumPy array
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    J = tf.constant(jacobians)
    Q = tf.eye(d, dtype=DTYPE)
    total = tf.zeros(d, dtype=DTYPE)
    for t in range(T):
        Q, R = tf.linalg.qr(J[t] @ Q)
        if t >= transient:
            total += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
    return np.sort(total.numpy() / (T - transient))[::-1]
''',
    ],
}

# ------------------------------------------------------- 02 the spectrum of a SimpleRNN (Keras)

_EAGER = '''
# {name}
def lyapunov_spectrum_eager(cell, inputs, h0, k):
    """The k largest exponents per sequence, (B, k), per step, descending: an eager loop."""
    B, T, _ = inputs.shape
    H = h0.shape[1]
    h = tf.constant(h0, dtype=DTYPE)
    Q = tf.eye(H, k, batch_shape=[B], dtype=DTYPE)     # (B, H, k)
    log_sum = tf.zeros((B, k), dtype=DTYPE)
    for t in range(T):
        x = tf.constant(inputs[:, t], dtype=DTYPE)
        J = simple_rnn_jacobian(cell, x, h)             # at the state before the step
        h = cell(x, [h])[0]                              # then take the step
{body}    return -np.sort(-(log_sum / T).numpy(), axis=1)
'''


def _eager(name: str, body: str) -> str:
    return _EAGER.format(name=name, body=textwrap.indent(textwrap.dedent(body).lstrip("\n"),
                                                         " " * 8))


CH02 = {
    "task1": [
        '''
# jac_tape: automatic differentiation of one step of the cell
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    with tf.GradientTape() as tape:
        tape.watch(h)
        h_next = cell(x, [h])[0]
    return tape.batch_jacobian(h_next, h)
''',
        _from('tests.checks.test_keras_rnn', 'jac_numpy', 'simple_rnn_jacobian',
          "in NumPy from the weights' values, an array"),
        '''
# jac_einsum_from_the_step: tanh' from the new state, 1 - h_next^2, and an einsum
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    h_next = cell(x, [h])[0]
    return tf.einsum("bi,ji->bij", 1 - h_next ** 2, cell.recurrent_kernel)
''',
    ],
    "task2": [
        _eager("qr_numpy: the factorisation in NumPy, the sum kept a tensor", """
            Q, R = np.linalg.qr(np.asarray(J) @ np.asarray(Q))
            Q = tf.constant(Q)
            log_sum += np.log(np.abs(np.diagonal(R, axis1=1, axis2=2)))
            """),
        _eager("qr_einsum: an einsum for the product, log sqrt(R_ii^2)", """
            Q, R = tf.linalg.qr(tf.einsum("bij,bjk->bik", J, Q))
            log_sum += tf.math.log(tf.sqrt(tf.linalg.diag_part(R) ** 2))
            """),
        _from('tests.checks.test_keras_rnn', 'spectrum_per_sequence', 'lyapunov_spectrum_eager',
              'a rewrite, one sequence at a time in NumPy, returned as a tensor'),
    ],
}

# ------------------------------------------------------------ 03 sparse teacher forcing

CH03 = {
    "task1": [
        _from('tests.checks.test_stf', 'clone_and_write', 'stf_forward',
          'forcing written into a copy of the state, predictions into a tensor'),
        _from('tests.checks.test_stf', 'where_mask', 'stf_forward',
          'torch.where and a padded copy of the data, the forcing times built first'),
        _from('tests.checks.test_stf', 'additive_correction', 'stf_forward',
          'forcing as z + (x - z[:N]) in the observed units'),
    ],
}

# ------------------------------------------------ 04 the PLRNN's Jacobians, the naive product

CH04 = {
    "task1": [
        _from('tests.checks.test_naive_product', '_per_state', 'orbit_jacobians',
          'torch.autograd.functional.jacobian, one state at a time'),
        _from('tests.checks.test_naive_product', '_functorch', 'orbit_jacobians',
          'vmap of jacrev'),
        _from('tests.checks.test_naive_product', '_analytic', 'orbit_jacobians',
          "diag(A) + W1 diag(ReLU'(W2 z + h2)) W2, batched"),
    ],
    "task2": [
        _from('tests.checks.test_naive_product', '_svdvals_on_flipped', 'naive_norms',
          'the Jacobians flipped, svdvals, inf appended after an overflow'),
        _from('tests.checks.test_naive_product', '_float64_norm_of_float32_product',
          'naive_norms', 'the product in float32, its norm taken in float64'),
        _from('tests.checks.test_naive_product', '_products_first', 'naive_norms',
          'all products first, then one batched norm of the finite ones'),
    ],
}

# ------------------------------------------------------------- 05 forcing with a warm-up

CH05 = {
    "task1": [
        _from('tests.checks.test_warmup', 'two_loops', 'stf_forward_warmup',
          'the warm-up in one loop, the sparse forcing in a second, with a step counter'),
        _from('tests.checks.test_warmup', 'mask_and_clone', 'stf_forward_warmup',
          'a boolean forcing mask built first; forcing by writing into a copy'),
        _from('tests.checks.test_warmup', 'same_remainder', 'stf_forward_warmup',
          't = warmup + n tau_f written as t % tau_f == warmup % tau_f'),
    ],
}

# ------------------------------------------------------ 06 generalized teacher forcing

CH06 = {
    "task1": [
        _from('tests.checks.test_gtf', 'solution', 'gtf_forward',
          'the mixture (1 - a) z + a x, a = 1 at the first step'),
        _from('tests.checks.test_gtf', 'towards_the_data', 'gtf_forward',
          'a step z + alpha (x - z), the first state built before the loop'),
        _from('tests.checks.test_gtf', 'mask_and_clone', 'gtf_forward',
          'torch.lerp written into a copy, with a tensor of weights per step'),
    ],
}

# ------------------------------------------------------- 07 linearization and fixed points

CH07 = {
    "task1": [
        _from('tests.checks.test_fixed_points', 'jacobians_diag', 'rnn_jacobians',
          'diag(1 - h_next^2) from a step of the network itself'),
        _from('tests.checks.test_fixed_points', 'jacobians_functional', 'rnn_jacobians',
          'torch.autograd.functional.jacobian of one step, by (u, h)'),
        '''
# jacobians_loops: entry by entry, in Python loops
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = (rnn.weight_ih_l0 @ u + rnn.weight_hh_l0 @ h + rnn.bias_ih_l0 + rnn.bias_hh_l0).detach()
    H, I = rnn.weight_ih_l0.shape
    J_h, J_u = torch.zeros(H, H, dtype=u.dtype), torch.zeros(H, I, dtype=u.dtype)
    for i in range(H):
        s = 1 - float(torch.tanh(a[i])) ** 2
        for j in range(H):
            J_h[i, j] = s * rnn.weight_hh_l0[i, j]
        for j in range(I):
            J_u[i, j] = s * rnn.weight_ih_l0[i, j]
    return J_h, J_u
''',
    ],
    "task2": [
        '''
# affine_rnn_forward: the notebook's rnn_jacobians, and a step of the network itself
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = rnn(u[None, None], h[None, None])[1].reshape(-1)
    return F + (J_h @ dh.T).T + J_u @ du
''',
        '''
# affine_row_loop: Jacobian rows by torch.autograd.grad, one perturbation at a time
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    uu = u.detach().clone().requires_grad_(True)
    hh = h.detach().clone().requires_grad_(True)
    out = torch.tanh(rnn.weight_ih_l0 @ uu + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ hh
                     + rnn.bias_hh_l0)
    rows = [torch.autograd.grad(out[i], (hh, uu), retain_graph=True) for i in range(len(out))]
    J_h, J_u = torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])
    F = out.detach()
    return torch.stack([F + J_h @ dh[b] + J_u @ du for b in range(dh.shape[0])])
''',
        '''
# affine_einsum: torch.func.jacrev and an einsum over the batch
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    def step(uu, hh):
        return torch.tanh(rnn.weight_ih_l0 @ uu + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ hh
                          + rnn.bias_hh_l0)

    J_h = torch.func.jacrev(step, argnums=1)(u, h)
    J_u = torch.func.jacrev(step, argnums=0)(u, h)
    return step(u, h)[None] + torch.einsum("ij,bj->bi", J_h, dh) + (J_u @ du)[None]
''',
    ],
    "task3": [
        _from('tests.checks.test_fixed_points', 'classify_numpy', 'classify',
          'moduli in NumPy, max and min against 1'),
        _from('tests.checks.test_fixed_points', 'classify_loop', 'classify',
          'counted in a Python loop over complex numbers'),
        _from('tests.checks.test_fixed_points', 'classify_squared_moduli', 'classify',
          '|lambda|^2 from the real and imaginary parts'),
    ],
}

# ---------------------------------------------------------- 08 linear recurrent units

CH08 = {
    "task1": [
        '''
# eig_polar: torch.polar(modulus, angle)
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.polar(torch.exp(-torch.exp(nu_log)), torch.exp(theta_log))
''',
        '''
# eig_cmath_loop: a Python loop with cmath, the tensor made complex128
import cmath
import math


def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.tensor([cmath.exp(-math.exp(n) + 1j * math.exp(t))
                         for n, t in zip(nu_log.tolist(), theta_log.tolist())],
                        dtype=torch.complex128)
''',
        '''
# eig_numpy: computed in NumPy, converted back
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.from_numpy(np.exp(-np.exp(nu_log.numpy()) + 1j * np.exp(theta_log.numpy())))
''',
    ],
    "task2": [
        _from('tests.checks.test_lru', 'combine_list', 'combine',
          'torch.mul and torch.addcmul, a list'),
        _from('tests.checks.test_lru', 'combine_parts', 'combine',
          'complex products written out with real and imaginary parts'),
        _from('tests.checks.test_lru', 'combine_complex128', 'combine',
          'everything converted to complex128 first'),
    ],
}

VARIANTS = {
    "01_henon_keras_rnn": CH01,
    "02_keras_rnn_lyapunov": CH02,
    "03_stf_lorenz": CH03,
    "04_plrnn_max_lyapunov": CH04,
    "05_single_variable_reconstruction": CH05,
    "06_gtf_lorenz": CH06,
    "07_rnn_fixed_points": CH07,
    "08_lru_modal_dynamics": CH08,
}
N_NOTEBOOKS = 3  # notebook k holds variant k of every task


# ------------------------------------------------------------------------------ the tests

@pytest.mark.parametrize("chapter", list(VARIANTS))
def test_variants_pass_review_and_hidden_check(chapter, capsys):
    """Each variant, run as the notebook runs it, passes the review and its check with the
    hidden cases under three salts."""
    reference = reference_of(chapter)
    specs = check_specs(chapter)
    assert sorted(VARIANTS[chapter]) == sorted(t.id for t in reference.tasks)
    failures = []
    for task in reference.tasks:
        sources = VARIANTS[chapter][task.id]
        assert len(sources) >= N_NOTEBOOKS
        assert len({variant_name(s) for s in sources}) == len(sources)
        for source in map(cell, sources):
            where = f"{chapter} {task.id} {variant_name(source)}"
            findings = review_task(reference, task, source)
            if findings:
                failures.append(f"{where}: review {findings}")
                continue
            namespace = namespace_at(reference, task)
            run_cell(source, namespace, "honest")
            obj = namespace[defined_name(source)]
            for check_name in task.checks:
                for salt in SALTS:
                    try:
                        run_check(specs[check_name], (obj,), hidden=True, salt=salt)
                    except Exception as error:  # noqa: BLE001 - reported all together
                        failures.append(f"{where}, salt {salt}: {type(error).__name__}: "
                                        f"{error}")
                check, cases = specs[check_name], specs[check_name].cases(True, SALTS[0])
                with references_withheld(task.references):
                    seen = [roundtrip(observe(check, case, (obj,))) for case in cases]
                try:
                    for case, observations in zip(cases, seen):
                        judge_shown(check, case, observations)
                except Exception as error:  # noqa: BLE001 - reported all together
                    failures.append(f"{where}, references withheld: {type(error).__name__}: "
                                    f"{error}")
    out = capsys.readouterr().out
    assert not failures, "\n".join(failures)
    checks_run = sum(len(t.checks) * len(VARIANTS[chapter][t.id]) for t in reference.tasks)
    assert out.count("\u2713") == checks_run * len(SALTS), out


@pytest.fixture(scope="module", params=list(VARIANTS))
def graded(request, tmp_path_factory):
    """One grade() call per chapter: notebook k holds variant k of every task."""
    chapter = request.param
    folder = tmp_path_factory.mktemp(f"honest_{chapter[:2]}_submissions")
    names = {}
    for k in range(N_NOTEBOOKS):
        codes = {task: cell(sources[k]) for task, sources in VARIANTS[chapter].items()}
        _write(folder, f"variant_{k}", _submission(chapter, codes))
        names[f"variant_{k}"] = {task: variant_name(code) for task, code in codes.items()}
    seed = secrets.randbelow(2**31)
    out = tmp_path_factory.mktemp(f"honest_{chapter[:2]}_grades")
    start = time.perf_counter()
    results = grade(chapter, [folder], out, workers=2, timeout=TIMEOUT, memory_gb=MEMORY_GB,
                    solutions=ROOT / "solutions", show_progress=False, hidden_seed=seed)
    return {"chapter": chapter, "results": results, "seed": seed, "names": names,
            "seconds": time.perf_counter() - start}


def test_variants_score_full_marks_in_grading(graded, record_property):
    chapter, seed = graded["chapter"], graded["seed"]
    record_property("notebook_seconds", graded["seconds"])
    record_property("notebook_label", f"grader, honest variants  {chapter}")
    reference = reference_of(chapter)
    results = {r.student: r for r in graded["results"]}
    assert sorted(results) == sorted(graded["names"]), f"hidden_seed={seed}"
    problems = []
    for student, result in results.items():
        if result.status != "graded":
            problems.append(f"{student}: status {result.status!r}")
        by_task = {t.task: t for t in result.tasks}
        for task in reference.tasks:
            got = by_task.get(task.id)
            name = graded["names"][student][task.id]
            if got is None:
                problems.append(f"{student} {task.id} {name}: not graded")
            elif got.status != "passed" or got.points != task.points:
                problems.append(f"{student} {task.id} {name}: {got.status}, {got.points} of "
                                f"{task.points} points: {got.message} {got.findings}")
        tasks_points = sum(task.points for task in reference.tasks)  # no written answers
        if result.total != tasks_points:
            problems.append(f"{student}: total {result.total} of {tasks_points}")
    assert not problems, (f"{chapter}, hidden_seed={seed} (grade(..., hidden_seed={seed}) "
                          "reproduces it):\n" + "\n".join(problems))
