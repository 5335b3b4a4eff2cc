"""The typical mistakes of chapter 08 (linear recurrent units: modal dynamics and the
parallel scan), written from the tasks' text."""

from tests.checks.mistakes import overfit, visible

CHAPTER = "08_lru_modal_dynamics"

MISTAKES = {
    "task1": [
        visible(r"lambda\[0\] is wrong \(6 modes, float64\): expected .*The modulus must be "
                r"exp\(-exp\(nu_log\)\) < 1: the minus sign is missing", '''
# no_minus_sign: exp(exp(nu_log) + i exp(theta_log)), a modulus above 1
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.exp(torch.exp(nu_log) + 1j * torch.exp(theta_log))
'''),
        visible(r"lambda\[0\] is wrong .*The modulus is exp\(-exp\(nu_log\)\), not "
                r"exp\(-nu_log\): nu_log is the log of nu", '''
# nu_log_as_nu: the modulus exp(-nu_log), nu_log taken for the decay rate itself
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.exp(-nu_log + 1j * torch.exp(theta_log))
'''),
        visible(r"lambda\[0\] is wrong .*The phase is exp\(theta_log\), not theta_log: "
                r"theta_log is the log of the phase", '''
# theta_log_as_phase: the phase theta_log, without its exponential
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.polar(torch.exp(-torch.exp(nu_log)), theta_log)
'''),
        visible(r"lambda\[0\] is wrong .*Modulus and phase are swapped", '''
# swapped: theta_log in the modulus, nu_log in the phase
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.exp(-torch.exp(theta_log) + 1j * torch.exp(nu_log))
'''),
        visible(r"lambda\[0\] is wrong .*your lambda is the complex conjugate", '''
# conjugate: the phase with a minus sign, as in the decay
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.exp(-(torch.exp(nu_log) + 1j * torch.exp(theta_log)))
'''),
        visible(r"lambda\[0\] is wrong .*Apply torch\.exp to the complex exponent", '''
# exponent_only: the complex exponent, without the outer exponential
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.complex(-torch.exp(nu_log), torch.exp(theta_log))
'''),
        visible(r"lambda\[0\] is wrong \(6 modes, float64\): expected .*lambda agrees only to "
                r"about 7 digits: part of the computation runs in float32", '''
# cos_sin_in_float32: the rotation's cos and sin taken in float32
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    modulus = torch.exp(-torch.exp(nu_log))
    phase = torch.exp(theta_log).float()
    return torch.complex(modulus * torch.cos(phase), modulus * torch.sin(phase))
'''),
        visible(r"lambda\[0\] is wrong .*torch\.complex\(real, imag\) takes the real and imaginary "
                r"parts, not the modulus and the phase", '''
# complex_of_modulus_and_phase: torch.complex(modulus, phase) taken for polar form
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    modulus = torch.exp(-torch.exp(nu_log))
    phase = torch.exp(theta_log)
    return torch.complex(modulus, phase)
'''),
        visible(r"lambda must be a complex tensor; got dtype torch.float64 \(this is the modulus "
                r"\|lambda\| = exp\(-exp\(nu_log\)\) alone", '''
# modulus_only: |lambda|, the decay, without the rotation
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.exp(-torch.exp(nu_log))
'''),
        visible(r"lambda must be a complex tensor; got dtype torch.float64 \(this is the real "
                r"part of lambda alone\)", '''
# real_part_only: r cos(phase), the real part the output Re(C x) reads
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.exp(-torch.exp(nu_log)) * torch.cos(torch.exp(theta_log))
'''),
        visible(r"lambda must keep the precision of its float64 parameters: dtype complex128 "
                r"\(6 modes, float64\); got torch.complex64\. .*unit circle", '''
# complex64_cast: the result cast to complex64, the dtype of the scan later on
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.exp(-torch.exp(nu_log) + 1j * torch.exp(theta_log)).to(torch.complex64)
'''),
        visible(r"lambda must keep the precision of its float64 parameters: dtype complex128 "
                r"\(6 modes, float64\); got torch.complex64", '''
# cmath_loop: a Python loop with cmath, torch.tensor of Python complex numbers
import cmath
import math


def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.tensor([cmath.exp(-math.exp(n) + 1j * math.exp(t))
                         for n, t in zip(nu_log.tolist(), theta_log.tolist())])
'''),
        visible(r"raised RuntimeError \(.*Double.*\) for inputs of dtype torch.float32 \(4 modes, "
                r"float32 as in the LRU by default\): part of your computation uses another "
                r"dtype", '''
# float64_phase: the phase made float64 for accuracy
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.polar(torch.exp(-torch.exp(nu_log)), torch.exp(theta_log).double())
'''),
        visible(r"this looks like torch\.view_as_real\(lambda\): return the complex tensor", '''
# real_and_imaginary: the real and imaginary parts side by side
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    lam = torch.exp(-torch.exp(nu_log) + 1j * torch.exp(theta_log))
    return torch.view_as_real(lam)
'''),
        visible(r"lambda must be a torch tensor .*; got a NumPy array", '''
# numpy_result: computed in NumPy, not converted back
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return np.exp(-np.exp(nu_log.numpy()) + 1j * np.exp(theta_log.numpy()))
'''),
        visible(r"changed its input nu_log in place", '''
# exp_in_place: nu = exp(nu_log) computed in place
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    nu = nu_log.exp_()
    return torch.exp(-nu + 1j * torch.exp(theta_log))
'''),
        visible(r"ValueError: only one element tensors can be converted to Python scalars", '''
# math_exp: math.exp on the whole tensor
import math


def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    return torch.exp(-math.exp(nu_log) + 1j * math.exp(theta_log))
'''),
    ],
    "task2": [
        visible(r"b\[0\] is wrong \(two elements of 5 modes\): expected .*The order is reversed: "
                r"e1 is the earlier step", '''
# reversed_order: e2 applied first, then e1
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a1 * a2, a1 * b2 + b1
'''),
        visible(r"b\[0\] is wrong .*The earlier offset b1 passes through the later step, so it is "
                r"multiplied by a2", '''
# offsets_added: the offsets added, as in a prefix sum
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2 * a1, b1 + b2
'''),
        visible(r"b\[0\] is wrong .*The later offset b2 is added after the later "
                r"multiplication", '''
# offset_inside: a2 (b1 + b2), the later offset multiplied too
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2 * a1, a2 * (b1 + b2)
'''),
        visible(r"b\[0\] is wrong .*multiplied by the later multiplier a2, not by a1", '''
# own_multiplier: b1 multiplied by its own a1
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2 * a1, a1 * b1 + b2
'''),
        visible(r"b\[0\] is wrong \(two elements of 5 modes\): expected .*The imaginary part of "
                r"a2 \* b1 is dropped", '''
# imaginary_part_dropped: the real part of the carried product, as the output reads Re(C x)
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2 * a1, (a2 * b1).real + b2
'''),
        visible(r"b\[0\] is wrong .*The later multiplier a2 is conjugated: the offset is "
                r"a2 \* b1 \+ b2", '''
# a2_conjugated: the offset carried through the conjugate of the later multiplier
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2 * a1, a2.conj() * b1 + b2
'''),
        visible(r"a\[0\] is wrong \(two elements of 5 modes\): expected .*The combined multiplier "
                r"is the product a2 \* a1 .*not the sum", '''
# multipliers_added: a1 + a2, as the offsets add up
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a1 + a2, a2 * b1 + b2
'''),
        visible(r"a\[0\] is wrong .*The combined multiplier must be a2 \* a1: applying both "
                r"steps multiplies by both", '''
# later_multiplier_only: the later step's multiplier kept, the earlier dropped
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2, a2 * b1 + b2
'''),
        visible(r"return the pair in the order \(a, b\), the multiplier first: you returned "
                r"\(b, a\)", '''
# offset_first: the pair returned as (b, a)
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    b = a2 * b1 + b2
    a = a2 * a1
    return b, a
'''),
        visible(r"b must be complex like the inputs; got dtype torch.float64 \(did you take "
                r"\.real", '''
# real_offset: the real part of the offset, as the LRU's output reads Re(C x)
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2 * a1, (a2 * b1 + b2).real
'''),
        visible(r"a must have the broadcast shape of the inputs, \(5,\); got \(\)", '''
# matrix_product: @ for the products of the multipliers
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2 @ a1, a2 * b1 + b2
'''),
        visible(r"a must keep the precision of the inputs, complex128 \(two elements of 5 "
                r"modes\); got torch.complex64", '''
# complex64_cast: the pair cast to complex64, the dtype of the next cell
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return (a2 * a1).to(torch.complex64), (a2 * b1 + b2).to(torch.complex64)
'''),
        visible(r"changed its input a2 = e2\[0\] in place", '''
# multiplier_in_place: a2 *= a1, the later multiplier overwritten
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    b = a2 * b1 + b2
    a2 *= a1
    return a2, b
'''),
        visible(r"changed its input b2 = e2\[1\] in place", '''
# offset_in_place: b2 += a2 * b1
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    b2 += a2 * b1
    return a2 * a1, b2
'''),
        visible(r"folding your operator over the steps, as the next cell does .*must keep the "
                r"shape \(1, H\) = \(1, 4\); got \(4,\)", '''
# squeezed: the results squeezed to plain vectors
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return (a2 * a1).squeeze(), (a2 * b1 + b2).squeeze()
'''),
        visible(r"combine\(e1, e2\) must return the pair \(a, b\), e\.g\. `return a, b`", '''
# offset_only: only the new state's offset, as in the loop x = a x + b
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    return a2 * b1 + b2
'''),
        visible(r"a of combine\(e1, e2\) must be a torch tensor .*; got a NumPy array", '''
# in_numpy: the products in NumPy
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = (v.numpy() for v in e1)
    a2, b2 = (v.numpy() for v in e2)
    return a2 * a1, a2 * b1 + b2
'''),
        overfit('''
# flattened: everything flattened to vectors and reshaped back, right where the shapes agree
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    a1, b1 = e1
    a2, b2 = e2
    a = (a2.reshape(-1) * a1.reshape(-1)).reshape(a1.shape)
    b = (a2.reshape(-1) * b1.reshape(-1)).reshape(b1.shape) + b2
    return a, b
'''),
    ],
}
