"""course_utils: the tested code of the course on dynamical systems theory in machine
learning, in four parts for three audiences.

* **The students' toolkit** (the modules at the top level): what the chapters call and
  students build on. The Hénon map (:mod:`~course_utils.henon`, :mod:`~course_utils.keras_cells`),
  Lorenz-63 and its data (:mod:`~course_utils.lorenz`, :mod:`~course_utils.data`), Lyapunov
  exponents (:mod:`~course_utils.lyapunov`, :mod:`~course_utils.keras_lyapunov`), the
  shallow PLRNN and its training by teacher forcing (:mod:`~course_utils.models`,
  :mod:`~course_utils.training`, :mod:`~course_utils.forcing_loops`,
  :mod:`~course_utils.graphed_forcing`, :mod:`~course_utils.reconstruction`,
  :mod:`~course_utils.pretrained`), how a reconstruction is judged
  (:mod:`~course_utils.evaluation`, :mod:`~course_utils.metrics`,
  :mod:`~course_utils.attractors`), fixed points (:mod:`~course_utils.linearization`),
  linear recurrent units and a GRU baseline (:mod:`~course_utils.lru`,
  :mod:`~course_utils.gru`, :mod:`~course_utils.sequence_tasks`), figures and the run
  mode (:mod:`~course_utils.plotting`, :mod:`~course_utils.runtime`). It never imports the
  other parts.
* **The checks** (:mod:`course_utils.checks`): the feedback of the exercise notebooks'
  ``check_*`` calls, shared by students and the grader.
* **The tutors' grader** (:mod:`course_utils.grading`, ``python -m course_utils.grading``):
  a whole exercise group graded into one grade file.
* **The authors' tools** (:mod:`course_utils.authoring`): the release tool that makes the
  templates and notebooks from the solution sources, citations, the book's Sphinx
  extension and the repository links.

:mod:`course_utils.notebook_format` (the markers, metadata and check calls of the course's
notebooks) is shared by the checks, the grader and the authors' tools. Importing the
package imports neither TensorFlow nor PyTorch; the modules that need one import it.
"""

__version__ = "0.1.0"
