"""A user's memory from its import path, checked before anything runs (``assocmem capacity PATH --kind ...``).

    feature_map  phi(x [..., d_k]) -> [..., F]: same leading shape, same dtype, finite, each row its own
    kernel       k(x [..., d_k], y [..., d_k]) -> [...]: broadcasting, same dtype, finite, symmetric, k(x, x) > 0
    memory       a class (or object) with write(K [T, N, d_k], V [T, N, d_v]) -> state and
                 read(state, Q [T, M, d_k]) -> O [T, M, d_v], O linear in the values

A class is constructed with the keyword arguments among d_k and d_v that its constructor accepts. Every failure is
an InputError naming PATH with what is wrong (one line; the CLI exits 2 and writes nothing).
"""

from __future__ import annotations

import inspect

import torch

from assocmem.conformance.run import load_function
from impl.memories.memory import Memory
from impl.memories.user import FeatureMapMemory, KernelFunctionMemory, RuleMemory
from impl.numerics.device import generator
from impl.numerics.errors import InputError

KINDS = ("feature_map", "kernel", "memory")


def _fail(why: str):
    raise InputError("PATH", why)


def _call(fn, what: str, *args):
    """fn(*args), an exception from the user's code becoming one line."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - whatever the user's code raises is reported, not raised
        first = (str(e).strip().splitlines() or [""])[0][:200]
        _fail(f"{what} raised {type(e).__name__}: {first}")


def _accepts(fn, n: int, what: str, shape: str):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*range(n))
    except TypeError:
        _fail(f"{what} must take {shape}; its signature {sig} does not accept {n} positional argument"
              f"{'s' if n > 1 else ''}")


def _tensor(out, what: str, want_shape: tuple, dtype: torch.dtype, free_last: bool = False) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        _fail(f"{what} must return a torch.Tensor, got {type(out).__name__}")
    shape = tuple(out.shape)
    ok = shape[:-1] == want_shape[:-1] and shape[-1] >= 1 if free_last else shape == want_shape
    if not ok:
        want = f"({', '.join(map(str, want_shape[:-1]))}, F) with F >= 1" if free_last else str(want_shape)
        _fail(f"{what} returned shape {shape}; must be {want}")
    if out.dtype != dtype:
        _fail(f"{what} returned {str(out.dtype).removeprefix('torch.')} for {str(dtype).removeprefix('torch.')} "
              "input; it must keep the input's dtype")
    if not bool(torch.isfinite(out).all()):
        _fail(f"{what} returned NaN or infinity at Gaussian inputs")
    return out


def _construct(obj, d_k: int, d_v: int):
    if not inspect.isclass(obj):
        return obj
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        params = {}
    kw = {k: v for k, v in (("d_k", d_k), ("d_v", d_v)) if k in params}
    return _call(lambda: obj(**kw), f"constructing {obj.__name__}({', '.join(f'{k}={v}' for k, v in kw.items())})")


def check_feature_map(phi, d_k: int) -> int:
    """Check phi on Gaussian inputs (module doc); the feature count F."""
    _accepts(phi, 1, "the feature map", "one tensor x [..., d_k]")
    gen = generator(0)
    X = torch.randn((3, 5, d_k), generator=gen, dtype=torch.float64)
    Y = _tensor(_call(phi, "the feature map", X), f"phi(x) for x of shape {tuple(X.shape)}", (3, 5, 1),
                torch.float64, free_last=True)
    F = Y.shape[-1]
    Y2 = _tensor(_call(phi, "the feature map", X[0]), f"phi(x) for x of shape {(5, d_k)}", (5, F), torch.float64)
    scale = float(Y.abs().max()) or 1.0
    if float((Y2 - Y[0]).abs().max()) > 1e-9 * scale:
        _fail("phi(x) must depend on each row x alone (a row's features changed with the rows beside it)")
    _tensor(_call(phi, "the feature map", X.float()), f"phi(x) for x of shape {tuple(X.shape)}", (3, 5, F),
            torch.float32)
    _tensor(_call(phi, "the feature map", 3 * torch.randn((64, d_k), generator=gen, dtype=torch.float64)),
            f"phi(x) for x of shape {(64, d_k)}", (64, F), torch.float64)
    return F


def check_kernel(k, d_k: int) -> None:
    """Check k on Gaussian inputs (module doc)."""
    _accepts(k, 2, "the kernel", "two tensors x, y [..., d_k]")
    gen = generator(0)
    X = torch.randn((4, 1, d_k), generator=gen, dtype=torch.float64)
    Y = torch.randn((1, 6, d_k), generator=gen, dtype=torch.float64)
    kxy = _tensor(_call(k, "the kernel", X, Y), f"k(x, y) for x {tuple(X.shape)}, y {tuple(Y.shape)}", (4, 6),
                  torch.float64)
    kyx = _tensor(_call(k, "the kernel", Y, X), f"k(y, x) for y {tuple(Y.shape)}, x {tuple(X.shape)}", (4, 6),
                  torch.float64)
    _tensor(_call(k, "the kernel", X.float(), Y.float()), f"k(x, y) for x {tuple(X.shape)}, y {tuple(Y.shape)}",
            (4, 6), torch.float32)
    gap = float((kxy - kyx).abs().max())
    if gap > 1e-9 * (float(kxy.abs().max()) or 1.0):
        _fail(f"the kernel must be symmetric, k(x, y) = k(y, x); at Gaussian x, y they differ by up to {gap:.3g}")
    Z = torch.randn((256, d_k), generator=gen, dtype=torch.float64)
    diag = _tensor(_call(k, "the kernel", Z, Z), f"k(x, x) for x {tuple(Z.shape)}", (256,), torch.float64)
    if float(diag.min()) <= 0:
        _fail(f"k(x, x) must be > 0: it is the signal c = k(k_i, k_i) of a read at a stored key (SNR^-1 divides by "
              f"c^2, and nearest-value decoding needs c > 0); got {float(diag.min()):.3g} at a Gaussian x")


def check_rule(rule, d_k: int, d_v: int) -> None:
    """Check write/read on Gaussian inputs and that the read is linear in the values (module doc)."""
    for name, n, shape in (("write", 2, "K [T, N, d_k] and V [T, N, d_v]"), ("read", 2, "a state and Q [T, M, d_k]")):
        fn = getattr(rule, name, None)
        if not callable(fn):
            _fail(f"a memory must have a method {name}({shape}); {type(rule).__name__} has none")
        _accepts(fn, n, f"{type(rule).__name__}.{name}", shape)
    gen = generator(0)
    K = torch.randn((2, 6, d_k), generator=gen, dtype=torch.float64)
    V1, V2 = (torch.randn((2, 6, d_v), generator=gen, dtype=torch.float64) for _ in range(2))

    def out(V, dtype=torch.float64):
        st = _call(rule.write, "write", K.to(dtype), V.to(dtype))
        return _tensor(_call(rule.read, "read", st, K.to(dtype)), "read(write(K, V), K) for K [2, 6, d_k]",
                       (2, 6, d_v), dtype)

    o1, o2, o12 = out(V1), out(V2), out(0.5 * V1 - 2.0 * V2)
    out(V1, torch.float32)
    gap = float((o12 - (0.5 * o1 - 2.0 * o2)).abs().max())
    if gap > 1e-8 * (float(o1.abs().max() + o2.abs().max()) or 1.0):
        _fail("the read must be linear in the values, o = sum_j w_j(K, q) v_j (the signal/crosstalk split "
              f"S k_i = c v_i + r needs it); read(write(K, a V1 + b V2)) differs from a o1 + b o2 by {gap:.3g}")


def load(path: str, kind: str, d_k: int, d_v: int) -> tuple[Memory, int]:
    """The user's memory as a ``Memory`` and its feature count (F for a feature map, 0 otherwise)."""
    if kind not in KINDS:
        raise InputError("--kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    obj = load_function(path, flag="PATH", command="capacity", what="ATTRIBUTE")
    obj = _construct(obj, d_k, d_v) if kind == "memory" or inspect.isclass(obj) else obj
    if kind == "feature_map":
        F = check_feature_map(obj, d_k)
        return FeatureMapMemory(path, obj, d_k), F
    if kind == "kernel":
        check_kernel(obj, d_k)
        return KernelFunctionMemory(path, obj), 0
    check_rule(obj, d_k, d_v)
    return RuleMemory(path, obj), 0
