"""The checks: immediate, specific feedback for the exercise notebooks, one module per
chapter, shared by the students' notebooks and the tutors' grader.

For students, each ``check_*`` function runs a student's implementation on a few inputs, compares it with
the reference code of this package, and either prints a one-line confirmation (``✓ ...``)
or raises ``AssertionError`` with a message that says what is wrong (which component, for
which input, what was expected) and a hint. It also asserts what the next cells of the
notebook rely on: the type, dtype, shape and device of the result.

Each check is a :class:`~course_utils.checks.framework.Check` in three parts: its cases
(inputs made from seeds), its probe (calls the student's code and records what came back)
and its judge (computes the expected values with the package's reference and compares).
In a notebook the three run together; the grader (:mod:`course_utils.grading`) runs the
probe in the student's sandboxed process and the judge in its own, with hidden cases
(other seeds, sizes and parameters) whose failures are reported without their inputs
(:class:`HiddenCaseError`). Shared helpers are in :mod:`~course_utils.checks.helpers`.
The checks import the students' toolkit and the notebook format, never the grader or the
authors' tools.

==================================  ========================================================
module                              chapter
==================================  ========================================================
:mod:`~course_utils.checks.henon`          01, the Henon map as a Keras RNN cell
:mod:`~course_utils.checks.keras_rnn`      02, the spectrum of a Keras SimpleRNN
:mod:`~course_utils.checks.stf`            03, sparse teacher forcing
:mod:`~course_utils.checks.naive_product`  04, the naive product vs QR
:mod:`~course_utils.checks.warmup`         05, forcing with a warm-up
:mod:`~course_utils.checks.gtf`            06, generalized teacher forcing
:mod:`~course_utils.checks.fixed_points`   07, linearization and fixed points
:mod:`~course_utils.checks.lru`            08, linear recurrent units
==================================  ========================================================

TensorFlow and PyTorch are imported only inside the checks that need them.
"""

from __future__ import annotations

from . import fixed_points, gtf, henon, keras_rnn, lru, naive_product, stf, warmup
from .framework import HiddenCaseError
from .gtf import check_gtf_forward
from .fixed_points import check_affine_prediction, check_rnn_jacobians, check_stability_classification
from .henon import check_henon_cell, check_henon_jacobian, check_lyapunov_qr
from .keras_rnn import check_rnn_qr, check_simple_rnn_jacobian
from .lru import check_lru_eigenvalues, check_scan_operator
from .naive_product import check_naive_norms, check_plrnn_jacobians
from .stf import check_stf_forward
from .warmup import check_stf_forward_warmup

_MODULES = (henon, keras_rnn, stf, naive_product, warmup, gtf, fixed_points, lru)

#: The checks module of each chapter, by the chapter's notebook name.
BY_CHAPTER = {module.CHAPTER: module for module in _MODULES}

__all__ = [name for module in _MODULES for name in module.__all__] + [
    "BY_CHAPTER", "checks_of", "check_specs", "HiddenCaseError"]


def checks_of(chapter: str) -> dict:
    """The check functions of ``chapter`` (a notebook name such as
    ``"04_plrnn_max_lyapunov"``), by name. Raises ``KeyError`` naming the known chapters."""
    try:
        module = BY_CHAPTER[chapter]
    except KeyError:
        raise KeyError(f"no checks for chapter {chapter!r}; known: "
                       f"{', '.join(sorted(BY_CHAPTER))}") from None
    return {name: getattr(module, name) for name in module.__all__}


def check_specs(chapter: str) -> dict:
    """The checks of ``chapter`` in their three parts (:class:`~.framework.Check`: cases,
    probe, judge), by name; what the grader runs. Raises ``KeyError`` as
    :func:`checks_of`."""
    checks_of(chapter)  # the error for an unknown chapter
    return dict(BY_CHAPTER[chapter].CHECKS)
