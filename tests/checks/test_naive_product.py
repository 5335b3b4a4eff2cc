"""The feedback checks of chapter 04 (the Jacobians along an orbit and the naive product's
norms): correct code in its many forms passes, visibly and with the hidden cases; each
typical mistake gets its own message; a solution fitted to the visible inputs fails a
hidden case without seeing it."""

import re

import pytest
import torch
from torch.func import jacrev, vmap

from course_utils.checks import HiddenCaseError, check_naive_norms, check_plrnn_jacobians
from course_utils.checks.helpers import small_plrnn
from course_utils.checks.framework import MISMATCH
from course_utils.checks.naive_product import (_HIDDEN_JACOBIAN_CASES, _HIDDEN_NORM_CASES,
                                               NAIVE_NORMS, _norm_inputs,
                                               _rotations, _states)
from course_utils.lyapunov import naive_product_log_norms


def _no_digits_but_float32(label):
    return not re.search(r"\d", label.replace("float32", "").replace("float64", ""))


def _reveals(message, numbers):
    return [n for n in numbers if re.search(rf"(?<![\w.]){n}(?![\w.])", message)]


# =======================================================================================
# Task 1: the Jacobians along the orbit

def _jacobians(model, Z):
    """The notebook's solution: the sum trick."""
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                                vectorize=True)
    return blocks.permute(1, 0, 2)


def _per_state(model, Z):
    return torch.stack([torch.autograd.functional.jacobian(model, z) for z in Z])


def _functorch(model, Z):
    return vmap(jacrev(model))(Z)


def _analytic(model, Z):
    active = (Z @ model.W2.T + model.h2 > 0).to(Z.dtype)
    return torch.diag(model.A) + model.W1 @ (active[:, :, None] * model.W2)


def _full_jacobian_diagonal(model, Z):
    full = torch.autograd.functional.jacobian(model, Z, create_graph=True)   # (T, M, T, M)
    return full.sum(dim=2)


def _via_float64_copy(model, Z):
    """Computes in a float64 copy of the model and converts the result back."""
    import copy

    model64 = copy.deepcopy(model).double()
    return _jacobians(model64, Z.double()).to(Z.dtype)


def _requires_grad_on_input(model, Z):
    Z.requires_grad_(True)
    return torch.stack([torch.autograd.grad(model(Z)[:, i].sum(), Z, retain_graph=True)[0]
                        for i in range(model.M)], dim=1)


@pytest.mark.parametrize("student", [_jacobians, _per_state, _functorch, _analytic,
                                     lambda m, Z: m.jacobian(Z),
                                     _full_jacobian_diagonal, _via_float64_copy,
                                     _requires_grad_on_input])
def test_correct_jacobians_pass_visible_and_hidden(student, capsys):
    check_plrnn_jacobians(student)
    check_plrnn_jacobians(student, hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✓ orbit Jacobians") for line in lines)


def test_jacobian_check_works_inside_no_grad():
    with torch.no_grad():
        check_plrnn_jacobians(_jacobians, hidden=True)


@pytest.mark.parametrize("student, message", [
    (lambda m, Z: _jacobians(m, Z).transpose(1, 2), "transposes"),
    (lambda m, Z: _jacobians(m, m(Z).detach()), "next states"),
    (lambda m, Z: torch.autograd.functional.jacobian(lambda Z: m(Z).sum(0), Z).reshape(
        Z.shape[0], m.M, m.M), "reshape does not move the time index"),
    (lambda m, Z: (torch.diag(m.A) + m.W1 @ m.W2).expand(Z.shape[0], m.M, m.M),
     "derivative of the ReLU is missing"),
    (lambda m, Z: torch.autograd.functional.jacobian(m, Z), "all states"),
    (lambda m, Z: torch.autograd.functional.jacobian(m, Z).diagonal(dim1=0, dim2=2),
     r"got \(5, 5, 7\). The time index is last: move it to the front, permute\(2, 0, 1\)"),
    (lambda m, Z: torch.autograd.functional.jacobian(lambda Z: m(Z).sum(0), Z),
     r"\(M, T, M\): move it to the front with permute\(1, 0, 2\)"),
    (lambda m, Z: _jacobians(m, Z) + 1e-3, r"^J\[0, 0, 0\] is wrong \(T = 7, M = 5, "
                                           r"float64\): expected -?\d[\d.]*, got -?\d"),
    (lambda m, Z: _jacobians(m, Z) * float("nan"), r"J\[0, 0, 0\] is wrong .*got nan"),
    (lambda m, Z: _jacobians(m, Z) - torch.diag(m.A), r"J\[0, 0, 0\] is wrong .*The linear "
                                                      r"part is missing"),
    (lambda m, Z: torch.diag(m.A) + (m.W1 * (Z @ m.W2.T + m.h2 < 0).to(Z.dtype)[:, None, :])
     @ m.W2, r"^J\[\d+, \d+, \d+\] is wrong .*your mask keeps the inactive units"),
    (lambda m, Z: torch.diag(m.A) + (m.W1 * (Z @ m.W2.T > 0).to(Z.dtype)[:, None, :]) @ m.W2,
     r"^J\[\d+, \d+, \d+\] is wrong .*The bias h2 is missing from the ReLU's mask"),
    (lambda m, Z: torch.autograd.functional.jacobian(lambda Z: m(Z).sum(1), Z),
     r"got \(7, 7, 5\)\. The time index appears twice: model\(Z\)\.sum\(dim=1\)"),
    (lambda m, Z: torch.autograd.functional.jacobian(lambda Z: m(Z).sum(1), Z).permute(2, 0, 1),
     r"got \(5, 7, 7\)\. The time index appears twice"),
])
def test_jacobian_slips_are_named(student, message):
    with pytest.raises(AssertionError, match=message):
        check_plrnn_jacobians(student)


@pytest.mark.parametrize("student, message", [
    (lambda m, Z: [torch.autograd.functional.jacobian(m, z) for z in Z],
     r"must return a torch tensor \(the next cell calls .detach\(\).*got a list.*torch.stack"),
    (lambda m, Z: _jacobians(m, Z).numpy(), "got a NumPy array"),
    (lambda m, Z: None, "must return a torch tensor .*got NoneType"),
    (lambda m, Z: _jacobians(m, Z).float(), "must have the dtype of Z and the model, "
                                            "torch.float64 .*got torch.float32"),
    (lambda m, Z: _jacobians(m, Z).to("meta"), "on the device of its inputs, cpu; got meta"),
    (lambda m, Z: _jacobians(m, Z.float()), "raised RuntimeError .*uses another dtype"),
])
def test_wrong_jacobian_types_get_a_clear_message(student, message):
    with pytest.raises(AssertionError, match=message):
        check_plrnn_jacobians(student)


def _float64_formula(model, Z):
    """The formula in float64, whatever the dtype of the model and Z."""
    active = (Z @ model.W2.T + model.h2 > 0).double()
    return torch.diag(model.A).double() + model.W1.double() @ (active[:, :, None]
                                                               * model.W2.double())


def _states_to_float64(model, Z):
    """Z converted to float64 for more precision; the model stays as it is."""
    Z = Z.double()
    return torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z).permute(1, 0, 2)


@pytest.mark.parametrize("student, message", [
    (_float64_formula, r"must have the dtype of Z and the model, torch.float32 \(T = 10, M = 4, "
                       r"float32 as in the notebook\); got torch.float64"),
    (_states_to_float64, r"raised RuntimeError \(.*dtype.*\) for inputs of dtype "
                         r"torch.float32 \(T = 10, M = 4, float32 as in the notebook\)"),
    (lambda m, Z: _jacobians(m, Z).reshape(7, 5, 5), r"shape '\[7, 5, 5\]' is invalid"),
])
def test_the_notebooks_float32_is_a_visible_case(student, message):
    """The notebook's model and orbit are float32: a float64 computation, which the first
    (float64) case cannot tell from a right one, fails the second; so does a size fixed to
    the first."""
    with pytest.raises((AssertionError, RuntimeError), match=message):
        check_plrnn_jacobians(student)


def test_jacobian_inputs_changed_in_place_are_reported():
    def scales_z(model, Z):
        Z.mul_(1.5)
        return model.jacobian(Z / 1.5)

    def converts_model(model, Z):
        model.float()
        return _jacobians(model, Z.float()).double()

    with pytest.raises(AssertionError, match="changed its input Z in place"):
        check_plrnn_jacobians(scales_z)
    with pytest.raises(AssertionError, match="converted the model in place"):
        check_plrnn_jacobians(converts_model)


def test_jacobians_through_float32_are_told_about_the_dtype():
    def through_float32(model, Z):
        import copy

        return _jacobians(copy.deepcopy(model).float(), Z.float()).double()

    with pytest.raises(AssertionError, match="the precision of float32"):
        check_plrnn_jacobians(through_float32)


def _fitted_to_visible_sizes(model, Z):
    """Right for the visible sizes only; transposed otherwise."""
    J = _jacobians(model, Z)
    return J if tuple(Z.shape) in ((7, 5), (10, 4)) else J.transpose(1, 2)


@pytest.mark.parametrize("student", [_fitted_to_visible_sizes])
def test_overfitted_jacobians_fail_a_hidden_case(student, capsys):
    check_plrnn_jacobians(student)
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(HiddenCaseError, match="the visible check passes, but") as info:
        check_plrnn_jacobians(student, hidden=True)
    numbers = {n for _, sizes, T, seed, scale, _ in _HIDDEN_JACOBIAN_CASES
               for n in (*sizes.values(), T, seed, scale)}
    assert not _reveals(str(info.value), numbers)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_hidden_jacobian_cases():
    labels = [label for label, *_ in _HIDDEN_JACOBIAN_CASES]
    assert all(map(_no_digits_but_float32, labels))
    assert any(dtype == "float32" for *_, dtype in _HIDDEN_JACOBIAN_CASES)
    assert {T for _, _, T, *_ in _HIDDEN_JACOBIAN_CASES} - {7}
    assert {sizes["M"] for _, sizes, *_ in _HIDDEN_JACOBIAN_CASES} - {5}
    # No state sits so close to a ReLU kink that rounding could flip an active unit.
    for _, sizes, T, seed, scale, dtype in _HIDDEN_JACOBIAN_CASES:
        model = small_plrnn(**sizes, dtype=dtype)
        Z = _states(T, sizes["M"], seed, scale, dtype)
        assert float((Z @ model.W2.T + model.h2).detach().abs().min()) > 1e-4


# =======================================================================================
# Task 2: the norms of the naive product

def _norms(J, *, reverse=False, ord=2, log=False, from_start=False):
    """A student's loop, with switches for the typical mistakes."""
    T = J.shape[0]
    order = list(range(T)) if from_start else list(range(T - 1, -1, -1))
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    P = torch.eye(J.shape[-1], dtype=J.dtype)
    for n, t in enumerate(order):
        P = J[t] @ P if reverse else P @ J[t]
        if not torch.isfinite(P).all():
            break
        norms[n] = torch.linalg.matrix_norm(P, ord=ord)
    return torch.log(norms) if log else norms


def _solution(J):
    """The notebook's solution."""
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    P = J[T - 1]
    for n in range(T):
        if n > 0:
            P = P @ J[T - 1 - n]
        if not torch.isfinite(P).all():
            break
        norms[n] = torch.linalg.matrix_norm(P, ord=2)
    return norms


def _svdvals_on_flipped(J):
    values = []
    P = None
    for Jt in J.flip(0):
        P = Jt if P is None else P @ Jt
        if not torch.isfinite(P).all():
            break
        values.append(torch.linalg.svdvals(P)[0])
    rest = J.new_full((J.shape[0] - len(values),), float("inf"))
    return torch.cat([torch.stack(values), rest])


def _products_first(J):
    """All products first, then one batched norm of the finite ones."""
    T = J.shape[0]
    products = [J[-1]]
    for n in range(1, T):
        products.append(products[-1] @ J[T - 1 - n])
    products = torch.stack(products)
    finite = torch.isfinite(products).all(dim=(1, 2))
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    norms[finite] = torch.linalg.matrix_norm(products[finite], ord=2)
    return norms


def _multi_dot(J):
    """Each product afresh, in the association torch.linalg.multi_dot chooses."""
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    reverse = J.flip(0)
    for n in range(T):
        P = reverse[0] if n == 0 else torch.linalg.multi_dot(list(reverse[: n + 1]))
        if not torch.isfinite(P).all():
            break
        norms[n] = torch.linalg.matrix_norm(P, ord=2)
    return norms


def _float64_norm_of_float32_product(J):
    """The product in float32; only its norm taken in float64 (and stored in float32)."""
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    P = torch.eye(J.shape[-1], dtype=J.dtype)
    for n in range(T):
        P = P @ J[T - 1 - n]
        if not torch.isfinite(P).all():
            break
        norms[n] = torch.linalg.matrix_norm(P.double(), ord=2)
    return norms


@pytest.mark.parametrize("student", [_solution, _norms, _svdvals_on_flipped,
                                     _products_first, _multi_dot,
                                     _float64_norm_of_float32_product])
def test_correct_norms_pass_visible_and_hidden(student, capsys):
    check_naive_norms(student)
    check_naive_norms(student, hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✓ naive_norms") for line in lines)


def _radii(J):
    """Spectral radii of the running products, in place of their norms."""
    T = J.shape[0]
    out, P = J.new_empty(T), torch.eye(J.shape[1], dtype=J.dtype)
    for n in range(T):
        P = P @ J[T - 1 - n]
        out[n] = torch.linalg.eigvals(P).abs().max()
    return out


def _single_norms(J):
    return torch.linalg.matrix_norm(J.flip(0), ord=2)


def _last_jacobian_twice(J):
    """P = J_T, then J_T, J_{T-1}, ... multiplied on: J_T twice in every product."""
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    P = J[T - 1]
    for n in range(T):
        P = P @ J[T - 1 - n]
        norms[n] = torch.linalg.matrix_norm(P, ord=2)
    return norms


def _one_factor_too_many(J):
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    P = J[T - 1]
    for n in range(1, T):
        P = P @ J[T - 1 - n]
        if not torch.isfinite(P).all():
            break
        norms[n - 1] = torch.linalg.matrix_norm(P, ord=2)
    return norms


def _stops_early(J):
    norms = _solution(J)
    norms[-1] = float("inf")
    return norms


@pytest.mark.parametrize("student, message", [
    (lambda J: _norms(J, log=True), "not their logarithms"),
    (lambda J: torch.log10(_norms(J)), "not their logarithms"),
    (lambda J: _radii(J), r"not the largest \|eigenvalue\|"),
    (lambda J: torch.where(torch.arange(len(J)) == 3, float("nan"), _norms(J)),
     r"norms\[3\] is wrong \(T = 40 float32 Jacobians, as in the notebook\): expected "
     r"\d[\d.]*, got nan\. That is the spectral norm of the product of the last 4 Jacobians"),
    (lambda J: _norms(J).requires_grad_(), r"must not require a gradient \(the plot calls "
                                           r".numpy\(\)"),
    (lambda J: _norms(J, ord="fro"), "spectral norm"),
    (lambda J: _norms(J, ord=float("inf")), r"^norms\[0\] is wrong .*another matrix norm "
                                            r"\(ord=inf\)"),
    (lambda J: _norms(J, ord="nuc"), r"another matrix norm \(ord='nuc'\)"),
    (_last_jacobian_twice, r"^norms\[0\] is wrong .*starts from J_T and then multiplies J_T "
                           r"again"),
    (lambda J: _norms(J, from_start=True, reverse=True), "(?i)start from the end"),
    (lambda J: _norms(J, from_start=True), "(?i)start from the end of the orbit: the"),
    (lambda J: _norms(J, reverse=True), "J_T J_{T-1} ..., not J_{T-1} J_T"),
    (_single_norms, "norms of the single Jacobians"),
    (lambda J: torch.cumprod(_single_norms(J), 0), "(?i)you multiplied the norms"),
    (_one_factor_too_many, "(?i)one factor too many"),
    (_stops_early, r"norms\[39\] is wrong .*expected \d[\d.e+]*, got inf. .*stop too early"),
    (lambda J: _norms(J)[:-1], r"return 40 norms, shape \(40,\)"),
    (lambda J: _norms(J) * 1.001, r"^norms\[0\] is wrong \(T = 40 float32 Jacobians, as in the "
                                  r"notebook\): expected \d[\d.]*, got \d"),
    (lambda J: _norms(J.double()), "must have the dtype of the Jacobians, torch.float32"),
])
def test_norm_slips_are_named(student, message):
    with pytest.raises(AssertionError, match=message):
        check_naive_norms(student)


def test_more_finite_norms_than_float32_allows_are_named():
    def clamped(J):
        return torch.nan_to_num(_solution(J), posinf=torch.finfo(J.dtype).max)

    with pytest.raises(AssertionError, match=r"norms\[80\] is wrong .*expected inf, got "
                                             r"3\.40282.*overflows float32 after 80 finite"):
        check_naive_norms(clamped)


def test_finite_norms_after_the_overflow_are_named():
    def zeros_after(J):
        norms = _solution(J)
        return torch.where(torch.isfinite(norms), norms, torch.zeros_like(norms))

    with pytest.raises(AssertionError, match=r"norms\[80\] is wrong .*expected inf, got 0.*"
                                             r"leave inf"):
        check_naive_norms(zeros_after)

    def finite_again(J):
        norms = _solution(J)
        if len(norms) > 90:
            norms[90] = 1.0
        return norms

    with pytest.raises(AssertionError, match=r"norms\[90\] is wrong .*expected inf, got 1.*"
                                             "finite again"):
        check_naive_norms(finite_again)


def _nan_after_overflow(J):
    """Keeps multiplying; nan for every product that is not finite."""
    T = J.shape[0]
    norms = J.new_empty(T)
    P = torch.eye(J.shape[1], dtype=J.dtype)
    for n in range(T):
        P = P @ J[T - 1 - n]
        norms[n] = torch.linalg.norm(P, 2) if torch.isfinite(P).all() else float("nan")
    return norms


def _product_in_float64(J):
    """The product in float64, the norms stored in the template's tensor of J's dtype."""
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    P = J[T - 1].double()
    for n in range(T):
        if n > 0:
            P = P @ J[T - 1 - n].double()
        if not torch.isfinite(P).all():
            break
        norms[n] = torch.linalg.matrix_norm(P, ord=2)
    return norms


def test_nan_after_the_overflow_is_named():
    """The task asks for inf once the product is not finite; nan (inf - inf, 0 * inf) from
    multiplying on is a visible failure."""
    with pytest.raises(AssertionError, match=r"^norms\[80\] is wrong \(T = 100 float32 "
                                             r".*\): expected inf, got nan\. .*asks for inf"):
        check_naive_norms(_nan_after_overflow)


def test_a_product_in_float64_is_named():
    """Stored in float32, a float64 product's norms turn inf where they pass float32's
    largest number, as the float32 product's do; they come back when the later factors
    contract, and the message says why."""
    with pytest.raises(AssertionError, match=r"^norms\[\d+\] is wrong \(T = 100 float32 "
                                             r".*\): expected inf, got \d.*exact product, "
                                             r"as computed in float64.*no \.double\(\)"
                                       ) as info:
        check_naive_norms(_product_in_float64)
    assert MISMATCH.match(str(info.value))


def test_the_overflow_case_tells_float32_from_float64():
    """Where the visible overflow case's float32 product is inf, its float64 product falls
    back below float32's largest number: the case is one where the dtype shows."""
    case = [c for c in NAIVE_NORMS.cases(False, None) if c.params["kind"] == "rotations"][0]
    J = _norm_inputs(case)
    in_float32 = _solution(J)
    in_float64 = _product_in_float64(J)
    n_ref = int(torch.isfinite(in_float32).sum())
    assert n_ref == 80 and bool(torch.isinf(in_float32[n_ref:]).all())
    assert bool(torch.isfinite(in_float64[n_ref:]).any())
    assert torch.equal(in_float32[:n_ref], _norms(J)[:n_ref]) or bool(torch.allclose(
        in_float32[:n_ref], in_float64[:n_ref], rtol=1e-4))


def test_an_svd_of_an_overflowed_product_is_explained():
    def no_check(J):
        T = J.shape[0]
        norms = torch.full((T,), float("inf"), dtype=J.dtype)
        P = J[T - 1]
        for n in range(T):
            if n > 0:
                P = P @ J[T - 1 - n]
            norms[n] = torch.linalg.matrix_norm(P, ord=2)
        return norms

    with pytest.raises(AssertionError, match=r"norm \(an SVD\) of a product with inf"):
        check_naive_norms(no_check)


@pytest.mark.parametrize("student, message", [
    (lambda J: _norms(J).tolist(), r"must return a torch tensor \(the next cell calls "
                                   r"torch.isfinite on it\); got a list"),
    (lambda J: [n for n in _norms(J)], "must return a torch tensor .*got a list"),
    (lambda J: _norms(J).numpy(), "got a NumPy array"),
    (lambda J: None, "got NoneType"),
    (lambda J: _norms(J).float(), "must have the dtype of the Jacobians, torch.float64 .*got "
                                  "torch.float32"),
    (lambda J: torch.tensor([float(v) for v in _norms(J)]), "dtype of the Jacobians"),
    (lambda J: _norms(J).to("meta"), "on the device of its inputs, cpu; got meta"),
    (lambda J: _norms(J)[:, None], r"shape \(40,\); got shape \(40, 1\)"),
])
def test_wrong_norm_types_get_a_clear_message(student, message):
    """Regression: a list or NumPy array of norms passed, and the next cell failed in
    torch.isfinite."""
    with pytest.raises(AssertionError, match=message):
        check_naive_norms(student)


def test_jacobians_changed_in_place_are_reported():
    """Regression: the references were computed from J after the student's function had
    changed it."""
    def flips_in_place(J):
        J[:] = J.flip(0).clone()                 # J_T first, then a forward loop
        return _norms(J, from_start=True)

    def scales_in_place(J):
        J.mul_(2.0)
        return _solution(J) / 2.0 ** torch.arange(1, J.shape[0] + 1, dtype=J.dtype)

    for student in (flips_in_place, scales_in_place):
        with pytest.raises(AssertionError, match="changed its input J in place"):
            check_naive_norms(student)


def _stops_at_visible_overflow(J):
    """Stops after 80 factors, where the visible stretched rotations overflow."""
    norms = _solution(J)
    norms[80:] = float("inf")
    return norms


def _visible_answers():
    """What the student printed for the visible inputs of the check, by dtype and length."""
    return {(J.dtype, J.shape[0]): _solution(J)
            for J in (_norm_inputs(case) for case in NAIVE_NORMS.cases(False, None))}


_ANSWERS = _visible_answers()


def _lookup(J):
    """Returns the answers it saw for the visible inputs: those of the same dtype and
    length, else the first ones of the same dtype, cut or padded with inf."""
    stored = _ANSWERS.get((J.dtype, J.shape[0]))
    if stored is None:
        stored = next(v for (dtype, _), v in _ANSWERS.items() if dtype == J.dtype)
    stored = stored[:J.shape[0]]
    return torch.cat([stored, stored.new_full((J.shape[0] - len(stored),), float("inf"))])


@pytest.mark.parametrize("student", [_stops_at_visible_overflow, _lookup])
def test_overfitted_norms_fail_a_hidden_case(student, capsys):
    check_naive_norms(student)
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(HiddenCaseError, match="the visible check passes, but") as info:
        check_naive_norms(student, hidden=True)
    numbers = {n for _, _, T, d, seed, _, stretch, contract in _HIDDEN_NORM_CASES
               for n in (T, d, seed, stretch, contract) if n}
    for _, kind, T, _, seed, dtype, stretch, contract in _HIDDEN_NORM_CASES:
        if kind == "rotations":               # where the hidden rotations overflow
            n_ref = int(torch.isfinite(naive_product_log_norms(
                _rotations(T, seed, stretch, dtype, contract), dtype=dtype)).sum())
            numbers |= {n_ref, n_ref + 1}
    assert not _reveals(str(info.value), numbers)


def test_hidden_norm_cases():
    assert all(_no_digits_but_float32(label) for label, *_ in _HIDDEN_NORM_CASES)
    assert any(dtype == "float32" and kind == "mixed"
               for _, kind, _, _, _, dtype, _, _ in _HIDDEN_NORM_CASES)
    assert any(kind == "rotations" and stretch != 3.0 and contract > 0
               for _, kind, *_, stretch, contract in _HIDDEN_NORM_CASES)
    # the hidden rotations overflow float32 within the orbit, and a float64 product would
    # come back below float32's largest number
    for _, kind, T, _, seed, dtype, stretch, contract in _HIDDEN_NORM_CASES:
        if kind == "rotations":
            J = _rotations(T, seed, stretch, dtype, contract)
            n_ref = int(torch.isfinite(naive_product_log_norms(J, dtype=dtype)).sum())
            assert n_ref < T - contract
            assert bool(torch.isfinite(_product_in_float64(J)[n_ref:]).any())


def test_visible_norm_cases_are_the_notebooks_conditions():
    """float32 Jacobians as in the notebook come first; float64 ones follow (the task asks
    for the Jacobians' dtype); the overflow case is float32."""
    cases = NAIVE_NORMS.cases(False, None)
    assert cases[0].params["dtype"] == "float32" and cases[0].params["kind"] == "mixed"
    assert {c.params["dtype"] for c in cases} == {"float32", "float64"}
    assert [c.params["dtype"] for c in cases if c.params["kind"] == "rotations"] == ["float32"]
