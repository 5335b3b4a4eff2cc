"""environment.yml and pyproject.toml describe the same environment."""

import tomllib

import yaml
from packaging.requirements import Requirement


def _normal(spec: str) -> tuple[str, str, str]:
    req = Requirement(spec)
    return (req.name.lower().replace("_", "-"), str(req.specifier), str(req.marker or ""))


def test_environment_yml_lists_the_same_packages_as_pyproject(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    from_pyproject = {_normal(s) for s in project["dependencies"]}
    for name, extra in project["optional-dependencies"].items():
        if name.endswith("-gpu"):  # environment.yml is the CPU environment
            continue
        from_pyproject |= {_normal(s) for s in extra
                           if _normal(s)[0] != project["name"]}  # an extra naming others

    env = yaml.safe_load((root / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(d.replace(" ", "").startswith("python=3.11") for d in conda), conda
    assert "-e ." in pip, "environment.yml must install course_utils itself (-e .)"
    from_environment = {_normal(s) for s in pip if not s.startswith("-")}

    assert from_environment - from_pyproject == set(), "only in environment.yml"
    assert from_pyproject - from_environment == set(), "only in pyproject.toml"


def test_torch_is_pinned_for_the_cpu_build(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["torch"] == ["torch==2.13.0"]
    assert not any("torch" in s for s in project["dependencies"])
    assert not any("tensorflow" in s for s in project["dependencies"])
