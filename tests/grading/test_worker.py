"""The worker's own parts: a task's references withheld (every path to them gives a
stand-in that raises) and put back; threads started with ``_thread`` counted. The worker
process as a whole is tested through the grader (test_grade.py, test_attacks.py)."""

import _thread
import threading
import time

import pytest
import torch

import course_utils.linearization as linearization
import course_utils.lyapunov as lyapunov
import course_utils.models as models
import course_utils.training as training
from course_utils.grading import worker
from course_utils.lru import LRU

NAMES = ["course_utils.lyapunov.naive_product_log_norms",
         "course_utils.models.ShallowPLRNN.jacobian",
         "course_utils.training._FusedForcing",
         "course_utils.linearization.Linearization",
         "course_utils.lru.LRU.eigenvalues",
         "course_utils.no_such_module.f"]


def _raises_withheld(function):
    with pytest.raises(RuntimeError, match="is the course's reference for this task: it is "
                                           "withheld while the task is graded"):
        function()


def test_every_path_to_a_reference_gives_the_stand_in():
    alias = lyapunov.naive_product_log_norms
    cell = (lambda: alias).__closure__[0]
    registry = {"norms": alias}
    listed = [alias]
    namespace = {"npn": alias}
    model = models.ShallowPLRNN(3, 5, 2, seed=0)
    existing = linearization.Linearization(torch.nn.RNN(2, 3, batch_first=True))
    undo = worker.withhold(NAMES, namespace)
    try:
        J = torch.eye(2)[None]
        for way in (lambda: lyapunov.naive_product_log_norms(J),
                    lambda: namespace["npn"](J), lambda: registry["norms"](J),
                    lambda: listed[0](J), lambda: cell.cell_contents(J),
                    lambda: model.jacobian(torch.zeros(1, 3)),
                    lambda: type(model).jacobian(model, torch.zeros(1, 3)),
                    lambda: training._FusedForcing.apply(1),
                    lambda: linearization.Linearization(None),
                    lambda: existing.jacobian(torch.zeros(2), torch.zeros(3)),
                    lambda: LRU(2, 2, 2).eigenvalues):
            _raises_withheld(way)

        def subclass():
            class Mine(training._FusedForcing):
                pass

        _raises_withheld(subclass)
        # What the task needs besides them still works.
        assert model(torch.zeros(4, 3)).shape == (4, 3)
        assert (lyapunov.lyapunov_from_jacobians(J.numpy().repeat(3, 0)) == 0).all()
    finally:
        worker.restore(undo)
    assert lyapunov.naive_product_log_norms is alias and registry["norms"] is alias
    assert namespace["npn"] is alias and listed[0] is alias and cell.cell_contents is alias
    assert model.jacobian(torch.zeros(1, 3)).shape == (1, 3, 3)
    assert LRU(2, 2, 2).eigenvalues.shape == (2,)
    assert existing.jacobian(torch.zeros(2), torch.zeros(3))[0].shape == (3, 3)


def test_withholding_twice_and_restoring_leaves_the_package_as_it_was():
    before = {k: v for k, v in vars(lyapunov).items()}
    first = worker.withhold(NAMES[:1], {})
    second = worker.withhold(NAMES[:1], {})
    worker.restore(second)
    worker.restore(first)
    assert {k: v for k, v in vars(lyapunov).items()} == before


@pytest.fixture
def tracked():
    worker.track_threads()
    yield
    worker.track_threads(on=False)


def test_threads_started_with_thread_are_counted(tracked):
    baseline = {t.ident for t in threading.enumerate()}
    release = threading.Event()
    _thread.start_new_thread(release.wait, (30,))   # no Python frame while it waits
    time.sleep(0.2)
    try:
        assert worker._threads(baseline) == ["a thread started with _thread"]
    finally:
        release.set()
    time.sleep(0.2)
    assert worker._threads(baseline) == []
    timer = threading.Timer(30, print)
    timer.name = "my timer"
    timer.start()
    try:
        assert worker._threads(baseline) == ["my timer"]
    finally:
        timer.cancel()
