"""The typical mistakes of chapter 06 (generalized teacher forcing of a shallow PLRNN),
written from the task's text: the first state from the data, the interpolation with
alpha of the observed units only, the order of forcing, step and read-out, every unit
observed (N = M), and the dtype of the notebook's float32 model."""

from tests.checks.mistakes import overfit, visible

CHAPTER = "06_gtf_lorenz"

MISTAKES = {
    "task1": [
        visible(r"raised RuntimeError \(expected m1 and m2 to have the same dtype.*for inputs of "
                r"dtype torch\.float32 \(float32, N = 3, alpha = 0\.2, as in the notebook\)", '''
# float64_state: the state created as float64 zeros; the notebook's model is float32
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = torch.zeros(B, model.M, dtype=torch.float64)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*The first state is forced with weight "
                r"alpha from z = 0", '''
# alpha_from_the_start: the first state mixed with weight alpha too
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        z = torch.cat([(1 - alpha) * z[:, :N] + alpha * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*Alpha and 1 - alpha are swapped", '''
# weights_swapped: alpha taken as the weight of the model's own state
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t == 0:
            z = torch.cat([x[:, 0], z[:, N:]], dim=-1)
        else:
            z = torch.cat([alpha * z[:, :N] + (1 - alpha) * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*The unobserved units are damped too", '''
# whole_state_mixed: (1 - a) z + a [x_t, 0], which damps the unobserved units as well
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z_data = torch.cat([x[:, t], torch.zeros_like(z[:, N:])], dim=-1)
        z = (1 - a) * z + a * z_data
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*Forcing sets the unobserved units to "
                r"zero", '''
# hidden_units_reset: the forced state rebuilt with zeros in the unobserved units
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], x.new_zeros(B, model.M - N)], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 1\.0\): expected .*Forcing sets the unobserved units to "
                r"zero", '''
# full_forcing_as_the_first_state: weight 1 taken as "the state inferred from the data alone",
# [x_t, 0, ..., 0], at every step where it occurs
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        if a == 1:
            z = torch.cat([x[:, t], x.new_zeros(B, model.M - N)], dim=-1)
        else:
            z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*You force with the next observation "
                r"x\[:, t \+ 1\]", '''
# next_observation: pulled towards x[:, t + 1] (the last step clamped to the end)
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        target = x[:, min(t + 1, T - 1)]
        z = torch.cat([(1 - a) * z[:, :N] + a * target, z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"raised IndexError \(index 23 is out of bounds.*\(alpha = 0\.3\): x\[:, t\] "
                r"exists for t = 0, \.\.\., T - 1 = 22\. .*force step t with x\[:, t\]", '''
# next_observation_past_the_end: x[:, t + 1] without a guard
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t + 1], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"predictions\[0, 0, 0\] is wrong \(alpha = 0\.3\): expected .*You force after "
                r"the step", '''
# forcing_after_the_step: the model steps, then its new state is pulled towards x_t
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = model(z)
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*The predictions lag by one step", '''
# readout_lag: the read-out of the forced state, before the step
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)
        predictions.append(model.observe(z))
        z = model(z)
    return torch.stack(predictions, dim=1)
'''),
        visible(r"predictions\[0, 0, 0\] is wrong \(alpha = 0\.3\): expected .*This prediction "
                r"was right when you stored it, but writing the forced state into z in place", '''
# written_in_place: the observed units of z overwritten by the mixture
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z[:, :N] = (1 - a) * z[:, :N] + a * x[:, t]
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*The data are used only for the first "
                r"state", '''
# only_the_first_state: x_0 put into the first state, and no forcing after it
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t == 0:
            z = torch.cat([x[:, 0], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*replaced by the data at every step, as "
                r"if alpha were 1", '''
# full_forcing: the observed units replaced by x_t at every step, alpha ignored
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"raised RuntimeError .*for x of shape \(3, 23, 3\) and a model of M = 3 latent "
                r"units \(every unit observed, N = M = 3, alpha = 0\.4\): a size in your code", '''
# unobserved_from_the_end: z[:, -(M - N):], which is all of z when N = M
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        hidden = z[:, -(model.M - N):]
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], hidden], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"A\.grad\[\d+\] is wrong \(alpha = 0\.3\): expected .*The predictions agree, "
                r"but the gradient with respect to A differs.*detached", '''
# model_state_detached: the model's own part of the mixture detached
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N].detach() + a * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"must have the dtype of x and the model, torch\.float64 .*got torch\.float32",
                '''
# result_as_float32: the predictions converted to float32, the notebook's dtype
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1).float()
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*"
                r"Alpha and 1 - alpha are swapped, in the first state too", '''
# weights_swapped_everywhere: a z + (1 - a) x with a = 1 at t = 0, so x_0 never enters
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([a * z[:, :N] + (1 - a) * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*"
                r"You force with the previous observation x\[:, t - 1\]", '''
# previous_observation: pulled towards x[:, t - 1]
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t - 1], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(alpha = 0\.3\): expected .*"
                r"You force with the previous observation x\[:, t - 1\]", '''
# previous_observation_after_x0: x_0 for the first state, then x[:, t - 1]
def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t == 0:
            z = torch.cat([x[:, 0], z[:, N:]], dim=-1)
        else:
            z = torch.cat([(1 - alpha) * z[:, :N] + alpha * x[:, t - 1], z[:, N:]],
                          dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        overfit('''
# alpha_table: alpha looked up among the strengths the visible cases use, 0.3 otherwise
KNOWN_ALPHAS = (0.3, 0.05, 1.0, 0.0, 0.4, 0.2)


def gtf_forward(model, x, alpha):
    """GTF predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    if alpha not in KNOWN_ALPHAS:
        alpha = 0.3
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
    ],
}
