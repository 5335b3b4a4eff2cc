"""py:percent solution sources that the notebook format's and the release tool's tests
share (tests/test_notebook_format.py, tests/authoring/test_release.py)."""

import textwrap

HEADER = textwrap.dedent("""\
    # ---
    # jupyter:
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---
    """)

SOLUTION = HEADER + textwrap.dedent("""\

    # %% [markdown]
    # # Title
    #
    # Shown to everyone. **Question 1.** Why?
    # <!-- BEGIN SOLUTION Question 1 (why) [2 points] -->
    # Only the solution explains this.
    # <!-- RUBRIC
    # [1 point] names the reason
    # [1 point] gives the evidence
    # -->
    # <!-- END SOLUTION -->

    # %%
    def f(x):
        y = 2 * x
        # BEGIN SOLUTION Task 1 (f) [2 points]
        if y > 0:
            return y + 1
        return y
        # END SOLUTION

    # %%
    check_f(f)

    # %%
    class C:
        def g(self):
            # BEGIN SOLUTION Task 2: C.g [1.5 points]
            return 42
            # END SOLUTION

    # %%
    check_g(C)

    # %% tags=["nbval-check-output"]
    print(f(1))
    print()
    # Expected output:
    # 3
    #
    """)


def line_of(text, fragment):
    """The 1-based number of the only line of ``text`` that contains ``fragment``."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(found) == 1, found
    return found[0]


def one_task(begin, check="check_a(a)"):
    return HEADER + f"# %%\n# BEGIN SOLUTION {begin}\na = 1\n# END SOLUTION\n\n# %%\n{check}\n"


# Task layouts that the release refuses (more in tests/test_notebook_format.py).
TWO_TASKS_ONE_CELL = HEADER + textwrap.dedent("""\
    # %%
    # BEGIN SOLUTION Task 1 (a) [1 point]
    a = 1
    # END SOLUTION
    # BEGIN SOLUTION Task 2 (b) [1 point]
    b = 2
    # END SOLUTION

    # %%
    check_a(a)
    """)
MISSING_POINTS = one_task("Task 1 (a)")
NO_CHECK_AT_THE_END = HEADER + textwrap.dedent("""\
    # %%
    # BEGIN SOLUTION Task 1 (a) [1 point]
    a = 1
    # END SOLUTION

    # %%
    check_a(a)

    # %%
    # BEGIN SOLUTION Task 2 (b) [1 point]
    b = 1
    # END SOLUTION

    # %%
    print(b)
    """)
