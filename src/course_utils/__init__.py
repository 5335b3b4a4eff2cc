"""course_utils: tested helpers for the exercises of the course on dynamical systems
theory in machine learning.

Importing the package imports neither TensorFlow nor PyTorch; the modules that need one
import it when they are used. Modules:

* :mod:`course_utils.henon` - the Henon map and its Jacobian (NumPy reference);
* :mod:`course_utils.lyapunov` - Lyapunov exponents by the QR method;
* :mod:`course_utils.checks` - feedback for the exercise notebooks;
* :mod:`course_utils.plotting` - shared figures;
* :mod:`course_utils.runtime` - quick mode, progress bars, quiet TensorFlow;
* :mod:`course_utils.notebooks` - generates exercise templates and paired notebooks.
"""

__version__ = "0.1.0"
