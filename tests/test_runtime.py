"""The device rule of course_utils.runtime.device(): CUDA when torch sees a GPU, else the
CPU, overridden by COURSE_DEVICE. CUDA is simulated by monkeypatching torch.cuda (this
machine has none)."""

import pytest
import torch

from course_utils import runtime


@pytest.fixture
def gpus(monkeypatch):
    """Pretend torch sees ``n`` CUDA GPUs."""
    def pretend(n: int):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    return pretend


def test_runtime_does_not_import_torch_at_module_level():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(runtime))
    top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = {alias.name.split(".")[0] for node in top for alias in node.names}
    names |= {node.module.split(".")[0] for node in top
              if isinstance(node, ast.ImportFrom) and node.module}
    assert "torch" not in names and "tensorflow" not in names


def test_cpu_without_cuda(monkeypatch, gpus):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    gpus(0)
    assert runtime.device() == torch.device("cpu")


def test_cuda_when_available(monkeypatch, gpus):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    gpus(1)
    assert runtime.device() == torch.device("cuda")


@pytest.mark.parametrize("value", ["cpu", "cpu:0"])
def test_override_cpu_even_with_cuda(monkeypatch, gpus, value):
    monkeypatch.setenv("COURSE_DEVICE", value)
    gpus(2)
    assert runtime.device().type == "cpu"


@pytest.mark.parametrize("value, expected", [("cuda", "cuda"), ("cuda:1", "cuda:1")])
def test_override_a_present_gpu(monkeypatch, gpus, value, expected):
    monkeypatch.setenv("COURSE_DEVICE", value)
    gpus(2)
    assert runtime.device() == torch.device(expected)


def test_empty_override_is_the_default(monkeypatch, gpus):
    monkeypatch.setenv("COURSE_DEVICE", "")
    gpus(1)
    assert runtime.device() == torch.device("cuda")


@pytest.mark.parametrize("value, n_gpus", [("cuda", 0), ("cuda:0", 0), ("cuda:2", 2)])
def test_absent_gpu_raises(monkeypatch, gpus, value, n_gpus):
    monkeypatch.setenv("COURSE_DEVICE", value)
    gpus(n_gpus)
    with pytest.raises(ValueError) as err:
        runtime.device()
    message = str(err.value)
    assert "COURSE_DEVICE" in message and repr(value) in message
    assert "available here: cpu" in message
    assert (f"cuda:{n_gpus - 1}" in message) == (n_gpus > 0)


@pytest.mark.parametrize("value", ["gpu0", "cuda:x", "banana"])
def test_garbage_raises(monkeypatch, gpus, value):
    monkeypatch.setenv("COURSE_DEVICE", value)
    gpus(1)
    with pytest.raises(ValueError, match=rf"COURSE_DEVICE='{value}' is not a torch device"):
        runtime.device()


def test_other_device_types_refused(monkeypatch, gpus):
    monkeypatch.setenv("COURSE_DEVICE", "mps")
    gpus(0)
    with pytest.raises(ValueError, match="COURSE_DEVICE='mps'.*'cpu' or 'cuda'"):
        runtime.device()


def test_real_machine_default_is_consistent(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert runtime.device().type == expected
