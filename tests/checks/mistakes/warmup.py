"""The typical mistakes of chapter 05 (reconstruction from x alone: sparse teacher forcing
with a warm-up), written from the task's text: the schedule of the warm-up and of the
sparse forcing after it, the forced state for any number N of observed units, the order of
forcing, step and read-out, the dtype, and the predictions of all T steps."""

from tests.checks.mistakes import overfit, visible

CHAPTER = "05_single_variable_reconstruction"

MISTAKES = {
    "task1": [
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*The warm-up is not forced at "
                r"every step", '''
# warmup_ignored: forced every tau_f steps from the start, as in chapter 03
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*After the warm-up, count the "
                r"forcing interval from its end", '''
# interval_from_the_start: sparse forcing times counted from t = 0, not from the warm-up's end
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*After the warm-up the model "
                r"is never forced again", '''
# precedence: t - warmup % tau_f, without the parentheses around t - warmup
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or t - warmup % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*The first sparse forcing "
                r"time is skipped", '''
# first_sparse_time_skipped: sparse forcing only strictly after the warm-up
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t > warmup and (t - warmup) % tau_f == 0):
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*The forcing after the warm-up "
                r"starts one step late", '''
# counted_from_the_last_warmup_step: t = warmup taken into the warm-up, the interval after it
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t <= warmup or (t - warmup - 1) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(N = 2 observed units, tau_f = 3, warmup = 5\): expected .*Only the "
                r"first observed unit is forced, as if N were 1", '''
# one_observed_unit: the chapter's N = 1 written into the forcing, x[:, t, :1]
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t, :1], z[:, 1:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"must have shape \(3, 24, 2\); got \(3, 24, 1\)\. one read-out per observed "
                r"unit: N = x\.shape\[-1\] is 2 here, do not fix N = 1", '''
# one_readout: the read-out of the first latent unit only, z[:, :1]
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(z[:, :1])
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*Forcing sets the unobserved "
                r"units to zero", '''
# hidden_units_reset: every forced state built with zeros in the unobserved units
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], torch.zeros_like(z[:, N:])], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"predictions\[0, 0, 0\] is wrong \(tau_f = 7, warmup = 9\): expected .*This "
                r"prediction was right when you stored it, but writing the forced state into z "
                r"in place", '''
# written_in_place: the data written into z during the warm-up, over the stored read-outs
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z[:, :N] = x[:, t]
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*You force with the next "
                r"observation x\[:, t \+ 1\]", '''
# next_observation: the warm-up driven by the targets x[:, t + 1]
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if (t < warmup or (t - warmup) % tau_f == 0) and t + 1 < T:
            z = torch.cat([x[:, t + 1], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*You force after the step", '''
# forcing_after_the_step: the model steps, then the new state is forced and read out
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        z = model(z)
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"raised RuntimeError \(expected m1 and m2 to have the same dtype.*for inputs of "
                r"dtype torch\.float32 .*uses another dtype", '''
# cast_to_float64: the forcing signals converted to float64; the notebook's model is float32
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    x = x.to(torch.float64)
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"must have shape \(3, 30, 1\); got \(3, 21, 1\)\. return the predictions of "
                r"all T steps; the loss .*leaves out the warm-up", '''
# warmup_dropped: the predictions of the warm-up left out of the result
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions[warmup:], dim=1)
'''),
        visible(r"your function converted the model in place \(float32, tau_f = 25, warmup = "
                r"50, T = 108, as in the notebook\)", '''
# model_made_double: model and data converted to float64 for the computation
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    model = model.double()
    x = x.double()
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*The warm-up is one step short", '''
# warmup_one_short: the warm-up written as t < warmup - 1
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup - 1 or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*"
                r"The warm-up steps are not all forced: without a branch for t < warmup", '''
# no_warmup_branch: (t - warmup) % tau_f == 0 alone, taken to cover the warm-up
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*"
                r"The forcing after the warm-up is counted with t \+ warmup", '''
# plus_warmup: the sparse forcing times as (t + warmup) % tau_f == 0
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t + warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*"
                r"The forcing after the warm-up sets the unobserved units to zero", '''
# reset_after_the_warmup: the sparse forcing zeroes the unobserved units, the warm-up not
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        elif (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], x.new_zeros(B, model.M - N)], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*"
                r"The warm-up is forced with the next observation x\[:, t \+ 1\]", '''
# warmup_with_the_targets: the warm-up forced with x[:, t + 1], the sparse forcing with x_t
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup:
            z = torch.cat([x[:, t + 1], z[:, N:]], dim=-1)
        elif (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 7, warmup = 9\): expected .*"
                r"You force with the previous observation x\[:, t - 1\]", '''
# previous_observation: every forced state built from x[:, t - 1]
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t - 1], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        overfit('''
# warmup_table: the warm-up looked up by the forcing interval, as in the visible cases
WARMUP_FOR = {7: 9, 5: 4, 6: 0, 3: 5, 25: 50}


def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    warmup = WARMUP_FOR.get(tau_f, warmup + 1)
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
    ],
}
