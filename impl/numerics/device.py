"""Device and dtype resolution, and the house rule for data: generate on the CPU in float64, then move.

Inputs for any check against theory are drawn on the CPU in float64 from a seeded ``torch.Generator`` and only
then cast and moved, so that CPU and CUDA runs of the same seed see the same numbers (up to the cast).
TF32 is switched off for every device we hand out: a check against theory must not run in reduced precision
behind the user's back.
"""

from __future__ import annotations

import torch

from impl.numerics.errors import InputError

DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def resolve_dtype(name: str | torch.dtype) -> torch.dtype:
    """Map ``'float64' | 'float32' | 'bfloat16' | 'float16'`` (or a torch dtype) to a torch dtype."""
    if isinstance(name, torch.dtype):
        if name not in DTYPES.values():
            raise InputError("dtype", f"must be one of {', '.join(DTYPES)}, got {name}")
        return name
    if name not in DTYPES:
        raise InputError("dtype", f"must be one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


def cuda_available() -> bool:
    return torch.cuda.is_available()


def resolve_device(name: str | torch.device | None) -> torch.device:
    """Map ``'cpu' | 'cuda' | 'cuda:N'`` to a torch device; refuse CUDA when there is none."""
    if name is None:
        name = "cpu"
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str) or not (name == "cpu" or name == "cuda" or name.startswith("cuda:")):
        raise InputError("device", f"must be 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("device", f"{name!r} was asked for but no CUDA GPU is available (use --device cpu)")
        try:
            index = int(name.split(":", 1)[1]) if ":" in name else 0
        except ValueError:
            raise InputError("device", f"must be 'cpu', 'cuda' or 'cuda:N', got {name!r}") from None
        if index >= torch.cuda.device_count():
            raise InputError("device", f"{name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return torch.device(name)


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (all reference data is drawn on the CPU)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", f"must be an integer >= 0, got {seed!r}")
    return torch.Generator(device="cpu").manual_seed(seed)


def unit_roundoff(dtype: torch.dtype) -> float:
    """The unit round-off u = eps/2 of ``dtype`` (float64: 1.1e-16)."""
    return torch.finfo(dtype).eps / 2
