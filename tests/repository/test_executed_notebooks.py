"""`--executed-dir` (root conftest.py) keeps the notebooks nbval ran, with their outputs."""

import shutil
import subprocess
import sys

import nbformat
import pytest


@pytest.fixture
def notebook_dir(root):
    # Under the repository, so that pytest loads the root conftest.py for it.
    folder = root / "_build" / "executed-dir-test"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_executed_notebooks_hold_the_outputs_of_the_run(root, notebook_dir, tmp_path):
    nbformat.write(_notebook("print('hello', 6 * 7)", "x = 2\nx ** 10"), notebook_dir / "ok.ipynb")
    nbformat.write(_notebook("print('before')", "1 / 0", "print('never')"),
                   notebook_dir / "broken.ipynb")
    out = tmp_path / "executed"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         str(notebook_dir), "--executed-dir", str(out)],
        cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-2000:]   # broken.ipynb fails, ok.ipynb passes

    ok = nbformat.read(out / "ok.ipynb", as_version=4)
    nbformat.validate(ok)
    assert ok.cells[0].outputs[0]["text"] == "hello 42\n"
    assert ok.cells[1].outputs[0]["data"]["text/plain"] == "1024"
    assert [c.execution_count for c in ok.cells] == [1, 2]

    broken = nbformat.read(out / "broken.ipynb", as_version=4)
    assert broken.cells[0].outputs[0]["text"] == "before\n"
    assert broken.cells[1].outputs[0]["output_type"] == "error"
    assert broken.cells[1].outputs[0]["ename"] == "ZeroDivisionError"
    assert broken.cells[2].outputs[0]["text"] == "never\n"   # nbval runs every cell
