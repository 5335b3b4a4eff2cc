"""The typical mistakes of chapter 03 (sparse teacher forcing of a shallow PLRNN), written
from the task's text: the forcing schedule, the forced state, the order of forcing, step
and read-out, the dtype of the notebook's float32 model, and the result's form."""

from tests.checks.mistakes import overfit, visible

CHAPTER = "03_stf_lorenz"

MISTAKES = {
    "task1": [
        visible(r"raised RuntimeError \(expected m1 and m2 to have the same dtype.*"
                r"for inputs of dtype torch\.float32 .*uses another dtype", '''
# cast_to_float64: x converted to float64 "for precision"; the notebook's model is float32
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    x = x.double()
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
        visible(r"raised RuntimeError .*for inputs of dtype torch\.float32 .*uses another "
                r"dtype.*dtype=torch\.float64", '''
# float64_state: the state created as float64 zeros instead of from x
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = torch.zeros(B, model.M, dtype=torch.float64)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"must have the dtype of x and the model, torch\.float32 .*got torch\.float64",
                '''
# result_as_float64: the predictions returned as float64
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1).to(torch.float64)
'''),
        visible(r"predictions\[\d+, \d+, \d+\] is wrong \(tau_f = 5\): expected .*"
                r"You force with the next observation x\[:, t \+ 1\]", '''
# next_observation: forced with x[:, t + 1], the target of the step
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0 and t + 1 < T:
            z = torch.cat([x[:, t + 1], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*Forcing sets the unobserved units to zero",
                '''
# hidden_units_reset: the forced state takes zeros in the unobserved units
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], x.new_zeros(B, model.M - N)], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*You force after the step: at a forced "
                r"step you keep the read-out of the forced state", '''
# forcing_after_the_step: the model steps first, then the new state is forced
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        z = model(z)
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*You force after the step: the state "
                r"forced with x\[:, t\] enters step t \+ 1, not step t", '''
# forced_for_the_next_step: step, read out, then force the new state with x[:, t]
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        z = model(z)
        predictions.append(model.observe(z))
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*The predictions lag by one step", '''
# readout_lag: the read-out taken before the step
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        predictions.append(model.observe(z))
        z = model(z)
    return torch.stack(predictions, dim=1)
'''),
        visible(r"predictions\[0, 4, 0\] is wrong \(tau_f = 5\): expected .*This prediction "
                r"was right when you stored it, but writing the forced state into z in place", '''
# written_in_place: the data written into z, whose read-outs were stored as views
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z[:, :N] = x[:, t]
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*The forcing times are shifted by one", '''
# counted_from_one: the steps counted from 1, so the forcing comes one step early
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if (t + 1) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*The first state is not forced", '''
# first_state_free: forcing only "after" tau_f steps, so t = 0 stays unforced
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t > 0 and t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*You force at every step", '''
# forced_every_step: classical teacher forcing, tau_f ignored
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"raised RuntimeError \(The size of tensor .*for x of shape \(2, 83, 3\) .*"
                r"a size in your code does not fit", '''
# two_observed_units: N fixed at 2, the number of the first cases
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, 2:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"A\.grad\[\d+\] is wrong \(tau_f = 5\): expected .*The predictions "
                r"agree, but the gradient with respect to A differs.*detached", '''
# memory_detached: the unobserved units detached at each forcing time
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:].detach()], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"the predictions carry no gradient", '''
# readouts_detached: each read-out detached before it is stored
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z).detach())
    return torch.stack(predictions, dim=1)
'''),
        visible(r"must have shape \(3, 23, 2\); got \(23, 3, 2\)\. stack along dim=1", '''
# time_first: the predictions stacked along dim 0
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*"
                r"You force with the previous observation x\[:, t - 1\]", '''
# previous_observation: forced with x[:, t - 1], the observation before the step
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t - 1], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*"
                r"You force at every step of the first interval and never after it", '''
# first_interval_only: t // tau_f == 0, every step of the first interval and none after
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t // tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"predictions\[0, 22, 0\] is wrong \(tau_f = 5\): expected .*"
                r"You force the last step t = T - 1 too", '''
# last_step_forced_too: an extra forcing at the last step, "to end on the data"
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0 or t == T - 1:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        visible(r"is wrong \(tau_f = 5\): expected .*"
                r"You mix the data into the observed units, 0\.5", '''
# half_blend: the observed units averaged with the data instead of replaced
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([0.5 * z[:, :N] + 0.5 * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
        overfit('''
# interval_table: the forcing interval looked up for the intervals the visible cases use
FORCING_INTERVAL = {1: 1, 5: 5, 7: 7, 25: 25}


def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    interval = FORCING_INTERVAL.get(tau_f, 5)
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % interval == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
'''),
    ],
}
