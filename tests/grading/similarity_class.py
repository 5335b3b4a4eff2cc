"""A generated class for the similarity checks (course_utils.grading.similarity), used by
``tests/grading/test_similarity.py`` and ``benchmarks/similarity.py``.

Chapter 04's two tasks and a written answer about its question (what goes wrong when the
Jacobian product is computed literally), handed in by eight students:

* ada writes her own solutions; ben and cleo copy them: ben renames every variable and
  rewrites the comments, cleo reorders the independent lines, changes the comments and the
  spacing. Every pair of the three is a copy.
* dan, eva and finn work on their own: a different loop, a vectorised version, other helper
  names; their code does the same things with the same library calls, as honest code of
  one exercise does.
* gus adapts the package's reference implementation (``[reference: ...]`` of the task)
  and rewords the reference answer.
* hana hands in the untouched template.

Written answers: ben's is ada's, lightly reworded; cleo, dan, eva and finn write their own;
gus rewords the reference answer; hana leaves the placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from course_utils.grading.similarity import task_templates
from course_utils.notebook_format import ANSWER_PLACEHOLDER

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "solutions" / "04_plrnn_max_lyapunov.py"
STUDENTS = ("ada", "ben", "cleo", "dan", "eva", "finn", "gus", "hana")
#: The students who copied one another, per task and question.
COPIES = ("ada", "ben", "cleo")
ANSWER_COPIES = ("ada", "ben")
#: The students who copied the reference implementation (and the reference answer).
REFERENCE_COPIES = ("gus",)

JAC_DOC = '    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""\n'
JAC_HEAD = "def orbit_jacobians(model, Z):\n" + JAC_DOC
NORMS_HEAD = ('def naive_norms(J):\n    """||J_T||, ||J_T J_{T-1}||, ..., ||J_T ... J_1|| '
              '(spectral norms), shape (T,)."""\n    T = J.shape[0]\n'
              '    norms = torch.full((T,), float("inf"), dtype=J.dtype)\n')
NORMS_TAIL = "    return norms\n"

TASK1 = {
    "ada": JAC_HEAD + """\
    # derivative of the summed outputs: one batched sweep over all states
    total = lambda states: model(states).sum(dim=0)
    blocks = torch.autograd.functional.jacobian(total, Z, vectorize=True)  # (M, T, M)
    J = blocks.transpose(0, 1).contiguous()
    assert J.shape == (Z.shape[0], Z.shape[1], Z.shape[1])
    return J.to(Z.dtype)
""",
    "ben": JAC_HEAD + """\
    summed = lambda x: model(x).sum(dim=0)   # rows are independent, so sum them
    jac = torch.autograd.functional.jacobian(summed, Z, vectorize=True)
    out = jac.transpose(0, 1).contiguous()   # time index first
    assert out.shape == (Z.shape[0], Z.shape[1], Z.shape[1])
    return out.to(Z.dtype)
""",
    "cleo": JAC_HEAD + """\
    total = lambda states : model( states ).sum( dim = 0 )

    blocks = torch.autograd.functional.jacobian( total , Z , vectorize = True )
    J = blocks.transpose( 0 , 1 ).contiguous( )
    assert J.shape == ( Z.shape[0] , Z.shape[1] , Z.shape[1] )   # sanity check
    return J.to( Z.dtype )
""",
    "dan": JAC_HEAD + """\
    T, M = Z.shape
    out = torch.empty(T, M, M, dtype=Z.dtype)
    t = 0
    while t < T:
        out[t] = torch.autograd.functional.jacobian(model, Z[t])
        t += 1
    return out
""",
    "eva": JAC_HEAD + """\
    from torch.func import jacrev, vmap

    per_state = vmap(jacrev(model))
    return per_state(Z)
""",
    "finn": """\
def jacobian_at(model, z):
    \"\"\"dF/dz at one state.\"\"\"
    return torch.autograd.functional.jacobian(lambda s: model(s), z)


""" + JAC_HEAD + """\
    mats = [jacobian_at(model, Z[i]) for i in range(len(Z))]
    return torch.stack(mats, dim=0)
""",
    "gus": JAC_HEAD + """\
    mask = (Z @ model.W2.T + model.h2 > 0).to(Z.dtype)
    return torch.diag(model.A) + (model.W1 * mask[..., None, :]) @ model.W2
""",
}

TASK2 = {
    "ada": NORMS_HEAD + """\
    # start with the last Jacobian and multiply earlier ones on the right
    prod = J[-1].clone()
    for step in range(T):
        if step:
            prod = prod @ J[T - step - 1]
        finite = torch.isfinite(prod).all()
        if not finite:
            break   # overflow: leave the remaining entries at inf
        norms[step] = torch.linalg.matrix_norm(prod, ord=2)
        scale = norms[step].item()
        if scale == 0.0:
            norms[step:] = 0.0
            break
""" + NORMS_TAIL,
    "ben": NORMS_HEAD + """\
    # P holds J_T J_{T-1} ... so far
    P = J[-1].clone()
    for i in range(T):
        if i:
            P = P @ J[T - i - 1]
        ok = torch.isfinite(P).all()
        if not ok:
            break   # inf from here on
        norms[i] = torch.linalg.matrix_norm(P, ord=2)
        s = norms[i].item()
        if s == 0.0:
            norms[i:] = 0.0
            break
""" + NORMS_TAIL,
    "cleo": NORMS_HEAD + """\
    prod = J[-1].clone()   # the product so far

    for step in range(T):
        if step:
            prod = prod @ J[T - step - 1]
        finite = torch.isfinite(prod).all()
        if not finite: break
        norms[step] = torch.linalg.matrix_norm(prod, ord=2)
        scale = norms[step].item()
        if scale == 0.0:
            norms[step:] = 0.0; break
""" + NORMS_TAIL,
    "dan": NORMS_HEAD + """\
    P = torch.eye(J.shape[1], dtype=J.dtype)
    n = 0
    while n < T:
        P = P @ J[T - 1 - n]
        if torch.isinf(P).any() or torch.isnan(P).any():
            break
        norms[n] = torch.linalg.svdvals(P)[0]
        n = n + 1
""" + NORMS_TAIL,
    "eva": NORMS_HEAD + """\
    from itertools import accumulate

    running = list(accumulate(J.flip(0), lambda A, B: A @ B))
    stacked = torch.stack(running)
    good = torch.isfinite(stacked).flatten(1).all(dim=1).cumprod(dim=0).bool()
    norms[good] = torch.linalg.matrix_norm(stacked[good], ord=2)
""" + NORMS_TAIL,
    "finn": """\
def spectral(A):
    \"\"\"The largest singular value.\"\"\"
    return torch.linalg.svdvals(A).max()


""" + NORMS_HEAD + """\
    current = None
    for k, Jk in enumerate(reversed(list(J))):
        current = Jk if current is None else current @ Jk
        if not bool(torch.isfinite(current).all()):
            break
        norms[k] = spectral(current)
""" + NORMS_TAIL,
    "gus": NORMS_HEAD + """\
    products = torch.empty_like(J)
    P = J[T - 1]
    products[0] = P
    overflow = T
    for n in range(1, T):
        if not torch.isfinite(P).all():
            overflow = n - 1
            break
        P = P @ J[T - 1 - n]
        products[n] = P
    else:
        if not torch.isfinite(P).all():
            overflow = T - 1
    if overflow > 0:
        norms[:overflow] = torch.linalg.matrix_norm(products[:overflow], ord=2)
""" + NORMS_TAIL,
}

QUESTION = """\
**Question 1.** What happens when you compute this product literally, one matrix after the
other, along a *chaotic* orbit? Think about the size of the numbers, and about the
directions in the product. Write down your argument before you read on.
"""

REFERENCE_ANSWER = """\
**Argument.** On a chaotic orbit $\\lambda_{\\max} > 0$, so the norm of the product grows
like $\\|J_T \\cdots J_{T-n+1}\\| \\approx C e^{n \\lambda_{\\max}}$ with $\\lambda_{\\max}$ per
step. A floating-point number has a largest finite value, about $3.4 \\times 10^{38}
= e^{88.7}$ in float32 and $e^{709.8}$ in float64. The product therefore overflows to
`inf` after about $n^* = 88.7 / \\lambda_{\\max}$ factors in float32; every later product,
and its norm, is `inf`, and the estimate is useless.

There is a second, subtler problem: all columns of the product turn towards the most
expanding direction, exponentially fast. The product becomes numerically of rank one,
so the information about every other exponent is lost to rounding long before the
overflow. The cure for both problems is the QR method.
"""

Q1 = {
    "ada": """\
Multiplying the Jacobians one after the other makes the entries of the product grow
exponentially, roughly like exp(n * lambda_max), because the orbit is chaotic and the
largest exponent is positive. In float32 the largest number is about 3.4e38, so after a
few thousand steps the product overflows and every norm after that is inf. Even before
that, the columns of the product all line up with the most expanding direction, so the
product is almost a rank one matrix and we cannot learn anything about the other
directions from it.
""",
    "ben": """\
Multiplying the Jacobians one after another makes the entries of the product grow
exponentially, about like exp(n * lambda_max), since the orbit is chaotic and the
largest exponent is positive. In float32 the biggest number is about 3.4e38, so after a
few thousand steps the product overflows and every norm after that is infinite. Even
before that, the columns of the product all align with the most expanding direction, so
the product is nearly a rank one matrix and we cannot learn anything about the other
directions from it.
""",
    "cleo": """\
The numbers explode. Since lambda_max > 0 on a chaotic attractor, the norm of J_T ... J_1
grows like e^(T lambda). Float32 can only hold values up to ~1e38, so at some point the
matrix becomes inf (and then nan) and the logarithm of its norm tells us nothing. I think
the directions also collapse onto one vector, which makes the product singular in practice.
""",
    "dan": """\
You get an overflow. Each Jacobian stretches the tangent space by a factor of about
e^lambda along the unstable direction, and these factors multiply. After n steps the
product is of size e^(n lambda), which exceeds the float range: the result is inf. The
directions are a problem too: every column is rotated towards the leading Lyapunov
vector, so the smaller exponents disappear in rounding errors.
""",
    "eva": """\
Computing the product literally is numerically unstable. Chaos means nearby orbits
separate exponentially, and the Jacobian product measures exactly this separation, so its
entries become huge and eventually exceed what float32 can represent (inf or nan). The
matrix also becomes ill-conditioned: its columns become parallel, its rank drops to one
numerically. One should renormalise along the way (QR).
""",
    "finn": """\
Overflow and loss of information. The largest Lyapunov exponent is positive, so the
spectral norm of the product increases exponentially with the number of factors; with
float32 the maximum is about 10^38 and the product turns into inf after roughly 88/lambda
steps. In addition the matrix product aligns everything with one direction, which is
why the full spectrum would need re-orthonormalisation.
""",
    "gus": """\
**Argument.** On a chaotic orbit $\\lambda_{\\max} > 0$, so the norm of the product grows
like $\\|J_T \\cdots J_{T-n+1}\\| \\approx C e^{n \\lambda_{\\max}}$ with $\\lambda_{\\max}$
per step. A float has a largest finite value, about $3.4 \\times 10^{38} = e^{88.7}$ in
float32 and $e^{709.8}$ in float64. So the product overflows to `inf` after roughly
$n^* = 88.7 / \\lambda_{\\max}$ factors in float32; every later product, and its norm,
is `inf`, and the estimate is useless. A second, subtler problem: all columns of the
product turn towards the most expanding direction, exponentially fast.
""",
    "hana": ANSWER_PLACEHOLDER,
}


@dataclass
class GeneratedClass:
    """The inputs of ``similarity_report`` and which pairs are copies."""

    codes: dict[str, dict[str, str]]
    answers: dict[str, dict[str, str]]
    template: dict[str, str]
    references: dict[str, str]
    copies: dict[str, set[frozenset[str]]] = field(default_factory=dict)
    reference_copies: dict[str, set[str]] = field(default_factory=dict)

    def honest(self, item: str) -> set[frozenset[str]]:
        """The pairs of ``item`` (a task or question id) that are not copies."""
        students = self.codes.get(item) or self.answers.get(item) or {}
        return {frozenset(p) for p in combinations(students, 2)} - self.copies[item]


def chapter_templates() -> dict[str, str]:
    """The exercise template's code cell of each task of chapter 04."""
    return task_templates(CHAPTER.read_text(encoding="utf-8"), CHAPTER)


def reference_texts() -> dict[str, str]:
    """The source of chapter 04's reference implementations, by task."""
    import inspect

    from course_utils import lyapunov, models

    return {"task1": inspect.getsource(models.ShallowPLRNN.jacobian)
            + "\n\n" + inspect.getsource(lyapunov._step_and_jacobian),
            "task2": inspect.getsource(lyapunov.naive_product_log_norms),
            "q1": REFERENCE_ANSWER}


def generated_class(*, students: tuple[str, ...] = STUDENTS) -> GeneratedClass:
    """The class above (only ``students``, if given); hana hands in the template."""
    template = chapter_templates()
    codes = {}
    for task, written in (("task1", TASK1), ("task2", TASK2)):
        codes[task] = {s: written.get(s, template[task]) for s in students}
    answers = {"q1": {s: Q1[s] for s in students}}
    template["q1"] = QUESTION
    pairs = {frozenset(p) for p in combinations([s for s in COPIES if s in students], 2)}
    answer_pairs = {frozenset(p) for p in
                    combinations([s for s in ANSWER_COPIES if s in students], 2)}
    copied = {s for s in REFERENCE_COPIES if s in students}
    return GeneratedClass(codes, answers, template, reference_texts(),
                          {"task1": pairs, "task2": pairs, "q1": answer_pairs},
                          {"task1": copied, "task2": copied, "q1": copied})
