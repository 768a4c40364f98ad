"""Device and dtype names (impl/numerics/device.py), including the CUDA branches on a machine without CUDA: the
CUDA runtime's answers (is_available, device_count) are replaced by a fake two-GPU machine, so the index parsing
and the range check are exercised everywhere; torch.device itself needs no GPU to name one."""

import pytest
import torch

from impl.numerics.device import resolve_device, resolve_dtype
from impl.numerics.errors import InputError


def test_cpu_names():
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "CPU", "cuda1", "", 0, "tpu:0"])
def test_unknown_device_names_are_refused(bad):
    with pytest.raises(InputError) as e:
        resolve_device(bad)
    assert e.value.parameter == "device"


def test_cuda_names_on_a_fake_two_gpu_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        assert resolve_device("cuda") == torch.device("cuda")
        assert resolve_device("cuda:0") == torch.device("cuda:0")
        assert resolve_device("cuda:1") == torch.device("cuda:1")
        # float32 matmuls and convolutions stay IEEE on the GPU
        assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    for bad in ("cuda:2", "cuda:7", "cuda:x", "cuda:", "cuda:1:0"):
        with pytest.raises(InputError) as e:
            resolve_device(bad)
        assert e.value.parameter == "device", bad


def test_cuda_is_refused_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="no CUDA GPU") as e:
        resolve_device("cuda")
    assert e.value.parameter == "device"


@pytest.mark.parametrize("name,want", [("float64", torch.float64), ("float32", torch.float32)])
def test_dtype_names(name, want):
    assert resolve_dtype(name) == want
