"""The typical mistakes of chapter 04 (the maximum Lyapunov exponent of a trained RNN: naive
product vs QR), written from the tasks' text."""

from tests.checks.mistakes import overfit, visible

CHAPTER = "04_plrnn_max_lyapunov"

#: Task 2's cell as the template hands it out, with the student's lines in {body}.
_NORMS = '''
# {name}
def naive_norms(J):
    """||J_T||, ||J_T J_{{T-1}}||, ..., ||J_T ... J_1|| (spectral norms), shape (T,)."""
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
{body}
    return norms
'''


def _norms(name: str, body: str) -> str:
    """Task 2's template cell with the student's lines ``body`` (indented by 4)."""
    lines = body.strip("\n").splitlines()
    return _NORMS.format(name=name, body="\n".join("    " + line if line else ""
                                                    for line in lines))


MISTAKES = {
    "task1": [
        visible(r"J\[0, 0, 1\] is wrong \(T = 7, M = 5, float64\): expected .*You returned "
                r"the transposes", '''
# transposed: the sum trick's blocks permuted to (T, M_in, M_out)
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                                vectorize=True)        # (M, T, M)
    return blocks.permute(1, 2, 0)
'''),
        visible(r"got \(5, 7, 5\)\. The sum trick gives the blocks with the time index in the "
                r"middle, \(M, T, M\): move it to the front with permute\(1, 0, 2\)", '''
# time_index_in_the_middle: the sum trick's result returned as it comes
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    return torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                              vectorize=True)
'''),
        visible(r"J\[\d+, \d+, \d+\] is wrong .*The blocks are scrambled: .*reshape does not "
                r"move the time index", '''
# reshape_not_permute: the (M, T, M) blocks reshaped to (T, M, M)
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    T, M = Z.shape
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                                vectorize=True)
    return blocks.reshape(T, M, M)
'''),
        visible(r"got \(7, 5, 7, 5\)\. You differentiated all outputs with respect to all "
                r"states", '''
# all_states_at_once: the Jacobian of model(Z) with respect to Z, (T, M, T, M)
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    return torch.autograd.functional.jacobian(model, Z)
'''),
        visible(r"J\[0, \d+, \d+\] is wrong .*evaluated at the next states F\(Z\[t\]\)", '''
# at_the_next_states: the Jacobians at F(Z[t]), the states after the step
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    Z_next = model(Z).detach()
    return torch.stack([torch.autograd.functional.jacobian(model, z) for z in Z_next])
'''),
        visible(r"J\[\d+, \d+, \d+\] is wrong .*The derivative of the ReLU is missing", '''
# no_relu_derivative: diag(A) + W1 W2, as if every hidden unit were active
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    J = torch.diag(model.A) + model.W1 @ model.W2
    return J.expand(Z.shape[0], -1, -1).clone()
'''),
        visible(r"J\[0, 0, 0\] is wrong .*The linear part is missing", '''
# no_linear_part: W1 diag(ReLU') W2 without the diagonal A z term
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    active = (Z @ model.W2.T + model.h2 > 0).to(Z.dtype)          # (T, L)
    return model.W1 @ (active[:, :, None] * model.W2)
'''),
        visible(r"must have the dtype of Z and the model, torch.float32 \(T = 10, M = 4, float32 "
                r"as in the notebook\); got torch.float64", '''
# float64_copy: the Jacobians of a float64 copy of the model, for accuracy
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    model64 = copy.deepcopy(model).double()
    blocks = torch.autograd.functional.jacobian(lambda Z: model64(Z).sum(dim=0), Z.double(),
                                                vectorize=True)
    return blocks.permute(1, 0, 2)
'''),
        visible(r"raised RuntimeError \(.*dtype.*\) for inputs of dtype torch.float32 \(T = 10, "
                r"M = 4, float32 as in the notebook\): part of your computation uses another "
                r"dtype", '''
# states_to_float64: Z converted to float64, the model left as it is
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    Z = Z.to(torch.float64)
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                                vectorize=True)
    return blocks.permute(1, 0, 2)
'''),
        visible(r"converted the model in place \(T = 10, M = 4, float32 as in the notebook\)", '''
# model_converted_in_place: model.double() for the computation, the result converted back
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    model.double()
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z.double(),
                                                vectorize=True)
    return blocks.permute(1, 0, 2).to(Z.dtype)
'''),
        visible(r"return shape \(7, 5, 5\); got \(6, 5, 5\)", '''
# one_state_short: a loop over the steps between the states, T - 1 Jacobians
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    return torch.stack([torch.autograd.functional.jacobian(model, Z[t])
                        for t in range(Z.shape[0] - 1)])
'''),
        visible(r"must return a torch tensor \(the next cell calls \.detach\(\) .*\); got a list"
                r"\. Stack the Jacobians: torch\.stack", '''
# list_of_jacobians: one Jacobian per state, in a list
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    return [torch.autograd.functional.jacobian(model, z) for z in Z]
'''),
        visible(r"must have the dtype of Z and the model, torch.float64 \(T = 7, M = 5, float64\); "
                r"got torch.float32", '''
# zeros_without_dtype: the Jacobians written into torch.zeros(T, M, M), float32 by default
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    T, M = Z.shape
    J = torch.zeros(T, M, M)
    for t in range(T):
        active = (model.W2 @ Z[t] + model.h2 > 0).to(Z.dtype)
        J[t] = torch.diag(model.A) + model.W1 @ torch.diag(active) @ model.W2
    return J
'''),
        visible(r"RuntimeError: shape '\[7, 5, 5\]' is invalid", '''
# sizes_of_the_first_case: the sizes of the first check case written in
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                                vectorize=True)
    return blocks.permute(1, 0, 2).reshape(7, 5, 5)
'''),
        visible(r"J\[\d+, \d+, \d+\] is wrong \(T = 7, M = 5, float64\): expected .*your "
                r"mask keeps the inactive units", '''
# mask_inverted: the ReLU's derivative taken where the pre-activation is negative
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    mask = (Z @ model.W2.T + model.h2 < 0).to(Z.dtype)                  # (T, L)
    return torch.diag(model.A) + (model.W1 * mask[:, None, :]) @ model.W2
'''),
        visible(r"J\[\d+, \d+, \d+\] is wrong \(T = 7, M = 5, float64\): expected .*The "
                r"bias h2 is missing from the ReLU's mask", '''
# mask_without_bias: the active units read from W2 z alone
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    mask = (Z @ model.W2.T > 0).to(Z.dtype)
    return torch.stack([torch.diag(model.A) + model.W1 @ torch.diag(m) @ model.W2
                        for m in mask])
'''),
        visible(r"got \(7, 7, 5\)\. The time index appears twice: model\(Z\)\.sum\(dim=1\)", '''
# summed_over_units: the sum trick with the sum over the wrong axis
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    return torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=1), Z,
                                              vectorize=True)
'''),
        visible(r"got \(5, 7, 7\)\. The time index appears twice", '''
# summed_over_units_permuted: the wrong axis summed, then the last axis moved to the front
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=1), Z)
    return blocks.permute(2, 0, 1)
'''),
    ],
    "task2": [
        visible(r"norms\[80\] is wrong \(T = 100 float32 Jacobians: the product overflows, "
                r"later factors contract\): expected inf, got nan\. .*asks for inf",
                _norms("nan_after_overflow: keeps multiplying, nan where the product is not "
                       "finite", '''
P = torch.eye(J.shape[1], dtype=J.dtype)
for n in range(T):
    P = P @ J[T - 1 - n]
    norms[n] = torch.linalg.matrix_norm(P, ord=2) if torch.isfinite(P).all() else float("nan")
''')),
        visible(r"norms\[\d+\] is wrong \(T = 100 float32 .*\): expected inf, got \d.*exact "
                r"product, as computed in float64",
                _norms("product_in_float64: the product in float64, to be safe", '''
P = J[T - 1].double()
for n in range(T):
    if n > 0:
        P = P @ J[T - 1 - n].double()
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
''')),
        visible(r"norms\[\d+\] is wrong \(T = 100 float32 .*\): expected inf, got \d.*exact "
                r"product, as computed in float64",
                _norms("float64_throughout: J converted to float64, the norms back at the end", '''
J64 = J.to(torch.float64)
norms64 = torch.full((T,), float("inf"), dtype=torch.float64)
P = torch.eye(J.shape[1], dtype=torch.float64)
for n in range(T):
    P = P @ J64[T - 1 - n]
    if not torch.isfinite(P).all():
        break
    norms64[n] = torch.linalg.matrix_norm(P, ord=2)
norms = norms64.to(J.dtype)
''')),
        visible(r"norms\[0\] is wrong \(T = 40 float32 Jacobians, as in the notebook\): "
                r"expected .*Frobenius",
                _norms("frobenius: torch.linalg.norm(P), the Frobenius norm of a matrix", '''
P = J[T - 1]
for n in range(T):
    if n > 0:
        P = P @ J[T - 1 - n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.norm(P)
''')),
        visible(r"norms\[0\] is wrong .*Return the norms, not their logarithms",
                _norms("log_norms: ln ||P||, as in the definition of lambda_max", '''
P = J[T - 1]
for n in range(T):
    if n > 0:
        P = P @ J[T - 1 - n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.log(torch.linalg.matrix_norm(P, ord=2))
''')),
        visible(r"norms\[0\] is wrong .*Start from the end of the orbit: the first norm is "
                r"\|\|J_T\|\|",
                _norms("from_the_start: J_1, J_1 J_2, ... from the beginning of the orbit", '''
P = J[0]
for n in range(T):
    if n > 0:
        P = P @ J[n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
''')),
        visible(r"norms\[1\] is wrong .*J_T J_\{T-1\} \.\.\., not J_\{T-1\} J_T",
                _norms("multiplied_on_the_left: P = J_{T-n} P, the earlier Jacobian on the "
                       "left", '''
P = J[T - 1]
for n in range(1, T + 1):
    if not torch.isfinite(P).all():
        break
    norms[n - 1] = torch.linalg.matrix_norm(P, ord=2)
    if n < T:
        P = J[T - 1 - n] @ P
''')),
        visible(r"norms\[1\] is wrong .*These are the norms of the single Jacobians",
                _norms("single_jacobians: the norm of each Jacobian, not of the products", '''
for n in range(T):
    norms[n] = torch.linalg.matrix_norm(J[T - 1 - n], ord=2)
''')),
        visible(r"norms\[1\] is wrong .*You multiplied the norms",
                _norms("product_of_norms: ||J_T|| ||J_{T-1}|| ..., the norms multiplied", '''
norms[0] = torch.linalg.matrix_norm(J[T - 1], ord=2)
for n in range(1, T):
    norms[n] = norms[n - 1] * torch.linalg.matrix_norm(J[T - 1 - n], ord=2)
''')),
        visible(r"norms\[0\] is wrong .*One factor too many",
                _norms("one_factor_too_many: the first norm already of J_T J_{T-1}", '''
P = J[T - 1]
for n in range(T - 1):
    P = P @ J[T - 2 - n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
''')),
        visible(r"norms\[0\] is wrong .*not the largest \|eigenvalue\|",
                _norms("spectral_radius: the largest |eigenvalue| of the product", '''
P = J[T - 1]
for n in range(T):
    if n > 0:
        P = P @ J[T - 1 - n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.eigvals(P).abs().max()
''')),
        visible(r"the norm \(an SVD\) of a product with inf or nan entries fails",
                _norms("no_finite_test: the norm of every product, finite or not", '''
P = J[T - 1]
for n in range(T):
    if n > 0:
        P = P @ J[T - 1 - n]
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
''')),
        visible(r"norms\[80\] is wrong .*expected inf, got 3\.4028.*overflows float32 after 80 "
                r"finite norms",
                _norms("clamped_to_max: nan_to_num keeps the product finite to go on", '''
P = J[T - 1]
for n in range(T):
    if n > 0:
        P = torch.nan_to_num(P @ J[T - 1 - n])
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
norms = torch.nan_to_num(norms)
''')),
        visible(r"norms\[\d+\] is wrong \(T = 100 float32 .*\): expected inf, got \d.*exact "
                r"product, .*rescaled",
                _norms("log_scale: the product renormalised at every step, the log of its "
                       "scale summed", '''
P = torch.eye(J.shape[1], dtype=J.dtype)
log_scale = torch.zeros((), dtype=J.dtype)
for n in range(T):
    P = P @ J[T - 1 - n]
    s = torch.linalg.matrix_norm(P, ord=2)
    log_scale = log_scale + torch.log(s)
    P = P / s
    norms[n] = torch.exp(log_scale)
''')),
        visible(r"changed its input J in place",
                _norms("flipped_in_place: J reversed in place, then a forward loop", '''
J[:] = J.flip(0).clone()
P = J[0]
for n in range(T):
    if n > 0:
        P = P @ J[n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
''')),
        visible(r"norms\[80\] is wrong .*expected inf, got 0\.0\. From norms\[80\] on the product "
                r"has overflowed",
                _norms("zeros_after_the_overflow: a fresh tensor of zeros, filled while finite",
                       '''
norms = torch.zeros(T, dtype=J.dtype)
P = J[T - 1]
for n in range(T):
    if n > 0:
        P = P @ J[T - 1 - n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
''')),
        visible(r"norms\[0\] is wrong \(T = 40 float32 Jacobians, as in the notebook\): "
                r"expected .*you took another matrix norm \(ord=inf\)",
                _norms("max_row_sum: ord=inf, the largest row sum", '''
P = J[T - 1]
for n in range(T):
    if n > 0:
        P = P @ J[T - 1 - n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.matrix_norm(P, ord=float("inf"))
''')),
        visible(r"norms\[0\] is wrong \(T = 40 float32 Jacobians, as in the notebook\): "
                r"expected .*The product starts from J_T and then multiplies J_T again",
                _norms("last_jacobian_twice: P = J_T, then J_T, J_{T-1}, ... multiplied on", '''
P = J[T - 1]
for n in range(T):
    P = P @ J[T - 1 - n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
''')),
        overfit(_norms("stops_after_80: stops after 80 factors, where the check's overflow "
                       "case overflows", '''
P = J[T - 1]
for n in range(min(T, 80)):
    if n > 0:
        P = P @ J[T - 1 - n]
    if not torch.isfinite(P).all():
        break
    norms[n] = torch.linalg.matrix_norm(P, ord=2)
''')),
    ],
}
