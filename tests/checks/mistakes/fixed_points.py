"""The typical mistakes of chapter 07 (linearization and fixed points of trained RNNs),
written from the tasks' text."""

from tests.checks.mistakes import overfit, visible

CHAPTER = "07_rnn_fixed_points"

#: The start of every wrong-value message of Tasks 1 and 2 (framework.MISMATCH).
_J_H = r"J_h\[\d+, \d+\] is wrong \(I = 3 inputs, H = 5 hidden units\): expected \S+, got \S+\. "
_J_U = r"J_u\[\d+, \d+\] is wrong \(I = 3 inputs, H = 5 hidden units\): expected \S+, got \S+\. "
_PRED = (r"prediction\[\d+, \d+\] is wrong \(B = 4 perturbations, I = 3 inputs, H = 5 hidden "
         r"units\): expected \S+, got \S+\. ")
_LABEL = (r"for eigenvalues \[.*\] \(moduli \[.*\]\) given as a complex tensor expected '.*', "
          r"got '.*': .*")

MISTAKES = {
    "task1": [
        visible(_J_H + "J_h is transposed", '''
# transposed: J_h with the derivatives by h[j] in row j
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = 1 - torch.tanh(a) ** 2
    return rnn.weight_hh_l0.T * slope, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(r"J_u must have shape \(5, 3\) .*got \(3, 5\)\. This is the transpose", '''
# transposed_both: both Jacobians in the layout of h @ W.T
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = 1 - torch.tanh(a) ** 2
    return rnn.weight_hh_l0.T * slope, rnn.weight_ih_l0.T * slope
'''),
        visible(_J_H + "You used W_hh and W_ih alone: the chain rule multiplies", '''
# weights_alone: the weights, without the derivative of tanh
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    return rnn.weight_hh_l0.detach().clone(), rnn.weight_ih_l0.detach().clone()
'''),
        visible(_J_H + r"The derivative tanh' was evaluated at the current state h "
                r"\(1 - h\^2\)", '''
# slope_at_h: tanh' taken at the current state
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    slope = 1 - h ** 2
    return slope[:, None] * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(_J_H + r"The derivative tanh' was evaluated at the current state h "
                r"\(1 - tanh\(h\)\^2\)", '''
# slope_tanh_of_h: tanh' at the current state, 1 - tanh(h)^2
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    slope = 1 - torch.tanh(h) ** 2
    return torch.diag(slope) @ rnn.weight_hh_l0, torch.diag(slope) @ rnn.weight_ih_l0
'''),
        visible(_J_H + r"J_h uses W_hh.T: nn.RNN computes W_hh h", '''
# W_hh_transposed: the recurrent weights transposed, as in h @ W_hh.T
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    W_ih, W_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
    a = W_ih @ u + rnn.bias_ih_l0 + W_hh @ h + rnn.bias_hh_l0
    slope = 1 - torch.tanh(a) ** 2
    return slope[:, None] * W_hh.T, slope[:, None] * W_ih
'''),
        visible(_J_H + r"The derivative of tanh is 1 - tanh\(a\)\^2, not 1 - tanh\(a\)$", '''
# slope_not_squared: 1 - tanh(a)
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = 1 - torch.tanh(a)
    return slope[:, None] * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(_J_H + r"The derivative of tanh at a is 1 - tanh\(a\)\^2, not 1 - a\^2: apply tanh "
                r"first", '''
# slope_of_a: 1 - a^2 at the pre-activation
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = 1 - a ** 2
    return slope[:, None] * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(_J_H + "The biases b_ih and b_hh are part of the pre-activation", '''
# no_biases: the pre-activation without the biases
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.weight_hh_l0 @ h
    slope = 1 - torch.tanh(a) ** 2
    return slope[:, None] * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(_J_H + "Both biases b_ih and b_hh belong in the pre-activation .*: one of them is "
                "missing", '''
# one_bias: b_hh forgotten
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h
    slope = 1 - torch.tanh(a) ** 2
    return slope[:, None] * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(_J_H + "The input term W_ih u belongs in the pre-activation", '''
# no_input_term: the pre-activation without W_ih u (right only for u = 0)
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_hh_l0 @ h + rnn.bias_ih_l0 + rnn.bias_hh_l0
    slope = 1 - torch.tanh(a) ** 2
    return slope[:, None] * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(_J_H + "The diagonal factor multiplies the columns instead of the rows", '''
# columns: W_hh diag(slope) instead of diag(slope) W_hh
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    D = torch.diag(1 - torch.tanh(a) ** 2)
    return rnn.weight_hh_l0 @ D, D @ rnn.weight_ih_l0
'''),
        visible(_J_H + r"The product torch.diag\(slope\) \* W is elementwise", '''
# diag_times_elementwise: torch.diag(slope) * W
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = 1 - torch.tanh(a) ** 2
    return torch.diag(slope) * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(r"J_h and J_u are swapped: return \(J_h, J_u\)", '''
# swapped: torch.autograd.functional.jacobian returns them in the order (u, h)
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    def step(uu, hh):
        return torch.tanh(rnn.weight_ih_l0 @ uu + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ hh
                          + rnn.bias_hh_l0)

    return torch.autograd.functional.jacobian(step, (u, h))
'''),
        visible(r"J_h must have shape \(5, 5\) .*got \(1, 1, 5, 5\)\. Remove the batch and layer "
                r"axes of the RNN's input and output", '''
# rnn_axes_left: the Jacobian of the RNN's (1, 1, H) output, its axes left in
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    J_h = torch.autograd.functional.jacobian(lambda hh: rnn(u[None, None], hh[None, None])[1], h)
    J_u = torch.autograd.functional.jacobian(lambda uu: rnn(uu[None, None], h[None, None])[1], u)
    return J_h, J_u
'''),
        visible(r"J_h must have shape \(5, 5\) .*got \(5,\)\. .*a gradient of the sum of the "
                r"outputs gives only the column sums", '''
# gradient_of_the_sum: one backward pass of the summed outputs
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    uu = u.detach().clone().requires_grad_(True)
    hh = h.detach().clone().requires_grad_(True)
    out = torch.tanh(rnn.weight_ih_l0 @ uu + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ hh
                     + rnn.bias_hh_l0)
    J_h, J_u = torch.autograd.grad(out.sum(), (hh, uu))
    return J_h, J_u
'''),
        visible(r"J_h must have dtype torch.float64, the dtype of the rnn's weights .*got "
                r"torch.float32", '''
# float32: the Jacobians converted to float32
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = (1 - torch.tanh(a) ** 2).float()
    return slope[:, None] * rnn.weight_hh_l0.float(), slope[:, None] * rnn.weight_ih_l0.float()
'''),
        visible(r"J_h must be a torch tensor .*got a NumPy array \(dtype float64\)", '''
# numpy_arrays: computed and returned in NumPy
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    W_ih, W_hh = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy()
    slope = 1 - np.tanh(W_ih @ u.numpy() + W_hh @ h.numpy() + b) ** 2
    return slope[:, None] * W_hh, slope[:, None] * W_ih
'''),
        visible(r"your function changed its input rnn \(its weights\) in place", '''
# weights_scaled_in_place: the rows of the rnn's own weights scaled
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = (1 - torch.tanh(a) ** 2).detach()
    J_h, J_u = rnn.weight_hh_l0.data, rnn.weight_ih_l0.data
    J_h *= slope[:, None]
    J_u *= slope[:, None]
    return J_h, J_u
'''),
        visible(r"your function changed its input u in place", '''
# unsqueezed_in_place: the batch and sequence axes added to the inputs themselves
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    h_next = rnn(u.unsqueeze_(0).unsqueeze_(0), h.unsqueeze_(0).unsqueeze_(0))[1].reshape(-1)
    slope = 1 - h_next ** 2
    return slope[:, None] * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
'''),
        visible(_J_H + "J_h and J_u are close to the chain rule, but not equal: finite "
                "differences only approximate the derivatives", '''
# finite_differences: forward differences with a step of 1e-6
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    def step(uu, hh):
        return torch.tanh(rnn.weight_ih_l0 @ uu + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ hh
                          + rnn.bias_hh_l0).detach()

    eps, F = 1e-6, step(u, h)
    J_h = torch.stack([(step(u, h + eps * e) - F) / eps for e in torch.eye(len(h), dtype=h.dtype)],
                      dim=1)
    J_u = torch.stack([(step(u + eps * e, h) - F) / eps for e in torch.eye(len(u), dtype=u.dtype)],
                      dim=1)
    return J_h, J_u
'''),
        visible(r"RuntimeError: The size of tensor a \(64\) must match the size of tensor b "
                r"\(5\)", '''
# notebook_size_written_in: H = 64 of the notebook's network
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    D = torch.eye(64, dtype=torch.float64) * (1 - torch.tanh(a) ** 2)
    return D @ rnn.weight_hh_l0, D @ rnn.weight_ih_l0
'''),
        overfit('''
# three_inputs_written_in: I = 3, the number of input channels of every visible case
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = 1 - torch.tanh(a) ** 2
    J_u = torch.zeros(len(h), 3, dtype=h.dtype)
    for k in range(3):
        J_u[:, k] = slope * rnn.weight_ih_l0[:, k]
    return slope[:, None] * rnn.weight_hh_l0, J_u
'''),
    ],
    "task2": [
        visible(_PRED + r"The state term is dh @ J_h.T \(row b is J_h dh_b\), not dh @ J_h", '''
# state_term_not_transposed: dh @ J_h
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return F + dh @ J_h + J_u @ du
'''),
        visible(_PRED + "Start from the next state F\\(h, u\\), not from the current state h", '''
# from_the_current_state: h + J_h dh + J_u du
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    return h + dh @ J_h.T + J_u @ du
'''),
        visible(_PRED + "The input perturbation is missing: add J_u du", '''
# no_input_term: J_u du left out (du = 0 in the next cell)
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = rnn(u[None, None], h[None, None])[1].reshape(-1)
    return F + dh @ J_h.T
'''),
        visible(_PRED + "The state perturbation is missing", '''
# no_state_term: the same prediction for every row
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return (F + J_u @ du).repeat(dh.shape[0], 1)
'''),
        visible(_PRED + "These are the perturbations of the next state alone", '''
# no_next_state: J_h dh + J_u du alone
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    return dh @ J_h.T + J_u @ du
'''),
        visible(_PRED + "The input term is J_u du, with the perturbation du, not J_u u", '''
# input_not_perturbation: J_u u
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return F + dh @ J_h.T + J_u @ u
'''),
        visible(_PRED + "Add the first-order terms, .*; you subtracted them", '''
# subtracted: F - J_h dh - J_u du
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return F - dh @ J_h.T - J_u @ du
'''),
        visible(_PRED + "This is the exact next state F\\(h \\+ dh, u \\+ du\\)", '''
# exact_step: the network's step from the perturbed point
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    return torch.stack([rnn((u + du)[None, None], (h + d)[None, None])[1].reshape(-1)
                        for d in dh])
'''),
        visible(_PRED + "Start from F\\(h, u\\), .*: F\\(h, u \\+ du\\) counts the input "
                "perturbation twice", '''
# next_state_at_perturbed_input: F(h, u + du) + J_h dh + J_u du
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = rnn((u + du)[None, None], h[None, None])[1].reshape(-1)
    return F + dh @ J_h.T + J_u @ du
'''),
        visible(_PRED + "The Jacobians are taken at the point \\(h, u\\), not at the perturbed "
                "input", '''
# jacobians_at_perturbed_input: rnn_jacobians(rnn, u + du, h)
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u + du, h)
    F = rnn(u[None, None], h[None, None])[1].reshape(-1)
    return F + dh @ J_h.T + J_u @ du
'''),
        visible(_PRED + r"Start from F\(h, u\), the next state at the point itself: "
                r"F\(h \+ dh, u\) already moves", '''
# next_state_at_perturbed_state: F(h + dh, u) + J_h dh + J_u du
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + (h + dh) @ rnn.weight_hh_l0.T
                   + rnn.bias_hh_l0)
    return F + dh @ J_h.T + J_u @ du
'''),
        visible(_PRED + r"The input term has the wrong sign", '''
# input_term_sign: J_u du subtracted
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return F + dh @ J_h.T - J_u @ du
'''),
        visible(r"AssertionError: your code raised IndexError \(index 4 is out of bounds.*\) on "
                r"the case B = 4 perturbations, I = 3 inputs, H = 5 hidden units: dh of shape "
                r"\(B, H\) = \(4, 5\), .*Loop over the rows of dh, B = 4 of them", '''
# loop_over_H: range(len(dh[0])), the H entries of a row, for the B rows
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    rows = []
    for b in range(len(dh[0])):
        rows.append(F + J_h @ dh[b] + J_u @ du)
    return torch.stack(rows)
'''),
        visible(r"for dh of shape \(4, 5\) return shape \(4, 5\); got \(5, 4\)\. You returned "
                r"the transpose", '''
# one_column_per_perturbation: J_h @ dh.T, shape (H, B)
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return F[:, None] + J_h @ dh.T + (J_u @ du)[:, None]
'''),
        visible(r"for dh of shape \(4, 5\) return shape \(4, 5\); got \(1, 4, 5\)\. Remove the "
                r"extra axes \(of the RNN's output", '''
# rnn_axes_left: the RNN's (1, 1, H) output broadcast against the batch
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = rnn(u[None, None], h[None, None])[1]
    return F + dh @ J_h.T + J_u @ du
'''),
        visible(r"for dh of shape \(1, 5\) return shape \(1, 5\); got \(5,\)\. Keep the batch "
                r"axis, also for B = 1", '''
# squeezed: the RNN's axes removed with .squeeze(), the batch axis too when B = 1
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = rnn(u[None, None], h[None, None])[1]
    return (F + dh @ J_h.T + J_u @ du).squeeze()
'''),
        visible(r"for dh of shape \(4, 5\) return shape \(4, 5\); got \(5,\)\. Predict every "
                r"row of the batch dh", '''
# first_row_only: one perturbation, dh[0]
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return F + J_h @ dh[0] + J_u @ du
'''),
        visible(r"for dh of shape \(9, 16\) return shape \(9, 16\); got \(4, 16\)\. One row "
                r"per perturbation: take the batch size from dh", '''
# batch_written_in: B = 4, the batch of the first visible case
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return torch.stack([F + J_h @ dh[b] + J_u @ du for b in range(4)])
'''),
        visible(r"the prediction must have dtype torch.float64, the dtype of the rnn's weights "
                r".*got torch.float32", '''
# float32: the perturbations converted to float32
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    return (F.float() + dh.float() @ J_h.T.float() + J_u.float() @ du.float())
'''),
        visible(r"the prediction must be a torch tensor .*got a NumPy array", '''
# numpy_result: computed in NumPy
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = (J.detach().numpy() for J in rnn_jacobians(rnn, u, h))
    F = rnn(u[None, None], h[None, None])[1].detach().numpy().reshape(-1)
    return F + dh.numpy() @ J_h.T + J_u @ du.numpy()
'''),
        visible(r"your function changed its input dh in place", '''
# rows_written_into_dh: the predictions written over the perturbations
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    with torch.no_grad():
        for b in range(len(dh)):
            dh[b] = F + J_h @ dh[b] + J_u @ du
    return dh
'''),
        overfit('''
# three_inputs_written_in: J_u du summed over I = 3 inputs, as in every visible case
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    J_h, J_u = rnn_jacobians(rnn, u, h)
    F = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    input_term = J_u[:, 0] * du[0] + J_u[:, 1] * du[1] + J_u[:, 2] * du[2]
    return F + dh @ J_h.T + input_term
'''),
    ],
    "task3": [
        visible(_LABEL + "comparing the real parts with 0 is the rule for flows", '''
# flow_rule: Re(lambda) < 0
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    re = eigenvalues.real
    kind = "stable" if bool((re < 0).all()) else "unstable" if bool((re > 0).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "compare the moduli abs\\(lambda\\) with 1, not the real parts", '''
# real_parts_against_one: Re(lambda) compared with 1
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    re = eigenvalues.real
    kind = "stable" if bool((re < 1).all()) else "unstable" if bool((re > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "abs\\(eigenvalues.real\\) is not the modulus", '''
# size_of_real_part: |Re(lambda)| taken for the modulus
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.real.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "stable and unstable are swapped", '''
# swapped_kinds: moduli above 1 called stable
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m > 1).all()) else "unstable" if bool((m < 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "all, not any", '''
# any_instead_of_all: unstable as soon as one modulus is above 1
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "unstable" if bool((m > 1).any()) else "stable"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "rounding errors in their imaginary parts.*not with 0", '''
# no_tolerance: imag != 0
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag != 0).any()) else "")
'''),
        visible(_LABEL + "rounding errors in their imaginary parts.*np.iscomplex", '''
# np_iscomplex: np.iscomplex(...).any()
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    ev = eigenvalues.numpy()
    m = np.abs(ev)
    kind = "stable" if np.all(m < 1) else "unstable" if np.all(m > 1) else "saddle"
    return kind + (" (oscillatory)" if np.iscomplex(ev).any() else "")
'''),
        visible(_LABEL + "rounding errors in their imaginary parts.*torch.isreal", '''
# torch_isreal: not torch.isreal(...).all()
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + ("" if bool(torch.isreal(eigenvalues).all()) else " (oscillatory)")
'''),
        visible(_LABEL + "rounding errors in their imaginary parts", '''
# machine_epsilon: the imaginary part against the machine epsilon
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    eps = torch.finfo(eigenvalues.real.dtype).eps
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > eps).any()) else "")
'''),
        visible(_LABEL + "3e-06 is a slow rotation.*tolerance is too large", '''
# tolerance_too_large: imaginary parts below 1e-3 counted as real
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-3).any()) else "")
'''),
        visible(_LABEL + "3e-06 is a slow rotation.*or you rounded the eigenvalues", '''
# rounded_eigenvalues: the eigenvalues rounded to four decimals first
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    ev = np.round(eigenvalues.numpy(), 4)
    m = np.abs(ev)
    kind = "stable" if np.all(m < 1) else "unstable" if np.all(m > 1) else "saddle"
    return kind + (" (oscillatory)" if np.any(ev.imag != 0) else "")
'''),
        visible(_LABEL + r"a modulus of 0.9999999 is below 1, however close: your moduli were "
                r"rounded or compared with a tolerance\. Compare abs\(lambda\) with 1 exactly",
                '''
# rounded_moduli: the moduli rounded to 6 decimals against rounding errors
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = torch.round(eigenvalues.abs(), decimals=6)
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + r"a modulus of 0.9999999 is below 1, however close: .*compared with a "
                r"tolerance", '''
# modulus_tolerance: moduli within 1e-6 of 1 counted as on the unit circle
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m, tol = eigenvalues.abs(), 1e-6
    if bool((m < 1 - tol).all()):
        kind = "stable"
    elif bool((m > 1 + tol).all()):
        kind = "unstable"
    else:
        kind = "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "a complex dtype does not make an eigenvalue complex", '''
# complex_dtype: the tensor's dtype tested
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if eigenvalues.is_complex() else "")
'''),
        visible(_LABEL + "a negative real eigenvalue flips the sign", '''
# angle_not_zero: an eigenvalue with a non-zero angle counted as a rotation
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.angle().abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "one complex eigenvalue \\(pair\\) is enough", '''
# all_complex: oscillatory only when every eigenvalue is complex
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).all()) else "")
'''),
        visible(_LABEL + "a modulus of exactly 1 is neither below nor above 1", '''
# unit_circle_stable: abs(lambda) <= 1 called stable
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m <= 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "a modulus of exactly 1 is neither below nor above 1", '''
# unit_circle_unstable: abs(lambda) >= 1 called unstable
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m >= 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(r"you returned 'marginal': the task has three kinds", '''
# marginal_label: a fourth kind for moduli close to 1
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    if bool((m - 1).abs().min() < 1e-6):
        kind = "marginal"
    else:
        kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(_LABEL + "that is the label of the first eigenvalues alone", '''
# leading_three: the three largest eigenvalues, which come first, as if they were all
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    leading = eigenvalues[:3]
    m = leading.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((leading.imag.abs() > 1e-9).any()) else "")
'''),
        visible(r"your function changed its input eigenvalues in place", '''
# rounding_errors_cleared_in_place: tiny imaginary parts set to 0 in the input
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    eigenvalues.imag[eigenvalues.imag.abs() < 1e-9] = 0
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag != 0).any()) else "")
'''),
        visible(r"write the label exactly as 'stable' \(lower case", '''
# capitalised: 'Stable (oscillatory)'
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "Stable" if bool((m < 1).all()) else "Unstable" if bool((m > 1).all()) else "Saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
'''),
        visible(r"return a string such as 'saddle' .*got tuple", '''
# kind_and_flag: a pair (kind, oscillatory) instead of one label
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind, bool((eigenvalues.imag.abs() > 1e-9).any())
'''),
        overfit('''
# visible_labels_looked_up: the visible sets' labels by their rounded moduli, 'stable' else
VISIBLE = {(0.5, 0.9, 0.2): "stable", (0.95, 0.95, 0.3): "stable (oscillatory)",
           (1.5, 2.0): "unstable", (1.2, 1.2): "unstable (oscillatory)",
           (1.3, 0.6, 0.1): "saddle", (1.05, 1.05, 0.5): "saddle (oscillatory)",
           (0.8, 0.3): "stable", (1.4, 0.5): "saddle", (0.7, 0.7, 0.3): "stable",
           (1.3, 0.4, 0.1): "saddle", (0.8, 0.8, 0.5): "stable (oscillatory)",
           (1.0, 0.5, 0.3): "saddle", (1.0, 1.5, 2.0): "saddle",
           (0.5, 1.0, 0.3): "stable", (1.5, 1.0): "unstable",
           (0.93, 0.88, 0.85, 0.67, 0.67, 0.64, 0.64, 0.45, 0.4, 0.4, 0.3, 0.05):
               "stable (oscillatory)"}


def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    key = tuple(round(float(m), 3) for m in eigenvalues.abs())
    return VISIBLE.get(key, "stable")
'''),
    ],
}
