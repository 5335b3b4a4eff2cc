"""A generated class for the whole exercise sheet of chapter 03 (never committed): each
student's notebook is the exercise template with the task's code, the two written answers
and, for most, the figure the first question asks about (a PNG output of the figure cell,
as a notebook saved after running holds it), zipped as a course platform hands them out,
with a roster (ids, e-mails, one submission time past the deadline).

Used by tests/grading/test_sheet.py (10 students, graded end to end, in the browser too)
and benchmarks/sheet.py (30 students, timed).
"""

from __future__ import annotations

import base64
import csv
import io
import zipfile
from pathlib import Path

import nbformat

from tests.grading.test_grade import ROOT, STF_CAT, STF_CLONE

CHAPTER = "03_stf_lorenz"
DEADLINE = "2026-11-20T23:59:00+00:00"
ON_TIME = "2026-11-20T18:00:00+00:00"
LATE = "2026-11-22T11:59:00+00:00"  # 1.5 days late: two started days, 20 % off at 10 %/day

#: A copy of STF_CAT with the names changed and two independent lines swapped.
STF_CAT_RENAMED = """
def stf_forward(net, obs, interval):
    batch, steps, n_obs = obs.shape
    outputs = []
    state = torch.zeros(batch, net.M, dtype=obs.dtype)
    for step in range(steps):
        if step % interval == 0:
            state = torch.cat([obs[:, step], state[:, n_obs:]], dim=-1)
        state = net(state)
        outputs.append(net.observe(state))
    return torch.stack(outputs, dim=1)
"""
#: Honest solutions, each written its own way.
STF_SLICES = """
def stf_forward(model, x, tau_f):
    forced = set(range(0, x.shape[1], tau_f))
    z = x.new_zeros((x.shape[0], model.M))
    seq = []
    for t in range(x.shape[1]):
        if t in forced:
            z = torch.cat((x[:, t, :], z[:, x.shape[-1]:]), -1)
        z = model(z)
        seq.append(model.observe(z))
    return torch.stack(seq, 1)
"""
STF_WHILE = """
def stf_forward(model, x, tau_f):
    n_batch, n_steps, n_obs = x.shape
    state = x.new_zeros(n_batch, model.M)
    predicted = []
    start = 0
    while start < n_steps:
        state = torch.cat((x[:, start], state[:, n_obs:]), 1)
        for _ in range(min(tau_f, n_steps - start)):
            state = model(state)
            predicted.append(model.observe(state))
        start += tau_f
    return torch.stack(predicted, 1)
"""
#: STF_CLONE copied with a comment added and two independent lines swapped.
STF_CLONE_REORDERED = """
def stf_forward(model, x, tau_f):
    # sparse teacher forcing
    out = []
    z = x.new_zeros(x.shape[0], model.M)
    for t in range(x.shape[1]):
        if t % tau_f == 0:
            z = z.clone()
            z[:, :x.shape[2]] = x[:, t]
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, 1)
"""
#: Mistakes, each written its own way: forcing at every step, the unobserved units
#: zeroed, the prediction taken before the step.
STF_EVERY_STEP_OWN = """
def stf_forward(model, x, tau_f):
    n = x.size(-1)
    h = torch.zeros(x.size(0), model.M, dtype=x.dtype)
    preds = []
    for k in range(x.size(1)):
        h = model(torch.cat([x[:, k], h[:, n:]], 1))
        preds += [model.observe(h)]
    return torch.stack(preds, 1)
"""
STF_ZEROED_OWN = """
def stf_forward(model, x, tau_f):
    latent = torch.zeros(x.shape[0], model.M, dtype=x.dtype)
    collected = []
    for i in range(x.shape[1]):
        if not i % tau_f:
            pad = torch.zeros(x.shape[0], model.M - x.shape[2], dtype=x.dtype)
            latent = torch.cat([x[:, i], pad], dim=1)
        latent = model(latent)
        collected.append(model.observe(latent))
    return torch.stack(collected, dim=1)
"""
STF_LAGGED_OWN = """
def stf_forward(model, x, tau_f):
    state = torch.zeros(x.shape[0], model.M, dtype=x.dtype)
    outs = [None] * x.shape[1]
    for step in range(x.shape[1]):
        if step % tau_f == 0:
            state = torch.cat([x[:, step], state[:, x.shape[2]:]], -1)
        outs[step] = model.observe(state)
        state = model(state)
    return torch.stack(outs, 1)
"""

Q1 = {
    "ada": ("Yes. The generated orbit has both wings with the holes in their centres, the "
            "same extent in all three coordinates, and it switches between the wings at "
            "irregular times, like the test data. It does not stay close to the test orbit "
            "in time: with a positive largest exponent any small difference grows, so after "
            "a few time units the two are unrelated points of the same attractor."),
    "cleo": ("Roughly. My figure shows the butterfly shape, but the left lobe is a little "
             "thinner than in the data. Chaos means the model cannot match the test series "
             "point by point for long, only its statistics."),
    "dan": "The orbits look like Lorenz.",
    "eva": ("Not really: my generated trajectory spirals into one lobe and stays there, "
            "which the real system never does, so the switching is missing."),
    "gus": ("Mostly yes, two loops around two centres; I would not expect agreement in "
            "time because the exponent is positive and errors blow up exponentially."),
    "hana": ("The shape matches, the amplitude too, and the switching looks random as it "
             "should. Pointwise agreement is impossible beyond the predictability horizon of "
             "about one Lyapunov time."),
    "jo": ("Both plots show the double-scroll attractor. Since nearby states separate "
           "quickly on a strange attractor, following the test data step by step for a long "
           "time cannot be expected."),
}
#: ben's first answer: ada's, lightly reworded.
Q1["ben"] = Q1["ada"].replace("extent", "size").replace("stay close to", "stay near")
Q2 = {
    "ada": ("Because the system is chaotic, the error of even a perfect model grows to the "
            "size of the attractor after a few Lyapunov times, so the MSE over a long run "
            "measures nothing. D_stsp compares where the orbits spend their time and D_H "
            "their power spectra; the second row, two pieces of true data, is the floor."),
    "ben": ("An MSE over the whole run would be large for any model of a chaotic system. "
            "The state-space divergence and the Hellinger distance of the spectra look at "
            "long-run statistics; the second row tells me what value counts as good."),
    "cleo": ("The MSE punishes a model for drifting off the test series, which every "
             "chaotic model must do. The invariant measures look at the long-term geometry "
             "and frequencies instead, and the data-against-data row shows how small they "
             "can get at all with this noise."),
    "dan": "MSE is bad for chaos. The second row is a baseline.",
    "finn": ("Point-by-point comparison fails after the horizon of predictability; "
             "occupation of state space and spectra are properties of the attractor, and "
             "their values for two true series set the scale."),
    "gus": ("Because trajectories diverge, mean squared error saturates; I compare "
            "distributions instead. Row two is what noise alone gives."),
    "hana": ("Chaotic divergence makes long-horizon errors meaningless, so invariant "
             "statistics are used; the reference row is the smallest value we can hope "
             "for."),
}
#: jo's second answer: cleo's, copied.
Q2["jo"] = Q2["cleo"]

ON = ON_TIME
#: name -> (task code or None for a deleted cell, q1 answer or None, q2 answer or None,
#:          figure?, submitted, the task's status)
STUDENTS = {
    "ada": (STF_CAT, Q1["ada"], Q2["ada"], True, ON, "passed"),
    "ben": (STF_CAT_RENAMED, Q1["ben"], Q2["ben"], True, ON, "passed"),
    "cleo": (STF_CLONE, Q1["cleo"], Q2["cleo"], True, ON, "passed"),
    "dan": (STF_SLICES, Q1["dan"], Q2["dan"], True, LATE, "passed"),
    "eva": (STF_EVERY_STEP_OWN, Q1["eva"], None, True, ON, "failed"),
    "finn": (STF_ZEROED_OWN, None, Q2["finn"], False, ON, "failed"),
    "gus": (STF_LAGGED_OWN, Q1["gus"], Q2["gus"], True, ON, "failed"),
    "hana": (None, Q1["hana"], Q2["hana"], True, ON, "task cell not found"),
    "ivo": (STF_WHILE, None, None, False, ON, "passed"),
    "jo": (STF_CLONE_REORDERED, Q1["jo"], Q2["jo"], True, ON, "passed"),
}
#: The pairs that copied, by item; the rest of the class wrote their own.
COPIES = {"task1": {("ada", "ben"), ("cleo", "jo")}, "q1": {("ada", "ben")},
          "q2": {("cleo", "jo")}}


def figure_png(seed: int = 0) -> bytes:
    """A small PNG of a butterfly-like curve, as the figure cell's output."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    t = np.linspace(0, 20, 600) + seed
    fig, ax = plt.subplots(figsize=(2.4, 1.8), dpi=60)
    ax.plot(np.sin(t) * np.cos(0.5 * t), np.sin(t) * np.sin(0.5 * t), lw=0.8)
    ax.set_xlabel("x_1")
    ax.set_ylabel("x_2")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def notebook(code, q1, q2, figure: bool, seed: int = 0):
    """The chapter's exercise template with the task's code, the answers and the figure."""
    book = nbformat.read(ROOT / "exercises" / f"{CHAPTER}.ipynb", as_version=4)
    kept = []
    for cell in book.cells:
        meta = cell.metadata.get("course_utils", {})
        if meta.get("task") == "task1":
            if code is None:
                continue
            cell.source = code.strip("\n")
        if meta.get("answer") == "q1" and q1 is not None:
            cell.source = q1
        if meta.get("answer") == "q2" and q2 is not None:
            cell.source = q2
        if meta.get("figure") == "orbits" and figure:
            cell.outputs = [nbformat.v4.new_output(
                "display_data", data={"image/png": base64.b64encode(figure_png(seed)).decode(),
                                      "text/plain": "<Figure size 1200x500 with 2 Axes>"})]
            cell.execution_count = 12
        kept.append(cell)
    book.cells = kept
    return book


def write_class(folder: Path, students: dict = STUDENTS) -> tuple[Path, Path]:
    """Write the class's ``submissions.zip`` and ``roster.csv`` into ``folder`` (the roster
    also names a student who handed nothing in, "zoe"); returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for k, (name, (code, q1, q2, figure, _, _)) in enumerate(students.items()):
            zf.writestr(f"sheet03/{name}.ipynb", nbformat.writes(notebook(code, q1, q2,
                                                                          figure, k)))
    roster = folder / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "id", "email", "submitted"])
        for k, (name, spec) in enumerate(students.items()):
            writer.writerow([f"{name}.ipynb", f"s{1000 + k}", f"{name}@uni.example", spec[4]])
        writer.writerow(["zoe.ipynb", "s0999", "zoe@uni.example", ""])
    return archive, roster


def many(n: int) -> dict:
    """A class of ``n`` students made of the ten above, cycled (``ada_2``, ...)."""
    names = list(STUDENTS)
    return {(names[k % 10] if k < 10 else f"{names[k % 10]}{k // 10 + 1}"):
            STUDENTS[names[k % 10]] for k in range(n)}
